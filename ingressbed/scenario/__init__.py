"""Scenario files: a user's bug report, or a catalog candidate, as a reproducible test.

A scenario file holds an Ingress as the user wrote it, their curl commands and other
steps (a ``mix`` step sends the traffic the catalog's properties are measured on), and
expectations in the one expectation language (``ingressbed.expectations``). ``load.load``
validates it (errors are ``path:line: ...``), ``play.play`` serves it on a backend, sends the
steps and judges the expectations (``ingressbed.judge``) into a ``ScenarioVerdict``
whose ``render()`` shows what was observed. pytest collects scenario files through
``ingressbed.pytest_plugin.scenarios``; ``ingressbed repro FILE`` runs one outside
pytest. Format and examples: docs/scenarios.md.
"""

"""Registers ingressbed's pytest plugins (options, fixtures, scenario files, report)."""

pytest_plugins = [
    "fixtures.plugin",
    "fixtures.scenario.collect",
    "fixtures.report.plugin",
]

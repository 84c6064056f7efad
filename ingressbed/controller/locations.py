"""How a server's locations are ordered and written for nginx (pure).

The controller sorts a server's locations by path, longest first (ties: the greater
string first), then normalizes them: a ``Prefix`` location that is neither a regex nor
rewritten gets a trailing ``/`` and, unless an ``Exact`` location of the same path
exists, an ``Exact`` twin for the path as written (so ``/app`` matches ``/app`` and
``/app/...`` but not ``/apple``). ``/`` is left as it is.

nginx then gets, per location: ``~* "^<path>"`` (a case-insensitive regex) when any
location of the server has ``use-regex: "true"`` or a ``rewrite-target`` other than its
own path; otherwise ``= "<path>"`` for Exact and ``"<path>"`` for the rest. Backslashes
and double quotes in the path are escaped.
"""

from __future__ import annotations

from dataclasses import replace

from ingressbed.controller.state import WorkLocation


def order(locations: list[WorkLocation]) -> list[WorkLocation]:
    """The controller's order: by path descending, then (stable) by length descending."""
    by_text = sorted(locations, key=lambda loc: loc.path, reverse=True)
    return sorted(by_text, key=lambda loc: len(loc.path), reverse=True)


def needs_rewrite(location: WorkLocation) -> bool:
    """A rewrite target that differs from the location's path."""
    return bool(location.rewrite_target) and location.rewrite_target != location.path


def normalize(locations: list[WorkLocation]) -> list[WorkLocation]:
    """``updateServerLocations``: trailing ``/`` on plain Prefix paths, and their Exact twins."""
    exact = {loc.path for loc in locations if loc.path_type == "Exact"}
    out: list[WorkLocation] = []
    for location in locations:
        if location.path == "/":
            out.append(location)
            continue
        location.ingress_path = location.path
        if location.path_type != "Prefix" or needs_rewrite(location) or location.use_regex:
            out.append(location)
            continue
        twin = replace(location, path_type="Exact")
        if not location.path.endswith("/"):
            location.path += "/"
        out.append(location)
        if twin.path not in exact:
            out.append(twin)
    return out


def regex_owners(locations: list[WorkLocation]) -> tuple[str, ...]:
    """The Ingresses whose locations make every location of the server a regex."""
    owners: dict[str, None] = {}
    for location in locations:
        if (needs_rewrite(location) or location.use_regex) and location.ingress is not None:
            owners[location.ingress.key] = None
    return tuple(owners)


def nginx_text(location: WorkLocation, regex: bool) -> str:
    """What follows ``location`` in nginx.conf for this location."""
    path = location.path.replace("\\", "\\\\").replace('"', '\\"')
    if regex:
        return f'~* "^{path}"'
    if location.path_type == "Exact":
        return f'= "{path}"'
    return f'"{path}"'

"""The ``steps:`` list of a scenario file, validated into ``Step`` values (pure).

Each step has exactly one of ``curl`` (a pasted command), ``http`` (a URL or a list
of URLs), ``websocket`` (a URL), ``again`` (the name of an earlier step to send once
more) or ``mix`` (the property traffic of ``ingressbed.scenario.mix``: ``{}`` or a mapping of
``clients``, ``visits``, ``pages``, ``hosts``, ``scale``), or is a live edit (``apply``,
``annotate``, ``delete``, ``scale``, ``wait``: ``ingressbed.scenario.edits``). Clients:
``client_ip`` (one address) or ``clients`` (a count of generated addresses, the same ones
in every step with that count, or a list of addresses). ``cookies: keep`` gives each client
a browser's cookie jar, kept across rounds and later steps that also keep cookies.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import yaml

from ingressbed import traffic, yamlsource
from ingressbed.scenario import curlargs, edits
from ingressbed.scenario.nodes import Source
from ingressbed.scenario.pasted import Block
from ingressbed.scenario.spec import (
    AGAIN,
    CURL,
    EDIT_KINDS,
    HTTP,
    MIX,
    STEP_KINDS,
    WEBSOCKET,
    Step,
)
from ingressbed.suggest import suggest
from ingressbed.traffic import MixPlan as Plan
from ingressbed.yamlsource import Mapping, Node

_COMMON = ("name", "note", "client_ip", "clients", "repeat", "cookies")
_KEYS = {
    CURL: (*_COMMON, "headers"),
    HTTP: (*_COMMON, "headers", "method", "data", "count"),
    WEBSOCKET: (*_COMMON, "count"),
    AGAIN: ("name", "note", "shuffle", "cookies"),
    MIX: ("name", "note"),
    **{kind: edits.EDIT_KEYS for kind in EDIT_KINDS},
}
#: ``cookies:`` values.
KEEP = "keep"
#: Keys of a mix step's mapping: (name, lowest, highest) of each count.
_MIX_COUNTS = (("clients", 10, 5000), ("visits", 2, 10), ("pages", 20, 20_000), ("hosts", 1, 200))
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # an HTTP header name or method
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: Seed of the addresses ``clients: N`` generates (the same N gives the same clients).
CLIENT_SEED = 1
MAX_REQUESTS = 100_000


def _cookies(src: Source, step: Mapping) -> bool:
    """``cookies: keep``: True; absent: False."""
    node = step.get("cookies")
    if node is None:
        return False
    if not isinstance(node, yaml.ScalarNode) or node.value != KEEP:
        raise src.error(
            node, f"cookies takes keep (a browser's jar per client), not {node.value!r}"
        )
    return True


def _client(src: Source, node: Node) -> str:
    text = yamlsource.string(src, node, "client_ip")
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise src.error(node, f"client_ip {text!r} is not an IP address") from None


def _clients(src: Source, step: Mapping, given: list[str]) -> tuple[str, ...]:
    """The step's clients; ``given``: addresses from X-Forwarded-For headers."""
    one, many = step.get("client_ip"), step.get("clients")
    if sum(x is not None for x in (one, many)) + len(given) > 1:
        raise src.error(
            step.node, "give the client once: client_ip, clients or an X-Forwarded-For header"
        )
    if one is not None:
        return (_client(src, one),)
    if many is None:
        return (given[0] if given else "",)
    if isinstance(many, yaml.SequenceNode):
        found = [_client(src, n) for n in yamlsource.items(src, many, "clients")]
        if len(set(found)) != len(found):
            raise src.error(many, "clients lists an address twice")
        return tuple(found)
    return tuple(traffic.clients(yamlsource.integer(src, many, "clients", 1, 10_000), CLIENT_SEED))


def _headers(src: Source, step: Mapping) -> tuple[tuple[str, str], ...]:
    node = step.get("headers")
    if node is None:
        return ()
    found = Mapping(src, node, "headers")
    out: list[tuple[str, str]] = []
    for name, value in found.values.items():
        if not _TOKEN.match(name):
            raise src.error(found.keys[name], f"{name!r} is not a header name")
        if name.lower() == "host":
            raise src.error(found.keys[name], "put the host in the URL, not in a Host header")
        out.append((name, yamlsource.text(src, value, f"header {name!r}")))
    return tuple(out)


def _url(src: Source, node: Node, kind: str) -> str:
    raw = yamlsource.string(src, node, f"{kind} URL")
    url = raw if "://" in raw else f"http://{raw}"
    scheme = urlsplit(url).scheme
    allowed = ("ws", "http") if kind == WEBSOCKET else ("http",)
    if scheme in ("https", "wss"):
        raise src.error(node, f"{raw!r}: {scheme} is not served by the bed (plain HTTP)")
    if scheme not in allowed:
        raise src.error(node, f"{raw!r}: a {kind} step takes {' or '.join(allowed)} URLs")
    for name in _PLACEHOLDER.findall(url):
        if name not in ("i", "run"):
            raise src.error(node, f"{raw!r}: unknown placeholder {{{name}}}; use {{i}} or {{run}}")
    if not urlsplit(url.replace("{run}", "r").replace("{i}", "0")).hostname:
        raise src.error(node, f"{raw!r} names no host")
    return url


def _urls(src: Source, step: Mapping, kind: str) -> tuple[str, ...]:
    node = step.require(kind)
    listed = kind == HTTP and isinstance(node, yaml.SequenceNode)
    urls = [
        (_url(src, n, kind), n) for n in (yamlsource.items(src, node, kind) if listed else [node])
    ]
    count = step.get("count")
    for url, url_node in urls:
        if count is not None and "{i}" not in url:
            raise src.error(url_node, f"{url!r} has no {{i}}: with count, every URL needs one")
        if count is None and "{i}" in url:
            raise src.error(url_node, f"{url!r} has {{i}} but the step gives no count")
    return tuple(url for url, _ in urls)


def _kind(src: Source, step: Mapping) -> str:
    kinds = [k for k in STEP_KINDS if k in step]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none"
        raise src.error(
            step.node, f"a step needs exactly one of {', '.join(STEP_KINDS)} (found: {found})"
        )
    return kinds[0]


def _again(src: Source, step: Mapping, seen: dict[str, int], later: dict[str, int]) -> str:
    node = step.require(AGAIN)
    target = yamlsource.string(src, node, AGAIN)
    if target in seen:
        return target
    if target in later:
        raise src.error(
            node,
            f"again: step {target!r} is used before it exists "
            f"(it is defined at line {later[target]}, after this step)",
        )
    known = ", ".join(seen) or "none"
    raise src.error(
        node, f"again: no step named {target!r}{suggest(target, seen)}; before it: {known}"
    )


def _again_step(
    src: Source, step: Mapping, name: str, seen: dict[str, int], later: dict[str, int]
) -> Step:
    target = _again(src, step, seen, later)
    shuffle = step.get("shuffle")
    if shuffle is not None and not isinstance(yamlsource.value(shuffle), bool):
        raise src.error(
            shuffle, f"shuffle must be true or false, not {yamlsource.kind_of(shuffle)}"
        )
    mixed = shuffle is not None and yamlsource.value(shuffle) is True
    return Step(
        name, AGAIN, src.line(step.node), again=target, shuffle=mixed, cookies=_cookies(src, step)
    )


def _request(src: Source, step: Mapping) -> tuple[str, str | None]:
    """The method and body of an http step."""
    method, data = "GET", None
    if "data" in step:
        data = yamlsource.text(src, step.require("data"), "data")
        method = "POST"
    if "method" in step:
        method = yamlsource.string(src, step.require("method"), "method").upper()
        if not _TOKEN.match(method):
            raise src.error(step.require("method"), f"method {method!r} is not an HTTP method")
    return method, data


def _sending_step(src: Source, step: Mapping, kind: str, name: str) -> Step:
    """A curl, http or websocket step."""
    curl = None
    urls: tuple[str, ...] = ()
    if kind == CURL:
        curl_node = step.require(CURL)
        try:
            curl = curlargs.parse(yamlsource.string(src, curl_node, "curl"))
        except curlargs.CurlArgsError as exc:
            raise src.error(curl_node, f"step {name!r}: curl: {exc}") from None
    else:
        urls = _urls(src, step, kind)
    headers = _headers(src, step)
    forwarded = "x-forwarded-for"
    given = [v.split(",")[0].strip() for k, v in headers if k.lower() == forwarded]
    given += [curl.client] if curl is not None and curl.client else []
    headers = tuple((k, v) for k, v in headers if k.lower() != forwarded)
    clients = _clients(src, step, given)
    repeat, count = 1, 0
    if "repeat" in step:
        repeat = yamlsource.integer(src, step.require("repeat"), "repeat", 1, 10_000)
    if "count" in step:
        count = yamlsource.integer(src, step.require("count"), "count", 1, 100_000)
    method, data = _request(src, step)
    total = len(clients) * repeat * max(1, count) * max(1, len(urls))
    if total > MAX_REQUESTS:
        raise src.error(step.node, f"step {name!r} sends {total} requests; at most {MAX_REQUESTS}")
    return Step(
        name,
        kind,
        src.line(step.node),
        urls=urls,
        curl=curl,
        clients=clients,
        repeat=repeat,
        count=count,
        headers=headers,
        method=method,
        data=data,
        cookies=_cookies(src, step) or (curl is not None and curl.jar),
    )


def _mix_step(src: Source, step: Mapping, name: str) -> Step:
    """A mix step: the property traffic, sized by its mapping (defaults: ``Plan()``)."""
    node = step.require(MIX)
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return Step(name, MIX, src.line(step.node), mix=Plan())
    found = Mapping(src, node, "mix")
    found.only((*(k for k, _, _ in _MIX_COUNTS), "scale"))
    default = Plan()
    sizes = {
        key: yamlsource.integer(src, found.require(key), f"mix {key}", low, high)
        if key in found
        else getattr(default, key)
        for key, low, high in _MIX_COUNTS
    }
    scale = True
    if "scale" in found:
        flag = yamlsource.value(found.require("scale"))
        if not isinstance(flag, bool):
            raise src.error(found.require("scale"), "mix scale must be true or false")
        scale = flag
    plan = Plan(sizes["clients"], sizes["visits"], sizes["pages"], sizes["hosts"], scale)
    return Step(name, MIX, src.line(step.node), mix=plan)


def _step(
    src: Source,
    index: int,
    node: Node,
    seen: dict[str, int],
    later: dict[str, int],
    blocks: dict[str, Block],
) -> Step:
    step = Mapping(src, node, f"step {index}")
    kind = _kind(src, step)
    step.only((kind, *_KEYS[kind]))
    name = f"step{index}"
    if "name" in step:
        name = yamlsource.string(src, step.require("name"), "step name")
        if not _NAME.match(name):
            raise src.error(step.require("name"), f"step name {name!r}: use letters, digits, -_.")
    if name in seen:
        raise src.error(node, f"step name {name!r} already used at line {seen[name]}")
    if "note" in step:
        yamlsource.string(src, step.require("note"), "note", empty=True)
    if kind == AGAIN:
        return _again_step(src, step, name, seen, later)
    if kind == MIX:
        return _mix_step(src, step, name)
    if kind in EDIT_KINDS:
        edit, block = edits.parse(src, kind, step)
        if block is not None:
            blocks[name] = block
        return Step(name, kind, src.line(step.node), edit=edit)
    return _sending_step(src, step, kind, name)


def parse(src: Source, node: Node) -> tuple[tuple[Step, ...], dict[str, Block]]:
    """Validate the ``steps`` list.

    Returns:
        The steps, and the objects of each ``apply`` step by step name.

    Raises:
        ScenarioError: at the line of the first problem.
    """
    items = yamlsource.items(src, node, "steps")
    later: dict[str, int] = {}
    for item in items:  # names defined anywhere, to explain a reference to a later step
        if isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                if key.value == "name" and isinstance(value, yaml.ScalarNode):
                    later.setdefault(value.value, src.line(item))
    seen: dict[str, int] = {}
    steps: list[Step] = []
    blocks: dict[str, Block] = {}
    for index, item in enumerate(items, start=1):
        step = _step(src, index, item, seen, later, blocks)
        seen[step.name] = step.line
        steps.append(step)
    return tuple(steps), blocks

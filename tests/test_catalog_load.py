"""Loading and validating the candidate catalog: the real file, and malformed entries."""

from __future__ import annotations

import textwrap

import pytest

from ingressbed import catalog
from ingressbed.errors import ConfigError
from ingressbed.vocabulary import ANNOTATION_PREFIX, Flavor


def expect_block(kind="equals: 1.0", plane="both"):
    lines = []
    for name in catalog.PROPERTY_NAMES:
        lines += [f"  {name}:", f"    {plane}: {{{kind}, why: because}}"]
    return "\n".join(lines)


def entry(extra="", expect=None, annotations="{}", planes=""):
    body = expect if expect is not None else expect_block()
    text = textwrap.dedent(
        f"""\
        candidates:
          - id: demo
            intent: "a demo candidate"
            layout: one-port
            replicas: 6
            annotations: {annotations}
        """
    )
    text += "".join(f"    {line}\n" for line in extra.splitlines())
    text += f"    planes: {planes}\n" if planes else ""
    text += "    expect:\n" + textwrap.indent(body, "      ") + "\n"
    return text


def error(text):
    with pytest.raises(ConfigError) as info:
        catalog.parse(text, "cat.yaml")
    return str(info.value)


def test_the_real_catalog_loads_with_every_candidate_the_issue_names():
    loaded = catalog.load()
    ids = [c.id for c in loaded.candidates]
    assert ids == [
        "round-robin",
        "ewma",
        "ip-hash-three-ports",
        "ip-hash-one-port",
        "remote-addr",
        "request-uri",
        "host",
        "host-request-uri",
        "subset-3",
        "cookie-balanced",
        "cookie-persistent",
        "service-upstream",
    ]
    for candidate in loaded.candidates:
        for prop in catalog.PROPERTY_NAMES:
            for plane in candidate.planes:
                assert candidate.expectation(prop, plane).why
        candidate.setup()  # every entry becomes a Setup


def test_candidates_become_setups_with_prefixed_annotations_and_any_host():
    candidate = catalog.load().get("ip-hash-three-ports")
    setup = candidate.setup()
    assert setup.replicas == 6
    assert setup.ingress.annotation("upstream-hash-by") == "$binary_remote_addr"
    assert all(k.startswith(ANNOTATION_PREFIX) for k in setup.ingress.annotations)
    assert [r.service_port for r in setup.ingress.routes] == [8080, 9090, 8081]
    assert {r.host for r in setup.ingress.routes} == {None}
    assert setup.controller["use-forwarded-headers"] == "true"


def test_placements_follow_the_annotations():
    placements = {c.id: c.placement for c in catalog.load().candidates}
    assert placements["round-robin"] == "round-robin"
    assert placements["ewma"] == "ewma"
    assert placements["host"] == "hash"
    assert placements["subset-3"] == "subset"
    assert placements["cookie-balanced"] == "cookie-balanced"
    assert placements["cookie-persistent"] == "cookie-persistent"
    assert placements["service-upstream"] == "service-upstream"
    assert catalog.load().get("subset-3").subset_size == 3


def test_both_expands_to_every_plane_and_planes_limit_it():
    parsed = catalog.parse(entry(), "cat.yaml").candidates[0]
    assert parsed.planes == (Flavor.NGINX, Flavor.INGRESS_NGINX)
    assert parsed.expectation("spread_cv", Flavor.NGINX) == parsed.expectation(
        "spread_cv", Flavor.INGRESS_NGINX
    )
    only = catalog.parse(entry(planes="[ingress-nginx]"), "cat.yaml").candidates[0]
    assert only.expectation("spread_cv", Flavor.NGINX) is None


def test_unknown_candidate_id_names_the_known_ones():
    with pytest.raises(ConfigError, match="known: round-robin, ewma"):
        catalog.load().get("nope")


def kinds(kind, plane="both", annotations="{}"):
    return entry(expect=expect_block(kind, plane), annotations=annotations)


NO_CROSS_PORT = expect_block().replace("  cross_port:\n    both: {equals: 1.0, why: because}\n", "")
SUBSET_SIZE = "{upstream-hash-by: $host, upstream-hash-by-subset-size: three}"
TWICE = "    replicas: 6\n    replicas: 7\n"
MALFORMED = [
    (entry().replace("equals: 1.0", "equal: 1.0", 1), "unknown key 'equal' (did you mean"),
    (entry().replace("client_stickiness", "client_stickyness"), "did you mean 'client_stickiness'"),
    (entry(expect=NO_CROSS_PORT), "expect lacks cross_port"),
    (entry(annotations="{enable-cors: true}"), 'quote it ("true")'),
    (entry(annotations="{upstream-hash-bye: $host}"), "did you mean 'upstream-hash-by'?"),
    (entry(annotations="{upstream-hash-by: $hots}"), "unsupported variable $hots"),
    (entry(annotations="{affinity: cookie, affinity-mode: sticky}"), "affinity-mode 'sticky'"),
    (entry(annotations=SUBSET_SIZE), "upstream-hash-by-subset-size 'three' is not >= 1"),
    (entry().replace("layout: one-port", "layout: two"), "layout 'two' is not one of"),
    (entry().replace("replicas: 6", "replicas: 1"), "replicas must be a whole number 2..50"),
    (entry().replace("id: demo", "id: Demo!"), "'id' must be lowercase"),
    (entry().replace(", why: because", "", 1), "'why' must say where"),
    (kinds("equals: 1.5"), "equals needs a number in 0..1"),
    (kinds("binomial: repeat", annotations="{load-balance: ewma}"), "'repeat' needs a placement"),
    (kinds("binomial: repeat"), "spread_max_mean is not a count over trials"),
    (kinds("equals: 1.0, sigmas: 3"), "sigmas must be a number >= 4"),
    (kinds("equals: 1.0, at_most: 1.0"), "give exactly one of"),
    (kinds("range: [0.9, 0.1]"), "range needs [low, high]"),
    (kinds("not_predicted: yes please"), "write 'not_predicted: true'"),
    (entry(planes="[nginx, envoy]"), "planes must be a list of nginx, ingress-nginx"),
    (kinds("equals: 1.0", plane="nginx"), "no expectation for data plane ingress-nginx"),
    (kinds("equals: 1.0", plane="envoy"), "unknown key 'envoy'"),
    (entry().replace("intent:", "intnet:"), "unknown key 'intnet' (did you mean 'intent'?)"),
    (entry() + entry().replace("candidates:\n", ""), "duplicate id 'demo'"),
    (entry().replace("    replicas: 6\n", TWICE), "duplicate key 'replicas'"),
    ("candidates: [", "not valid YAML"),
    ("[]", "must be a mapping with a 'candidates' list"),
    ("candidates: []", "'candidates' must be a non-empty list"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_a_malformed_entry_fails_with_file_line_and_what_is_wrong(text, message):
    text_of_error = error(text)
    assert text_of_error.startswith("cat.yaml:"), text_of_error
    assert message in text_of_error


def test_model_and_pod_bounds_need_a_spread_property_and_a_fitting_placement():
    hashed = "{upstream-hash-by: $request_uri}"
    body = expect_block().replace(
        "  spread_cv:\n    both: {equals: 1.0, why: because}",
        "  spread_cv:\n    both: {model: exact, why: ring}",
    )
    assert catalog.parse(entry(expect=body, annotations=hashed), "c.yaml").candidates
    assert "spread properties only" in error(
        entry(
            expect=expect_block().replace("{equals", "{model: exact, x", 1), annotations=hashed
        ).replace(", x: 1.0", "")
    )
    assert "needs a placement among hash" in error(entry(expect=body))


def test_error_lines_point_into_the_file():
    text = entry(annotations="{upstream-hash-bye: $host}")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "annotations:" in t)
    assert error(text).startswith(f"cat.yaml:{line}:")


def test_an_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the catalog"):
        catalog.load(tmp_path / "missing.yaml")


def test_expectations_describe_themselves():
    describe = catalog.Expectation
    assert describe("equals", "w", value=1.0).describe() == "= 1"
    assert describe("at_most", "w", value=0.05).describe() == "≤ 0.05"
    assert describe("range", "w", low=1.0, high=1.2).describe() == "1 .. 1.2"
    assert "binomial" in describe("binomial", "w", quantity="repeat").describe()
    assert describe("not_applicable", "w").describe() == "n/a"
    assert not describe("not_applicable", "w").measured

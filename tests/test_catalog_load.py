"""Loading and validating the candidate catalog: the real files, and malformed candidates.

A candidate is a scenario file under manifests/catalog/ (ingressbed.catalog); the scenario
loader checks the format, the catalog adds its rules (a mix step, a why everywhere, one
expectation per property and data plane).
"""

from __future__ import annotations

import textwrap

import pytest

from ingressbed import catalog
from ingressbed.balancing import Balancing
from ingressbed.errors import ConfigError, ScenarioError
from ingressbed.expectations import Check, Kind, PropertyExpect
from ingressbed.paths import MANIFESTS
from ingressbed.vocabulary import Flavor

IDS = [
    "cookie-balanced",
    "cookie-persistent",
    "ewma",
    "host-request-uri",
    "host",
    "ip-hash-one-port",
    "ip-hash-three-ports",
    "legacy-hash-by",
    "remote-addr",
    "request-uri",
    "round-robin",
    "service-upstream",
    "subset-3",
]


def candidate(expect: str, annotations: str = "", steps: str = "  - {name: mix, mix: {}}") -> str:
    """A candidate file: one-port routes without a host, the given annotations and lines."""
    notes = "".join(
        f"\n      nginx.ingress.kubernetes.io/{line}" for line in annotations.splitlines()
    )
    head = textwrap.dedent(
        """\
        title: a demo candidate
        ingress: |
          apiVersion: networking.k8s.io/v1
          kind: Ingress
          metadata:
            name: hellogo
            annotations: {}ANNOTATIONS
          spec:
            rules:
            - http:
                paths:
                - path: /8080
                  pathType: Prefix
                  backend: {service: {name: h, port: {number: 8080}}}
                - path: /9090
                  pathType: Prefix
                  backend: {service: {name: h, port: {number: 8080}}}
                - path: /ws
                  pathType: Prefix
                  backend: {service: {name: h, port: {number: 8080}}}
        steps:
        """
    )
    head = head.replace(" {}ANNOTATIONS", notes if notes else " {}")
    return head + steps + "\nexpect:\n" + textwrap.indent(textwrap.dedent(expect), "  ")


def load_one(tmp_path, text: str, name: str = "demo.yaml") -> catalog.Catalog:
    (tmp_path / name).write_text(text)
    return catalog.load(tmp_path)


def error(tmp_path, text: str, name: str = "demo.yaml") -> str:
    with pytest.raises(ScenarioError) as info:
        load_one(tmp_path, text, name)
    return str(info.value)


def test_the_real_catalog_holds_every_candidate_with_a_reason_for_each_claim():
    loaded = catalog.load()
    assert loaded.path == MANIFESTS / "catalog"
    assert [c.id for c in loaded.candidates] == IDS
    for c in loaded.candidates:
        assert c.scenario.expect and all(e.why for e in c.scenario.expect)
        assert any(s.kind == "mix" for s in c.scenario.steps)
        assert c.planes  # every candidate claims something somewhere


def test_silent_candidates_now_claim_something_measurable():
    loaded = catalog.load()
    ewma = loaded.get("ewma")
    assert ewma.expectation(Kind.SLOW_POD_SHARE, Flavor.INGRESS_NGINX).bound.at_most == 0.05
    assert (ewma.scenario.setup.slow_pods, ewma.scenario.setup.slow_ms) == (1, 200)
    upstream = loaded.get("service-upstream").expectation(Kind.ONE_UPSTREAM, Flavor.INGRESS_NGINX)
    assert upstream is not None and upstream.bound.equals == 1.0
    legacy = loaded.get("legacy-hash-by").scenario
    assert legacy.needs == ("legacy-hash-by",)
    assert legacy.expectations_for(Flavor.NGINX) == ()


def test_candidates_describe_their_setup():
    c = catalog.load().get("ip-hash-three-ports")
    setup = c.scenario.setup
    assert c.annotations["upstream-hash-by"] == "$binary_remote_addr"
    assert c.layout == "/8080 → 8080, /9090 → 9090, /ws → 8081"
    assert {r.host for r in setup.ingress.routes} == {None}
    assert setup.controller["use-forwarded-headers"] == "true"
    assert c.replicas == 6 and c.intent.startswith("Incident 1")
    cross = c.expectation(Kind.CROSS_PORT, Flavor.NGINX)
    assert isinstance(cross, PropertyExpect) and cross.check == Check.BINOMIAL
    assert cross.quantity == "same_key_routes" and cross.planes == (Flavor.NGINX,)
    assert c.expectation(Kind.SLOW_POD_SHARE, Flavor.NGINX) is None


def test_placements_follow_the_annotations():
    placement = {c.id: Balancing.of(c.scenario.setup) for c in catalog.load().candidates}
    assert placement["round-robin"].placement == "round-robin"
    assert placement["ewma"].placement == "ewma"
    assert placement["host"].placement == "hash"
    assert (placement["subset-3"].placement, placement["subset-3"].subset_size) == ("subset", 3)
    assert placement["cookie-balanced"].placement == "cookie-balanced"
    assert placement["cookie-persistent"].uses_cookie
    assert placement["service-upstream"].placement == "service-upstream"


def test_unknown_candidate_id_names_the_known_ones():
    with pytest.raises(ConfigError, match="known: cookie-balanced, cookie-persistent"):
        catalog.load().get("nope")


def test_an_empty_or_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no catalog candidates"):
        catalog.load(tmp_path)
    with pytest.raises(ConfigError, match="no catalog candidates"):
        catalog.load(tmp_path / "missing")


def test_a_user_adds_a_candidate_by_adding_a_file(tmp_path):
    text = candidate(
        """\
        - client_stickiness: {equals: 1.0}
          why: the key is the client
        - spread_cv: {model: exact}
          on: ingress-nginx
          why: the ring's own spread
        """,
        "upstream-hash-by: $binary_remote_addr",
    )
    (loaded,) = load_one(tmp_path, text, "mine.yaml").candidates
    assert loaded.id == "mine" and loaded.planes == catalog.PLANES  # no on: every plane
    assert loaded.expectation(Kind.SPREAD_CV, Flavor.NGINX) is None
    assert loaded.expectation(Kind.SPREAD_CV, Flavor.INGRESS_NGINX).check == Check.MODEL


HASHED = "upstream-hash-by: $request_uri"
MALFORMED = [
    ("- client_stickiness: {equals: 1.0}\n", "", "says why"),
    ("- client_stickiness: {equals: 1.5}\n  why: w\n", "", "must be 0..1"),
    ("- client_stickiness: {equal: 1.0}\n  why: w\n", "", "unknown key 'equal' (did you mean"),
    ("- client_stickyness: 1.0\n  why: w\n", "", "did you mean 'client_stickiness'"),
    ("- spread_cv: {binomial: repeat}\n  why: w\n", "", "cannot be checked by binomial"),
    ("- cross_port: {binomial: nope}\n  why: w\n", "", "binomial 'nope' is not known"),
    ("- cross_port: {binomial: same_key_routes}\n  why: w\n", "", "needs a placement among hash"),
    ("- url_stickiness: {binomial: repeat}\n  why: w\n", "load-balance: ewma", "'repeat' needs a"),
    ("- url_stickiness: {equals: 1.0, sigmas: 3}\n  why: w\n", "", "sigmas must be 4"),
    ("- url_stickiness: {equals: 1.0, at_most: 1.0}\n  why: w\n", "", "exactly one of"),
    ("- url_stickiness: {range: [0.9, 0.1]}\n  why: w\n", "", "low is above high"),
    ("- url_stickiness: {range: [0.1]}\n  why: w\n", "", "range needs [low, high]"),
    ("- spread_cv: {model: yes}\n  why: w\n", HASHED, "write 'model: exact'"),
    ("- spread_cv: {model: exact}\n  why: w\n", "", "model needs a placement among hash"),
    ("- spread_cv: {pod_bounds: true}\n  why: w\n", HASHED, "pod_bounds needs a placement"),
    ("- url_stickiness: 1.0\n  on: traefik\n  why: w\n", "", "'traefik' is not a data plane"),
    ("- model_picks: mix\n  why: w\n", HASHED, "model_picks judges steps other than mix"),
    ("- model_picks: mix\n  why: w\n", "", "model_picks needs upstream-hash-by"),
    (
        "- url_stickiness: 1.0\n  why: w\n- url_stickiness: 0.5\n  on: nginx\n  why: w\n",
        "",
        "url_stickiness on nginx is already stated at line",
    ),
]


@pytest.mark.parametrize(("expect", "annotations", "message"), MALFORMED)
def test_a_malformed_candidate_fails_with_file_line_and_what_is_wrong(
    tmp_path, expect, annotations, message
):
    text = error(tmp_path, candidate(expect, annotations))
    assert "demo.yaml:" in text, text
    assert message in text, text


def test_a_candidate_needs_a_mix_step_and_a_name_that_is_an_id(tmp_path):
    no_mix = candidate("- status: 200\n  why: w\n", steps="  - {name: a, http: http://h/8080}")
    assert "needs a mix step" in error(tmp_path, no_mix)
    (tmp_path / "demo.yaml").unlink()
    good = candidate("- url_stickiness: 1.0\n  why: w\n")
    assert "use a-z, 0-9" in error(tmp_path, good, "Demo!.yaml")


def test_a_property_without_a_mix_step_is_refused_by_the_scenario_loader(tmp_path):
    text = candidate(
        "- url_stickiness: 1.0\n  why: w\n", steps="  - {name: a, http: http://h/8080}"
    )
    assert "a property is measured on a mix step; the file has no mix step" in error(tmp_path, text)


def test_property_expectations_describe_themselves():
    assert PropertyExpect(check=Check.EQUALS, bound=catalog_bound(equals=1.0)).describe() == "= 1"
    assert PropertyExpect(check=Check.AT_MOST, bound=catalog_bound(at_most=0.05)).describe() == (
        "≤ 0.05"
    )
    ranged = PropertyExpect(check=Check.RANGE, bound=catalog_bound(at_least=1.0, at_most=1.2))
    assert ranged.describe() == "1 .. 1.2"
    assert "binomial" in PropertyExpect(check=Check.BINOMIAL, quantity="repeat").describe()
    assert PropertyExpect(check=Check.MODEL).describe() == "= placement model (exact)"
    assert "every pod" in PropertyExpect(check=Check.POD_BOUNDS).describe()


def catalog_bound(**values: float):
    from ingressbed.expectations import Bound

    return Bound(**values)

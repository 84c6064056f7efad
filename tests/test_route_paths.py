"""Request paths for the start-up check: a regex path, and a path holding ? # % (pure)."""

from __future__ import annotations

import re

import pytest

from ingressbed import layouts
from ingressbed.backends import converge
from ingressbed.backends.route_paths import example, literal
from ingressbed.placement import synthetic_endpoints
from ingressbed.vocabulary import IngressSpec, Route, Setup


@pytest.mark.parametrize(
    "regex",
    ["/pr/api/?(.*)", "/something(/|$)(.*)", r"/v1/(users|items)/\d+", "/api/[0-9]+", "/x(?!y)"],
)
def test_an_example_path_matches_its_regex_as_nginx_anchors_it(regex):
    found = example(regex)
    assert found is not None and found.startswith("/")
    assert re.match(f"^{regex}", found, re.IGNORECASE)


def test_no_example_where_none_can_be_made():
    assert example("/[^a-z]") is None
    assert example("(") is None
    assert example("api") is None  # not a path


def test_a_literal_path_is_percent_encoded_where_a_request_cannot_hold_it():
    assert literal("/pr/api/?(.*)") == "/pr/api/%3F(.*)"
    assert literal("/a b#c%") == "/a%20b%23c%25"
    assert literal("/plain/path.html") == "/plain/path.html"


def _setup(annotations: dict[str, str]) -> Setup:
    route = Route("/pr/api/?(.*)", 8080, "h", "ImplementationSpecific")
    spec = IngressSpec(
        "pr", (route,), {f"nginx.ingress.kubernetes.io/{k}": v for k, v in annotations.items()}
    )
    return Setup(spec)


def test_the_start_up_check_reaches_a_regex_route_on_ingress_nginx_and_a_literal_one_elsewhere():
    peers = {8080: synthetic_endpoints(3, 8080)}
    regex = converge.plan(_setup({"use-regex": "true"}), peers, "ingress-nginx")
    assert [s.path for s in regex.samples] == ["/pr/api/?converge=0"]
    literal_plan = converge.plan(_setup({"use-regex": "true"}), peers, "nginx")
    assert [s.path for s in literal_plan.samples] == ["/pr/api/%3F(.*)?converge=0"]
    plain = converge.plan(layouts.setup("one-port"), {8080: synthetic_endpoints(3, 8080)}, "nginx")
    assert all("converge-" in s.path for s in plain.samples)

"""Properties of a mix computed from observations (ingressbed.properties) and the
cookie-taking visits of the mix (ingressbed.scenario.mix)."""

from __future__ import annotations

import httpx

from ingressbed import catalog
from ingressbed.balancing import Balancing
from ingressbed.clients.http import HttpRequest
from ingressbed.expectations import Kind
from ingressbed.model import Model
from ingressbed.placement import Request as PlacementRequest
from ingressbed.placement import Ring, SubsetRing, hash_key, synthetic_endpoints
from ingressbed.properties import SCALED, WITH_COOKIE, Properties, Traffic
from ingressbed.scenario.mix import cookie_value, first_visits
from ingressbed.vocabulary import Endpoint, Flavor, Observation, Pod

CATALOG = catalog.load()
EPS = synthetic_endpoints(6, 8080)
PODS = {f"pod-{i}": e.address for i, e in enumerate(EPS)}
NAME_OF = {ip: name for name, ip in PODS.items()}


def obs(client, key, endpoint, *, route="/8080", host="h.test", step="", cache=None):
    return Observation(
        "http",
        client,
        host,
        key,
        NAME_OF.get(endpoint.address, "pod-new"),
        endpoint.address,
        endpoint.port,
        200,
        cache,
        route=route,
        step=step,
    )


def traffic(**fields):
    base = dict(
        endpoints={8080: EPS},
        pod_ips=dict(PODS),
        visits=[],
        first=[],
        second=[],
        scaled=[],
        added=[],
        scaled_endpoints=None,
        cookies={},
    )
    return Traffic(**{**base, **fields})


def figures(candidate_id, plane, seen):
    """The properties of ``seen`` as the judge builds them: the plane's model of the
    candidate on the traffic's endpoints, and on the page route's after scaling."""
    setup = CATALOG.get(candidate_id).scenario.setup
    routes = {r.path: r.service_port for r in setup.ingress.routes}
    model = Model.of(plane, setup, seen.endpoints)
    after = None
    if seen.scaled_endpoints is not None:
        after = Model(model.balance, {routes["/8080"]: seen.scaled_endpoints})
    return Properties(Balancing.of(setup), routes, seen, model, after)


def test_a_hash_candidate_that_follows_the_model_agrees_and_its_spread_is_the_models():
    model = Model.for_key(Flavor.NGINX, {8080: EPS}, "$request_uri")
    urls = [f"/8080/t/page-{i}" for i in range(300)]

    def placed(client, url, step=""):
        o = obs(client, url, EPS[0], step=step)
        return obs(client, url, model.predict(o).exact, step=step, cache="MISS")

    first = [placed(f"10.0.0.{i % 250 + 1}", url) for i, url in enumerate(urls)]
    second = [placed(f"10.1.0.{i % 250 + 1}", url) for i, url in enumerate(urls)]
    seven = [*EPS, Endpoint("10.244.0.8", 8080)]
    after = Model.for_key(Flavor.NGINX, {8080: seven}, "$request_uri")
    scaled = [obs(o.client, o.key, after.predict(o).exact, step=SCALED) for o in first]
    seen = traffic(
        first=first,
        second=second,
        scaled=scaled,
        added=["pod-new"],
        scaled_endpoints=seven,
    )
    f = figures("request-uri", Flavor.NGINX, seen)
    assert f.figure("url_stickiness").value == 1.0
    agreement = f.figure("model_agreement")
    assert (agreement.value, agreement.count, agreement.n) == (1.0, 900, 900)
    spread = f.figure("spread_max_mean")
    assert spread.value == spread.model and spread.value >= 1.0
    assert sum(spread.loads.values()) == 300 and set(spread.loads) == set(PODS.values())
    moved = f.figure("moved_on_scale")
    share = Ring.build(Flavor.NGINX, seven).shares()[seven[-1]]
    assert moved.n == 300 and abs(moved.value - share) < 0.1
    assert f.figure("moved_elsewhere").value == 0.0


def test_stickiness_cross_port_and_cache_figures_count_keys():
    visits = [
        obs("a", "/8080/x/1", EPS[0], route="/8080"),
        obs("a", "/8080/x/2", EPS[0], route="/8080"),
        obs("a", "/9090/x/1", EPS[0], route="/9090"),
        obs("b", "/8080/x/3", EPS[1], route="/8080"),
        obs("b", "/8080/x/4", EPS[2], route="/8080"),
        obs("b", "/9090/x/2", EPS[1], route="/9090"),
    ]
    first = [
        obs("e", "/p1", EPS[0], cache="MISS"),
        obs("e", "/p2", EPS[0], cache="MISS"),
        obs("e", "/p3", EPS[0], cache="HIT"),  # warm: left out
    ]
    second = [
        obs("c", "/p1", EPS[0], cache="HIT"),
        obs("d", "/p2", EPS[1], cache="MISS"),
        obs("d", "/p3", EPS[0], cache="HIT"),
    ]
    f = figures("round-robin", Flavor.NGINX, traffic(visits=visits, first=first, second=second))
    client = f.figure("client_stickiness")
    assert (client.count, client.trials) == (3, (("/8080", 2), ("/9090", 2)))
    cross = f.figure("cross_port")
    assert (cross.value, cross.count, cross.n) == (0.5, 1, 2)
    cache = f.figure("cache_hit_ratio")
    assert (cache.value, cache.count, cache.n) == (0.5, 1, 2)
    assert "1 page(s) left out" in cache.detail
    agreement = f.figure("model_agreement")
    assert agreement.value is None and "round-robin" in agreement.detail  # nothing predicted
    moved = f.figure("moved_on_scale")
    assert moved.value is None and "cannot scale" in moved.detail


def test_missing_evidence_gives_no_value_and_says_what_was_missing():
    no_header = [obs("e", "/p1", EPS[0])]
    f = figures("round-robin", Flavor.NGINX, traffic(first=no_header, second=no_header))
    cache = f.figure("cache_hit_ratio")
    assert cache.value is None and "X-Cache-Status" in cache.detail
    empty = figures("round-robin", Flavor.NGINX, traffic())
    for kind in (Kind.CLIENT_STICKINESS, Kind.CROSS_PORT, Kind.URL_STICKINESS):
        assert empty.figure(kind).value is None
        assert "no pod answered" in empty.figure(kind).detail
    assert "no pod answered" in empty.figure(Kind.SPREAD_MAX_MEAN).detail
    assert "no pod answered" in empty.figure(Kind.SPREAD_CV).detail
    assert "slowed" in empty.figure(Kind.SLOW_POD_SHARE).detail


def test_slow_pod_share_counts_page_answers_of_the_pods_marked_slow():
    pods = tuple(Pod(name, ip, slow_ms=200 if name == "pod-0" else 0) for name, ip in PODS.items())
    first = [obs("c", f"/p{i}", EPS[i % 6]) for i in range(12)]
    seen = traffic(first=first, second=first, pods=pods)
    share = figures("ewma", Flavor.INGRESS_NGINX, seen).figure(Kind.SLOW_POD_SHARE)
    assert (share.count, share.n) == (4, 24) and "pod-0 +200 ms" in share.detail


def test_one_upstream_is_one_peer_per_port_that_no_pod_has():
    pods = tuple(Pod(name, ip) for name, ip in PODS.items())
    service = {8080: [Endpoint("10.96.0.10", 8080)], 9090: [Endpoint("10.96.0.10", 9090)]}
    f = figures("service-upstream", Flavor.INGRESS_NGINX, traffic(endpoints=service, pods=pods))
    upstream = f.figure(Kind.ONE_UPSTREAM)
    assert (upstream.value, upstream.n) == (1.0, 2) and "10.96.0.10:8080" in upstream.detail
    direct = traffic(endpoints={8080: EPS, 9090: [EPS[0]]}, pods=pods)
    upstream = figures("service-upstream", Flavor.INGRESS_NGINX, direct).figure(Kind.ONE_UPSTREAM)
    assert (upstream.value, upstream.count) == (0.0, 0)  # many peers; a pod's address
    nothing = figures("service-upstream", Flavor.INGRESS_NGINX, traffic(endpoints={}))
    assert nothing.figure(Kind.ONE_UPSTREAM).value is None


def test_subset_agreement_accepts_any_member_of_the_keys_group():
    group = SubsetRing.build(EPS, 3).lookup(hash_key("$request_uri", PlacementRequest()))
    other = next(e for e in EPS if e not in group)
    seen = traffic(first=[obs("c", "/", group[1]), obs("d", "/", other)])
    agreement = figures("subset-3", Flavor.INGRESS_NGINX, seen).figure("model_agreement")
    assert (agreement.count, agreement.n) == (1, 2)
    assert "model 10.244" in agreement.detail


def test_balanced_cookie_agreement_follows_the_cookie_key_on_the_ring():
    cookie = "4f0a1c|0123abcd"
    chosen = Ring.build(Flavor.INGRESS_NGINX, EPS).lookup(b"4f0a1c")
    wrong = next(e for e in EPS if e != chosen)
    visits = [
        obs("a", "/8080/1", EPS[0], step="visit"),  # first visit: no cookie, no prediction
        obs("a", "/8080/2", chosen, step=WITH_COOKIE),
        obs("a", "/8080/3", wrong, step=WITH_COOKIE),
    ]
    seen = traffic(visits=visits, cookies={("a", "/8080"): cookie})
    agreement = figures("cookie-balanced", Flavor.INGRESS_NGINX, seen).figure("model_agreement")
    assert (agreement.count, agreement.n) == (1, 2)


def test_cookie_value_reads_the_named_cookie():
    headers = ["other=1; Path=/", "INGRESSCOOKIE=abc|def; Path=/8080; HttpOnly"]
    assert cookie_value(headers, "INGRESSCOOKIE") == "abc|def"
    assert cookie_value(headers, "missing") is None
    assert cookie_value(["broken"], "broken") is None


def test_first_visits_take_each_clients_cookie_and_never_share_a_jar():
    seen_cookies: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_cookies.append(request.headers.get("cookie"))
        client = request.headers["x-forwarded-for"]
        return httpx.Response(
            200,
            headers={
                "X-Pod-Name": "pod-1",
                "X-Pod-IP": "10.244.0.3",
                "X-Pod-Port": "8080",
                "Set-Cookie": f"INGRESSCOOKIE=key-{client}|b; Path=/8080",
            },
        )

    requests = [HttpRequest(f"/8080/{i}", "h.test", f"10.0.0.{i}", route="/8080") for i in (1, 2)]
    pairs = first_visits(
        "http://ingress.test",
        requests * 2,
        "INGRESSCOOKIE",
        transport=httpx.MockTransport(handler),
    )
    assert [cookie for _, cookie in pairs] == ["key-10.0.0.1|b", "key-10.0.0.2|b"] * 2
    assert seen_cookies == [None] * 4
    observation = pairs[0][0]
    assert (observation.pod, observation.pod_ip, observation.port) == ("pod-1", "10.244.0.3", 8080)
    assert observation.ok and observation.route == "/8080"


def test_first_visits_turn_transport_errors_into_observations():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    requests = [HttpRequest("/8080/1", "h.test", "10.0.0.1", route="/8080")]
    ((observation, cookie),) = first_visits(
        "http://ingress.test", requests, "INGRESSCOOKIE", transport=httpx.MockTransport(handler)
    )
    assert cookie is None and observation.status == 0 and "refused" in observation.error

"""Bug reports as they come: several objects, live edits, cookies, headers, version ranges
(the scenario loader; pure, no bed)."""

from __future__ import annotations

import pytest

from ingressbed.errors import ScenarioError
from ingressbed.expectations import CookieExpect, HeaderExpect
from ingressbed.objects import ServicePort
from ingressbed.scenario.load import loads
from ingressbed.scenario.play import required
from ingressbed.vocabulary import ANNOTATION_PREFIX as P
from ingressbed.vocabulary import Route


def ingress(name: str, service: str, path: str = "/", *, host: str = "app.example.com",
            annotations: str = "", port: str = "{number: 80}") -> str:  # fmt: skip
    extra = f"\n    annotations:\n{annotations}" if annotations else ""
    return f"""\
  apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata:
    name: {name}{extra}
  spec:
    rules:
    - host: {host}
      http:
        paths:
        - path: {path}
          pathType: Prefix
          backend: {{service: {{name: {service}, port: {port}}}}}
"""


WEB = ingress(
    "web",
    "app",
    annotations='      nginx.ingress.kubernetes.io/upstream-hash-by: "$binary_remote_addr"',
)
API = ingress(
    "api",
    "app",
    "/api",
    annotations='      nginx.ingress.kubernetes.io/upstream-hash-by: "$request_uri"',
)
CANARY = ingress(
    "web-canary", "app-v2", annotations='      nginx.ingress.kubernetes.io/canary: "true"'
)
A = "  - {name: a, http: http://app.example.com/x}\n"
SERVICE = """\
  apiVersion: v1
  kind: Service
  metadata: {name: app, namespace: shop}
  spec:
    ports:
    - {name: web, port: 80, targetPort: 3000}
    - {name: admin, port: 81, targetPort: http2}
"""


def scenario(*objects: str, steps: str = "", expect: str = "", top: str = "") -> str:
    block = "  ---\n".join(objects)
    steps = steps or "  - {name: a, http: http://app.example.com/x}\n"
    expect = expect or "  - answered: [a]\n"
    return f"title: t\n{top}ingress: |\n{block}steps:\n{steps}expect:\n{expect}"


def load(text: str):
    return loads(text, "r.yaml")


def fails(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        load(text)
    return str(info.value)


# --- several objects ------------------------------------------------------------------------


def test_several_ingresses_are_kept_oldest_first_with_the_services_they_name():
    found = load(scenario(WEB, API))
    setup = found.setup
    assert [i.name for i in setup.ingresses] == ["web", "api"]
    assert [i.order for i in setup.ingresses] == [0, 1]
    assert [s.name for s in setup.services] == ["app"]
    assert setup.services[0].ports == (ServicePort(80, "", 8080),)
    assert setup.ingress.name == "web"  # the view: the oldest non-canary Ingress
    assert setup.ingress.routes == (Route("/", 8080, "app.example.com", "Prefix"),)
    assert setup.several and "several-objects" in required(found)
    assert "Service app is not pasted: made with port 80 -> 8080 on hellogo" in found.notes


def test_one_ingress_on_one_service_is_served_as_always():
    found = load(scenario(WEB))
    assert found.setup.ingresses == () and found.setup.services == ()
    assert found.setup.ingress.routes[0].service_port == 8080
    assert "several-objects" not in required(found)


def test_a_pasted_service_keeps_its_ports_and_its_target_ports_become_hellogos():
    found = load(scenario(SERVICE, WEB))
    (service,) = found.setup.services
    assert service.namespace == "default"  # the bed runs every object in its own
    assert service.ports == (ServicePort(80, "web", 8080), ServicePort(81, "admin", 9090))
    assert "Service app port 80: targetPort 3000 -> hellogo's 8080 (hellogo serves 8080, " \
        "9090, 8081)" in found.notes  # fmt: skip
    assert "namespace shop left out (the bed runs every object in its own)" in found.notes
    assert not found.setup.several  # one Ingress, one Service: no several-objects needed


def test_a_canary_needs_the_canary_capability_and_the_view_is_the_main_ingress():
    found = load(scenario(CANARY, WEB))
    assert found.setup.ingress.name == "web"
    assert {"canary", "several-objects"} <= set(required(found))


def test_replicas_per_service():
    top = "hellogo:\n  replicas: {app: 3, app-v2: 1}\n"
    setup = load(scenario(WEB, CANARY, top=top)).setup
    assert (setup.replicas_of("app"), setup.replicas_of("app-v2")) == (3, 1)
    message = fails(scenario(WEB, CANARY, top="hellogo:\n  replicas: {ap: 3}\n"))
    assert (
        message.startswith("r.yaml:") and "no Service named 'ap' (did you mean 'app'?)" in message
    )


def test_slow_pods_and_a_mix_need_one_ingress_on_hellogo():
    slow = "hellogo: {replicas: 6, slow: {pods: 1, delay_ms: 50}}\n"
    assert "slows one Service's pods; this report has several" in fails(
        scenario(WEB, API, top=slow)
    )
    assert "a mix step measures one Ingress on hellogo" in fails(
        scenario(WEB, API, steps="  - {name: a, mix: {}}\n", expect="  - answered: [a]\n")
    )


# --- live edits ---------------------------------------------------------------------------


EDITS = """\
  - {name: a, http: http://app.example.com/x}
  - name: rekey
    annotate: {ingress: web, set: {upstream-hash-by: $request_uri}, remove: [affinity]}
  - {name: b, http: http://app.example.com/x}
  - name: more
    apply: |
      apiVersion: networking.k8s.io/v1
      kind: Ingress
      metadata: {name: late}
      spec:
        rules:
        - host: late.example.com
          http:
            paths:
            - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
  - {name: c, http: http://late.example.com/x}
  - {name: gone, delete: api}
  - {name: grow, scale: {service: app, replicas: 9}}
  - {name: pause, wait: 0.5}
  - {name: d, http: http://app.example.com/x}
"""


def test_live_edits_make_the_setup_of_each_moment():
    found = load(scenario(WEB, API, steps=EDITS))
    edits = {s.name: s.edit for s in found.steps if s.edit is not None}
    rekey = edits["rekey"].after
    assert rekey.ingresses[0].annotations[P + "upstream-hash-by"] == "$request_uri"
    more = edits["more"].after
    assert [(i.name, i.order) for i in more.ingresses] == [("web", 0), ("api", 1), ("late", 2)]
    assert [i.name for i in edits["gone"].after.ingresses] == ["web", "late"]
    assert edits["grow"].after.replicas_of("app") == 9 and edits["grow"].target == "app"
    assert edits["pause"].seconds == 0.5 and edits["pause"].after is None
    assert "scale" in required(found)
    assert len(found.setups) == 5


def test_an_ingress_applied_again_keeps_its_age_and_one_deleted_then_applied_is_youngest():
    again = ingress("web", "app", "/v2")
    steps = (
        "  - {name: a, http: http://app.example.com/x}\n"
        "  - name: same\n    apply: |\n" + "".join(f"    {ln}\n" for ln in again.splitlines())
        + "  - {name: drop, delete: web}\n"
        "  - name: back\n    apply: |\n" + "".join(f"    {ln}\n" for ln in again.splitlines())
    )  # fmt: skip
    found = load(scenario(WEB, API, steps=steps))
    edits = {s.name: s.edit for s in found.steps if s.edit is not None}
    assert [i.name for i in edits["same"].after.ingresses] == ["web", "api"]
    assert [i.name for i in edits["back"].after.ingresses] == ["api", "web"]


def test_a_one_ingress_report_annotated_live_stays_one_ingress():
    steps = A + "  - {name: k, annotate: {ingress: web, set: {upstream-hash-by: $uri}}}\n"
    found = load(scenario(WEB, steps=steps))
    after = found.steps[1].edit.after
    assert after.ingresses == () and after.ingress.annotation("upstream-hash-by") == "$uri"


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        ("  - {name: k, annotate: {ingress: wbe, set: {affinity: cookie}}}\n",
         "annotate: no Ingress named 'wbe' at this step (there are: web, api)"),
        ("  - {name: k, annotate: {ingress: web}}\n", "annotate needs set and/or remove"),
        ("  - {name: k, annotate: {ingress: web, set: {upstream-hash-bye: $uri}}}\n",
         "unknown annotation 'nginx.ingress.kubernetes.io/upstream-hash-bye'"),
        ("  - {name: k, delete: nope}\n", "delete: no Ingress named 'nope'"),
        ("  - {name: k, scale: {service: ap, replicas: 2}}\n", "scale: no Service named 'ap'"),
        ("  - {name: k, scale: 2}\n", None),
        ("  - {name: k, wait: 0}\n", "wait must be more than 0 and at most 300 seconds"),
        ("  - {name: k, wait: 1, client_ip: 1.2.3.4}\n", "unknown key 'client_ip'"),
        ("  - {name: k, http: http://app.example.com/x, cookies: always}\n",
         "cookies takes keep (a browser's jar per client), not 'always'"),
    ],
)  # fmt: skip
def test_malformed_edits_are_one_line_at_their_line(steps, words):
    text = scenario(WEB, API, steps="  - {name: a, http: http://app.example.com/x}\n" + steps)
    if words is None:
        load(text)
        return
    message = fails(text)
    assert message.startswith("r.yaml:") and words in message, message


def test_deleting_the_only_ingress_and_naming_an_edit_are_refused():
    assert "is the only one: the bed always serves an Ingress" in fails(
        scenario(
            WEB, steps="  - {name: a, http: http://app.example.com/x}\n  - {name: d, delete: web}\n"
        )
    )
    steps = A + "  - {name: w, wait: 1}\n"
    assert "step 'w' is a live edit (wait): it sends nothing to judge" in fails(
        scenario(WEB, steps=steps, expect="  - answered: [w]\n")
    )
    assert "again: step 'w' is a live edit (wait)" in fails(
        scenario(WEB, steps=steps + "  - {name: r, again: w}\n")
    )


def test_model_picks_judges_one_ingress_only():
    assert "model_picks judges one Ingress on hellogo" in fails(
        scenario(WEB, API, expect="  - model_picks: [a]\n")
    )


# --- header and cookie expectations, version ranges -------------------------------------------


def test_header_and_cookie_expectations():
    expect = (
        "  - header: {step: a, name: X-Served-By, matches: '^v2', answers: last}\n"
        "  - cookie: {step: a, name: INGRESSCOOKIE, path: /, samesite: null,"
        " max_age: {at_least: 60}, expires: true, secure: false}\n"
        "  - cookie: {step: a, name: INGRESSCOOKIE, sent: false}\n"
    )  # fmt: skip
    header, attrs, sent = load(scenario(WEB, expect=expect)).expect
    assert isinstance(header, HeaderExpect) and header.name == "x-served-by"
    assert header.matches == "^v2" and header.answers == "last"
    assert isinstance(attrs, CookieExpect) and attrs.set is True
    assert [a.describe() for a in attrs.attributes] == [
        "Path=/", "no SameSite", "no Secure", "Max-Age >= 60", "Expires"
    ]  # fmt: skip
    assert isinstance(sent, CookieExpect) and sent.sent is False and sent.set is None


@pytest.mark.parametrize(
    ("expect", "words"),
    [
        ("  - header: {step: a, name: 'x y', present: true}\n", "'x y' is not a header name"),
        ("  - header: {step: a, name: X}\n", "header needs one of present, equals, matches"),
        ("  - header: {step: a, name: X, matches: '('}\n", "is not a regular expression"),
        ("  - header: {step: a, name: X, present: yes-please}\n", "present must be true or false"),
        ("  - cookie: {step: a, name: C, set: false, path: /}\n", "set: false leaves no"),
        ("  - cookie: {step: a, name: C}\n", "cookie needs set, sent or an attribute"),
        ("  - answered: [a]\n    on: nginx@>=1.11\n", "a version range names ingress-nginx"),
        ("  - answered: [a]\n    on: ingress-nginx@1.11\n", "has no comparison"),
        ("  - answered: [a]\n    on: ingress-nginx@>=one\n", "is not a release like 1.11"),
    ],
)  # fmt: skip
def test_malformed_expectations_are_one_line(expect, words):
    message = fails(scenario(WEB, expect=expect))
    assert message.startswith("r.yaml:") and words in message, message


def test_version_ranges_choose_the_expectations_of_a_release():
    expect = (
        "  - answered: [a]\n    on: ingress-nginx@<1.11\n"
        "  - status: 200\n    on: ['ingress-nginx@>=1.11,<1.13', nginx]\n"
        "  - answered: [a]\n"
    )
    found = load(scenario(WEB, expect=expect))
    lines = lambda plane, version: [e.line for e in found.expectations_for(plane, version)]  # noqa: E731
    assert lines("ingress-nginx", "v1.10.1") == [found.expect[0].line, found.expect[2].line]
    assert lines("ingress-nginx", "1.12.0") == [found.expect[1].line, found.expect[2].line]
    assert lines("ingress-nginx", "1.15.1") == [found.expect[2].line]
    assert lines("nginx", None) == [found.expect[1].line, found.expect[2].line]
    assert [str(r) for r in found.ranges("ingress-nginx")] == ["<1.11", ">=1.11,<1.13"]

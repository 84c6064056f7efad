"""Scenario files end to end on the real local backend: pytest items and `ingressbed repro`.

Two bed runs in all (about a second each): one pytest session holding a good file, a
malformed file, a wrong expectation and a Python test sharing the bed; one CLI run.
"""

from __future__ import annotations

import shutil

import pytest

from ingressbed.cli import main
from ingressbed.errors import ToolError
from tests.real_processes import find_nginx

pytest_plugins = ["pytester"]

INGRESS = """\
ingress: |
  apiVersion: networking.k8s.io/v1beta1
  kind: Ingress
  metadata:
    name: shop
{annotations}  spec:
    rules:
    - host: shop.example.test
      http:
        paths:
        - {{path: /, backend: {{serviceName: shop, servicePort: 80}}}}
"""
HASHED = INGRESS.format(
    annotations="    annotations:\n"
    "      nginx.ingress.kubernetes.io/upstream-hash-by: $binary_remote_addr\n"
)
ROUND_ROBIN = INGRESS.format(annotations="")

GOOD = (
    "title: ip-hash keeps a client on one pod\nhellogo: {replicas: 2}\n"
    + HASHED
    + """\
steps:
  - {name: a, curl: "curl -s http://shop.example.test/cart", client_ip: 10.1.2.3}
  - {name: b, http: "http://shop.example.test/cart", client_ip: 10.1.2.3, repeat: 3}
expect:
  - same_pod: [a, b]
  - cache_status: {step: b, last: HIT}
"""
)
WRONG = (
    "title: round robin expected to stick\nhellogo: {replicas: 2}\n"
    + ROUND_ROBIN
    + """\
steps:
  - {name: many, http: "http://shop.example.test/cart", client_ip: 10.1.2.3, repeat: 4}
expect:
  - status: 200
  - same_pod: [many]
"""
)
BROKEN = GOOD.replace("same_pod: [a, b]", "same_pod: [a, bb]")
BROKEN_LINE = 1 + BROKEN.splitlines().index("  - same_pod: [a, bb]")
BROKEN_SAYS = "no step named 'bb' (did you mean 'b'?); steps: a, b"
NOT_A_SCENARIO = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
USES_BED = """\
def test_shares_the_bed(bed):
    assert bed.name == "local"
"""

ARGS = ("--backend", "local", "-p", "no:cacheprovider")


@pytest.fixture(autouse=True)
def _needs_nginx_and_curl():
    try:
        find_nginx()
    except ToolError as exc:
        pytest.skip(str(exc))
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")


@pytest.mark.slow
def test_pytest_collects_runs_and_explains_scenario_files(pytester):
    pytester.makefile(".yaml", good=GOOD, wrong=WRONG, broken=BROKEN)
    pytester.mkdir("manifests").joinpath("service.yaml").write_text(NOT_A_SCENARIO)
    pytester.makepyfile(test_uses_bed=USES_BED)
    files = ("good.yaml", "wrong.yaml", "broken.yaml", "manifests", "test_uses_bed.py")
    result = pytester.runpytest_inprocess(*ARGS, "-rfs", *files)
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    # One bed for the whole session, scenario files and Python tests alike.
    assert out.count("• Starting nginx") == 1, out
    # A malformed file: one line with its path, line and what is wrong.
    result.stdout.fnmatch_lines([f"ScenarioError: broken.yaml:{BROKEN_LINE}: {BROKEN_SAYS}"])
    # A wrong expectation: the verdict with what was observed.
    result.stdout.fnmatch_lines(
        [
            "*✗ line 18: same_pod many (on one pod, per client)",
            "*seen: 10.1.2.3: 2 pod(s): many -> hellogo-*×2, hellogo-*×2",
            "*step*#*client*request*pod*port*status*cache",
            "*many*1*10.1.2.3*shop.example.test/cart*hellogo-*8080*200*",
            "FAIL: 1 of 2 expectations failed (wrong.yaml:18)",
        ]
    )
    assert "service.yaml" not in out


def test_which_yaml_is_collected_and_a_malformed_file_starts_nothing(pytester):
    pytester.makefile(".yaml", broken=BROKEN)  # not under e2e/scenarios: only when named
    pytester.mkdir("e2e")
    pytester.mkdir("e2e/scenarios").joinpath("report.yaml").write_text(BROKEN)
    result = pytester.runpytest_inprocess(*ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED e2e/scenarios/report.yaml::report - ScenarioError*"])
    result = pytester.runpytest_inprocess(*ARGS, "broken.yaml")
    result.assert_outcomes(failed=1)
    assert "Starting nginx" not in result.stdout.str()


@pytest.mark.slow
def test_repro_prints_the_verdict_and_exits_1_on_a_wrong_expectation(tmp_path, capsys):
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(WRONG)
    assert main(["repro", str(wrong), "--backend", "local", "-q"]) == 1
    out = capsys.readouterr().out
    assert "✗ line 18: same_pod many" in out
    assert "  many  1  10.1.2.3  shop.example.test/cart  hellogo-" in out
    assert out.rstrip().endswith("expectations failed (" + str(wrong) + ":18)")


def test_repro_of_a_malformed_file_is_one_line_and_exit_2(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    assert main(["repro", str(broken), "--backend", "local"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"ingressbed: error: {broken}:{BROKEN_LINE}: {BROKEN_SAYS}\n"


COOKIE = GOOD.replace(
    "      nginx.ingress.kubernetes.io/upstream-hash-by: $binary_remote_addr\n",
    "      nginx.ingress.kubernetes.io/affinity: cookie\n",
).replace("title: ip-hash", "needs: [scale]\ntitle: cookie")


def test_a_scenario_item_carries_the_capabilities_it_needs_as_a_needs_mark(pytester):
    pytester.makefile(".yaml", cookie=COOKIE, good=GOOD)
    items, _ = pytester.inline_genitems(*ARGS, "cookie.yaml", "good.yaml")
    marks = {item.name: item.get_closest_marker("needs") for item in items}
    assert marks["cookie"] is not None
    assert marks["cookie"].args == ("cookie-affinity", "scale")
    assert marks["good"] is not None and marks["good"].args == ("hash",)
    result = pytester.runpytest_inprocess(*ARGS, "--data-plane", "nginx", "-rs", "cookie.yaml")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*lacks: cookie-affinity*"])

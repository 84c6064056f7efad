"""The explanation of a scenario (``repro --explain``, the verdict's notes): the controller
model through every live edit, and a real controller's ``/dbg backends all`` and ``nginx -T``
against it (pure: recorded or hand-made controller output)."""

from __future__ import annotations

import json
from pathlib import Path

from ingressbed import controller
from ingressbed.backends.base import ControllerState
from ingressbed.evidence import Evidence, Moment
from ingressbed.scenario.explain import (
    compare_nginx,
    configuration,
    dry_run,
    explain,
    nginx_locations,
    placeholder_pods,
)
from ingressbed.scenario.load import load

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "e2e" / "scenarios"
NGINX_T = """\
# configuration file /etc/nginx/nginx.conf:
http {
	## start server _
	server {
		server_name _ ;
		location = /_external-auth-Lw {
		}
		location "/" {
		}
	}
	## end server _
	## start server app.example.com
	server {
		server_name app.example.com ;
		location "/api/" {
		}
		location = "/api" {
		}
		location "/" {
		}
		location @custom_upstream-default-backend_404 {
		}
	}
	## end server app.example.com
}
"""


def test_nginx_t_gives_the_ingress_locations_of_each_server():
    assert nginx_locations(NGINX_T) == {
        "_": {'"/"'},
        "app.example.com": {'"/api/"', '= "/api"', '"/"'},
    }


def test_the_model_s_locations_are_looked_up_in_nginx_t():
    two = load(SCENARIOS / "report-two-ingresses-hash-key.yaml")
    config = configuration(two.setup, placeholder_pods(two.setup))
    assert compare_nginx(config, NGINX_T) == []
    missing = NGINX_T.replace('\t\tlocation = "/api" {\n\t\t}\n', "")
    assert compare_nginx(config, missing) == [
        'nginx -T: server app.example.com has no location = "/api" (the model has it)'
    ]


def test_a_live_edit_is_explained_with_what_stays_stale():
    live = load(SCENARIOS / "report-live-annotate-hash-key.yaml")
    text = dry_run(live).text
    assert text.startswith("dry run: nothing ran; pod addresses are placeholders")
    assert "after step rekey (annotate Ingress shop: set " in text
    assert (
        "  stale: backend default-hellogo-8080: upstream-hash-by '$request_uri' is posted" in text
    )
    assert "after step unhash (" in text and "after step rehash (" in text
    assert text.count("stale:") == 1  # through round robin and back, nothing stays stale


def test_a_real_controller_that_agrees_and_one_that_does_not():
    two = load(SCENARIOS / "report-two-ingresses-hash-key.yaml")
    pods = placeholder_pods(two.setup)
    config = configuration(two.setup, pods, namespace="bed-1")
    posted = json.dumps(controller.to_backends_json(config))
    run = Evidence(setup=two.setup, timeline=(("", Moment(two.setup, {}, pods)),))
    same = explain(two, run, ControllerState("bed-1", posted, NGINX_T))
    assert "the real controller against the model (/dbg backends all, nginx -T):\n  none: " in (
        same.text
    )
    stale = posted.replace('"$binary_remote_addr"', '"$request_uri"')
    other = explain(two, run, ControllerState("bed-1", stale, NGINX_T))
    assert any(
        n.startswith("controller vs model: backend bed-1-app-80: upstream-hash-by")
        for n in other.notes
    ), other.notes

"""nginx.conf rendering: the text, and real nginx accepting it (``nginx -t``)."""

from __future__ import annotations

import subprocess

import pytest

from ingressbed import layouts, planes
from ingressbed.errors import ConfigError
from ingressbed.planes import Listen
from ingressbed.planes.base import RunContext
from ingressbed.planes.nginx_conf import render as render_plane
from ingressbed.vocabulary import Endpoint
from tests.real_processes import find_nginx

LISTEN = Listen("127.0.0.1", 18080, 18081)


def endpoints(ports=(8080, 9090, 8081), n=3):
    return {p: [Endpoint(f"127.9.9.{10 + i}", p) for i in range(n)] for p in ports}


def render(setup, eps, listen, run_dir, generation, plane="nginx"):
    """The nginx render of ``setup`` as data plane ``plane`` translates it."""
    return render_plane(setup, planes.translate(plane, setup), eps, listen, run_dir, generation)


def test_hash_by_becomes_consistent_hash_without_failure_skipping(tmp_path):
    setup = layouts.setup("three-ports", {"upstream-hash-by": "$binary_remote_addr"})
    text = render(setup, endpoints(), LISTEN, str(tmp_path), 7)
    for port in (8080, 9090, 8081):
        block = text.split(f"upstream hellogo-{port} {{")[1].split("}")[0]
        assert "hash $binary_remote_addr consistent;" in block
        assert block.count("max_fails=0") == 3
    assert 'return 200 "7"' in text  # the generation the backend waits for


@pytest.mark.parametrize(
    ("plane", "line"),
    [
        ("nginx", "hash $binary_remote_addr consistent;"),
        ("nginx:hash", "hash $binary_remote_addr;"),
        ("nginx:ip-hash", "ip_hash;"),
    ],
)
def test_each_nginx_plane_renders_its_method_from_the_translation(tmp_path, plane, line):
    setup = layouts.setup("one-port", {"upstream-hash-by": "$binary_remote_addr"})
    text = render(setup, endpoints((8080,)), LISTEN, str(tmp_path), 1, plane)
    block = text.split("upstream hellogo-8080 {")[1].split("}")[0]
    assert next(ln.strip() for ln in block.splitlines() if ln.strip()) == line
    assert block.count("max_fails=0") == 3
    assert f"# data plane {plane}" in text


@pytest.mark.parametrize(
    ("plane", "file"), [("nginx:hash", "nginx.conf"), ("haproxy", "haproxy.cfg")]
)
def test_each_plane_renders_its_own_program_file(tmp_path, plane, file):
    setup = layouts.setup("one-port")
    run = RunContext(LISTEN, str(tmp_path), 1)
    rendered = planes.plane(plane).render(
        setup, planes.translate(plane, setup), endpoints((8080,)), run
    )
    assert list(rendered) == [file]
    assert f"# data plane {plane}" in rendered[file]


def test_a_plane_without_a_local_program_is_not_rendered(tmp_path):
    setup = layouts.setup("one-port")
    plane = planes.plane("ingress-nginx")
    base = planes.Plane.render  # what a plane the local backend does not run renders
    with pytest.raises(ConfigError, match="does not run data plane ingress-nginx"):
        base(plane, setup, plane.translate(setup), endpoints((8080,)), RunContext(LISTEN, "", 1))


def test_round_robin_has_no_hash_and_one_worker(tmp_path):
    text = render(layouts.setup("three-ports"), endpoints(), LISTEN, str(tmp_path), 1)
    assert " hash " not in text
    assert "worker_processes 1;" in text


def test_forwarded_headers_trust_every_peer_leftmost_wins(tmp_path):
    text = render(layouts.setup(), endpoints(), LISTEN, str(tmp_path), 1)
    assert "real_ip_header X-Forwarded-For;" in text
    assert "set_real_ip_from 0.0.0.0/0;" in text
    assert "real_ip_recursive on;" in text
    plain = layouts.setup(controller={"use-forwarded-headers": "false"})
    assert "real_ip_header" not in render(plain, endpoints(), LISTEN, str(tmp_path), 1)


def test_prefix_paths_match_like_the_controller(tmp_path):
    text = render(layouts.setup("one-port"), endpoints((8080,)), LISTEN, str(tmp_path), 1)
    assert "location = /8080 {" in text and "location /8080/ {" in text
    assert "location = /ws {" in text
    assert text.count("proxy_pass http://hellogo-8080;") == 6
    assert "upstream hellogo-9090" not in text


def test_annotations_set_timeouts_and_body_size(tmp_path):
    setup = layouts.setup(annotations={"proxy-read-timeout": "300", "proxy-body-size": "200m"})
    text = render(setup, endpoints(), LISTEN, str(tmp_path), 1)
    assert "proxy_read_timeout 300s;" in text
    assert "client_max_body_size 200m;" in text


def test_bad_timeout_is_a_config_error(tmp_path):
    setup = layouts.setup(annotations={"proxy-read-timeout": "soon"})
    with pytest.raises(ConfigError, match="proxy-read-timeout 'soon'"):
        render(setup, endpoints(), LISTEN, str(tmp_path), 1)


@pytest.mark.slow
@pytest.mark.parametrize(
    "annotations",
    [
        {},
        {"upstream-hash-by": "$binary_remote_addr"},
        {"upstream-hash-by": "$host$request_uri"},
        {"upstream-hash-by": "$request_uri", "plane": "nginx:hash"},
        {"upstream-hash-by": "$request_uri", "plane": "nginx:ip-hash"},
        {"enable-cors": "true", "cors-allow-origin": "*", "proxy-read-timeout": "300"},
    ],
)
@pytest.mark.parametrize("layout", ["three-ports", "one-port"])
def test_real_nginx_accepts_every_rendered_config(tmp_path, layout, annotations):
    annotations = dict(annotations)
    plane = annotations.pop("plane", "nginx")
    setup = layouts.setup(layout, annotations)
    conf = tmp_path / "nginx.conf"
    (tmp_path / "tmp").mkdir()
    conf.write_text(render(setup, endpoints(), LISTEN, str(tmp_path), 3, plane))
    done = subprocess.run(
        [find_nginx(), "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_a_setup_without_pods_renders_a_down_server(tmp_path):
    text = render(layouts.setup(replicas=0), {}, LISTEN, str(tmp_path), 1)
    assert "down;" in text

"""Issue 24 items 7 and 13: ``/dbg`` output that is not a list of names, a failed exec,
and an API server that accepts and never answers. Kubernetes is a recorder of answers,
or a real socket that never answers; nothing here claims a cluster ran."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import pytest

from ingressbed.backends import ingress_nginx, kube
from ingressbed.backends.controller import Controller
from ingressbed.backends.kube import Kube
from ingressbed.errors import SetupError
from ingressbed.progress import Steps


@pytest.mark.parametrize(
    "text",
    [
        "Nginx returned code 503\n",
        'Get "http+unix://nginx-status/configuration/backends": dial unix: no such file\n',
        "unexpected end of JSON input\n",
        "",
    ],
)
def test_dbg_errors_printed_on_stdout_are_no_list_of_names(text):
    assert ingress_nginx.parse_backend_names(text) is None


class _ExecKube:
    """Answers ``/dbg backends list`` with each of ``answers`` in turn (an exception is raised)."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls = 0

    def ready_pods(self, ns: str, selector: str) -> list[Any]:
        return [SimpleNamespace(metadata=SimpleNamespace(name="ctl"))]

    def exec(self, ns: str, pod: str, argv: list[str]) -> str:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return str(answer)


def test_backends_are_gone_only_on_a_list_that_parses(monkeypatch):
    monkeypatch.setattr(kube.time, "sleep", lambda s: None)
    fake = _ExecKube(
        [
            "Nginx returned code 503\n",  # read as names, this said "gone" at once
            SetupError("running '/dbg backends list' in pod ctl: 500 container not found"),
            "upstream-default-backend\nns-hellogo-8080\n",
            "upstream-default-backend\n",
        ]
    )
    ctl = Controller(fake, Steps(quiet=True))  # type: ignore[arg-type]
    ctl.wait_backends_gone({"ns-hellogo-8080"})
    assert fake.calls == 4


def test_api_calls_have_a_client_side_timeout(tmp_path, monkeypatch):
    """A listening socket that never answers: the call ends in one SetupError, not a hang."""
    monkeypatch.setattr(kube, "API_READ_TIMEOUT", 0.05)
    monkeypatch.setattr(kube, "API_CONNECT_TIMEOUT", 0.05)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        config = tmp_path / "config"
        config.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: u, user: {token: t}}]\n"
            "contexts: [{name: ctx, context: {cluster: c, user: u}}]\n"
        )
        api = Kube.connect(str(config), "ctx")
        try:
            with pytest.raises(SetupError, match="did not answer"):
                api.deployment("ns", "hellogo")
        finally:
            api.close()

"""Talking to the local ingress-nginx plane's status listener, and what its answers mean.

The listener (``conf.render``) answers:

- ``GET /generation``: the nginx.conf generation that answered (a new connection after a
  reload reaches a new worker);
- ``POST /configuration/backends``: store a backends document, as the controller posts it;
  ``201 {"generation": N}`` where N counts posts; ``GET`` returns the document held;
- ``GET /sync``: ``SyncState``: the configuration generation, the last post's number and
  time (whole seconds), and for every worker of this configuration its pid and the post
  it applied with that post's time, and how often its sync timer ran;
- ``GET /balancers``: the balancer per backend of the worker that answered.

A post is in force when every worker of the current configuration applied it or a later
one (``SyncState.in_force``); that is the condition the bed waits on, never a sleep.
"""

from __future__ import annotations

import http.client
import json

from ingressbed.errors import SetupError
from ingressbed.ingress_nginx_lua.conf import BACKENDS_PATH, BALANCERS_PATH, SYNC_PATH
from ingressbed.ingress_nginx_lua.sync import SyncState, parse_state
from ingressbed.planes.settings import GENERATION_PATH


class StatusClient:
    """HTTP/1.1 to the status listener, one new connection per call.

    Args:
        address: the listener's address.
        port: its port.
        timeout: seconds per call.
    """

    def __init__(self, address: str, port: int, timeout: float = 5.0) -> None:
        self.address = address
        self.port = port
        self.timeout = timeout

    def _call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection(self.address, self.port, timeout=self.timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        except OSError as exc:
            raise SetupError(
                f"the plane's status listener {self.address}:{self.port} did not answer "
                f"{method} {path}: {exc}"
            ) from exc
        finally:
            conn.close()

    def generation(self) -> str | None:
        """The configuration generation a new connection sees; None if it does not answer."""
        try:
            status, text = self._call("GET", GENERATION_PATH)
        except SetupError:
            return None
        return text if status == 200 else None

    def post_backends(self, body: bytes) -> int:
        """POST a backends document; returns the post's number.

        Raises:
            SetupError: the listener refused it or did not answer.
        """
        status, text = self._call("POST", BACKENDS_PATH, body)
        if status != 201:
            raise SetupError(f"the plane refused the backends ({status}): {text.strip()}")
        try:
            return int(json.loads(text)["generation"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SetupError(f"the plane answered the post with {text[:200]!r}") from exc

    def held(self) -> str | None:
        """The backends document held now (None: nothing posted yet)."""
        status, text = self._call("GET", BACKENDS_PATH)
        return text if status == 200 else None

    def state(self) -> SyncState:
        """The sync state (``/sync``)."""
        status, text = self._call("GET", SYNC_PATH)
        if status != 200:
            raise SetupError(f"the plane's {SYNC_PATH} answered {status}: {text.strip()[:200]}")
        return parse_state(text)

    def balancers(self) -> dict[str, str]:
        """The balancer per backend in the worker that answered."""
        status, text = self._call("GET", BALANCERS_PATH)
        if status != 200:
            raise SetupError(f"the plane's {BALANCERS_PATH} answered {status}")
        found = json.loads(text)
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

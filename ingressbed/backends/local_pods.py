"""hellogo pods as local processes, one loopback address each (a tiny Deployment).

Pods are named like a ReplicaSet's (``<service>-<hash>-<5 chars>``: ``hellogo-...`` for
the bed's own Service), get a fresh address from the run's block, and are started in
parallel; ``ensure(n, service=...)`` returns once every pod of that Service printed
hellogo's ready line. Scaling down removes the newest pods first; ``keep_only`` stops the
pods of Services a setup no longer has.
"""

from __future__ import annotations

import os
import random
import signal
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ingressbed.backends.local_addresses import AddressBlock
from ingressbed.backends.processes import Child, signals_deferred
from ingressbed.errors import SetupError
from ingressbed.vocabulary import HELLOGO_PORTS, HTTP2_PORT, HTTP_PORT, SERVICE_NAME, WS_PORT, Pod

READY_PREFIX = "hellogo ready"
_ALPHABET = string.ascii_lowercase + string.digits


class PodSet:
    """The running hellogo processes of one run."""

    def __init__(
        self,
        block: AddressBlock,
        log_dir: Path,
        *,
        cache_ttl: float = 100.0,
        start_timeout: float = 30.0,
        seed: int | None = None,
        on_death: Callable[[Child], None] | None = None,
    ) -> None:
        self._block = block
        self._on_death = on_death
        self._log_dir = log_dir
        self._cache_ttl = cache_ttl
        self._start_timeout = start_timeout
        self._rng = random.Random(seed)
        self._templates: dict[str, str] = {}
        self._pods: list[tuple[Pod, Child]] = []

    @property
    def pods(self) -> list[Pod]:
        return [pod for pod, _ in self._pods]

    def _new_name(self, service: str) -> str:
        taken = {pod.name for pod in self.pods}
        if service not in self._templates:
            self._templates[service] = "".join(self._rng.choices("0123456789abcdef", k=9))
        template = self._templates[service]
        while True:
            name = f"{service}-{template}-{''.join(self._rng.choices(_ALPHABET, k=5))}"
            if name not in taken:
                return name

    def _spawn(self, slow_ms: int = 0, service: str = SERVICE_NAME) -> tuple[Pod, Child]:
        address = self._block.next_pod_address()
        pod = Pod(self._new_name(service), address, "local", slow_ms, service)
        env = {
            **os.environ,
            "POD_NAME": pod.name,
            "POD_IP": pod.ip,
            "NODE_NAME": pod.node,
            "PYTHONUNBUFFERED": "1",
        }
        argv = [
            sys.executable,
            "-m",
            "hellogo",
            "--address",
            pod.ip,
            "--http-ports",
            f"{HTTP_PORT},{HTTP2_PORT}",
            "--ws-port",
            str(WS_PORT),
            "--cache-ttl",
            str(self._cache_ttl),
            *(["--delay-ms", str(slow_ms)] if slow_ms else []),
        ]
        child = Child(
            f"pod {pod.name} ({pod.ip})",
            argv,
            self._log_dir / f"{pod.name}.log",
            env=env,
            capture_stdout=True,
            on_exit=self._on_death,
        )
        return pod, child

    def ensure(
        self, replicas: int, slow: int = 0, slow_ms: int = 0, *, service: str = SERVICE_NAME
    ) -> None:
        """Start or stop pods of ``service`` until exactly ``replicas`` run and are ready.

        ``slow`` of them answer ``slow_ms`` milliseconds late (hellogo's ``--delay-ms``);
        slow pods of another delay are replaced, and scaling adds or removes normal pods.
        Pods of other Services are left as they are.
        """
        if replicas < 0 or not 0 <= slow <= replicas:
            raise SetupError(
                f"replicas must be 0 or more with 0..replicas slow, not {replicas}/{slow}"
            )
        want_ms = slow_ms if slow else 0
        mine = [i for i, (pod, _) in enumerate(self._pods) if pod.service == service]
        wrong = [i for i in mine if self._pods[i][0].slow_ms not in (0, want_ms)]
        slow_now = [i for i in mine if self._pods[i][0].slow_ms == want_ms != 0]
        drop = wrong + slow_now[slow:]
        normal = [i for i in mine if self._pods[i][0].slow_ms == 0]
        drop += normal[max(0, replicas - slow) :]
        self._stop(drop)
        kept = [pod for pod, _ in self._pods if pod.service == service]
        have_slow = sum(1 for pod in kept if pod.slow_ms)
        have_normal = len(kept) - have_slow
        delays = [want_ms] * (slow - have_slow) + [0] * (replicas - slow - have_normal)
        started: list[tuple[Pod, Child]] = []
        try:
            for delay in delays:
                with signals_deferred():
                    started.append(self._spawn(delay, service))
            deadline = time.monotonic() + self._start_timeout
            for _, child in started:
                try:
                    child.wait_line(READY_PREFIX, deadline)
                except SetupError as exc:
                    raise SetupError(
                        f"{exc} (ports {', '.join(map(str, HELLOGO_PORTS))}); it did not come up"
                    ) from exc
        except BaseException:  # also Ctrl-C: no half-started pod survives
            _stop_all([child for _, child in started])
            raise
        self._pods.extend(started)

    def keep_only(self, services: tuple[str, ...]) -> None:
        """Stop every pod of a Service not in ``services``."""
        self._stop([i for i, (pod, _) in enumerate(self._pods) if pod.service not in services])

    def _stop(self, indexes: list[int]) -> None:
        if indexes:
            with signals_deferred():
                _stop_all([self._pods[i][1] for i in indexes])
                gone = set(indexes)
                self._pods = [entry for i, entry in enumerate(self._pods) if i not in gone]

    def kill(self, name: str) -> Pod:
        """SIGKILL the pod named ``name``; return it. Its replacement is started by ``ensure``."""
        for index, (pod, child) in enumerate(self._pods):
            if pod.name == name:
                with signals_deferred():
                    child.stop(force=True)
                    del self._pods[index]
                return pod
        raise SetupError(f"no pod named {name!r}; pods are: {', '.join(p.name for p in self.pods)}")

    def not_dead(self) -> int:
        """How many pods did not die on their own (those a close stops)."""
        return sum(1 for _, child in self._pods if child.death is None)

    def logs(self) -> list[Path]:
        return sorted(self._log_dir.glob("*.log"))

    def close(self) -> None:
        _stop_all([child for _, child in self._pods])
        self._pods.clear()


def _stop_all(children: list[Child]) -> None:
    """SIGTERM every child at once, then wait for each (graceful, but in parallel).

    Ctrl-C waits until this is done (bounded by ``Child.stop``'s timeouts), so a second
    Ctrl-C cannot leave a pod nobody stops.
    """
    with signals_deferred():
        for child in children:
            child.expect_exit()
            child.signal(signal.SIGTERM)
        for child in children:
            child.stop()

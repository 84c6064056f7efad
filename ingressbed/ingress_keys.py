"""What ingress-nginx annotations and ConfigMap keys mean to the bed.

Pure data plus two functions: ``check(setup)`` rejects what ingress-nginx would not
know (a typo in a pasted Ingress gets one clear line naming it), and
``required_capabilities(setup)`` says which backend capabilities serving it needs. Both
read every Ingress of the setup (``Setup.ingresses``, else its one ``ingress``).
"""

from __future__ import annotations

from collections.abc import Mapping

from ingressbed.errors import ConfigError
from ingressbed.objects import go_bool
from ingressbed.suggest import suggest
from ingressbed.vocabulary import ANNOTATION_PREFIX, WS_PORT, Capability, Setup

# Annotations that change balancing, with the capability a backend needs for them.
_BALANCING: dict[str, str | None] = {
    "upstream-hash-by": Capability.HASH,
    "upstream-hash-by-subset": Capability.SUBSET,
    # upstream-hash-by-subset-size alone changes nothing: ingress-nginx reads it only with
    # upstream-hash-by-subset: "true", which already needs SUBSET.
    "upstream-hash-by-subset-size": None,
    "affinity": Capability.COOKIE,
    "affinity-mode": Capability.COOKIE,
    "affinity-canary-behavior": Capability.COOKIE,
    "session-cookie-name": Capability.COOKIE,
    "session-cookie-path": Capability.COOKIE,
    "session-cookie-domain": Capability.COOKIE,
    "session-cookie-samesite": Capability.COOKIE,
    "session-cookie-conditional-samesite-none": Capability.COOKIE,
    "session-cookie-expires": Capability.COOKIE,
    "session-cookie-max-age": Capability.COOKIE,
    "session-cookie-secure": Capability.COOKIE,
    "session-cookie-change-on-failure": Capability.COOKIE,
    "service-upstream": Capability.SERVICE_UPSTREAM,
    "load-balance": None,  # value decides: ewma needs EWMA
    "enable-cors": Capability.CORS,
    "cors-allow-origin": Capability.CORS,
    "cors-allow-methods": Capability.CORS,
    "cors-allow-headers": Capability.CORS,
    "cors-allow-credentials": Capability.CORS,
    "cors-expose-headers": Capability.CORS,
    "cors-max-age": Capability.CORS,
}

# Other ingress-nginx annotations: accepted; the local backend renders the proxy
# timeouts and body size, the rest do not change what the bed measures.
_OTHER: frozenset[str] = frozenset(
    """
    app-root auth-cache-duration auth-cache-key auth-keepalive auth-keepalive-requests
    auth-keepalive-share-vars auth-keepalive-timeout auth-method auth-proxy-set-headers
    auth-realm auth-request-redirect auth-response-headers auth-secret auth-secret-type
    auth-signin auth-signin-redirect-param auth-snippet auth-tls-error-page
    auth-tls-match-cn auth-tls-pass-certificate-to-upstream auth-tls-secret
    auth-tls-verify-client auth-tls-verify-depth auth-type auth-url backend-protocol
    canary canary-by-cookie canary-by-header canary-by-header-pattern
    canary-by-header-value canary-weight canary-weight-total client-body-buffer-size
    configuration-snippet connection-proxy-header custom-headers custom-http-errors
    default-backend denylist-source-range enable-access-log enable-opentelemetry
    enable-rewrite-log force-ssl-redirect from-to-www-redirect global-rate-limit
    global-rate-limit-ignored-cidrs global-rate-limit-key global-rate-limit-window
    http2-push-preload limit-burst-multiplier limit-connections limit-rate
    limit-rate-after limit-rpm limit-rps limit-whitelist mirror-host mirror-request-body
    mirror-target modsecurity-snippet modsecurity-transaction-id
    opentelemetry-trust-incoming-span permanent-redirect permanent-redirect-code
    preserve-trailing-slash proxy-body-size proxy-buffer-size proxy-buffering
    proxy-buffers-number proxy-connect-timeout proxy-cookie-domain proxy-cookie-path
    proxy-http-version proxy-max-temp-file-size proxy-next-upstream
    proxy-next-upstream-timeout proxy-next-upstream-tries proxy-read-timeout
    proxy-redirect-from proxy-redirect-to proxy-request-buffering proxy-send-timeout
    proxy-ssl-ciphers proxy-ssl-name proxy-ssl-protocols proxy-ssl-secret
    proxy-ssl-server-name proxy-ssl-verify proxy-ssl-verify-depth rewrite-log
    rewrite-target satisfy server-alias server-snippet service-upstream ssl-ciphers
    ssl-passthrough ssl-prefer-server-ciphers ssl-redirect stream-snippet
    temporal-redirect temporal-redirect-code upstream-vhost use-regex
    whitelist-source-range x-forwarded-prefix allowlist-source-range enable-global-auth
    enable-modsecurity enable-owasp-core-rules
    """.split()
)

KNOWN_ANNOTATIONS: frozenset[str] = frozenset(_BALANCING) | _OTHER

# ConfigMap keys the bed understands or passes through to the controller.
KNOWN_CONTROLLER_KEYS: frozenset[str] = frozenset(
    """
    use-forwarded-headers worker-processes load-balance compute-full-forwarded-for
    forwarded-for-header proxy-real-ip-cidr enable-real-ip
    upstream-keepalive-connections upstream-keepalive-requests
    upstream-keepalive-timeout keep-alive keep-alive-requests proxy-connect-timeout
    proxy-read-timeout proxy-send-timeout proxy-body-size use-http2
    allow-snippet-annotations annotations-risk-level enable-underscores-in-headers
    ssl-redirect worker-shutdown-timeout max-worker-connections log-format-upstream
    enable-access-log-for-default-backend
    """.split()
)

# Controller defaults (controller-v1.11.8 and v1.15.1 agree) of the keys whose default the
# bed relies on: a key set to its default, like an unknown key, leaves nginx.conf (and its
# checksum) unchanged, so the bed must not wait for a reload then. A key missing here has
# a default the bed does not know (e.g. worker-processes: the node's CPU count).
CONTROLLER_DEFAULTS: dict[str, str] = {
    "use-forwarded-headers": "false",
    "load-balance": "round_robin",
    "compute-full-forwarded-for": "false",
    "forwarded-for-header": "X-Forwarded-For",
    "enable-real-ip": "false",
    "proxy-connect-timeout": "5",
    "proxy-read-timeout": "60",
    "proxy-send-timeout": "60",
    "proxy-body-size": "1m",
    "upstream-keepalive-connections": "320",
    "upstream-keepalive-timeout": "60",
    "upstream-keepalive-requests": "10000",
    "use-http2": "true",
    "ssl-redirect": "true",
}


def config_changes(live: dict[str, str], wanted: dict[str, str]) -> tuple[list[str], list[str]]:
    """Keys whose change rewrites nginx.conf, and keys the bed cannot tell about.

    A key's effective value is its ConfigMap value, else the controller default. Returns
    (keys whose effective value changes, keys that change in the ConfigMap but whose
    default is unknown, so nginx.conf may or may not change). Unknown keys are refused
    earlier by ``check``.
    """
    changed: list[str] = []
    unknown: list[str] = []
    for key in sorted(set(live) | set(wanted)):
        before, after = live.get(key), wanted.get(key)
        if before == after:
            continue
        default = CONTROLLER_DEFAULTS.get(key)
        if default is None and (before is None or after is None):
            unknown.append(key)
        elif (before if before is not None else default) != (
            after if after is not None else default
        ):
            changed.append(key)
    return changed, unknown


def annotation_sets(setup: Setup) -> list[Mapping[str, str]]:
    """The annotations of every Ingress of ``setup``, oldest first."""
    if setup.ingresses:
        return [i.annotations for i in setup.ingresses]
    return [setup.ingress.annotations]


def check_annotations(annotations: Mapping[str, str]) -> None:
    """Raise ``ConfigError`` for an annotation ingress-nginx does not know."""
    for key in annotations:
        if not key.startswith(ANNOTATION_PREFIX):
            continue  # kubernetes.io/ingress.class and friends: not ours to judge
        short = key[len(ANNOTATION_PREFIX) :]
        if short not in KNOWN_ANNOTATIONS:
            raise ConfigError(
                f"unknown annotation {key!r}{suggest(short, KNOWN_ANNOTATIONS)}: "
                "ingress-nginx would ignore it; fix the name or remove it"
            )


def check(setup: Setup) -> None:
    """Raise ``ConfigError`` for an annotation or ConfigMap key ingress-nginx does not know."""
    for found in annotation_sets(setup):
        check_annotations(found)
    for key in setup.controller:
        if key not in KNOWN_CONTROLLER_KEYS:
            raise ConfigError(
                f"unknown controller ConfigMap key {key!r}"
                f"{suggest(key, KNOWN_CONTROLLER_KEYS)}; fix the name or remove it"
            )
    for found in annotation_sets(setup):
        lb = found.get(ANNOTATION_PREFIX + "load-balance")
        lb = lb or setup.controller.get("load-balance")
        if lb is not None and lb not in ("round_robin", "ewma"):
            raise ConfigError(f"load-balance {lb!r} is not one of round_robin, ewma")


def required_capabilities(setup: Setup) -> frozenset[str]:
    """Capabilities a backend needs to serve ``setup`` faithfully.

    Every Ingress counts: a canary (``canary: "true"``) needs ``canary``, two or more
    Ingresses or Services need ``several-objects``, and a balancing annotation its
    capability on whichever Ingress it is.
    """
    needed: set[str] = set()
    for found in annotation_sets(setup):
        needed |= _annotation_capabilities(found)
        lb = found.get(ANNOTATION_PREFIX + "load-balance")
        if (lb or setup.controller.get("load-balance")) == "ewma":
            needed.add(Capability.EWMA)
    if any(r.service_port == WS_PORT for r in setup.ingress.routes):
        needed.add(Capability.WEBSOCKET)
    if setup.several:
        needed.add(Capability.SEVERAL_OBJECTS)
    return frozenset(needed)


def _annotation_capabilities(annotations: Mapping[str, str]) -> set[str]:
    needed: set[str] = set()
    for key, value in annotations.items():
        if not key.startswith(ANNOTATION_PREFIX):
            continue
        short = key[len(ANNOTATION_PREFIX) :]
        cap = _BALANCING.get(short)
        if short in ("upstream-hash-by-subset", "service-upstream") and value.lower() != "true":
            continue
        if short == "canary" and go_bool(value) is True:
            needed.add(Capability.CANARY)
        if cap:
            needed.add(cap)
    return needed

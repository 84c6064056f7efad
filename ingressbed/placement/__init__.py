"""The placement model: which endpoint ingress-nginx or nginx picks for each request.

Pure code, no I/O. Two flavors, one per data plane:

* ``"ingress-nginx"``: the controller's Lua balancer (lua-resty-balancer's CRC-32 ring,
  nodes ``address:port``), with the ``upstream-hash-by`` grammar of the chosen release,
  subset hashing and cookie affinity;
* ``"nginx"``: nginx's ``hash <key> consistent`` (nodes ``host NUL port``, duplicate points
  dropped, empty key = round robin), and with ``method`` its ``ip_hash`` and plain ``hash``
  (``nginx_methods``);
* ``"haproxy"``: HAProxy 2.6's ``balance source|uri|hdr`` with ``hash-type map-based`` or
  ``consistent`` and its server ids (``HaproxyPredictor`` in ``haproxy``).

Typical use::

    from ingressbed.placement import Request, predict
    pod = predict("ingress-nginx", endpoints, "$binary_remote_addr", Request(client_ip=ip))

See docs/placement.md for the rules and the ``ingressbed predict`` / ``analyze`` commands.
"""

from ingressbed.placement.analysis import (
    Analysis,
    Spread,
    analyze,
    moved_share,
    same_pod_across_ports,
    sample_requests,
    spread,
    synthetic_endpoints,
)
from ingressbed.placement.cookie import (
    AFFINITY_MODES,
    BALANCED,
    DEFAULT_COOKIE_NAME,
    PERSISTENT,
    backend_key,
    backend_name,
    balanced_cookie,
    persistent_cookie,
    predict_cookie,
    session_kept,
    split_cookie,
)
from ingressbed.placement.haproxy import HaproxyPredictor, resolve_ids
from ingressbed.placement.keys import (
    COMBINED_KEYS_SINCE,
    PINNED_CONTROLLER_VERSION,
    KeyExpr,
    hash_key,
    is_legacy,
    parse_version,
)
from ingressbed.placement.predictor import Predictor, predict
from ingressbed.placement.ring import FLAVORS, POINTS_PER_WEIGHT, Ring, node_id, node_points
from ingressbed.placement.subset import (
    DEFAULT_SUBSET_SIZE,
    SubsetRing,
    predict_subset,
    subset_groups,
)
from ingressbed.placement.variables import Request

__all__ = [
    "AFFINITY_MODES",
    "BALANCED",
    "COMBINED_KEYS_SINCE",
    "DEFAULT_COOKIE_NAME",
    "DEFAULT_SUBSET_SIZE",
    "FLAVORS",
    "PERSISTENT",
    "PINNED_CONTROLLER_VERSION",
    "POINTS_PER_WEIGHT",
    "Analysis",
    "HaproxyPredictor",
    "KeyExpr",
    "Predictor",
    "Request",
    "Ring",
    "Spread",
    "SubsetRing",
    "analyze",
    "backend_key",
    "backend_name",
    "balanced_cookie",
    "hash_key",
    "is_legacy",
    "moved_share",
    "node_id",
    "node_points",
    "parse_version",
    "persistent_cookie",
    "predict",
    "predict_cookie",
    "predict_subset",
    "resolve_ids",
    "same_pod_across_ports",
    "sample_requests",
    "session_kept",
    "split_cookie",
    "spread",
    "subset_groups",
    "synthetic_endpoints",
]

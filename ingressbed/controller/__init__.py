"""ingress-nginx's controller step as a pure model: objects in, servers and backends out.

What the controller (controller-v1.15.1) builds from Ingresses, Services, endpoints
and its ConfigMap, with every annotation it ignores, defaults or refuses noted; the
backends document it posts to its Lua side (and reads back from ``/dbg backends all``);
what a running controller does with a change (reload or not, the stale hash key); and
an explanation of it all for a maintainer. No I/O. Typical use::

    from ingressbed import controller

    objects = controller.read_objects(yaml.safe_load_all(text))
    config = controller.build(objects.ingresses, objects.services, endpoints)
    print(controller.explain(config))
    posted = controller.to_backends_json(config)

See docs/controller-model.md for the rules the model follows.
"""

from ingressbed.controller.backends_json import backend_json, from_backends_json, to_backends_json
from ingressbed.controller.build import build
from ingressbed.controller.changes import (
    BackendChange,
    Balancer,
    Change,
    Stale,
    apply,
    balancers,
    reload_reasons,
    stale,
    sync,
)
from ingressbed.controller.compare import compare
from ingressbed.controller.explain import explain, explain_change, explanation
from ingressbed.controller.model import (
    DEFAULT_BACKEND,
    DEFAULT_SERVER,
    Backend,
    Configuration,
    CookieAffinity,
    HashBy,
    Location,
    Note,
    NoteKind,
    Server,
    ServiceSpec,
    SessionAffinity,
    TrafficShaping,
    implementation,
)
from ingressbed.controller.read import Objects, ingress_from_dict, read_objects, service_from_dict
from ingressbed.controller.state import PortKey
from ingressbed.controller.versions import (
    MODEL_VERSION,
    MODELLED_SINCE,
    ControllerVersion,
    controller_version,
)
from ingressbed.objects import (
    BackendRef,
    Ingress,
    IngressPath,
    IngressRule,
    Service,
    ServicePort,
    from_ingress_spec,
    hellogo_service,
)

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_SERVER",
    "MODELLED_SINCE",
    "MODEL_VERSION",
    "Backend",
    "BackendChange",
    "BackendRef",
    "Balancer",
    "Change",
    "Configuration",
    "ControllerVersion",
    "CookieAffinity",
    "HashBy",
    "Ingress",
    "IngressPath",
    "IngressRule",
    "Location",
    "Note",
    "NoteKind",
    "Objects",
    "PortKey",
    "Server",
    "Service",
    "ServicePort",
    "ServiceSpec",
    "SessionAffinity",
    "Stale",
    "TrafficShaping",
    "apply",
    "backend_json",
    "balancers",
    "build",
    "compare",
    "controller_version",
    "explain",
    "explain_change",
    "explanation",
    "from_backends_json",
    "from_ingress_spec",
    "hellogo_service",
    "implementation",
    "ingress_from_dict",
    "read_objects",
    "reload_reasons",
    "service_from_dict",
    "stale",
    "sync",
    "to_backends_json",
]

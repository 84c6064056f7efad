"""Which controller releases the model covers, and how they differ from v1.15.1 (pure).

The model follows controller-v1.15.1, the last release. Older releases back to v1.0.0
build the same servers, locations and backends; what differs is data here:

- before v1.10.0 annotation values are not validated: a value the validators of later
  releases refuse is taken as written (and a non-boolean or non-number value falls back
  to its default, as the old parsers did);
- before v1.12.0 the default ``annotations-risk-level`` is ``Critical`` (snippet
  annotations are dropped rather than the Ingress refused), and ``session-cookie-path``
  may not hold a comma;
- a few annotations are younger than v1.0.0 (``ANNOTATION_SINCE``): on an older release
  they are unknown and ignored.

Releases before v1.0.0 (another Ingress API, other location rules, canary decisions
that ignored affinity before v0.49.0) are refused in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ingressbed.errors import ConfigError
from ingressbed.placement.keys import PINNED_CONTROLLER_VERSION, parse_version

Version = tuple[int, int, int]

#: The release whose rules the model follows.
MODEL_VERSION = PINNED_CONTROLLER_VERSION
#: The oldest release the model covers.
MODELLED_SINCE: Version = (1, 0, 0)
#: The last release of ingress-nginx.
LAST_RELEASE: Version = (1, 15, 1)
#: Annotation values are validated since this release.
VALIDATION_SINCE: Version = (1, 10, 0)
#: The default annotations-risk-level is High (not Critical) since this release.
HIGH_RISK_DEFAULT_SINCE: Version = (1, 12, 0)
#: session-cookie-path may hold a comma since this release.
COMMA_IN_COOKIE_PATH_SINCE: Version = (1, 12, 0)
#: Annotations younger than v1.0.0, with the first release that reads them.
ANNOTATION_SINCE: Mapping[str, Version] = MappingProxyType(
    {
        "session-cookie-secure": (1, 1, 0),
        "canary-weight-total": (1, 2, 0),
        "session-cookie-domain": (1, 4, 0),
    }
)


def _text(version: Version) -> str:
    return "v" + ".".join(map(str, version))


@dataclass(frozen=True)
class ControllerVersion:
    """A controller release the model covers."""

    number: Version

    def __str__(self) -> str:
        return _text(self.number)

    @property
    def validates(self) -> bool:
        """Whether annotation values are validated (an invalid one may refuse the Ingress)."""
        return self.number >= VALIDATION_SINCE

    @property
    def default_risk_level(self) -> str:
        """The ConfigMap's ``annotations-risk-level`` when it sets none."""
        return "High" if self.number >= HIGH_RISK_DEFAULT_SINCE else "Critical"

    @property
    def comma_in_cookie_path(self) -> bool:
        """Whether ``session-cookie-path`` may hold a comma."""
        return self.number >= COMMA_IN_COOKIE_PATH_SINCE

    def knows(self, annotation: str) -> bool:
        """Whether this release reads ``annotation`` (a short name)."""
        return self.number >= ANNOTATION_SINCE.get(annotation, MODELLED_SINCE)

    def since(self, annotation: str) -> str:
        """The first release that reads ``annotation``, as text."""
        return _text(ANNOTATION_SINCE.get(annotation, MODELLED_SINCE))


def controller_version(text: str | None = None) -> ControllerVersion:
    """The release to model.

    Args:
        text: ``1.11.3``, ``v1.15.1``, ``controller-v1.12.0``...; ``None`` means the
            pinned release.

    Returns:
        The release.

    Raises:
        ConfigError: not a version, older than v1.0.0, or newer than the last release.
    """
    number = parse_version(text)
    if number < MODELLED_SINCE:
        raise ConfigError(
            f"controller {_text(number)} is not modelled: the controller model covers "
            f"{_text(MODELLED_SINCE)} to {_text(LAST_RELEASE)} (older releases used other "
            "location rules, and before v0.49.0 canaries ignored cookie affinity); "
            "run that release on kind to see it"
        )
    if number > LAST_RELEASE:
        raise ConfigError(
            f"controller {_text(number)} does not exist: {_text(LAST_RELEASE)} is the last "
            "ingress-nginx release"
        )
    return ControllerVersion(number)

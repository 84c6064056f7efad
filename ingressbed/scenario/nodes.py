"""A scenario file's YAML ``Source``: line-aware reading that fails with ``ScenarioError``.

Scenarios are validated from ``yaml.compose`` nodes with the helpers of
``ingressbed.yamlsource``, not from plain Python values, so every error can say
``path:line: what is wrong`` (pure; no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingressbed import yamlsource
from ingressbed.errors import BedError, ScenarioError


@dataclass(frozen=True)
class Source(yamlsource.Source):
    """A scenario file's ``Source``: ``path:line:`` errors are ``ScenarioError``."""

    error_class: type[BedError] = field(default=ScenarioError, kw_only=True)

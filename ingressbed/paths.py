"""Where the bed's data files live: in the installed package, or in a source checkout.

The wheel carries ``manifests/`` (the version lock and the candidate catalog) inside the
package as ``ingressbed/manifests``; a checkout (or an editable install) reads the
repository's top-level ``manifests/``. hellogo's build context is the installed
``hellogo`` package, which carries its Dockerfile.
"""

from __future__ import annotations

from pathlib import Path

import hellogo

_PACKAGE = Path(__file__).resolve().parent
_INSTALLED = _PACKAGE / "manifests"
MANIFESTS = _INSTALLED if _INSTALLED.is_dir() else _PACKAGE.parent / "manifests"
HELLOGO_DIR = Path(hellogo.__file__).resolve().parent

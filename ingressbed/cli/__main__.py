"""``python -m ingressbed.cli``: the same as the ``ingressbed`` command."""

from ingressbed.cli import main

raise SystemExit(main())

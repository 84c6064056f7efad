"""``python -m hellogo``: parse options, serve, exit 0 on SIGTERM, 2 on any usage or bind error."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

from hellogo.config import parse_config
from hellogo.errors import HellogoError
from hellogo.identity import identity_from_env
from hellogo.server import serve


def main(argv: Sequence[str] | None = None) -> int:
    """Run hellogo.

    Args:
        argv: the arguments after the program name (``sys.argv[1:]`` by default).

    Returns:
        The exit status: 0 after a graceful stop, 2 for a bad option or a port that
        cannot be bound (one line on stderr, no traceback).
    """
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
        identity = identity_from_env(os.environ, config.address)
        return asyncio.run(serve(config, identity))
    except HellogoError as exc:
        print(f"hellogo: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C before the handlers were installed
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""The error tree of hellogo.

Every error hellogo raises on purpose is a ``HellogoError`` whose message is one line.
``__main__`` prints it to stderr as ``hellogo: <message>`` and exits with status 2.

    HellogoError
    ├── UsageError    a bad option or environment variable
    ├── ListenError   a listener could not be bound (address and port in the message)
    └── HttpError     a request that cannot be answered normally (carries the status)
"""

from __future__ import annotations


class HellogoError(Exception):
    """Base of every error hellogo raises on purpose."""


class UsageError(HellogoError):
    """An option or environment variable has a value hellogo cannot use."""


class ListenError(HellogoError):
    """A listening socket could not be bound."""


class HttpError(HellogoError):
    """A malformed or unsupported request; the connection is answered and closed.

    Args:
        status: the HTTP status code to answer with (400, 431, 501, 505).
        reason: a short explanation, sent as the plain-text body.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason

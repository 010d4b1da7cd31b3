"""The root of Stockade's exception tree, shared by every package.

    StockadeError
    +-- LocalProtocolError     we misused an API or broke an internal contract (a bug here)
    +-- RemoteProtocolError    a peer sent something invalid; carries a machine-readable code

Expected rejections (insufficient funds, unknown order) are not exceptions: they are result codes.
Text a peer sent never goes into ``str(exc)``; it is kept in ``untrusted_detail``.
"""

from __future__ import annotations


class StockadeError(Exception):
    """Base class of every exception Stockade raises on purpose."""


class LocalProtocolError(StockadeError):
    """Our own code broke a contract: a bug, never a peer's fault."""


class RemoteProtocolError(StockadeError):
    """A peer's input was invalid. ``code`` and ``field`` are machine-readable."""

    code: int = 5000

    def __init__(self, message: str, field: str | None = None, untrusted_detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.untrusted_detail = untrusted_detail

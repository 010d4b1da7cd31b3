"""The JSON bodies web itself reads (signed requests' bodies are ``wire._http``'s)."""

from __future__ import annotations

import msgspec


class SignUpBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: str
    password: str


class LogInBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``session_key``: the hex public key of the Ed25519 key pair the browser made for this
    session (non-extractable: only this origin's scripts can ever sign with it)."""

    username: str
    password: str
    session_key: str

"""The log's entries with their inclusion proofs, from web's mirror: what a receipt links to.

``GET /api/v1/log/entries/{index}`` answers the entry exactly as logged, what it says, and the
proof that it is in the tree of the latest checkpoint web has pulled, with that checkpoint as
the log signed it. Nothing here needs trusting web: the entry's hash and the proof give the
root, and the log's signature on the checkpoint names that root (the ``/log/{index}`` page and
``stockade verify`` check both; a relay serves the same tree as tiles).
"""

from __future__ import annotations

import base64

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockade.client import LogMirror
from stockade.errors import RemoteProtocolError
from stockade.tlog import SignedRequest, decode_entry
from stockade.web._api import json_response, plain, refuse
from stockade.web._bodies import LogProof
from stockade.wire import MAX_REQUEST, decode_body, decode_envelope

#: How long a client may cache an entry's proof (the next checkpoint makes a longer one).
PROOF_CACHE = {"Cache-Control": "public, max-age=1"}


class Proofs:
    def __init__(self, mirror: LogMirror) -> None:
        self.mirror = mirror

    def routes(self) -> list[Route]:
        return [Route("/api/v1/log/entries/{index}", self.entry, methods=["GET"])]

    async def entry(self, request: Request) -> Response:
        index = entry_index(request.path_params["index"])
        if index is None:
            return refuse(400, "Malformed", "an entry index is a decimal integer", "index")
        served = self.mirror.served
        if served is None:
            return _not_yet("no checkpoint pulled yet; retry")
        size = served.checkpoint.size
        if index >= size:
            return _not_yet(f"entry {index} is not under the latest checkpoint (size {size}) yet")
        data = self.mirror.entries[index]
        proof = self.mirror.tree.inclusion_proof(index, size)
        answer = LogProof(
            index,
            size,
            served.note.encode().decode(),
            base64.b64encode(data).decode(),
            [base64.b64encode(h).decode() for h in proof],
            msgspec.Raw(msgspec.json.encode(describe(data))),
        )
        return json_response(answer, headers=PROOF_CACHE)


def entry_index(text: str) -> int | None:
    """A log index from a path: ASCII digits, at most 19 of them; None for anything else."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    return int(text)


def _not_yet(message: str) -> Response:
    response = refuse(404, "NotInLogYet", message, "index")
    response.headers["Retry-After"] = "1"
    return response


def describe(data: bytes) -> dict[str, object]:
    """What an entry says, for people: its fields, and for a signed request the message and
    who signed it when (the signature itself is checked by ``stockade verify``)."""
    entry = decode_entry(data)
    said = _fields(entry)  # its type under ``type``
    for name in ("user", "public_key", "operator", "commitment"):  # keys and hashes in hex
        value = getattr(entry, name, None)
        if isinstance(value, bytes):
            said[name] = value.hex()
    if isinstance(entry, SignedRequest):
        del said["envelope"]
        try:
            env = decode_envelope(entry.envelope, MAX_REQUEST)
            message = decode_body(env)
        except (RemoteProtocolError, ValueError):
            return said  # core logged it after these checks: never expected
        said["request"] = {"type": type(message).__name__, **_fields(message)}
        said["signed_by"], said["signed_at_ms"] = env.sender.hex(), env.ts
    return said


def _fields(struct: msgspec.Struct) -> dict[str, object]:
    value = plain(struct)
    assert isinstance(value, dict)
    return value

"""A witness, sans I/O (https://c2sp.org/tlog-witness): parse an ``add-checkpoint`` request and
decide, against the checkpoint last cosigned for that log, whether to cosign the new one.

A witness cosigns a checkpoint only if it extends, by a verified consistency proof, the last one
it cosigned for the same origin. A log that shows two trees to two parties cannot get both
cosigned by one honest witness, so a client that requires witnesses' cosignatures sees the split.
The caller stores the new (size, root) before it hands out the cosignature, atomically with the
read of the old one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from stockade.errors import RemoteProtocolError
from stockade.tlog._checkpoint import Checkpoint, CheckpointError
from stockade.tlog._merkle import HASH_SIZE, ProofError, verify_consistency
from stockade.tlog._note import (
    COSIGNATURE_V1,
    NoteError,
    Signature,
    Signer,
    Verifier,
    cosign,
    parse_note,
)

#: A proof has at most 63 hashes and a checkpoint note at most 100 signatures: 64 KiB is ample.
MAX_ADD_CHECKPOINT = 1 << 16
MAX_PROOF = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class WitnessRefusal(RemoteProtocolError):
    """The witness will not cosign; ``status`` is the HTTP status tlog-witness assigns."""

    code = 7006
    status = 400


class UnknownLog(WitnessRefusal):
    status = 404


class NotSignedByLog(WitnessRefusal):
    status = 403


class SizeConflict(WitnessRefusal):
    """The request's old size is not the latest this witness cosigned; ``latest`` tells it."""

    status = 409

    def __init__(self, message: str, latest: int) -> None:
        super().__init__(message, "old")
        self.latest = latest


class RootConflict(WitnessRefusal):
    """Same size as the latest cosigned checkpoint, another root: the log forked."""

    status = 409


class BadProof(WitnessRefusal):
    status = 422


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes  # the signed note, as sent


@dataclass(frozen=True, slots=True)
class Cosigned:
    origin: str
    size: int
    root: bytes
    cosignature: Signature


def encode_add_checkpoint(request: AddCheckpoint) -> bytes:
    proof = "".join(base64.b64encode(h).decode() + "\n" for h in request.proof)
    return f"old {request.old_size}\n{proof}\n".encode() + request.checkpoint


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """``old <size>``, one base64 hash per line, a blank line, then the signed checkpoint."""
    if len(body) > MAX_ADD_CHECKPOINT:
        raise WitnessRefusal(f"request is over {MAX_ADD_CHECKPOINT} bytes", "body")
    head, sep, checkpoint = body.partition(b"\n\n")
    if not sep:
        raise WitnessRefusal("no blank line between the proof and the checkpoint", "body")
    lines = head.split(b"\n")
    old = lines[0].removeprefix(b"old ")
    if lines[0] == old or not old.isdigit() or (old != b"0" and old.startswith(b"0")):
        raise WitnessRefusal("the first line reads: old <canonical decimal size>", "old")
    if len(lines) - 1 > MAX_PROOF:
        raise WitnessRefusal(f"a consistency proof has at most {MAX_PROOF} hashes", "proof")
    return AddCheckpoint(int(old), tuple(_hash(line) for line in lines[1:]), checkpoint)


def _hash(line: bytes) -> bytes:
    try:
        value = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        value = b""
    if len(value) != HASH_SIZE:
        raise WitnessRefusal("a proof line is not a base64 SHA-256 hash", "proof")
    return value


class Witness:
    """The rules of one witness key over the logs it follows (origin -> the log's keys)."""

    def __init__(
        self,
        name: str,
        signer: Signer,
        public_key: bytes,
        logs: Mapping[str, tuple[Verifier, ...]],
    ) -> None:
        self.verifier = Verifier(name, COSIGNATURE_V1, public_key)
        self._signer = signer
        self.logs = dict(logs)

    def add_checkpoint(
        self,
        request: AddCheckpoint,
        latest_for: Callable[[str], tuple[int, bytes] | None],
        now_s: int,
    ) -> Cosigned:
        """Cosign ``request``'s checkpoint if it extends the (size, root) this witness last
        cosigned for its log (``latest_for(origin)``; None: never). Raise a ``WitnessRefusal``
        otherwise."""
        try:
            note = parse_note(request.checkpoint)
            checkpoint = Checkpoint.parse(note.text)
        except (NoteError, CheckpointError) as exc:
            raise WitnessRefusal(f"malformed checkpoint: {exc.message}", "checkpoint") from None
        keys = self.logs.get(checkpoint.origin)
        if keys is None:
            raise UnknownLog("this witness does not follow that log", "origin")
        try:
            signed = note.verified_by(list(keys))
        except NoteError:
            signed = {}
        if not signed:
            raise NotSignedByLog("the checkpoint carries no valid signature of its log", "note")
        size, root = checkpoint.size, checkpoint.root
        latest = latest_for(checkpoint.origin)
        if request.old_size > size:
            raise WitnessRefusal("the old size is larger than the checkpoint's", "old")
        known_size, known_root = latest or (0, b"")
        if request.old_size != known_size:
            raise SizeConflict(f"the latest cosigned size is {known_size}", known_size)
        if known_size == size and latest is not None:
            if known_root != root:
                raise RootConflict("another root was cosigned at this size", "checkpoint")
            if request.proof:
                raise BadProof("a proof between equal sizes is empty", "proof")
        elif known_size > 0:
            try:
                verify_consistency(known_size, size, known_root, root, list(request.proof))
            except ProofError as exc:
                raise BadProof(exc.message, "proof") from None
        elif request.proof:
            raise BadProof("a proof from an empty tree is empty", "proof")
        signature = cosign(note, self.verifier.name, self._signer, self.verifier.public_key, now_s)
        return Cosigned(checkpoint.origin, size, root, signature)

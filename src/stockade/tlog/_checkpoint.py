"""C2SP tlog checkpoints (https://c2sp.org/tlog-checkpoint): a log's signed statement of its size
and root hash.

    <origin>\\n<tree size, decimal>\\n<root hash, base64>\\n[extension lines]

signed as a note by the log's key, whose name is the origin, and cosigned by witnesses.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from stockade.errors import RemoteProtocolError
from stockade.tlog._merkle import HASH_SIZE
from stockade.tlog._note import Note, Verifier, parse_note

MAX_SIZE_DIGITS = 20


class CheckpointError(RemoteProtocolError):
    """A checkpoint is malformed, unsigned, or lacks the cosignatures its reader requires."""

    code = 7003


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise CheckpointError("a checkpoint has origin, size and root lines", "checkpoint")
        origin, size, root, *extensions = lines[:-1]
        if not origin:
            raise CheckpointError("the checkpoint's origin line is empty", "origin")
        digits = size.isascii() and size.isdigit() and len(size) <= MAX_SIZE_DIGITS
        if not digits or (size != "0" and size.startswith("0")):
            raise CheckpointError("the tree size is not a canonical decimal number", "size")
        try:
            root_hash = base64.b64decode(root, validate=True)
        except (binascii.Error, ValueError):
            root_hash = b""
        if len(root_hash) != HASH_SIZE or base64.b64encode(root_hash).decode() != root:
            raise CheckpointError("the root hash is not 32 bytes of canonical base64", "root")
        if any(not line for line in extensions):
            raise CheckpointError("a checkpoint extension line is empty", "checkpoint")
        return cls(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: Note
    cosigners: dict[str, int]  # witness name -> the time it cosigned, in seconds


def open_checkpoint(
    data: bytes, log: Verifier, witnesses: tuple[Verifier, ...] = (), need: int = 0
) -> SignedCheckpoint:
    """Parse and verify a signed checkpoint: the log's own signature, and at least ``need`` valid
    cosignatures from ``witnesses``. Raise ``CheckpointError`` or ``NoteError`` otherwise."""
    note = parse_note(data)
    checkpoint = Checkpoint.parse(note.text)
    if checkpoint.origin != log.name:
        raise CheckpointError("the checkpoint is of another log", "origin")
    good = note.verified_by([log, *witnesses])
    if log.name not in good:
        raise CheckpointError("the checkpoint lacks the log's signature", "signature")
    cosigners = {name: ts for name, ts in good.items() if name != log.name and ts is not None}
    if len(cosigners) < need:
        raise CheckpointError(
            f"the checkpoint carries {len(cosigners)} of the {need} cosignatures required",
            "cosignatures",
        )
    return SignedCheckpoint(checkpoint, note, cosigners)

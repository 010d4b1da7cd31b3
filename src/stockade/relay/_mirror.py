"""The relay's mirror of the log: the shared ``LogMirror`` and the witnesses' cosignatures on the
checkpoint it serves. The relay serves a checkpoint only once witnesses have cosigned it."""

from __future__ import annotations

from dataclasses import replace

from stockade.client import LogMirror, Served, SiteFile
from stockade.tlog import Note, NoteError, Verifier, parse_note


class Mirror(LogMirror):
    def __init__(self, site: SiteFile, witnesses: tuple[Verifier, ...] = ()) -> None:
        super().__init__(site)
        self.witnesses = witnesses

    def cosigned(self, served: Served, lines: list[bytes]) -> Served:
        """``served`` with the witnesses' cosignature lines added: each must verify under a
        witness key this relay was given; others are dropped."""
        note = served.note
        for line in lines:
            try:
                signature = parse_note(b"x\n\n" + line).signatures[0]
                if not Note(note.text, (signature,)).verified_by(list(self.witnesses)):
                    continue  # from a key this relay was not told of
            except NoteError:
                continue
            note = note.with_signature(signature)
        return replace(served, note=note)

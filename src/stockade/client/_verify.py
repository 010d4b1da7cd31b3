"""``stockade verify``: an auditor's check of the whole log, trusting only the site's public keys.

1. The latest checkpoint must carry the log's signature and extend the last checkpoint this
   auditor kept (``state``). If it provably does not, the two signed checkpoints and the proof
   are written to an equivocation file that anyone holding the log's key can check.
2. Every entry is fetched (entry bundles) and must hash to the checkpoint's root.
3. The entries are replayed (``stockade.audit``): signatures, registered keys, and the trades
   and fees the matching rules give.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from stockade.audit import Auditor, Finding, Report
from stockade.client._client import Client
from stockade.client._log import ForkedLog
from stockade.client._sitefile import SiteFile
from stockade.tlog import Checkpoint, Tree, open_checkpoint
from stockade.wire import CheckpointRequest, SignedCheckpointReply


@dataclass
class Verified:
    checkpoint: Checkpoint | None
    report: Report = field(default_factory=Report)
    equivocation: Path | None = None  # where the proof of a fork was written


def verify_log(client: Client, site: SiteFile, state: Path | None) -> Verified:
    watcher = client.log
    assert watcher is not None, "a client made from a site file checks the log"
    previous = state.read_bytes() if state is not None and state.exists() else None
    if previous is not None:
        watcher.checkpoint = open_checkpoint(previous, site.log).checkpoint
    note = client.call(CheckpointRequest(), SignedCheckpointReply).note
    try:
        checkpoint = watcher.accept_checkpoint(note, client.fetch_tile)
    except ForkedLog as exc:
        assert state is not None  # only a kept checkpoint can be contradicted
        assert previous is not None
        proof = state.with_name(f"{state.name}.equivocation")
        proof.write_bytes(_equivocation(previous, note, exc))
        return Verified(None, equivocation=proof)
    report = _replay(client, site, checkpoint)
    if state is not None:
        state.write_bytes(note)
    return Verified(checkpoint, report)


def _replay(client: Client, site: SiteFile, checkpoint: Checkpoint) -> Report:
    operators = {key.raw for key in site.operators.values()}
    auditor, tree = Auditor(site.core_key, operators), Tree()
    for index, entry in enumerate(client.log_entries(checkpoint.size)):
        tree.append(entry)
        auditor.feed(index, entry)
    report = auditor.finish()
    if tree.root() != checkpoint.root:
        message = "the entries served do not hash to the signed root"
        report.findings.append(Finding(checkpoint.size, "entries-differ", message))
    return report


def _equivocation(old: bytes, new: bytes, fork: ForkedLog) -> bytes:
    """Two checkpoints signed by the log's key that cannot both be true, and the consistency
    proof (RFC 6962, base64 lines) that leads to the later root but not to the earlier one."""
    lines = [base64.b64encode(h) for h in fork.proof]
    return b"".join(
        (
            b"stockade equivocation proof: " + fork.message.encode() + b"\n\n",
            b"-- earlier checkpoint\n",
            old,
            b"\n-- later checkpoint\n",
            new,
            b"\n-- consistency proof\n",
            b"".join(line + b"\n" for line in lines),
        )
    )

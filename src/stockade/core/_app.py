"""The core process: load config, restore state, serve until told to stop.

Restore: the latest snapshot (its hash checked), then every journal record after it, each
re-verified against its client's signature; then the engine's invariants are audited. Any failure
stops startup: the core never serves a state it cannot vouch for.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
import time
from functools import partial
from pathlib import Path

import uvloop

from stockade.core._config import CoreConfig, load_config
from stockade.core._limits import Budget, Limiter
from stockade.core._log import CoreLog, LogForked
from stockade.core._server import CoreServer
from stockade.core._service import Core, JournalCorrupt
from stockade.core._storage import SqlStorage, Storage
from stockade.exchange import audit
from stockade.keys import read_public, read_secret
from stockade.tlog import leaf_hash

log = logging.getLogger("stockade.core")

#: Allocations between young-generation collections (Python's default is 700).
GC_THRESHOLD = 50_000


def restore_core(config: CoreConfig, storage: Storage, now_ms: int) -> Core:
    """The state at the last durable command: the latest snapshot, the journal after it, and
    the log, each checked against the others and against the last signed checkpoint."""
    identity = read_secret(config.identity)
    operators = [read_public(p)[1] for p in config.operators]
    tlog = CoreLog(config.log_origin, read_secret(config.log_key))
    snapshot = storage.latest_snapshot()
    if snapshot is None:
        core = Core.new(identity, operators, tlog, not_before_ms=now_ms)
    else:
        entries = partial(_stored_entries, storage, 0)
        core = Core.from_snapshot(identity, operators, tlog, snapshot, entries, now_ms)
    replayed, start = 0, tlog.tree.size
    for record in storage.journal_after(core.seq):
        core.replay(record)
        replayed += 1
    _check_log(core, storage, start)
    problems = audit(core.engine)
    if problems:
        raise JournalCorrupt("restored state fails its invariants: " + "; ".join(problems[:5]))
    core.durable_seq = core.snapshot_seq = core.seq
    core.limiter = Limiter(Budget(config.requests_per_s, config.request_burst))
    core.people.ceremonies.party = config.relying_party
    if snapshot is not None:
        core.snapshot_seq = snapshot.seq
    log.info(
        "restored seq %d (snapshot %s, %d journal records replayed)",
        core.seq,
        snapshot.seq if snapshot else "none",
        replayed,
    )
    return core


def _stored_entries(storage: Storage, start: int, end: int) -> list[bytes]:
    try:
        return list(storage.log_entries(start, end))
    except LookupError as exc:  # a gap: rows deleted by hand or a damaged database
        raise JournalCorrupt(str(exc)) from None


def _check_log(core: Core, storage: Storage, start: int) -> None:
    """The entries the replay rebuilt are the ones stored, none more; the tree extends the last
    checkpoint the log signed. Otherwise the database was damaged or rewritten: refuse to run."""
    tree = core.log.tree
    if storage.log_size() != tree.size:
        raise JournalCorrupt(f"the log holds {storage.log_size()} entries, the journal {tree.size}")
    for index, stored in enumerate(_stored_entries(storage, start, tree.size), start):
        if leaf_hash(stored) != tree.leaf(index):
            raise JournalCorrupt(f"log entry {index} differs from what its command produced")
    core.log.last = storage.latest_checkpoint()
    try:
        core.log.check_extends_last(tree.size)
    except LogForked as exc:
        raise JournalCorrupt(str(exc)) from None


async def serve(config: CoreConfig) -> None:
    storage = SqlStorage(config.database)
    try:
        core = restore_core(config, storage, now_ms())
        quiet_garbage_collector()
        server = CoreServer(
            core, storage, now_ms, config.snapshot_every_s, config.snapshot_every_seq
        )
        await server.start(list(config.listen))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.stop)
        print(f"core listening on {', '.join(str(a) for a in config.listen)}", flush=True)
        try:
            await server.wait()
        finally:
            await server.shutdown()
    finally:
        storage.close()


def now_ms() -> int:
    """Wall-clock time in integer milliseconds: the one clock the core reads."""
    return time.time_ns() // 1_000_000


def quiet_garbage_collector() -> None:
    """Keep full collections off the request path.

    The restored state is long-lived: frozen, the collector never walks it again. Requests make
    short-lived objects without reference cycles, which reference counting frees; a higher
    first-generation threshold keeps the collector from running (and pausing) every few hundred.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 100)


def harden_process() -> None:
    """Make the process non-dumpable: no core files and no ptrace by same-user processes."""
    try:
        libc = ctypes.CDLL(None)
        pr_set_dumpable = 4
        libc.prctl(pr_set_dumpable, 0, 0, 0, 0)
    except (OSError, AttributeError):
        log.warning("could not make the process non-dumpable")


def main(config_path: Path) -> None:
    config = load_config(config_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    harden_process()
    os.umask(0o077)
    uvloop.run(serve(config))

"""The core compartment (backend mixer): database, ledger, engine, journal, transparency log.

It holds the database, its own identity key and the log's signing key; never spend keys, never
the addresses of vault, backup or watch (they connect to it). ``_service`` is its logic without
I/O; ``_server`` and ``_storage`` do the I/O; ``_app`` is the process entry point.
"""

from stockade.core._app import main, now_ms, restore_core, serve
from stockade.core._config import ConfigError, CoreConfig, load_config
from stockade.core._limits import Budget, Limiter
from stockade.core._log import CoreLog, LogForked, Logged
from stockade.core._null import MemoryStorage
from stockade.core._registry import AccountRecord, KeyRecord, Registry
from stockade.core._results import CoreCode
from stockade.core._rows import Applied, rows_for
from stockade.core._server import MAX_OUTSTANDING, CoreServer
from stockade.core._service import Core, JournalCorrupt, Outcome
from stockade.core._storage import (
    JournalRecord,
    SavedCheckpoint,
    Snapshot,
    SqlStorage,
    Storage,
    StoredOrder,
    StoredTrade,
    create_db_engine,
    downgrade,
    migrate,
)

__all__ = [
    "MAX_OUTSTANDING",
    "AccountRecord",
    "Applied",
    "Budget",
    "ConfigError",
    "Core",
    "CoreCode",
    "CoreConfig",
    "CoreLog",
    "CoreServer",
    "JournalCorrupt",
    "JournalRecord",
    "KeyRecord",
    "Limiter",
    "LogForked",
    "Logged",
    "MemoryStorage",
    "Outcome",
    "Registry",
    "SavedCheckpoint",
    "Snapshot",
    "SqlStorage",
    "Storage",
    "StoredOrder",
    "StoredTrade",
    "create_db_engine",
    "downgrade",
    "load_config",
    "main",
    "migrate",
    "now_ms",
    "restore_core",
    "rows_for",
    "serve",
]

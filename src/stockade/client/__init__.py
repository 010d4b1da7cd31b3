"""The Python SDK: signs requests; verifies replies and the log; reads a site's public file."""

from stockade.client._client import Client, OperatorClient, Refused, expect
from stockade.client._http import ApiError, HttpApi
from stockade.client._log import (
    FetchTile,
    ForkedLog,
    LogMismatch,
    LogWatcher,
    NotYetCheckpointed,
    Proven,
    StaleCheckpoint,
    log_entries,
)
from stockade.client._market import (
    FeedGap,
    FeedReordered,
    ForgedTrade,
    MarketDataMismatch,
    MarketWatcher,
)
from stockade.client._mirror import (
    LogMirror,
    MarketView,
    MirrorRefused,
    Served,
    newer_checkpoint,
    pull_entries,
)
from stockade.client._relay import LogSource, RelayError, RelayReader
from stockade.client._sitefile import SITE_FILE, SiteFile, SiteFileError, read_site_file
from stockade.client._stream import Stream, StreamError

__all__ = [
    "SITE_FILE",
    "ApiError",
    "Client",
    "FeedGap",
    "FeedReordered",
    "FetchTile",
    "ForgedTrade",
    "ForkedLog",
    "HttpApi",
    "LogMirror",
    "LogMismatch",
    "LogSource",
    "LogWatcher",
    "MarketDataMismatch",
    "MarketView",
    "MarketWatcher",
    "MirrorRefused",
    "NotYetCheckpointed",
    "OperatorClient",
    "Proven",
    "Refused",
    "RelayError",
    "RelayReader",
    "Served",
    "SiteFile",
    "SiteFileError",
    "StaleCheckpoint",
    "Stream",
    "StreamError",
    "expect",
    "log_entries",
    "newer_checkpoint",
    "pull_entries",
    "read_site_file",
]

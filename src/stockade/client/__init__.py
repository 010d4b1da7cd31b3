"""The Python SDK: signs requests; verifies replies and the log; reads a site's public file."""

from stockade.client._client import Client, OperatorClient, Refused, expect
from stockade.client._log import (
    ForkedLog,
    LogMismatch,
    LogWatcher,
    NotYetCheckpointed,
    Proven,
    StaleCheckpoint,
)
from stockade.client._sitefile import SITE_FILE, SiteFile, SiteFileError, read_site_file

__all__ = [
    "SITE_FILE",
    "Client",
    "ForkedLog",
    "LogMismatch",
    "LogWatcher",
    "NotYetCheckpointed",
    "OperatorClient",
    "Proven",
    "Refused",
    "SiteFile",
    "SiteFileError",
    "StaleCheckpoint",
    "expect",
    "read_site_file",
]

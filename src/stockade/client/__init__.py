"""The Python SDK: signs requests, verifies replies; reads a site's public description."""

from stockade.client._client import Client, OperatorClient, Refused, expect
from stockade.client._sitefile import SITE_FILE, SiteFile, SiteFileError, read_site_file

__all__ = [
    "SITE_FILE",
    "Client",
    "OperatorClient",
    "Refused",
    "SiteFile",
    "SiteFileError",
    "expect",
    "read_site_file",
]

"""Sites: which compartment gets which keys, files and addresses; the local supervisor."""

from stockade.site._defaults import BTC_USD, DEFAULT_ASSETS, DEFAULT_MARKETS
from stockade.site._init import DEFAULT_CORE_ADDRESS, SiteExists, init_site
from stockade.site._layout import SiteLayout
from stockade.site._supervisor import (
    ChildSpec,
    Supervisor,
    child_environment,
    is_listening,
    site_children,
    wait_until_listening,
)

__all__ = [
    "BTC_USD",
    "DEFAULT_ASSETS",
    "DEFAULT_CORE_ADDRESS",
    "DEFAULT_MARKETS",
    "ChildSpec",
    "SiteExists",
    "SiteLayout",
    "Supervisor",
    "child_environment",
    "init_site",
    "is_listening",
    "site_children",
    "wait_until_listening",
]

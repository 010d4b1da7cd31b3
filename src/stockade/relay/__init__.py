"""The relay compartment: pulls the public log and market data from core, serves them to anyone.

It holds no secret: its key toward core is made at start and never written; its configuration is
the public site file, an address to listen on and the witnesses to ask for cosignatures. A hostile
relay can withhold or garble what it serves, never make a client accept what the log does not hold.
"""

import sys
from pathlib import Path

from stockade.client import MirrorRefused, Served
from stockade.httpkit import serve
from stockade.relay._app import relay_app
from stockade.relay._config import CONFIG_FILE, ConfigError, RelayConfig, load_config, render_config
from stockade.relay._mirror import Mirror
from stockade.relay._puller import Puller


def main(config_path: Path) -> None:
    config = load_config(config_path)
    mirror = Mirror(config.site, config.witness_keys)
    site = config.site

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    puller = Puller(
        mirror, site.core_address, site.core_key, config.witnesses, config.poll_s, report
    )
    serve(relay_app(mirror, puller), config.listen)


__all__ = [
    "CONFIG_FILE",
    "ConfigError",
    "Mirror",
    "MirrorRefused",
    "Puller",
    "RelayConfig",
    "Served",
    "load_config",
    "main",
    "relay_app",
    "render_config",
]

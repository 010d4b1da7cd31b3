"""Where a site keeps what: one directory per compartment holding only what it may hold.

SITE/
  site.toml            public: addresses and public keys, safe to hand to any client
  core/                core's data directory (0700): core.toml, core.key, log.key, core.db, logs,
                       operators/*.pub (core's own copies of the operator public keys)
  witness/             a witness's data directory (0700): witness.toml, witness.key, witness.db;
                       in production, run by someone else
  relay/               the relay's directory: relay.toml and a copy of site.toml, no secret
  web/                 web's directory: web.toml and a copy of site.toml, no secret
  edge/                edge's directory: edge.toml and a copy of site.toml, no secret
  operators/           operator secret keys (0700); in production, each on its owner's device
  clients/             demo users' API keys (0700); in production, on the users' machines
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stockade.client import SITE_FILE


@dataclass(frozen=True)
class SiteLayout:
    root: Path

    @property
    def site_file(self) -> Path:
        return self.root / SITE_FILE

    @property
    def core(self) -> Path:
        return self.root / "core"

    @property
    def core_config(self) -> Path:
        return self.core / "core.toml"

    @property
    def witness(self) -> Path:
        return self.root / "witness"

    @property
    def relay(self) -> Path:
        return self.root / "relay"

    @property
    def web(self) -> Path:
        return self.root / "web"

    @property
    def edge(self) -> Path:
        return self.root / "edge"

    @property
    def operators(self) -> Path:
        return self.root / "operators"

    @property
    def clients(self) -> Path:
        return self.root / "clients"

    def operator_key(self, name: str) -> Path:
        return self.operators / f"{name}.key"

    def client_key(self, name: str) -> Path:
        return self.clients / f"{name}.key"

"""``stockade init``: create a site directory with keys and configuration for each compartment.

Each compartment's directory gets only what that compartment may hold; secret key files are 0600
in 0700 directories. Nothing is overwritten: initialising over an existing site is refused.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from stockade.client import SITE_FILE, SiteFile
from stockade.core import Budget
from stockade.edge import CONFIG_FILE as EDGE_CONFIG
from stockade.edge import render_config as render_edge
from stockade.keys import Identity, check_name, generate, write_public, write_secret
from stockade.relay import CONFIG_FILE as RELAY_CONFIG
from stockade.relay import render_config as render_relay
from stockade.site._layout import SiteLayout
from stockade.tlog import ED25519, Verifier
from stockade.web import CONFIG_FILE as WEB_CONFIG
from stockade.web import render_config as render_web
from stockade.wire import parse_address
from stockade.witness import init_witness

DEFAULT_CORE_ADDRESS = "tcp://127.0.0.1:7001"
DEFAULT_RELAY_ADDRESS = "tcp://127.0.0.1:7002"
DEFAULT_WITNESS_ADDRESS = "tcp://127.0.0.1:7003"
DEFAULT_EDGE_ADDRESS = "tcp://127.0.0.1:8080"
DEFAULT_WEB_ADDRESS = "tcp://127.0.0.1:8081"


class SiteExists(Exception):
    """The target directory already holds a site."""


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def init_site(
    root: Path,
    name: str = "stockade",
    operators: tuple[str, ...] = ("operator",),
    clients: tuple[str, ...] = (),
    core_address: str = DEFAULT_CORE_ADDRESS,
    database: str | None = None,
    relay_address: str = DEFAULT_RELAY_ADDRESS,
    witness_address: str = DEFAULT_WITNESS_ADDRESS,
    web_address: str = DEFAULT_WEB_ADDRESS,
    budget: Budget | None = None,
    edge_address: str | None = DEFAULT_EDGE_ADDRESS,
) -> SiteFile:
    """A new site in ``root``; with ``edge_address`` None, web faces clients itself."""
    layout = SiteLayout(root)
    if layout.site_file.exists() or layout.core_config.exists():
        raise SiteExists(f"{root} already holds a site")
    _private_dir(root)
    core_dir = _private_dir(layout.core)
    _private_dir(core_dir / "operators")
    _private_dir(layout.operators)
    _private_dir(layout.clients)

    core_identity = generate("core")
    write_secret(core_dir / "core.key", core_identity)
    log_key = generate("log")
    write_secret(core_dir / "log.key", log_key)
    # Unique per site, so no two logs ever share an origin (C2SP tlog-checkpoint).
    origin = f"stockade.invalid/{check_name(name)}/{secrets.token_hex(8)}"
    operator_keys: dict[str, Identity] = {}
    for op in operators:
        operator_keys[op] = generate(check_name(op))
        write_secret(layout.operator_key(op), operator_keys[op])
        write_public(core_dir / "operators" / f"{op}.pub", op, operator_keys[op].public)
    for client in clients:
        identity = generate(check_name(client))
        write_secret(layout.client_key(client), identity)
        write_public(layout.clients / f"{client}.pub", client, identity.public)

    address = parse_address(core_address)
    # Browsers reach the site at the edge; tests may also browse web directly.
    facing = [a for a in (edge_address, web_address) if a is not None]
    origins = ", ".join(f'"http://localhost:{parse_address(a).port}"' for a in facing)
    db = database or "sqlite:///{dir}/core.db"
    budget = budget or Budget()
    operator_files = ", ".join(f'"operators/{op}.pub"' for op in operators)
    (core_dir / "core.toml").write_text(
        "# The core compartment: only what it needs. Paths are relative to this directory.\n"
        "[core]\n"
        f'listen = ["{address}"]\n'
        f'database = "{db}"\n'
        'identity = "core.key"\n'
        f"operators = [{operator_files}]\n"
        'log_key = "log.key"\n'
        f'log_origin = "{origin}"\n'
        "snapshot_every_s = 60\n"
        "# Each account's request budget: sustained requests a second, and at once.\n"
        f"requests_per_s = {budget.per_s}\n"
        f"request_burst = {budget.burst}\n"
        "# Passkeys are made for this domain and these origins only (browsers take no IP address:\n"
        "# browse the site at localhost, or set the public name and its https origin here).\n"
        'webauthn_rp_id = "localhost"\n'
        f"webauthn_origins = [{origins}]\n"
    )
    log = Verifier(origin, ED25519, log_key.public.raw)
    witness_at = parse_address(witness_address)
    witness_name = f"witness.stockade.invalid/{name}/{secrets.token_hex(4)}"
    witness = init_witness(layout.witness, witness_name, witness_at, [log])
    relay_at = parse_address(relay_address)
    web_at = parse_address(web_address)
    edge_at = None if edge_address is None else parse_address(edge_address)
    site = SiteFile(
        name=name,
        core_address=address,
        core_key=core_identity.public,
        operators={op: key.public for op, key in operator_keys.items()},
        log=log,
        witnesses=(witness,),
        need=1,
        relay=f"http://{relay_at.host}:{relay_at.port}",
        web=f"http://{web_at.host}:{web_at.port}",
        edge=None if edge_at is None else f"http://{edge_at.host}:{edge_at.port}",
    )
    copies = [layout.relay, layout.web] + ([layout.edge] if edge_at is not None else [])
    for path in (layout.site_file, *(directory / SITE_FILE for directory in copies)):
        path.parent.mkdir(exist_ok=True)
        path.write_text(site.render())
        os.chmod(path, 0o644)
    witness_url = f"http://{witness_at.host}:{witness_at.port}"
    (layout.relay / RELAY_CONFIG).write_text(render_relay(relay_at, [(witness_url, witness)]))
    (layout.web / WEB_CONFIG).write_text(render_web(web_at))
    if edge_at is not None:
        (layout.edge / EDGE_CONFIG).write_text(render_edge(edge_at, web_at))
    return site

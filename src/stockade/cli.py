"""The ``stockade`` command. Thin: parses arguments and calls the packages that do the work."""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stockade import core, edge, relay, web, witness
from stockade.client import (
    SITE_FILE,
    Client,
    LogSource,
    OperatorClient,
    Refused,
    RelayReader,
    StaleCheckpoint,
    read_site_file,
)
from stockade.client._verify import verify_log
from stockade.errors import RemoteProtocolError
from stockade.keys import generate, read_public, write_public, write_secret
from stockade.site import DEFAULT_CORE_ADDRESS, SiteExists, SiteLayout, init_site
from stockade.site._demo import run_demo, setup_listing
from stockade.site._supervisor import Supervisor, site_children
from stockade.tlog import NoteError, Verifier
from stockade.wire import parse_address
from stockade.witness import init_witness

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
operator_app = typer.Typer(
    no_args_is_help=True, help="Operator commands, signed by an operator key."
)
app.add_typer(operator_app, name="operator")
witness_app = typer.Typer(no_args_is_help=True, help="An independent cosigner of checkpoints.")
app.add_typer(witness_app, name="witness")
relay_app = typer.Typer(no_args_is_help=True, help="A cache of the public log and market data.")
app.add_typer(relay_app, name="relay")
edge_app = typer.Typer(no_args_is_help=True, help="The shield in front of web.")
app.add_typer(edge_app, name="edge")
web_app = typer.Typer(no_args_is_help=True, help="The exchange's public face: the HTTP API.")
app.add_typer(web_app, name="web")
console = Console()

SiteDir = Annotated[Path, typer.Argument(help="The site directory.")]
OperatorName = Annotated[str, typer.Option("--operator", help="Whose key in SITE/operators signs.")]


@app.command()
def init(
    directory: SiteDir,
    name: Annotated[str, typer.Option(help="The site's name.")] = "stockade",
    core_address: Annotated[str, typer.Option(help="Where core listens.")] = DEFAULT_CORE_ADDRESS,
    database: Annotated[str | None, typer.Option(help="SQLAlchemy URL; default SQLite.")] = None,
    operator: Annotated[list[str] | None, typer.Option(help="Operator names.")] = None,
    client: Annotated[list[str] | None, typer.Option(help="Client key names to create.")] = None,
) -> None:
    """Create a site: keys and configuration for each compartment, and the public site file."""
    try:
        init_site(
            directory,
            name,
            tuple(operator or ["operator"]),
            tuple(client or []),
            core_address,
            database,
        )
    except SiteExists as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None
    console.print(f"site created in {directory}; start it with: stockade up {directory}")


@app.command()
def up(directory: SiteDir) -> None:
    """Start the site's compartments, supervised; Ctrl-C stops them."""
    supervisor = Supervisor(site_children(SiteLayout(directory)))
    supervisor.start()
    supervisor.run(console.print)


@app.command()
def demo(
    seconds: Annotated[float | None, typer.Option(help="Stop after this long.")] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="Site directory.")] = None,
) -> None:
    """Start a fresh local site with trading bots and show the live book and trades."""
    run_demo(seconds, directory, console)


@app.command("run-core", hidden=True)
def run_core(config: Annotated[Path, typer.Argument(help="core.toml")]) -> None:
    """Run the core compartment in this process (the supervisor calls this)."""
    core.main(config)


@witness_app.command("init")
def witness_init(
    directory: Annotated[Path, typer.Argument(help="The witness's data directory.")],
    name: Annotated[str, typer.Option(help="The witness's key name, e.g. witness.example.org")],
    log: Annotated[list[str], typer.Option(help="Verifier key (vkey) of a log to follow.")],
    listen: Annotated[str, typer.Option(help="Where to listen.")] = "tcp://127.0.0.1:7003",
) -> None:
    """Create a witness: a key and the logs it follows. Prints its cosigner key."""
    try:
        logs = [Verifier.decode(vkey) for vkey in log]
        vkey = init_witness(directory, name, parse_address(listen), logs)
    except (NoteError, ValueError, OSError) as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None
    console.print(vkey.encode())


@witness_app.command("run")
def witness_run(
    directory: Annotated[Path, typer.Argument(help="The witness's directory.")],
) -> None:
    """Serve POST /add-checkpoint (C2SP tlog-witness) until stopped."""
    witness.main(directory / witness.CONFIG_FILE)


@edge_app.command("run")
def edge_run(directory: Annotated[Path, typer.Argument(help="Holds edge.toml.")]) -> None:
    """Admit requests to web, signed ones first, until stopped."""
    edge.main(directory / edge.CONFIG_FILE)


@relay_app.command("run")
def relay_run(directory: Annotated[Path, typer.Argument(help="Holds relay.toml.")]) -> None:
    """Pull the log and market data from core; serve them over HTTP until stopped."""
    relay.main(directory / relay.CONFIG_FILE)


@web_app.command("run")
def web_run(directory: Annotated[Path, typer.Argument(help="Holds web.toml.")]) -> None:
    """Serve the HTTP API (/api/v1) until stopped."""
    web.main(directory / web.CONFIG_FILE)


@web_app.command("openapi")
def web_openapi() -> None:
    """Print the API's OpenAPI document (docs/openapi.json is this output)."""
    print(json.dumps(web.openapi(), indent=2, sort_keys=True))


@app.command()
def verify(
    directory: SiteDir,
    relay_url: Annotated[
        str | None, typer.Option("--relay", help="Read from this relay (default: the site's).")
    ] = None,
    key: Annotated[
        Path | None, typer.Option(help="Read from core itself with this API key instead.")
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="Keeps the last checkpoint verified, between runs.")
    ] = None,
) -> None:
    """Check the whole log: signatures, consistency, and every trade under the matching rules;
    read from a relay, also every market data event it serves."""
    info = read_site_file(directory / SITE_FILE)
    with ExitStack() as stack:
        source: LogSource
        if key is not None:
            source = stack.enter_context(Client.from_site(directory, key))
            # Core's own checkpoints carry no cosignatures: witnesses add them at the relay.
            console.print("reading core directly: witness cosignatures are not checked")
            info = replace(info, need=0)
        elif relay_url or info.relay:
            try:
                source = RelayReader(relay_url or info.relay or "")
            except ValueError as exc:
                console.print(f"[red]{exc}")
                raise typer.Exit(4) from None
        else:
            console.print("[red]the site names no relay: give --relay URL or --key FILE")
            raise typer.Exit(4)
        try:
            verified = verify_log(source, info, state)
        except StaleCheckpoint as exc:
            console.print(f"[red]{exc.message}")
            raise typer.Exit(3) from None
        except RemoteProtocolError as exc:  # a bad checkpoint, tile or kept state file
            console.print(f"[red]cannot verify: {type(exc).__name__}: {exc.message}")
            raise typer.Exit(4) from None
    if verified.equivocation is not None:
        console.print(f"[red]the log forked: proof written to {verified.equivocation}")
        raise typer.Exit(2)
    report, checkpoint = verified.report, verified.checkpoint
    assert checkpoint is not None
    console.print(
        f"{checkpoint.origin}: {checkpoint.size} entries, {report.orders} orders, "
        f"{report.trades} trades, fees {report.fees}"
    )
    for finding in report.findings:
        console.print(f"[red]entry {finding.index}: {finding.kind}: {finding.message}")
    if report.findings:
        raise typer.Exit(1)
    console.print("[green]every entry verified")


@app.command()
def keygen(
    name: str, out: Annotated[Path, typer.Argument(help="Secret key file to create.")]
) -> None:
    """Create an Ed25519 key pair: OUT (secret, 0600) and OUT.pub."""
    identity = generate(name)
    write_secret(out, identity)
    write_public(out.with_suffix(".pub"), name, identity.public)
    console.print(f"public key {identity.public.hex()}")


def _operator(directory: Path, name: str) -> OperatorClient:
    return OperatorClient.from_site(directory, SiteLayout(directory).operator_key(name))


def _run(action: object) -> None:
    try:
        console.print(action() if callable(action) else action)
    except Refused as exc:
        console.print(f"[red]refused: {exc}")
        raise typer.Exit(2) from None


def _setup(op: OperatorClient) -> str:
    setup_listing(op)
    return "default listing in place"


@operator_app.command("setup")
def op_setup(directory: SiteDir, operator: OperatorName = "operator") -> None:
    """List the default assets and markets."""
    with _operator(directory, operator) as op:
        _run(lambda: _setup(op))


@operator_app.command("create-account")
def op_create_account(
    directory: SiteDir, label: str = "", operator: OperatorName = "operator"
) -> None:
    """Open an account; prints its id."""
    with _operator(directory, operator) as op:
        _run(lambda: op.create_account(label))


@operator_app.command("register-key")
def op_register_key(
    directory: SiteDir, account: int, public_key_file: Path, operator: OperatorName = "operator"
) -> None:
    """Bind a public key file (from `stockade keygen`) to an account."""
    name, public = read_public(public_key_file)
    with _operator(directory, operator) as op:
        _run(lambda: op.register_key(account, public, name))


@operator_app.command("credit")
def op_credit(
    directory: SiteDir,
    account: int,
    asset: str,
    amount: int,
    ref: str,
    operator: OperatorName = "operator",
) -> None:
    """Credit AMOUNT minor units of ASSET to ACCOUNT (idempotent by REF)."""
    with _operator(directory, operator) as op:
        _run(lambda: op.credit(account, asset, amount, ref))


@operator_app.command("status")
def op_status(directory: SiteDir, operator: OperatorName = "operator") -> None:
    """Sequence numbers, counts and any broken invariant."""
    with _operator(directory, operator) as op:
        _run(op.status)


def main() -> None:
    app()

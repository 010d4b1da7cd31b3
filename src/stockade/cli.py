"""The ``stockade`` command. Thin: parses arguments and calls the packages that do the work."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stockade import core
from stockade.client import (
    SITE_FILE,
    Client,
    OperatorClient,
    Refused,
    StaleCheckpoint,
    read_site_file,
)
from stockade.client._verify import verify_log
from stockade.errors import RemoteProtocolError
from stockade.keys import generate, read_public, write_public, write_secret
from stockade.site import DEFAULT_CORE_ADDRESS, SiteExists, SiteLayout, init_site
from stockade.site._demo import run_demo, setup_listing
from stockade.site._supervisor import Supervisor, site_children

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
operator_app = typer.Typer(
    no_args_is_help=True, help="Operator commands, signed by an operator key."
)
app.add_typer(operator_app, name="operator")
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


@app.command()
def verify(
    directory: SiteDir,
    key: Annotated[Path, typer.Option(help="An API key of the site, to read the log with.")],
    state: Annotated[
        Path | None, typer.Option(help="Keeps the last checkpoint verified, between runs.")
    ] = None,
) -> None:
    """Check the whole log: signatures, consistency, and every trade under the matching rules."""
    info = read_site_file(directory / SITE_FILE)
    with Client.from_site(directory, key) as client:
        try:
            verified = verify_log(client, info, state)
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

"""The witness process: ``POST /add-checkpoint`` per C2SP tlog-witness, over Starlette/uvicorn."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockade.httpkit import BodyTooLarge, application, error, read_body, response, serve
from stockade.keys import Identity, generate, read_secret, write_secret
from stockade.tlog import (
    MAX_ADD_CHECKPOINT,
    SIZE_CONTENT_TYPE,
    Cosigned,
    SizeConflict,
    Verifier,
    Witness,
    WitnessRefusal,
    parse_add_checkpoint,
)
from stockade.wire import Address
from stockade.witness._config import CONFIG_FILE, WitnessConfig, load_config, render_config
from stockade.witness._store import WitnessStore


def witness_app(witness: Witness, store: WitnessStore, clock: Callable[[], float]) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        try:
            parsed = parse_add_checkpoint(await read_body(request, MAX_ADD_CHECKPOINT))

            def decide(latest_for: Callable[[str], tuple[int, bytes] | None]) -> Cosigned:
                return witness.add_checkpoint(parsed, latest_for, int(clock()))

            cosigned = await run_in_threadpool(store.cosign, decide)
        except BodyTooLarge as exc:
            return error(413, "BodyTooLarge", str(exc))
        except SizeConflict as exc:
            return response(f"{exc.latest}\n", 409, SIZE_CONTENT_TYPE)
        except WitnessRefusal as exc:
            return error(exc.status, type(exc).__name__, exc.message)
        return response(cosigned.cosignature.line())

    async def verifier_key(_request: Request) -> Response:
        return response(witness.verifier.encode() + "\n")

    routes = [
        Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route("/", verifier_key, methods=["GET"]),
    ]
    return application(routes)


def open_witness(config: WitnessConfig) -> tuple[Witness, WitnessStore]:
    identity = read_secret(config.identity)
    logs: dict[str, tuple[Verifier, ...]] = {}
    for log in config.logs:
        logs[log.name] = (*logs.get(log.name, ()), log)
    witness = Witness(config.name, identity.secret, identity.public.raw, logs)
    return witness, WitnessStore(config.database)


def init_witness(directory: Path, name: str, listen: Address, logs: list[Verifier]) -> Verifier:
    """Create a witness data directory (0700) with a new key; returns its cosigner key."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    identity: Identity = generate("witness")
    write_secret(directory / "witness.key", identity)
    (directory / CONFIG_FILE).write_text(render_config(name, listen, logs))
    return Witness(name, identity.secret, identity.public.raw, {}).verifier


def main(config_path: Path) -> None:
    config = load_config(config_path)
    witness, store = open_witness(config)
    serve(witness_app(witness, store, time.time), config.listen)

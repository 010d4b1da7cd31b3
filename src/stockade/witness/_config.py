"""The witness's configuration (witness.toml), strictly typed: unknown settings are refused.
Relative paths are relative to the file's directory, the witness's data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec

from stockade.tlog import ED25519, NoteError, Verifier
from stockade.wire import Address, parse_address

CONFIG_FILE = "witness.toml"


class ConfigError(Exception):
    """The configuration file is missing, malformed, or names a bad key or address."""


class _Table(msgspec.Struct, forbid_unknown_fields=True):
    name: str  # the cosigner's key name in signature lines
    identity: str
    listen: str
    database: str
    logs: list[str]  # verifier keys (vkeys) of the logs this witness follows


class _File(msgspec.Struct, forbid_unknown_fields=True):
    witness: _Table


@dataclass(frozen=True)
class WitnessConfig:
    directory: Path
    name: str
    identity: Path
    listen: Address
    database: Path
    logs: tuple[Verifier, ...]

    @property
    def log_file(self) -> Path:
        return self.directory / "witness.log"


def load_config(path: Path) -> WitnessConfig:
    try:
        table = msgspec.toml.decode(path.read_bytes(), type=_File).witness
        logs = tuple(Verifier.decode(vkey) for vkey in table.logs)
        listen = parse_address(table.listen)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except NoteError as exc:
        raise ConfigError(f"{path}: a log key: {exc.message}") from None
    if any(log.algorithm != ED25519 for log in logs):
        raise ConfigError(f"{path}: a log key must be an Ed25519 note key")
    base = path.parent.resolve()
    return WitnessConfig(
        base, table.name, base / table.identity, listen, base / table.database, logs
    )


def render_config(name: str, listen: Address, logs: list[Verifier]) -> str:
    vkeys = ", ".join(f'"{log.encode()}"' for log in logs)
    return (
        "# A witness: cosigns a log's checkpoints only when each extends the last it cosigned.\n"
        "[witness]\n"
        f'name = "{name}"\n'
        'identity = "witness.key"\n'
        f'listen = "{listen}"\n'
        'database = "witness.db"\n'
        f"logs = [{vkeys}]\n"
    )

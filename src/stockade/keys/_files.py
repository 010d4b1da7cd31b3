"""Key files on disk: secret keys written 0600 and refused when anyone else could read them.

Threat handled: a key file copied, swapped or left readable by another user. Loading refuses
symlinks, files readable or writable by group or others, unknown format versions, and files whose
checksum or public key does not match the seed (corruption or tampering by a careless hand; sealing
against a thief who can read the file comes with operator unsealing, not here).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import tomllib
from pathlib import Path

from stockade.errors import StockadeError
from stockade.keys._ed25519 import PublicKey
from stockade.keys._identity import Identity, check_name

SECRET_FORMAT = "stockade-ed25519-secret-v1"  # noqa: S105  # a format name, not a secret
PUBLIC_FORMAT = "stockade-ed25519-public-v1"
MAX_KEY_FILE = 4096  # a key file is a few hundred bytes; anything larger is not ours


class KeyFileError(StockadeError):
    """A key file is missing, malformed, of an unknown version, or fails its checks."""


class InsecureKeyFile(KeyFileError):
    """A key file is a symlink or not a regular file; a secret one is accessible to group or
    others, or a public one writable by them."""


def generate(name: str) -> Identity:
    """A new identity from the operating system's CSPRNG."""
    return Identity.from_seed(name, secrets.token_bytes(32))


def _checksum(name: str, public: str, seed: str) -> str:
    return hashlib.sha256(f"{SECRET_FORMAT}\n{name}\n{public}\n{seed}".encode()).hexdigest()[:16]


def write_secret(path: Path, identity: Identity) -> None:
    """Write ``identity`` to a new file created 0600; never overwrites an existing key."""
    public, seed = identity.public.hex(), identity.secret.seed().hex()
    text = (
        f'format = "{SECRET_FORMAT}"\nname = "{identity.name}"\npublic = "{public}"\n'
        f'seed = "{seed}"\nchecksum = "{_checksum(identity.name, public, seed)}"\n'
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _read_key_file(path: Path, forbidden_mode: int, fix: str) -> bytes:
    """A regular file (never through a symlink) whose mode has none of ``forbidden_mode``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise KeyFileError(f"cannot open key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InsecureKeyFile(f"{path} is not a regular file")
        if info.st_mode & forbidden_mode:
            mode = stat.S_IMODE(info.st_mode)
            raise InsecureKeyFile(f"{path} has mode {mode:04o}; run: {fix}")
        data = f.read(MAX_KEY_FILE + 1)
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{path} is too large to be a key file")
    return data


def _parse_toml(path: Path, data: bytes) -> dict[str, str]:
    try:
        doc = tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        raise KeyFileError(f"{path} is not a key file") from None
    if not all(isinstance(v, str) for v in doc.values()):
        raise KeyFileError(f"{path} has non-text fields")
    return {k: str(v) for k, v in doc.items()}


def read_secret(path: Path) -> Identity:
    """Refused unless only its owner can read or write it: group or others could copy it."""
    fields = _parse_toml(path, _read_key_file(path, 0o077, "chmod 600"))
    if fields.get("format") != SECRET_FORMAT:
        raise KeyFileError(f"{path}: unknown key format {fields.get('format')!r}")
    if set(fields) != {"format", "name", "public", "seed", "checksum"}:
        raise KeyFileError(f"{path}: unexpected or missing fields")
    name, public, seed = fields["name"], fields["public"], fields["seed"]
    if fields["checksum"] != _checksum(name, public, seed):
        raise KeyFileError(f"{path}: checksum mismatch (file damaged or edited)")
    try:
        identity = Identity.from_seed(check_name(name), bytes.fromhex(seed))
    except ValueError:
        raise KeyFileError(f"{path}: malformed name or seed") from None
    if identity.public.hex() != public:
        raise KeyFileError(f"{path}: public key does not match the seed")
    return identity


def write_public(path: Path, name: str, public: PublicKey) -> None:
    """Write a new public key file, 0644 whatever the umask (``read_public`` checks the mode)."""
    text = f'format = "{PUBLIC_FORMAT}"\nname = "{check_name(name)}"\npublic = "{public.hex()}"\n'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def read_public(path: Path) -> tuple[str, PublicKey]:
    """Refused if group or others could write it: a pinned public key is a trust anchor."""
    fields = _parse_toml(path, _read_key_file(path, 0o022, "chmod go-w"))
    if fields.get("format") != PUBLIC_FORMAT or set(fields) != {"format", "name", "public"}:
        raise KeyFileError(f"{path}: not a public key file")
    try:
        return check_name(fields["name"]), PublicKey.from_hex(fields["public"])
    except ValueError:
        raise KeyFileError(f"{path}: malformed name or key") from None

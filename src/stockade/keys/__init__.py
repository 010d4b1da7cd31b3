"""Keys: Ed25519 identities and the files that hold them.

``_ed25519`` and ``_identity`` are pure; ``_files`` does the file I/O and draws entropy.
"""

from stockade.keys._ed25519 import (
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    BadSignature,
    PublicKey,
    SecretKey,
)
from stockade.keys._files import (
    InsecureKeyFile,
    KeyFileError,
    generate,
    read_public,
    read_secret,
    write_public,
    write_secret,
)
from stockade.keys._identity import Identity, check_name

__all__ = [
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "BadSignature",
    "Identity",
    "InsecureKeyFile",
    "KeyFileError",
    "PublicKey",
    "SecretKey",
    "check_name",
    "generate",
    "read_public",
    "read_secret",
    "write_public",
    "write_secret",
]

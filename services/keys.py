"""The region's Ed25519 key on disk.

The key file holds one line, the C2SP signer-key string
(``PRIVATE+KEY+<name>+<key id>+<base64>``), and is created with mode 0600 in one
``open(O_CREAT | O_EXCL)`` so it is never readable by others, not even for an
instant, and an existing key is never overwritten. Nothing here prints the key.

Example::

    signer = create_region_key(Path("/var/bashu/sc/region.key"), "bashu.exchange/log/sc")
    signer = load_region_key(Path("/var/bashu/sc/region.key"))
    print(signer.vkey())          # the public verifier key, safe to share
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ledger.errors import NoteError
from ledger.note import Signer
from services.errors import ConfigError

__all__ = ["create_region_key", "load_region_key"]


def create_region_key(path: Path, name: str) -> Signer:
    """Generate a new key named ``name`` and write it to ``path`` (must not exist)."""
    signer = Signer.generate(name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError("key_file", f"{path} already exists; refusing to overwrite") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(signer.skey() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return signer


def load_region_key(path: Path) -> Signer:
    """Read the region key, refusing a file that others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError("key_file", f"{path} does not exist") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError("key_file", f"{path} is readable by others; chmod 600 it")
    try:
        return Signer.from_skey(path.read_text(encoding="ascii").strip())
    except (NoteError, UnicodeDecodeError):
        raise ConfigError("key_file", f"{path} does not hold a signer key") from None

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
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import record_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, select

from ledger.errors import NoteError
from ledger.log import Log
from ledger.note import Signer, Verifier
from services.db import session_scope
from services.errors import ConfigError
from services.models import RegionKey
from services.records import encode_record

__all__ = [
    "RotationResult",
    "create_region_key",
    "known_verifiers",
    "load_region_key",
    "rotate_region_key",
]


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


ROTATION_CONTEXT = b"bashu.exchange/key-rotation/v1"


def rotate_region_key(key_path: Path, engine: Engine, log: Log, region: str) -> RotationResult:
    """Replace the region key; the rotation itself is a ledger entry.

    Order matters for crash safety. The new key is written first to
    ``region.key.new`` (reused if a previous attempt died), then the ``KeyRotated``
    record, signed over by the OLD key, is appended and covered by a checkpoint the
    old key signs, then the old key is recorded as retired and the files are swapped.
    Re-running after a crash at any point finishes the same rotation. A running node
    keeps signing with the key it loaded: restart it afterwards.
    """
    old = load_region_key(key_path)
    new_path = key_path.with_name(key_path.name + ".new")
    new = load_region_key(new_path) if new_path.exists() else create_region_key(new_path, old.name)
    new_vkey = new.vkey()
    signature = old.sign(ROTATION_CONTEXT + b"\x00" + new_vkey.encode())
    idem = f"key-rotation:{new.key_id.hex()}"
    data = encode_record(
        region,
        "operator",
        idem,
        key_rotated=record_pb2.KeyRotated(
            old_verifier_key=old.vkey(),
            new_verifier_key=new_vkey,
            effective_time=Timestamp(seconds=int(time.time())),
            old_key_signature=common_pb2.Signature(
                signer_region=region,
                key_name=old.name,
                key_id=old.key_id.hex(),
                signature=signature,
            ),
        ),
    )
    entry = log.append(data, idem)
    log.checkpoint(new_if_stale=True)
    with session_scope(engine) as session:
        if session.get(RegionKey, old.key_id.hex()) is None:
            session.add(
                RegionKey(
                    key_id=old.key_id.hex(),
                    verifier_key=old.vkey(),
                    retired_at=datetime.now(UTC),
                    rotation_entry=entry.index,
                )
            )
    retired = key_path.with_name(f"{key_path.name}.retired-{old.key_id.hex()}")
    os.replace(key_path, retired)
    os.replace(new_path, key_path)
    return RotationResult(old.vkey(), new_vkey, entry.index, retired)


@dataclass(frozen=True)
class RotationResult:
    old_vkey: str
    new_vkey: str
    entry_index: int
    retired_key_file: Path


def known_verifiers(engine: Engine, key_path: Path) -> list[Verifier]:
    """The region's current verifier key and every key it rotated away from."""
    current = load_region_key(key_path)
    verifiers = [Verifier.from_vkey(current.vkey())]
    with engine.connect() as conn:
        for (vkey,) in conn.execute(select(RegionKey.verifier_key)):
            if vkey != current.vkey():
                verifiers.append(Verifier.from_vkey(vkey))
    return verifiers

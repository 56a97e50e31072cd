"""Parties, roles and API keys of a region.

A party belongs to one home region and calls with an API key sent as
``authorization: Bearer <key>``. Keys are random 32-byte tokens shown once when
issued; only their SHA-256 is stored, so a database dump reveals no usable key.
Revocation is a row update checked on every call: it works on the next call, on
every process sharing the database (there is deliberately no cache).

Example::

    party, key = register_party(session, "Sichuan Big Data Center", {Role.PROVIDER})
    principal = authenticate(session, key)      # -> Principal(party_id=..., roles=...)
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.errors import (
    AlreadyExistsError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    UnauthenticatedError,
)
from services.models import ApiKey, Party

__all__ = [
    "KEY_PREFIX",
    "Principal",
    "Role",
    "authenticate",
    "hash_key",
    "issue_key",
    "parse_roles",
    "register_party",
    "revoke_key",
]

# Keys look like "bsk_<key id>_<secret>": the id lets an operator name a key to revoke
# it without ever holding the secret.
KEY_PREFIX = "bsk_"
MAX_NAME_LEN = 200


class Role(enum.StrEnum):
    PROVIDER = "provider"
    CONSUMER = "consumer"
    FINANCE = "finance"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a party of this region and the roles its key grants."""

    party_id: str
    party_name: str
    roles: frozenset[Role]
    key_id: str

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)


def parse_roles(text: str) -> frozenset[Role]:
    names = [r.strip().lower() for r in text.split(",") if r.strip()]
    if not names:
        raise InvalidArgumentError([FieldViolation("roles", "at least one role is required")])
    bad = [n for n in names if n not in {r.value for r in Role}]
    if bad:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidArgumentError(
            [FieldViolation("roles", f"unknown role {b!r} (allowed: {allowed})") for b in bad]
        )
    return frozenset(Role(n) for n in names)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def issue_key(session: Session, party_id: str, note: str = "") -> tuple[str, str]:
    """Create a new key for ``party_id``; return (key id, the secret key, shown once)."""
    key_id = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(
            id=key_id,
            party_id=party_id,
            key_hash=hash_key(secret),
            created_at=_now(),
            revoked_at=None,
            note=note,
        )
    )
    session.flush()
    return key_id, secret


def register_party(session: Session, name: str, roles: frozenset[Role]) -> tuple[Party, str]:
    """Register a party of this region and issue its first API key."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LEN:
        raise InvalidArgumentError(
            [FieldViolation("name", f"must be 1..{MAX_NAME_LEN} characters")]
        )
    if session.scalar(select(Party).where(Party.name == name)) is not None:
        raise AlreadyExistsError(f"party {name!r} already exists", reason="PARTY_EXISTS")
    party = Party(
        id=uuid.uuid4().hex[:16],
        name=name,
        roles=",".join(sorted(r.value for r in roles)),
        created_at=_now(),
    )
    session.add(party)
    try:
        session.flush()
    except IntegrityError:
        raise AlreadyExistsError(f"party {name!r} already exists", reason="PARTY_EXISTS") from None
    _, secret = issue_key(session, party.id, note="initial key")
    return party, secret


def revoke_key(session: Session, key_id: str) -> None:
    """Revoke one key (by id, or by the full secret). Idempotent."""
    if key_id.startswith(KEY_PREFIX):
        key_id = key_id[len(KEY_PREFIX) :].split("_", 1)[0]
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError(f"api key {key_id}", reason="API_KEY_NOT_FOUND")
    if row.revoked_at is None:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=_now()))


def authenticate(conn: Session | Connection, key: str) -> Principal:
    """Resolve a bearer key to its principal, or raise UnauthenticatedError.

    Runs on every RPC, so it is one Core query by the key's hash (an ORM session
    costs several times as much here); pass a Connection on the hot path.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        raise UnauthenticatedError("malformed API key", reason="API_KEY_INVALID")
    row = conn.execute(_AUTH_QUERY, {"key_hash": hash_key(key)}).first()
    if row is None:
        raise UnauthenticatedError("unknown API key", reason="API_KEY_INVALID")
    key_id, revoked_at, party_id, party_name, roles = row
    if revoked_at is not None:
        raise UnauthenticatedError("API key revoked", reason="API_KEY_REVOKED")
    return Principal(
        party_id=party_id,
        party_name=party_name,
        roles=frozenset(Role(r) for r in roles.split(",") if r),
        key_id=key_id,
    )


_AUTH_QUERY = (
    select(ApiKey.id, ApiKey.revoked_at, Party.id, Party.name, Party.roles)
    .join(Party, Party.id == ApiKey.party_id)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)

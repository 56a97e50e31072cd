"""Registering a party: the database row, its first key, and its ledger entry.

The party row and key commit first; the ledger entry follows with the idempotency
key ``party:<id>``, so re-running the append after a crash can never record the
registration twice.
"""

from __future__ import annotations

from bashu.ledger.v1 import record_pb2
from sqlalchemy import Engine

from ledger.log import AppendResult, Log
from services import auth
from services.db import session_scope
from services.records import encode_record

__all__ = ["record_party", "register_party"]


def record_party(
    log: Log, region: str, party_id: str, name: str, roles: frozenset[auth.Role]
) -> AppendResult:
    key = f"party:{party_id}"
    data = encode_record(
        region,
        "operator",
        key,
        party_registered=record_pb2.PartyRegistered(
            party=f"regions/{region}/parties/{party_id}",
            display_name=name,
            roles=sorted(r.value for r in roles),
        ),
    )
    return log.append(data, key)


def register_party(
    engine: Engine, log: Log, region: str, name: str, roles: frozenset[auth.Role]
) -> tuple[str, str]:
    """Register a party of ``region``; return (party id, API key shown once)."""
    with session_scope(engine) as session:
        party, key = auth.register_party(session, name, roles)
        party_id = party.id
    record_party(log, region, party_id, name.strip(), roles)
    return party_id, key

"""Ledger records: exactly one payload, and the well-formedness check verify uses."""

from __future__ import annotations

import pytest
from bashu.access.v1 import access_pb2
from bashu.ledger.v1 import record_pb2
from hypothesis import given
from hypothesis import strategies as st

from services.records import (
    check_entry,
    decode_record,
    encode_record,
    encode_record_serialized,
    length_delimited,
)


def _party() -> record_pb2.PartyRegistered:
    return record_pb2.PartyRegistered(party="regions/sc/parties/p1", display_name="P", roles=["x"])


def test_round_trip_and_determinism() -> None:
    a = encode_record("sc", "op", "party:p1", now=1.5, party_registered=_party())
    b = encode_record("sc", "op", "party:p1", now=1.5, party_registered=_party())
    assert a == b
    assert check_entry(0, a) is None
    assert decode_record(a).WhichOneof("payload") == "party_registered"


@given(
    actor=st.text(max_size=40),
    key=st.text(min_size=1, max_size=300),
    rows=st.integers(min_value=0, max_value=2**63 - 1),
    columns=st.lists(st.text(max_size=20), max_size=8),
    now=st.floats(min_value=0, max_value=4e9, allow_nan=False),
)
def test_serialized_payload_gives_the_same_bytes(
    actor: str, key: str, rows: int, columns: list[str], now: float
) -> None:
    # The metering hot path wraps the usage record's own bytes; the entry must be the
    # very bytes encode_record writes, or replays and verification would disagree.
    usage = access_pb2.UsageRecord(name="regions/sc/usage/u1", id="r-1", columns=columns)
    usage.quantity.rows = rows
    expected = encode_record(
        "sc", actor, key, now=now, usage_recorded=record_pb2.UsageRecorded(usage_record=usage)
    )
    wrapped = length_delimited(1, usage.SerializeToString(deterministic=True))
    assert encode_record_serialized("sc", actor, key, "usage_recorded", wrapped, now=now) == (
        expected
    )
    party = _party().SerializeToString(deterministic=True)
    assert encode_record_serialized("sc", actor, key, "party_registered", party, now=now) == (
        encode_record("sc", actor, key, now=now, party_registered=_party())
    )


def test_exactly_one_payload() -> None:
    with pytest.raises(ValueError, match="exactly one payload"):
        encode_record("sc", "op", "k")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.ClearField("party_registered"), "no payload"),
        (lambda r: setattr(r, "record_version", 9), "record_version"),
        (lambda r: r.ClearField("region"), "no region"),
        (lambda r: r.ClearField("idempotency_key"), "idempotency key"),
        (lambda r: r.ClearField("time"), "no time"),
    ],
)
def test_malformed_records_are_named(mutate: object, reason: str) -> None:
    record = decode_record(encode_record("sc", "op", "k", party_registered=_party()))
    mutate(record)  # type: ignore[operator]
    problem = check_entry(3, record.SerializeToString())
    assert problem is not None
    assert reason in problem


def test_garbage_and_unknown_fields_are_refused() -> None:
    good = encode_record("sc", "op", "k", party_registered=_party())
    assert check_entry(0, b"\xff\xff\xff") is not None
    # Field 100 (varint) is not part of LedgerRecord: bytes this release never wrote.
    assert "does not know" in (check_entry(0, good + b"\xa0\x06\x01") or "")

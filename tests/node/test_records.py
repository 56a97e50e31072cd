"""Ledger records: exactly one payload, and the well-formedness check verify uses."""

from __future__ import annotations

import pytest
from bashu.ledger.v1 import record_pb2

from services.records import check_entry, decode_record, encode_record


def _party() -> record_pb2.PartyRegistered:
    return record_pb2.PartyRegistered(party="regions/sc/parties/p1", display_name="P", roles=["x"])


def test_round_trip_and_determinism() -> None:
    a = encode_record("sc", "op", "party:p1", now=1.5, party_registered=_party())
    b = encode_record("sc", "op", "party:p1", now=1.5, party_registered=_party())
    assert a == b
    assert check_entry(0, a) is None
    assert decode_record(a).WhichOneof("payload") == "party_registered"


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

"""Ledger records: building the bytes the log stores, and checking them.

Every market event becomes one ``bashu.ledger.v1.LedgerRecord`` with exactly one
typed payload, serialised once; the log stores and hashes those exact bytes and
never re-serialises them. This module is where services build records and where
``bashu ledger verify`` checks that each stored entry is well formed.

Example::

    data = encode_record("sc", "party-1", "party:abc", party_registered=PartyRegistered(...))
    result = node.ledger.append(data, "party:abc")
"""

from __future__ import annotations

import time
from typing import Any

from bashu.ledger.v1 import record_pb2
from google.protobuf import text_format, unknown_fields
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.settlement.wire import varint

__all__ = [
    "RECORD_VERSION",
    "check_entry",
    "decode_record",
    "describe_entry",
    "encode_record",
    "encode_record_serialized",
    "length_delimited",
]

RECORD_VERSION = 1
MAX_KEY_LEN = 256


def _now_ts(now: float | None = None) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int((time.time() if now is None else now) * 1e9))
    return ts


def _header(
    region: str, actor: str, idempotency_key: str, now: float | None
) -> record_pb2.LedgerRecord:
    """A LedgerRecord with its header fields set and no payload yet."""
    return record_pb2.LedgerRecord(
        record_version=RECORD_VERSION,
        time=_now_ts(now),
        region=region,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def encode_record(
    region: str,
    actor: str,
    idempotency_key: str,
    *,
    now: float | None = None,
    **payload: Message,
) -> bytes:
    """Serialise a LedgerRecord with exactly one payload given as ``name=message``."""
    if len(payload) != 1:
        raise ValueError("a ledger record carries exactly one payload")
    ((name, message),) = payload.items()
    record = _header(region, actor, idempotency_key, now)
    getattr(record, name).CopyFrom(message)
    # Deterministic so the same event built twice yields the same bytes.
    return record.SerializeToString(deterministic=True)


def length_delimited(field_number: int, payload: bytes | memoryview) -> bytes:
    """One length-delimited protobuf field (wire type 2) holding ``payload`` (copied
    once: payloads here can be whole record batches)."""
    return b"".join((varint(field_number << 3 | 2), varint(len(payload)), payload))


_HEADER_FIELDS = ("record_version", "time", "region", "idempotency_key", "actor")
_PAYLOAD_NUMBERS = {
    f.name: f.number for f in record_pb2.LedgerRecord.DESCRIPTOR.oneofs_by_name["payload"].fields
}
# Deterministic serialisation writes fields in number order, so a payload appended
# after the header is exactly what encode_record writes only while every payload
# field is numbered after every header field.
assert max(
    record_pb2.LedgerRecord.DESCRIPTOR.fields_by_name[f].number for f in _HEADER_FIELDS
) < min(_PAYLOAD_NUMBERS.values())


def encode_record_serialized(
    region: str,
    actor: str,
    idempotency_key: str,
    name: str,
    payload: bytes,
    *,
    now: float | None = None,
) -> bytes:
    """:func:`encode_record` for a payload message already serialised (deterministically):
    the same bytes, without copying the message into the record and serialising it
    again (the metering hot path has the usage record's bytes anyway)."""
    header = _header(region, actor, idempotency_key, now)
    return header.SerializeToString(deterministic=True) + length_delimited(
        _PAYLOAD_NUMBERS[name], payload
    )


def decode_record(data: bytes) -> record_pb2.LedgerRecord:
    record = record_pb2.LedgerRecord()
    record.ParseFromString(data)
    return record


def check_entry(index: int, data: bytes) -> str | None:
    """Why stored entry ``index`` is not a well-formed record, or None if it is."""
    try:
        record = decode_record(data)
    except DecodeError as exc:
        return f"not a LedgerRecord: {exc}"
    if record.record_version != RECORD_VERSION:
        return f"unknown record_version {record.record_version}"
    if record.WhichOneof("payload") is None:
        return "record has no payload"
    if not record.region:
        return "record names no region"
    if not record.idempotency_key or len(record.idempotency_key) > MAX_KEY_LEN:
        return "record has no valid idempotency key"
    if not record.HasField("time"):
        return "record has no time"
    # Unknown fields mean bytes this release did not write: an inserted or altered
    # entry, or a newer writer; either way it is not what we can vouch for.
    if _has_unknown_fields(record):
        return "record carries fields this release does not know"
    return None


def _has_unknown_fields(message: Message) -> bool:
    if len(unknown_fields.UnknownFieldSet(message)):
        return True
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.is_repeated:
            items: Any = value.values() if field.message_type.GetOptions().map_entry else value
            if any(isinstance(v, Message) and _has_unknown_fields(v) for v in items):
                return True
        elif _has_unknown_fields(value):
            return True
    return False


def describe_entry(data: bytes) -> str:
    """A human-readable rendering of an entry's record (or why it is not one)."""
    try:
        record = decode_record(data)
    except DecodeError as exc:
        return f"(not a LedgerRecord: {exc})"
    return text_format.MessageToString(record, as_utf8=True)

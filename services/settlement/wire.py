"""Canonical protobuf encoding of settlement documents, without the protobuf runtime.

Statement content is signed by two regions, and a reconciliation report pins its
discrepancy list by a digest; both must be the exact bytes of the API's messages
(``bashu.settlement.v1.StatementContent``, ``Discrepancy`` ...), and both regions
must produce the same bytes from the same facts. This module writes proto3 wire
format canonically:

* fields in ascending field-number order, each at most once (repeated fields in list
  order);
* scalar fields at their default value (0, "", b"", false) are omitted, as proto3
  does; sub-messages that are set are always written, even when empty;
* integers as varints (negative int64 as ten-byte two's complement), strings as
  UTF-8.

That is exactly what the protobuf runtime's deterministic serialization produces
for these messages (no maps, no unknown fields), which ``tests/settlement`` checks
by parsing our bytes with the generated classes and re-serializing them. Keeping
the domain free of the generated classes lets it run (and be property-tested)
without any wire types in its signatures; the servicer parses ``content_body``
with the generated class when it needs the message.

Example::

    w = ProtoWriter()
    w.string(1, "2026-11").int64(15, 42)
    body = w.finish()
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.settlement.clock import micros
from services.settlement.model import BatchRef, CheckpointRef, EntryRef, Quantity

__all__ = [
    "ProtoWriter",
    "encode_batch_ref",
    "encode_checkpoint",
    "encode_entry_ref",
    "encode_money",
    "encode_quantity",
    "encode_time_range",
    "encode_timestamp",
    "length_prefixed",
    "varint",
]

_VARINT = 0
_LEN = 2
_MASK64 = (1 << 64) - 1


def varint(value: int) -> bytes:
    """Base-128 varint of ``value`` (negative values as 64-bit two's complement)."""
    value &= _MASK64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_prefixed(items: Iterable[bytes]) -> bytes:
    """``varint(len) || item`` for each item (protobuf's delimited stream format)."""
    return b"".join(varint(len(item)) + item for item in items)


class ProtoWriter:
    """Append fields in ascending field-number order; :meth:`finish` returns the bytes."""

    __slots__ = ("_last", "_parts")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._last = 0

    def _tag(self, field: int, wire_type: int) -> None:
        if field < self._last:
            raise ValueError(f"field {field} written after field {self._last}")
        self._last = field
        self._parts.append(varint((field << 3) | wire_type))

    def int64(self, field: int, value: int) -> ProtoWriter:
        """An int64/int32/enum field (omitted when 0)."""
        if value:
            self._tag(field, _VARINT)
            self._parts.append(varint(value))
        return self

    def boolean(self, field: int, value: bool) -> ProtoWriter:
        """A bool field (omitted when false)."""
        return self.int64(field, 1 if value else 0)

    def string(self, field: int, value: str) -> ProtoWriter:
        """A string field (omitted when empty)."""
        return self.blob(field, value.encode("utf-8"))

    def blob(self, field: int, value: bytes) -> ProtoWriter:
        """A bytes field (omitted when empty)."""
        if value:
            self._tag(field, _LEN)
            self._parts.append(varint(len(value)))
            self._parts.append(value)
        return self

    def message(self, field: int, body: bytes | None) -> ProtoWriter:
        """A set sub-message (written even when empty); ``None`` means unset."""
        if body is not None:
            self._tag(field, _LEN)
            self._parts.append(varint(len(body)))
            self._parts.append(body)
        return self

    def messages(self, field: int, bodies: Iterable[bytes]) -> ProtoWriter:
        """A repeated message field, in order."""
        for body in bodies:
            self.message(field, body)
        return self

    def strings(self, field: int, values: Iterable[str]) -> ProtoWriter:
        """A repeated string field, in order (empty strings are kept: repeated
        elements have no default to omit)."""
        for value in values:
            self._tag(field, _LEN)
            raw = value.encode("utf-8")
            self._parts.append(varint(len(raw)))
            self._parts.append(raw)
        return self

    def finish(self) -> bytes:
        return b"".join(self._parts)


def encode_timestamp(value: datetime) -> bytes:
    """``google.protobuf.Timestamp`` (seconds, nanos; microsecond precision)."""
    us = micros(value)
    seconds, rest = divmod(us, 1_000_000)
    return ProtoWriter().int64(1, seconds).int64(2, rest * 1000).finish()


def encode_time_range(start: datetime, end: datetime) -> bytes:
    """``bashu.common.v1.TimeRange``."""
    return (
        ProtoWriter().message(1, encode_timestamp(start)).message(2, encode_timestamp(end)).finish()
    )


def encode_money(amount_fen: int, currency: str) -> bytes:
    """``bashu.common.v1.Money``."""
    return ProtoWriter().string(1, currency).int64(2, amount_fen).finish()


def encode_quantity(q: Quantity) -> bytes:
    """``bashu.common.v1.Quantity``."""
    return ProtoWriter().int64(1, q.calls).int64(2, q.rows).int64(3, q.bytes).finish()


def encode_entry_ref(e: EntryRef) -> bytes:
    """``bashu.common.v1.EntryRef``."""
    return ProtoWriter().string(1, e.origin).int64(2, e.index).blob(3, e.leaf_hash).finish()


def encode_checkpoint(c: CheckpointRef) -> bytes:
    """``bashu.common.v1.Checkpoint``."""
    w = ProtoWriter().string(1, c.origin).int64(2, c.tree_size).blob(3, c.root_hash)
    w.string(4, c.signed_note)
    w.message(5, None if c.sign_time is None else encode_timestamp(c.sign_time))
    return w.finish()


def encode_batch_ref(b: BatchRef, currency: str) -> bytes:
    """``bashu.settlement.v1.BatchRef``."""
    w = ProtoWriter().string(1, b.batch).string(2, b.provider_region)
    w.string(3, b.consumer_region).int64(4, b.sequence).int64(5, b.record_count)
    w.message(6, encode_money(b.amount_fen, currency))
    w.blob(7, b.merkle_root).blob(8, b.batch_digest)
    w.message(9, None if b.provider_entry is None else encode_entry_ref(b.provider_entry))
    w.message(10, None if b.consumer_entry is None else encode_entry_ref(b.consumer_entry))
    return w.finish()

"""Value types shared by the settlement modules.

Frozen dataclasses validated on construction; they mirror the ``bashu.common.v1``
and ``bashu.settlement.v1`` messages they will be converted to at the edge
(:mod:`services.settlement.wire` encodes them canonically), but are plain Python::

    q = Quantity(calls=1, rows=20, bytes=4096)
    ref = EntryRef(origin=log_origin("sc"), index=41, leaf_hash=bytes(32))

Regions are ``^[a-z]{2,8}$`` strings (``"sc"``, ``"cq"``, ``"sg"``); a region's
ledger origin is ``bashu.exchange/log/{region}`` (docs/decisions.md, 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from services.settlement.clock import utc
from services.settlement.errors import SettlementValueError
from services.settlement.money import check_fen

__all__ = [
    "HASH_SIZE",
    "NO_QUANTITY",
    "BatchRef",
    "CheckpointRef",
    "DisputeHold",
    "EntryRef",
    "PurposeClass",
    "Quantity",
    "check_hash",
    "check_int64",
    "check_region",
    "check_text",
    "log_origin",
]

HASH_SIZE = 32
_REGION = re.compile(r"[a-z]{2,8}")
_INT64 = 2**63 - 1
_LOG_PREFIX = "bashu.exchange/log/"


class PurposeClass(IntEnum):
    """``bashu.common.v1.PurposeClass``; the values are the wire numbers."""

    UNSPECIFIED = 0
    COMMERCIAL = 1
    PUBLIC_WELFARE = 2
    GOVERNMENT_SHARING = 3
    RESEARCH = 4


def check_region(value: object, field: str = "region") -> str:
    """``value`` as a region id, or :class:`SettlementValueError`."""
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise SettlementValueError(field, f"not a region id: {value!r}")
    return value


def check_text(value: object, field: str, *, max_len: int = 1024, empty: bool = False) -> str:
    """``value`` as a string of at most ``max_len`` characters (non-empty unless allowed)."""
    if not isinstance(value, str):
        raise SettlementValueError(field, "must be a string")
    if not empty and not value:
        raise SettlementValueError(field, "must not be empty")
    if len(value) > max_len:
        raise SettlementValueError(field, f"longer than {max_len} characters")
    return value


def check_int64(value: object, field: str, *, minimum: int = 0) -> int:
    """``value`` as an int64 no smaller than ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettlementValueError(field, "must be an integer")
    if value < minimum or value > _INT64:
        raise SettlementValueError(field, f"out of range [{minimum}, 2^63)")
    return value


def check_hash(value: object, field: str) -> bytes:
    """``value`` as a 32-byte hash."""
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise SettlementValueError(field, f"must be {HASH_SIZE} bytes")
    return value


def log_origin(region: str) -> str:
    """The ledger origin of a region: ``bashu.exchange/log/{region}``."""
    return _LOG_PREFIX + check_region(region)


@dataclass(frozen=True, order=True)
class Quantity:
    """Delivered quantities (``bashu.common.v1.Quantity``). Negative values are
    allowed only in deltas (:class:`~services.settlement.adjustments.Adjustment`);
    :meth:`check_non_negative` enforces usage quantities."""

    calls: int = 0
    rows: int = 0
    bytes: int = 0

    def __post_init__(self) -> None:
        for name in ("calls", "rows", "bytes"):
            check_int64(getattr(self, name), f"quantity.{name}", minimum=-_INT64)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.calls + other.calls, self.rows + other.rows, self.bytes + other.bytes)

    def __neg__(self) -> Quantity:
        return Quantity(-self.calls, -self.rows, -self.bytes)

    def check_non_negative(self, field: str = "quantity") -> Quantity:
        if min(self.calls, self.rows, self.bytes) < 0:
            raise SettlementValueError(field, "quantities must not be negative")
        return self


@dataclass(frozen=True, order=True)
class EntryRef:
    """One entry of one region's ledger: origin, zero-based index, RFC 9162 leaf hash."""

    origin: str
    index: int
    leaf_hash: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin.startswith(_LOG_PREFIX):
            raise SettlementValueError("entry.origin", f"not a ledger origin: {self.origin!r}")
        check_region(self.origin[len(_LOG_PREFIX) :], "entry.origin")
        check_int64(self.index, "entry.index")
        check_hash(self.leaf_hash, "entry.leaf_hash")

    @property
    def region(self) -> str:
        """The region whose ledger holds the entry."""
        return self.origin[len(_LOG_PREFIX) :]

    def __str__(self) -> str:
        return f"{self.origin}#{self.index}"


@dataclass(frozen=True)
class CheckpointRef:
    """A region's signed checkpoint (``bashu.common.v1.Checkpoint``). ``signed_note``
    is authoritative; the other fields are the convenience copy the API carries. This
    module does not verify the note (``ledger.checkpoint`` does, at the edge)."""

    origin: str
    tree_size: int
    root_hash: bytes
    signed_note: str = ""
    sign_time: datetime | None = None

    def __post_init__(self) -> None:
        EntryRef(self.origin, 0, bytes(HASH_SIZE))  # validates the origin
        check_int64(self.tree_size, "checkpoint.tree_size", minimum=1)
        check_hash(self.root_hash, "checkpoint.root_hash")
        check_text(self.signed_note, "checkpoint.signed_note", max_len=65536, empty=True)
        if self.sign_time is not None:
            object.__setattr__(self, "sign_time", utc(self.sign_time, "checkpoint.sign_time"))

    def covers(self, entry: EntryRef) -> bool:
        """True when the checkpoint's tree includes ``entry``."""
        return entry.origin == self.origin and entry.index < self.tree_size


@dataclass(frozen=True)
class BatchRef:
    """A usage batch between two regions as a statement cites it
    (``bashu.settlement.v1.BatchRef``): its control totals and hashes."""

    batch: str
    provider_region: str
    consumer_region: str
    sequence: int
    record_count: int
    amount_fen: int
    merkle_root: bytes
    batch_digest: bytes
    provider_entry: EntryRef | None = None
    consumer_entry: EntryRef | None = None

    def __post_init__(self) -> None:
        check_text(self.batch, "batch.batch")
        check_region(self.provider_region, "batch.provider_region")
        check_region(self.consumer_region, "batch.consumer_region")
        if self.provider_region == self.consumer_region:
            raise SettlementValueError("batch", "provider and consumer region must differ")
        check_int64(self.sequence, "batch.sequence", minimum=1)
        check_int64(self.record_count, "batch.record_count")
        check_fen(self.amount_fen, "batch.amount_fen")
        check_hash(self.merkle_root, "batch.merkle_root")
        check_hash(self.batch_digest, "batch.batch_digest")
        if self.provider_entry is not None and self.provider_entry.region != self.provider_region:
            raise SettlementValueError("batch.provider_entry", "must be in the provider's ledger")
        if self.consumer_entry is not None and self.consumer_entry.region != self.consumer_region:
            raise SettlementValueError("batch.consumer_entry", "must be in the consumer's ledger")


@dataclass(frozen=True, order=True)
class DisputeHold:
    """An amount held out of a statement's net (and of netting) while a dispute is
    open (``bashu.settlement.v1.DisputeHold``)."""

    dispute: str
    provider_region: str
    consumer_region: str
    amount_fen: int

    def __post_init__(self) -> None:
        check_text(self.dispute, "hold.dispute")
        check_region(self.provider_region, "hold.provider_region")
        check_region(self.consumer_region, "hold.consumer_region")
        if self.provider_region == self.consumer_region:
            raise SettlementValueError("hold", "provider and consumer region must differ")
        check_fen(self.amount_fen, "hold.amount_fen")


NO_QUANTITY = Quantity()

"""Bilateral statements: computed from the ledger, identical in both regions, signed by both.

A statement is what two regions owe each other for one period. Each region computes
it from its OWN ledger with :func:`compute_statement`; the content names no
region-local resource (usage entries are the provider's ``UsageRecorded`` entries,
which the consumer's ``ConsumptionRecorded`` entries cite), so two honest ledgers
give byte-identical :attr:`StatementContent.body`, and each region signs those
bytes. A region signs only content it reproduced itself
(:func:`check_reproduced`)::

    content = compute_statement(span, ("cq", "sc"), usage, adjustments=adjs,
                                holds=holds, batches=batches, checkpoints=cps)
    statement = sign_statement(Statement(content), region_key_signer("sc", sc_key))
    statement = add_signature(statement, their_signature, verifier)   # verifies first
    verify_statement(statement, verifier)                            # both, or raises

What is in it (``bashu.settlement.v1.StatementContent``):

* lines — one per (provider region, consumer region, product, tariff version,
  purpose class): record count, zero-priced count (free uses are settled as counts),
  quantities, gross = the sum of the records' already-rounded fen, the rounding
  residue (sum of exact − rounded, informational), late records counted here, and
  ``entries_root``: the RFC 9162 Merkle root over the line's entries' leaf hashes in
  ledger order (the leaf hashes are the level-0 nodes, as in usage batches), which
  ties the line to exactly those entries (:func:`trace_line`);
* adjustments landing in the period (each citing the entry it corrects), disputed
  amounts held out, one total per direction (gross + adjustments − disputed = net);
* the net: the difference of the two directions' nets, who pays it and who gets it;
* the usage batches covered (control totals must add up to the lines), and, per
  provider ledger whose usage the batches carry, the signed checkpoint (the smallest
  among those offered) that includes every usage entry of that direction. Only usage
  entries are covered: adjustments' and countersignature entries are not.

The rounding rule: each usage record already carries its amount rounded half-up
(the one rounding point); a statement only adds integers. ``rounding_residue_fen``
is the lines' residues plus re-ratings' residues (exact delta − rounded delta). It
is shown, never settled.

The body is the canonical proto3 encoding of ``StatementContent``
(:mod:`~services.settlement.wire`); the signed message is
``"bashu.exchange/statement/v1" ‖ 0x00 ‖ body``. Signing goes through two small
callables, :class:`StatementSigner` and :class:`StatementVerifier`, so the node plugs
in its Ed25519 region key (:func:`region_key_signer`, :func:`region_key_verifier`).

What this module does NOT do: no I/O, no clock, no ledger appends, no periods'
state (the node computes statements only for CLOSED periods).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import IntEnum
from functools import cached_property
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from ledger.note import NoteSigner, NoteVerifier
from services.settlement.adjustments import Adjustment, AdjustmentKind
from services.settlement.clock import utc
from services.settlement.errors import (
    SettlementValueError,
    StatementDigestMismatchError,
    StatementInputError,
    StatementNotReproducibleError,
    StatementSignatureError,
)
from services.settlement.model import (
    HASH_SIZE,
    BatchRef,
    CheckpointRef,
    DisputeHold,
    EntryRef,
    PurposeClass,
    Quantity,
    check_hash,
    check_int64,
    check_region,
    check_text,
    log_origin,
)
from services.settlement.money import CURRENCY, check_fen, format_fen
from services.settlement.periods import PeriodSpan
from services.settlement.usage import UsageTable, safe_sum_type
from services.settlement.wire import (
    ProtoWriter,
    encode_batch_ref,
    encode_checkpoint,
    encode_entry_ref,
    encode_money,
    encode_quantity,
    encode_time_range,
)

__all__ = [
    "EMPTY_ROOT",
    "LINE_KEYS",
    "STATEMENT_CONTEXT",
    "DirectionTotal",
    "LineTrace",
    "RegionSignature",
    "Statement",
    "StatementAdjustment",
    "StatementContent",
    "StatementLine",
    "StatementSigner",
    "StatementState",
    "StatementVerifier",
    "add_signature",
    "check_reproduced",
    "compute_statement",
    "entries_root",
    "first_difference",
    "region_key_signer",
    "region_key_verifier",
    "select_checkpoints",
    "sign_statement",
    "signed_message",
    "trace_line",
    "verify_statement",
]

STATEMENT_CONTEXT = "bashu.exchange/statement/v1"
EMPTY_ROOT = hashlib.sha256(b"").digest()
LINE_KEYS = ("provider_region", "consumer_region", "product", "tariff", "purpose_class")
SIGNATURE_SIZE = 64

_sha256 = hashlib.sha256


def entries_root(packed_leaf_hashes: bytes) -> bytes:
    """RFC 9162 Merkle tree hash whose level-0 nodes are the given 32-byte leaf
    hashes (concatenated, in order); :data:`EMPTY_ROOT` for none.

    Pairing left to right and promoting a lone last node unchanged gives exactly
    RFC 9162's left-balanced tree; it hashes straight from one bytes object, which
    is what makes a million-entry statement line cheap.
    """
    n, rest = divmod(len(packed_leaf_hashes), HASH_SIZE)
    if rest:
        raise SettlementValueError("leaf_hash", "leaf hashes must be 32 bytes each")
    if n == 0:
        return EMPTY_ROOT
    level = packed_leaf_hashes
    while n > 1:
        end = (n // 2) * 64
        nodes = [_sha256(b"\x01" + level[i : i + 64]).digest() for i in range(0, end, 64)]
        if n % 2:
            nodes.append(level[end:])
        level = b"".join(nodes)
        n = len(nodes)
    return level


# --- content ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    """Usage of one product at one tariff version and purpose class, one direction."""

    provider_region: str
    consumer_region: str
    product: str
    tariff: str
    purpose_class: PurposeClass
    record_count: int
    zero_priced_count: int
    quantity: Quantity
    gross_fen: int
    rounding_residue_fen: Decimal
    entries_root: bytes
    late_record_count: int = 0

    def __post_init__(self) -> None:
        check_region(self.provider_region, "line.provider_region")
        check_region(self.consumer_region, "line.consumer_region")
        if self.provider_region == self.consumer_region:
            raise SettlementValueError("line", "provider and consumer region must differ")
        check_text(self.product, "line.product")
        check_text(self.tariff, "line.tariff", empty=True)
        object.__setattr__(self, "purpose_class", PurposeClass(self.purpose_class))
        check_int64(self.record_count, "line.record_count", minimum=1)
        check_int64(self.zero_priced_count, "line.zero_priced_count")
        check_int64(self.late_record_count, "line.late_record_count")
        if max(self.zero_priced_count, self.late_record_count) > self.record_count:
            raise SettlementValueError("line", "more zero-priced or late records than records")
        self.quantity.check_non_negative("line.quantity")
        check_fen(self.gross_fen, "line.gross_fen")
        if not self.rounding_residue_fen.is_finite():
            raise SettlementValueError("line.rounding_residue_fen", "must be finite")
        check_hash(self.entries_root, "line.entries_root")

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        return (
            self.provider_region,
            self.consumer_region,
            self.product,
            self.tariff,
            int(self.purpose_class),
        )

    def encode(self, currency: str) -> bytes:
        w = ProtoWriter().string(1, self.provider_region).string(2, self.consumer_region)
        w.string(3, self.product).string(4, self.tariff).int64(5, int(self.purpose_class))
        w.int64(6, self.record_count).int64(7, self.zero_priced_count)
        w.message(8, encode_quantity(self.quantity))
        w.message(9, encode_money(self.gross_fen, currency))
        w.string(10, format_fen(self.rounding_residue_fen))
        w.blob(11, self.entries_root).int64(12, self.late_record_count)
        return w.finish()


@dataclass(frozen=True)
class StatementAdjustment:
    """An adjustment as a statement lists it. ``residue_fen`` (what rounding moved in
    a re-rating) is counted in the statement's residue total."""

    adjustment: str
    kind: AdjustmentKind
    provider_region: str
    consumer_region: str
    amount_delta_fen: int
    entry: EntryRef
    corrects: EntryRef | None = None
    residue_fen: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        check_text(self.adjustment, "adjustment.adjustment")
        object.__setattr__(self, "kind", AdjustmentKind(self.kind))
        check_region(self.provider_region, "adjustment.provider_region")
        check_region(self.consumer_region, "adjustment.consumer_region")
        check_fen(self.amount_delta_fen, "adjustment.amount_delta", allow_negative=True)

    @classmethod
    def of(cls, adj: Adjustment) -> StatementAdjustment:
        if adj.entry is None:
            raise StatementInputError("adjustments", f"{adj.name} has no ledger entry yet")
        return cls(
            adj.name,
            adj.kind,
            adj.provider_region,
            adj.consumer_region,
            adj.amount_delta_fen,
            adj.entry,
            adj.corrects,
            adj.residue_fen,
        )

    def encode(self, currency: str) -> bytes:
        w = ProtoWriter().string(1, self.adjustment).int64(2, int(self.kind))
        w.string(3, self.provider_region).string(4, self.consumer_region)
        w.message(5, encode_money(self.amount_delta_fen, currency))
        w.message(6, encode_entry_ref(self.entry))
        w.message(7, None if self.corrects is None else encode_entry_ref(self.corrects))
        return w.finish()


def _encode_hold(h: DisputeHold, currency: str) -> bytes:
    w = ProtoWriter().string(1, h.dispute).string(2, h.provider_region)
    w.string(3, h.consumer_region).message(4, encode_money(h.amount_fen, currency))
    return w.finish()


@dataclass(frozen=True)
class DirectionTotal:
    """Totals of one direction: gross + adjustments − disputed = net (may be negative)."""

    provider_region: str
    consumer_region: str
    record_count: int
    zero_priced_count: int
    quantity: Quantity
    gross_fen: int
    adjustment_fen: int
    disputed_fen: int
    net_fen: int

    def __post_init__(self) -> None:
        if self.net_fen != self.gross_fen + self.adjustment_fen - self.disputed_fen:
            raise StatementInputError("total.net", "net is not gross + adjustments − disputed")

    @property
    def direction(self) -> tuple[str, str]:
        return (self.provider_region, self.consumer_region)

    def encode(self, currency: str) -> bytes:
        w = ProtoWriter().string(1, self.provider_region).string(2, self.consumer_region)
        w.int64(3, self.record_count).int64(4, self.zero_priced_count)
        w.message(5, encode_quantity(self.quantity))
        for number, amount in (
            (6, self.gross_fen),
            (7, self.adjustment_fen),
            (8, self.disputed_fen),
            (9, self.net_fen),
        ):
            w.message(number, encode_money(amount, currency))
        return w.finish()


@dataclass(frozen=True)
class StatementContent:
    """What both regions compute and sign. Validated on construction: orderings, both
    directions' totals, the net and the residue must follow from the lines,
    adjustments and holds. Build one with :meth:`build` (or :func:`compute_statement`)."""

    period: str
    period_start: datetime
    period_end: datetime
    regions: tuple[str, str]
    lines: tuple[StatementLine, ...]
    adjustments: tuple[StatementAdjustment, ...]
    disputed: tuple[DisputeHold, ...]
    totals: tuple[DirectionTotal, DirectionTotal]
    net_payer_region: str
    net_payee_region: str
    net_fen: int
    rounding_residue_fen: Decimal
    batches: tuple[BatchRef, ...] = ()
    checkpoints: tuple[CheckpointRef, ...] = ()
    record_count: int = 0
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        check_text(self.period, "period", max_len=64)
        object.__setattr__(self, "period_start", utc(self.period_start, "period_start"))
        object.__setattr__(self, "period_end", utc(self.period_end, "period_end"))
        if len(self.regions) != 2 or list(self.regions) != sorted(set(self.regions)):
            raise StatementInputError("regions", "two different regions, sorted")
        for region in self.regions:
            check_region(region, "regions")
        expected = _derive(
            self.regions,
            lines=self.lines,
            adjustments=self.adjustments,
            disputed=self.disputed,
            batches=self.batches,
            checkpoints=self.checkpoints,
        )
        for name in (
            "lines",
            "adjustments",
            "disputed",
            "totals",
            "net_payer_region",
            "net_payee_region",
            "net_fen",
            "rounding_residue_fen",
            "batches",
            "checkpoints",
            "record_count",
        ):
            if getattr(self, name) != expected[name]:
                raise StatementInputError(name, "does not follow from the statement's lines")

    @classmethod
    def build(
        cls,
        span: PeriodSpan,
        regions: Sequence[str],
        *,
        lines: Iterable[StatementLine],
        adjustments: Iterable[StatementAdjustment] = (),
        disputed: Iterable[DisputeHold] = (),
        batches: Iterable[BatchRef] = (),
        checkpoints: Iterable[CheckpointRef] = (),
        currency: str = CURRENCY,
    ) -> StatementContent:
        """Sort the parts, derive totals, net, residue and record count, and build."""
        parts = _derive(
            regions,
            lines=lines,
            adjustments=adjustments,
            disputed=disputed,
            batches=batches,
            checkpoints=checkpoints,
        )
        a, b = sorted(regions)
        return cls(span.id, span.start, span.end, (a, b), currency=currency, **parts)

    @cached_property
    def body(self) -> bytes:
        """The canonical bytes both regions sign (``StatementContent`` wire format)."""
        c = self.currency
        w = ProtoWriter().string(1, self.period)
        w.message(2, encode_time_range(self.period_start, self.period_end))
        w.strings(3, self.regions).string(4, c)
        w.messages(5, (ln.encode(c) for ln in self.lines))
        w.messages(6, (x.encode(c) for x in self.adjustments))
        w.messages(7, (_encode_hold(h, c) for h in self.disputed))
        w.messages(8, (t.encode(c) for t in self.totals))
        w.string(9, self.net_payer_region).string(10, self.net_payee_region)
        w.message(11, encode_money(self.net_fen, c))
        w.string(12, format_fen(self.rounding_residue_fen))
        w.messages(13, (encode_batch_ref(x, c) for x in self.batches))
        w.messages(14, (encode_checkpoint(x) for x in self.checkpoints))
        w.int64(15, self.record_count)
        return w.finish()

    @cached_property
    def digest(self) -> bytes:
        """SHA-256 of :attr:`body` (``Statement.content_digest``)."""
        return hashlib.sha256(self.body).digest()

    def total(self, provider_region: str, consumer_region: str) -> DirectionTotal:
        for t in self.totals:
            if t.direction == (provider_region, consumer_region):
                return t
        raise SettlementValueError("direction", f"{provider_region}>{consumer_region}")

    @property
    def owed_to_first_fen(self) -> int:
        """Signed: what ``regions[1]`` owes ``regions[0]`` after everything."""
        return self.totals[0].net_fen - self.totals[1].net_fen


def _derive(
    regions: Sequence[str],
    *,
    lines: Iterable[StatementLine],
    adjustments: Iterable[StatementAdjustment],
    disputed: Iterable[DisputeHold],
    batches: Iterable[BatchRef],
    checkpoints: Iterable[CheckpointRef],
) -> dict[str, Any]:
    """The sorted parts and everything that follows from them (totals, net, residue)."""
    pair = tuple(sorted(regions))
    if len(pair) != 2 or pair[0] == pair[1]:
        raise StatementInputError("regions", "a statement is between two regions")
    a, b = pair
    directions = ((a, b), (b, a))
    line_t = tuple(sorted(lines, key=lambda line: line.key))
    adj_t = tuple(sorted(adjustments, key=lambda x: (x.entry.origin, x.entry.index)))
    hold_t = tuple(sorted(disputed, key=lambda h: h.dispute))
    batch_t = tuple(sorted(batches, key=lambda x: (x.provider_region, x.sequence)))
    cp_t = tuple(sorted(checkpoints, key=lambda c: c.origin))
    for i in range(1, len(line_t)):
        if line_t[i].key == line_t[i - 1].key:
            raise StatementInputError("lines", f"line {line_t[i].key} appears twice")
    for i in range(1, len(hold_t)):
        if hold_t[i].dispute == hold_t[i - 1].dispute:
            raise StatementInputError("disputed", f"{hold_t[i].dispute} held twice")
    for i in range(1, len(adj_t)):
        if adj_t[i].entry == adj_t[i - 1].entry:
            raise StatementInputError("adjustments", f"{adj_t[i].adjustment} listed twice")
    for i in range(1, len(batch_t)):
        if (batch_t[i].provider_region, batch_t[i].sequence) == (
            batch_t[i - 1].provider_region,
            batch_t[i - 1].sequence,
        ):
            raise StatementInputError("batches", f"{batch_t[i].batch} listed twice")
    for i in range(1, len(cp_t)):
        if cp_t[i].origin == cp_t[i - 1].origin:
            raise StatementInputError("checkpoints", f"two checkpoints of {cp_t[i].origin}")
    items: tuple[StatementLine | StatementAdjustment | DisputeHold | BatchRef, ...]
    items = (*line_t, *adj_t, *hold_t, *batch_t)
    for item in items:
        if (item.provider_region, item.consumer_region) not in directions:
            raise StatementInputError(
                "regions",
                f"{item.provider_region}>{item.consumer_region} is not between {a} and {b}",
            )
    totals = []
    for provider, consumer in directions:
        mine = [ln for ln in line_t if ln.provider_region == provider]
        gross = sum(ln.gross_fen for ln in mine)
        adj = sum(x.amount_delta_fen for x in adj_t if x.provider_region == provider)
        held = sum(h.amount_fen for h in hold_t if h.provider_region == provider)
        quantity = Quantity()
        for ln in mine:
            quantity = quantity + ln.quantity
        totals.append(
            DirectionTotal(
                provider,
                consumer,
                record_count=sum(ln.record_count for ln in mine),
                zero_priced_count=sum(ln.zero_priced_count for ln in mine),
                quantity=quantity,
                gross_fen=gross,
                adjustment_fen=adj,
                disputed_fen=held,
                net_fen=gross + adj - held,
            )
        )
        batches_here = [x for x in batch_t if x.provider_region == provider]
        if batches_here and (
            sum(x.record_count for x in batches_here) != totals[-1].record_count
            or sum(x.amount_fen for x in batches_here) != gross
        ):
            raise StatementInputError(
                "batches",
                f"batches {provider}>{consumer} do not cover the lines' records and amounts",
            )
    owed_to_a = totals[0].net_fen - totals[1].net_fen  # what b owes a, signed
    payer, payee = (b, a) if owed_to_a > 0 else (a, b) if owed_to_a < 0 else ("", "")
    residue = sum((ln.rounding_residue_fen for ln in line_t), Decimal(0)) + sum(
        (x.residue_fen for x in adj_t), Decimal(0)
    )
    parts: dict[str, Any] = {
        "lines": line_t,
        "adjustments": adj_t,
        "disputed": hold_t,
        "totals": (totals[0], totals[1]),
        "net_payer_region": payer,
        "net_payee_region": payee,
        "net_fen": abs(owed_to_a),
        "rounding_residue_fen": residue,
        "batches": batch_t,
        "checkpoints": cp_t,
        "record_count": totals[0].record_count + totals[1].record_count,
    }
    return parts


# --- computing ----------------------------------------------------------------------


def compute_statement(
    span: PeriodSpan,
    regions: Sequence[str],
    usage: UsageTable,
    *,
    adjustments: Iterable[Adjustment] = (),
    holds: Iterable[DisputeHold] = (),
    batches: Iterable[BatchRef] = (),
    checkpoints: Iterable[CheckpointRef] = (),
    currency: str = CURRENCY,
) -> StatementContent:
    """The statement of ``span`` between the two ``regions``.

    ``usage`` holds every usage record counting toward the period between the two
    regions, in either direction, with the PROVIDER's entries: records whose event
    time is in the period (``late`` false) and late records of earlier periods
    counted here (``late`` true). ``adjustments`` are those landing in the period;
    ``holds`` the open disputes' amounts; ``batches`` the usage batches of the
    period; ``checkpoints`` candidate signed checkpoints: per provider region with
    cited batches, the smallest that includes all its usage entries is kept
    (:func:`select_checkpoints`). Raises :class:`StatementInputError` when the inputs disagree.
    """
    pair = tuple(sorted(regions))
    if len(pair) != 2 or pair[0] == pair[1]:
        raise StatementInputError("regions", "a statement is between two regions")
    _check_usage(span, pair, usage)
    lines = _lines(usage)
    adj_list = list(adjustments)
    for adj in adj_list:
        if adj.period != span.id:
            raise StatementInputError("adjustments", f"{adj.name} lands in {adj.period}")
    statement_adjs = [StatementAdjustment.of(x) for x in adj_list]
    batch_list = list(batches)
    # What the checkpoints prove: every usage entry of each direction carried by the
    # cited batches is in the provider's ledger (the batches cover such a direction's
    # records exactly). Adjustments' entries and the consumer's countersignature
    # entries are not covered: no checkpoint both regions hold is known to include
    # them (each batch carries only a checkpoint of the provider's ledger taken at
    # sealing), so requiring them would make the two regions' statements differ.
    batched = {b.provider_region for b in batch_list}
    highest: dict[str, int] = {}
    if usage.num_rows and batched:
        top = usage.table.group_by("provider_region").aggregate([("entry_index", "max")])
        for region, index in zip(
            top["provider_region"].to_pylist(), top["entry_index_max"].to_pylist(), strict=True
        ):
            if region in batched:
                highest[log_origin(region)] = int(index)
    return StatementContent.build(
        span,
        pair,
        lines=lines,
        adjustments=statement_adjs,
        disputed=holds,
        batches=batch_list,
        checkpoints=select_checkpoints(list(checkpoints), highest),
        currency=currency,
    )


def select_checkpoints(
    candidates: Sequence[CheckpointRef], highest: Mapping[str, int]
) -> tuple[CheckpointRef, ...]:
    """Per ledger origin in ``highest`` (origin → highest entry index to cover), the
    candidate checkpoint with the smallest tree that includes that entry (ties by root
    hash, then signed note): a deterministic choice both regions make alike when
    offered the same checkpoints (the cited batches' own). Raises
    :class:`StatementInputError` when no candidate of an origin covers it. With no
    candidates at all, none (a draft)."""
    if not candidates:
        return ()
    chosen = []
    for origin, index in sorted(highest.items()):
        fits = [c for c in candidates if c.origin == origin and c.tree_size > index]
        if not fits:
            raise StatementInputError("checkpoints", f"no checkpoint of {origin} covers #{index}")
        chosen.append(min(fits, key=lambda c: (c.tree_size, c.root_hash, c.signed_note)))
    return tuple(chosen)


def _check_usage(span: PeriodSpan, pair: tuple[str, ...], usage: UsageTable) -> None:
    t = usage.table
    if t.num_rows == 0:
        return
    for name in ("provider_region", "consumer_region"):
        for region in pc.unique(t.column(name)).to_pylist():
            if region not in pair:
                raise StatementInputError(name, f"record of region {region} in {pair} statement")
    late = t.column("late") if "late" in t.column_names else None
    times = t.column("event_time")
    start = pa.scalar(span.start, pa.timestamp("us", tz="UTC"))
    end = pa.scalar(span.end, pa.timestamp("us", tz="UTC"))
    on_time = times if late is None else times.filter(pc.invert(pc.fill_null(late, False)))
    if len(on_time) and (
        pc.less(pc.min(on_time), start).as_py() or pc.greater_equal(pc.max(on_time), end).as_py()
    ):
        raise StatementInputError("event_time", f"a record outside period {span.id}")
    if late is not None:
        late_times = times.filter(pc.fill_null(late, False))
        if len(late_times) and pc.greater_equal(pc.max(late_times), start).as_py():
            raise StatementInputError("late", "a late record must belong to an earlier period")
    dupes = t.group_by(["provider_region", "entry_index"]).aggregate([("entry_index", "count")])
    if pc.max(dupes.column("entry_index_count")).as_py() > 1:
        raise StatementInputError("entry_index", "a usage entry is counted twice")


def _lines(usage: UsageTable) -> list[StatementLine]:
    t = usage.in_ledger_order().table
    if t.num_rows == 0:
        return []
    amount = t.column("amount_fen")
    cols: dict[str, Any] = {k: t.column(k) for k in LINE_KEYS}
    cols["leaf_hash"] = t.column("leaf_hash")
    for name in ("calls", "rows", "bytes", "amount_fen"):
        col = t.column(name)
        cols[name] = pc.cast(col, safe_sum_type(col))
    cols["zero"] = pc.cast(pc.equal(amount, 0), pa.int64())
    late = t.column("late") if "late" in t.column_names else None
    cols["late"] = (
        pc.cast(pc.fill_null(late, False), pa.int64())
        if late is not None
        else pa.nulls(t.num_rows, pa.int64()).fill_null(0)
    )
    aggs: list[tuple[str, str]] = [
        ("zero", "count"),
        ("zero", "sum"),
        ("late", "sum"),
        ("calls", "sum"),
        ("rows", "sum"),
        ("bytes", "sum"),
        ("amount_fen", "sum"),
        ("leaf_hash", "list"),
    ]
    has_exact = "exact_fen" in t.column_names
    if has_exact:
        exact = t.column("exact_fen")
        cols["exact"] = exact
        cols["rounded_known"] = pc.cast(
            pc.if_else(pc.is_valid(exact), amount, 0), pa.decimal128(38, 0)
        )
        aggs += [("exact", "sum"), ("rounded_known", "sum")]
    grouped = pa.table(cols).group_by(list(LINE_KEYS), use_threads=False).aggregate(aggs)
    roots = _roots(grouped.column("leaf_hash_list"))
    out = []
    data = grouped.drop_columns(["leaf_hash_list"]).to_pylist()
    for row, root in zip(data, roots, strict=True):
        residue = Decimal(0)
        if has_exact and row["exact_sum"] is not None:
            residue = row["exact_sum"] - row["rounded_known_sum"]
        out.append(
            StatementLine(
                provider_region=row["provider_region"],
                consumer_region=row["consumer_region"],
                product=row["product"],
                tariff=row["tariff"],
                purpose_class=PurposeClass(row["purpose_class"]),
                record_count=row["zero_count"],
                zero_priced_count=row["zero_sum"],
                quantity=Quantity(
                    int(row["calls_sum"]), int(row["rows_sum"]), int(row["bytes_sum"])
                ),
                gross_fen=check_fen(int(row["amount_fen_sum"]), "line.gross_fen"),
                rounding_residue_fen=residue.normalize() if residue else Decimal(0),
                entries_root=root,
                late_record_count=row["late_sum"],
            )
        )
    return out


def _roots(lists: pa.ChunkedArray) -> list[bytes]:
    roots: list[bytes] = []
    for chunk in lists.chunks:
        flat = pc.list_flatten(chunk)
        lengths = pc.list_value_length(chunk).to_pylist()
        buffer = flat.buffers()[1]
        base = flat.offset * HASH_SIZE
        data = buffer.to_pybytes()[base : base + len(flat) * HASH_SIZE] if buffer else b""
        pos = 0
        for n in lengths:
            size = (n or 0) * HASH_SIZE
            roots.append(entries_root(data[pos : pos + size]))
            pos += size
    return roots


# --- tracing ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineTrace:
    """The usage entries behind one statement line, in ledger order."""

    key: tuple[str, str, str, str, int]
    record_ids: tuple[str, ...]
    entries: tuple[EntryRef, ...]
    entries_root: bytes
    record_count: int
    gross_fen: int

    def check(self, line: StatementLine) -> None:
        """Raise :class:`StatementNotReproducibleError` unless the entries reproduce
        ``line``'s root, record count and gross amount."""
        for name, ours, theirs in (
            ("entries_root", self.entries_root.hex(), line.entries_root.hex()),
            ("record_count", self.record_count, line.record_count),
            ("gross_fen", self.gross_fen, line.gross_fen),
        ):
            if ours != theirs:
                raise StatementNotReproducibleError(
                    "line", f"{'/'.join(map(str, line.key))}.{name}: {ours} != {theirs}"
                )


def trace_line(line: StatementLine, usage: UsageTable) -> LineTrace:
    """The records of ``usage`` that make up ``line``: their ids and provider
    entries in ledger order, and the root and totals recomputed from them."""
    t = usage.table
    mask = None
    for name, value in zip(LINE_KEYS, line.key, strict=True):
        m = pc.equal(t.column(name), pa.scalar(value, t.schema.field(name).type))
        mask = m if mask is None else pc.and_(mask, m)
    rows = UsageTable(t.filter(mask), _checked=True).in_ledger_order().table
    hashes = rows.column("leaf_hash").to_pylist()
    indices = rows.column("entry_index").to_pylist()
    ids = (
        rows.column("record_id").to_pylist()
        if "record_id" in rows.column_names
        else [f"#{i}" for i in indices]
    )
    origin = log_origin(line.provider_region)
    return LineTrace(
        key=line.key,
        record_ids=tuple(ids),
        entries=tuple(EntryRef(origin, i, h) for i, h in zip(indices, hashes, strict=True)),
        entries_root=entries_root(b"".join(hashes)),
        record_count=rows.num_rows,
        gross_fen=int(pc.sum(rows.column("amount_fen")).as_py() or 0),
    )


def first_difference(ours: StatementContent, theirs: StatementContent) -> str | None:
    """The first field where two contents differ, as ``"lines[3].gross_fen: 1200 !=
    1250"``, or None when they are equal (what a refusal reports)."""
    return _diff("", ours, theirs)


def _diff(path: str, a: object, b: object) -> str | None:
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        for f in dataclasses.fields(a):
            found = _diff(
                f"{path}.{f.name}" if path else f.name, getattr(a, f.name), getattr(b, f.name)
            )
            if found:
                return found
        return None
    if isinstance(a, tuple) and isinstance(b, tuple):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = _diff(f"{path}[{i}]", x, y)
            if found:
                return found
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)} items"
        return None
    if a != b:
        show = (lambda v: v.hex()) if isinstance(a, bytes) else repr
        return f"{path}: {show(a)} != {show(b)}"
    return None


def check_reproduced(
    ours: StatementContent, their_body: bytes, theirs: StatementContent | None = None
) -> None:
    """Raise :class:`StatementNotReproducibleError` unless ``their_body`` is exactly
    our content's body; ``theirs`` (their body parsed at the edge) names the first
    difference."""
    if their_body == ours.body:
        return
    difference = first_difference(ours, theirs) if theirs is not None else None
    if difference is None:
        difference = (
            f"content digest {hashlib.sha256(their_body).hexdigest()} != {ours.digest.hex()}"
        )
    raise StatementNotReproducibleError(ours.period, difference)


# --- signatures ---------------------------------------------------------------------


@dataclass(frozen=True)
class RegionSignature:
    """A region key's detached signature over the statement's signed message
    (``bashu.common.v1.Signature`` without the informational sign time)."""

    signer_region: str
    key_name: str
    key_id: str
    signature: bytes

    def __post_init__(self) -> None:
        check_region(self.signer_region, "signature.signer_region")
        check_text(self.key_name, "signature.key_name")
        if len(self.key_id) != 8 or any(c not in "0123456789abcdef" for c in self.key_id):
            raise StatementSignatureError(self.signer_region, "key_id must be 8 hex digits")
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise StatementSignatureError(self.signer_region, "signature must be 64 bytes")


class StatementSigner(Protocol):
    """Signs a statement's signed message with one region's key."""

    def __call__(self, message: bytes) -> RegionSignature: ...


class StatementVerifier(Protocol):
    """True when ``signature`` is a valid signature of ``message`` by a key known for
    ``signature.signer_region`` (matched by key name and key id)."""

    def __call__(self, message: bytes, signature: RegionSignature) -> bool: ...


def signed_message(body: bytes) -> bytes:
    """``"bashu.exchange/statement/v1" ‖ 0x00 ‖ body``: what a region key signs."""
    return STATEMENT_CONTEXT.encode("ascii") + b"\x00" + body


def region_key_signer(region: str, key: NoteSigner) -> StatementSigner:
    """A :class:`StatementSigner` over a region's Ed25519 key (``ledger.note.Signer``)."""
    check_region(region)

    def sign(message: bytes) -> RegionSignature:
        return RegionSignature(region, key.name, key.key_id.hex(), key.sign(message))

    return sign


def region_key_verifier(keys: Mapping[str, Sequence[NoteVerifier]]) -> StatementVerifier:
    """A :class:`StatementVerifier` from region → its known public keys (current and
    retired: a rotated key keeps its name but not its id)."""

    def verify(message: bytes, signature: RegionSignature) -> bool:
        for key in keys.get(signature.signer_region, ()):
            if key.name == signature.key_name and key.key_id.hex() == signature.key_id:
                return key.verify(message, signature.signature)
        return False

    return verify


class StatementState(IntEnum):
    """``bashu.settlement.v1.StatementState`` (values are the wire numbers)."""

    UNSIGNED = 1
    PARTIALLY_SIGNED = 2
    SIGNED = 3
    REFUSED = 4


@dataclass(frozen=True)
class Statement:
    """A statement content with the signatures collected so far (at most one per
    region, sorted by region)."""

    content: StatementContent
    signatures: tuple[RegionSignature, ...] = ()
    refusal_reason: str = field(default="")

    def __post_init__(self) -> None:
        sigs = tuple(sorted(self.signatures, key=lambda s: s.signer_region))
        object.__setattr__(self, "signatures", sigs)
        regions = [s.signer_region for s in sigs]
        if len(set(regions)) != len(regions):
            raise StatementSignatureError(regions[0], "two signatures of one region")
        for region in regions:
            if region not in self.content.regions:
                raise StatementSignatureError(region, "is not a party to the statement")

    @property
    def body(self) -> bytes:
        return self.content.body

    @property
    def digest(self) -> bytes:
        return self.content.digest

    @property
    def state(self) -> StatementState:
        if self.refusal_reason:
            return StatementState.REFUSED
        if not self.signatures:
            return StatementState.UNSIGNED
        if len(self.signatures) < 2:
            return StatementState.PARTIALLY_SIGNED
        return StatementState.SIGNED

    def signed_by(self, region: str) -> bool:
        return any(s.signer_region == region for s in self.signatures)


def sign_statement(
    statement: Statement, signer: StatementSigner, *, reviewed_digest: bytes | None = None
) -> Statement:
    """Add this region's signature. ``reviewed_digest`` is the digest finance reviewed:
    if the content changed since, :class:`StatementDigestMismatchError`. Signing again
    is a no-op. The caller must have reproduced the content (:func:`check_reproduced`)."""
    if reviewed_digest is not None and reviewed_digest != statement.digest:
        raise StatementDigestMismatchError(reviewed_digest, statement.digest)
    signature = signer(signed_message(statement.body))
    if statement.signed_by(signature.signer_region):
        return statement
    return dataclasses.replace(statement, signatures=(*statement.signatures, signature))


def add_signature(
    statement: Statement, signature: RegionSignature, verifier: StatementVerifier
) -> Statement:
    """Add a (counterparty's) signature after verifying it over this content."""
    if signature.signer_region not in statement.content.regions:
        raise StatementSignatureError(signature.signer_region, "is not a party to the statement")
    if not verifier(signed_message(statement.body), signature):
        raise StatementSignatureError(signature.signer_region, "does not verify")
    if statement.signed_by(signature.signer_region):
        kept = tuple(s for s in statement.signatures if s.signer_region != signature.signer_region)
        return dataclasses.replace(statement, signatures=(*kept, signature))
    return dataclasses.replace(statement, signatures=(*statement.signatures, signature))


def verify_statement(
    statement: Statement, verifier: StatementVerifier, *, require_both: bool = True
) -> None:
    """Check every signature over the content's body (re-derived from the content, so
    any change to a figure breaks it); with ``require_both``, both regions' too."""
    message = signed_message(statement.body)
    for signature in statement.signatures:
        if not verifier(message, signature):
            raise StatementSignatureError(signature.signer_region, "does not verify")
    if require_both:
        for region in statement.content.regions:
            if not statement.signed_by(region):
                raise StatementSignatureError(region, "has not signed")

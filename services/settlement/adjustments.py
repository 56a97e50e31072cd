"""Corrections: reversal, adjustment, re-rating, dispute decision. History is never edited.

A correction is a new ledger entry (``AdjustmentPosted``) that cites the entry it
corrects and lands in the current open period, whatever period the corrected use
fell in. Its ``amount_delta_fen`` is the signed change of what the consumer region
owes the provider region::

    rev = reverse(record, name="regions/sc/adjustments/a1",
                  period="2026-12", reason="duplicate delivery")     # −amount, −quantity
    rev = rev.posted(entry_ref)                    # once the node has appended it
    rr = re_rate(record, tariff="regions/sc/products/p1/tariffs/3",
                 exact_fen=Decimal("118.25"), name=..., period=..., reason=...)
    check_correction(rr, existing_adjustments)     # EntryAlreadyReversedError if reversed

Re-rating follows the rounding rule: the new amount is the new exact amount rounded
half-up; the delta is new rounded − old rounded (integers); what rounding moved,
``exact delta − rounded delta``, is the adjustment's :attr:`Adjustment.residue_fen`,
shown as residue in the statement and never settled.

What this module does NOT do: it does not look entries up (the node checks that the
corrected entry exists: ``ENTRY_NOT_FOUND``), choose the landing period
(:func:`~services.settlement.periods.assign_period` with now as both times does),
or append anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import IntEnum

from services.settlement.errors import (
    EntryAlreadyReversedError,
    InvalidAdjustmentError,
    SettlementValueError,
)
from services.settlement.model import NO_QUANTITY, EntryRef, Quantity, check_region, check_text
from services.settlement.money import check_fen, round_half_up
from services.settlement.usage import UsageRecord

__all__ = [
    "MAX_REASON",
    "Adjustment",
    "AdjustmentKind",
    "adjust",
    "check_correction",
    "re_rate",
    "reverse",
]

MAX_REASON = 2000


class AdjustmentKind(IntEnum):
    """``bashu.settlement.v1.AdjustmentKind`` (values are the wire numbers)."""

    REVERSAL = 1
    ADJUSTMENT = 2
    RE_RATING = 3
    DISPUTE_DECISION = 4


@dataclass(frozen=True)
class Adjustment:
    """One posted correction (``bashu.settlement.v1.Adjustment``).

    ``corrects`` is the entry it corrects (required except for a dispute decision
    over a whole statement); ``entry`` the adjustment's own ``AdjustmentPosted``
    entry, unset until the node has appended it (:meth:`posted`), required in a
    statement.
    ``exact_delta_fen`` is the unrounded change when known (re-rating).
    """

    name: str
    kind: AdjustmentKind
    provider_region: str
    consumer_region: str
    amount_delta_fen: int
    period: str
    reason: str
    corrects: EntryRef | None = None
    entry: EntryRef | None = None
    usage_record: str = ""
    quantity_delta: Quantity = NO_QUANTITY
    tariff: str = ""
    dispute: str = ""
    exact_delta_fen: Decimal | None = None

    def __post_init__(self) -> None:
        try:
            self._validate()
        except InvalidAdjustmentError:
            raise
        except SettlementValueError as exc:
            raise InvalidAdjustmentError(exc.field, exc.description) from None

    def _validate(self) -> None:
        check_text(self.name, "name")
        try:
            object.__setattr__(self, "kind", AdjustmentKind(self.kind))
        except ValueError:
            raise InvalidAdjustmentError("kind", f"unknown kind {self.kind!r}") from None
        check_region(self.provider_region, "provider_region")
        check_region(self.consumer_region, "consumer_region")
        if self.provider_region == self.consumer_region:
            raise InvalidAdjustmentError("consumer_region", "must differ from provider_region")
        check_fen(self.amount_delta_fen, "amount_delta", allow_negative=True)
        check_text(self.period, "period", max_len=64)
        check_text(self.reason, "reason", max_len=MAX_REASON)
        check_text(self.usage_record, "usage_record", empty=True)
        check_text(self.tariff, "tariff", empty=True)
        check_text(self.dispute, "dispute", empty=True)
        if self.corrects is None and self.kind is not AdjustmentKind.DISPUTE_DECISION:
            raise InvalidAdjustmentError("corrects", "must cite the entry it corrects")
        if self.corrects is not None and self.entry is not None and self.corrects == self.entry:
            raise InvalidAdjustmentError("corrects", "an entry cannot correct itself")
        if self.kind is AdjustmentKind.REVERSAL and (
            self.amount_delta_fen > 0
            or max(self.quantity_delta.calls, self.quantity_delta.rows, self.quantity_delta.bytes)
            > 0
        ):
            raise InvalidAdjustmentError("amount_delta", "a reversal only takes away")
        if self.kind is AdjustmentKind.RE_RATING and not self.tariff:
            raise InvalidAdjustmentError("tariff", "a re-rating names the tariff applied")
        if self.kind is AdjustmentKind.DISPUTE_DECISION and not self.dispute:
            raise InvalidAdjustmentError("dispute", "a dispute decision names the dispute")
        if self.exact_delta_fen is not None and not self.exact_delta_fen.is_finite():
            raise InvalidAdjustmentError("exact_delta_fen", "must be finite")

    def posted(self, entry: EntryRef) -> Adjustment:
        """This adjustment once appended at ``entry``."""
        return replace(self, entry=entry)

    @property
    def residue_fen(self) -> Decimal:
        """What rounding moved in this correction (0 when the exact delta is unknown)."""
        if self.exact_delta_fen is None:
            return Decimal(0)
        return self.exact_delta_fen - self.amount_delta_fen


def reverse(record: UsageRecord, *, name: str, period: str, reason: str) -> Adjustment:
    """Cancel ``record`` entirely: −amount, −quantities."""
    return Adjustment(
        name=name,
        kind=AdjustmentKind.REVERSAL,
        provider_region=record.provider_region,
        consumer_region=record.consumer_region,
        amount_delta_fen=-record.amount_fen,
        period=period,
        reason=reason,
        corrects=record.entry,
        usage_record=record.record_id,
        quantity_delta=-record.quantity,
        exact_delta_fen=None if record.exact_fen is None else -record.exact_fen,
    )


def re_rate(
    record: UsageRecord,
    *,
    tariff: str,
    exact_fen: Decimal,
    name: str,
    period: str,
    reason: str,
) -> Adjustment:
    """Re-price ``record`` at ``tariff`` whose exact amount for the use is ``exact_fen``."""
    if not exact_fen.is_finite() or exact_fen < 0:
        raise InvalidAdjustmentError("exact_fen", "must be a finite, non-negative amount")
    old_exact = record.exact_fen if record.exact_fen is not None else Decimal(record.amount_fen)
    return Adjustment(
        name=name,
        kind=AdjustmentKind.RE_RATING,
        provider_region=record.provider_region,
        consumer_region=record.consumer_region,
        amount_delta_fen=round_half_up(exact_fen) - record.amount_fen,
        period=period,
        reason=reason,
        corrects=record.entry,
        usage_record=record.record_id,
        tariff=tariff,
        exact_delta_fen=exact_fen - old_exact,
    )


def adjust(
    corrects: EntryRef,
    *,
    provider_region: str,
    consumer_region: str,
    amount_delta_fen: int,
    name: str,
    period: str,
    reason: str,
    quantity_delta: Quantity = NO_QUANTITY,
    usage_record: str = "",
) -> Adjustment:
    """A signed delta of amount and/or quantities, decided by finance."""
    return Adjustment(
        name=name,
        kind=AdjustmentKind.ADJUSTMENT,
        provider_region=provider_region,
        consumer_region=consumer_region,
        amount_delta_fen=amount_delta_fen,
        period=period,
        reason=reason,
        corrects=corrects,
        usage_record=usage_record,
        quantity_delta=quantity_delta,
    )


def check_correction(new: Adjustment, existing: Iterable[Adjustment]) -> None:
    """Refuse a correction of an entry an earlier reversal already cancelled
    (``ENTRY_ALREADY_REVERSED``), and a second posting of the same adjustment entry."""
    for old in existing:
        if old.name == new.name or (old.entry is not None and old.entry == new.entry):
            raise InvalidAdjustmentError("name", f"{old.name} is already posted")
        if (
            old.kind is AdjustmentKind.REVERSAL
            and new.corrects is not None
            and old.corrects == new.corrects
        ):
            raise EntryAlreadyReversedError(str(new.corrects), old.name)

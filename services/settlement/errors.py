"""The settlement domain's errors, in one place.

Every error subclasses the node's error tree (:mod:`services.errors`), so the one
interceptor maps it to a gRPC status through ``STATUS_TABLE`` with the published
``ErrorReason`` name as ``reason``; nothing here chooses a status code. Errors carry
the facts as fields (``PeriodNotEndedError.period``, ``.end``, ``.now``), not only
text::

    try:
        close_period(period, clock=clock, actor="regions/sc/parties/fin")
    except PeriodNotEndedError as exc:
        print(exc.period, exc.end)

Tree (reason in brackets)::

    InvalidArgumentError
      SettlementValueError [INVALID_ARGUMENT]     a value fails validation on construction
        InvalidPeriodError [INVALID_PERIOD]
        InvalidAdjustmentError [INVALID_ADJUSTMENT]
        InvalidDisputeError [INVALID_DISPUTE]
        EvidenceTooLargeError [EVIDENCE_TOO_LARGE]
        StatementInputError [INVALID_ARGUMENT]    inputs of a statement disagree
      StatementSignatureError [SIGNATURE_INVALID]
    FailedPreconditionError
      InvalidStateTransitionError [INVALID_STATE_TRANSITION]
      PeriodNotEndedError [PERIOD_NOT_ENDED]
      PeriodNotClosedError [PERIOD_NOT_CLOSED]
      NoOpenPeriodError [NO_OPEN_PERIOD]
      StatementNotReproducibleError [STATEMENT_NOT_REPRODUCIBLE]
      StatementNotSignedError [STATEMENT_NOT_SIGNED]
      EntryAlreadyReversedError [ENTRY_ALREADY_REVERSED]
      DisputeDeadlinePassedError [DISPUTE_DEADLINE_PASSED]
    PermissionDeniedError
      NotDisputePartyError [NOT_DISPUTE_PARTY]
    AbortedError
      StatementDigestMismatchError [STATEMENT_DIGEST_MISMATCH]
    BashuError
      NettingNotConservedError [INTERNAL]         a bug: money was created or lost
"""

from __future__ import annotations

from datetime import datetime

from services.errors import (
    AbortedError,
    BashuError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    PermissionDeniedError,
)

__all__ = [
    "DisputeDeadlinePassedError",
    "EntryAlreadyReversedError",
    "EvidenceTooLargeError",
    "InvalidAdjustmentError",
    "InvalidDisputeError",
    "InvalidPeriodError",
    "InvalidStateTransitionError",
    "NettingNotConservedError",
    "NoOpenPeriodError",
    "NotDisputePartyError",
    "PeriodNotClosedError",
    "PeriodNotEndedError",
    "SettlementValueError",
    "StatementDigestMismatchError",
    "StatementInputError",
    "StatementNotReproducibleError",
    "StatementNotSignedError",
    "StatementSignatureError",
]


class SettlementValueError(InvalidArgumentError):
    """A settlement value is malformed; ``field`` names it (dotted path)."""

    default_reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, description: str) -> None:
        super().__init__([FieldViolation(field, description)], reason=self.default_reason)
        self.field = field
        self.description = description


class InvalidPeriodError(SettlementValueError):
    """A period id, cadence or time range is malformed."""

    default_reason = "INVALID_PERIOD"


class InvalidAdjustmentError(SettlementValueError):
    """An adjustment is malformed (BadRequest)."""

    default_reason = "INVALID_ADJUSTMENT"


class InvalidDisputeError(SettlementValueError):
    """A dispute or its decision is malformed (BadRequest)."""

    default_reason = "INVALID_DISPUTE"


class EvidenceTooLargeError(SettlementValueError):
    """An evidence document is over the size limit."""

    default_reason = "EVIDENCE_TOO_LARGE"

    def __init__(self, field: str, size: int, limit: int) -> None:
        super().__init__(field, f"{size} bytes, limit {limit}")
        self.size = size
        self.limit = limit


class StatementInputError(SettlementValueError):
    """The records, adjustments, holds or batches given to a statement disagree
    (a record of another region pair, an entry counted twice, batches whose control
    totals do not cover the lines, ...)."""


class StatementSignatureError(InvalidArgumentError):
    """A statement signature does not verify, names an unexpected region, or is
    missing where both are required."""

    def __init__(self, region: str, detail: str) -> None:
        super().__init__(
            [FieldViolation("signatures", f"{region}: {detail}")], reason="SIGNATURE_INVALID"
        )
        self.region = region
        self.detail = detail


class InvalidStateTransitionError(FailedPreconditionError):
    """An action is not allowed in the resource's current state."""

    def __init__(self, resource: str, state: str, action: str) -> None:
        super().__init__(
            f"{resource}: cannot {action} in state {state}",
            reason="INVALID_STATE_TRANSITION",
            metadata={"resource": resource, "state": state, "action": action},
        )
        self.resource = resource
        self.state = state
        self.action = action


class PeriodNotEndedError(FailedPreconditionError):
    """A period cannot start closing before its end time."""

    def __init__(self, period: str, end: datetime, now: datetime) -> None:
        super().__init__(
            f"period {period} ends at {end.isoformat()}, now {now.isoformat()}",
            reason="PERIOD_NOT_ENDED",
            metadata={"period": period, "end_time": end.isoformat()},
        )
        self.period = period
        self.end = end
        self.now = now


class PeriodNotClosedError(FailedPreconditionError):
    """A statement was asked of a period that is not CLOSED."""

    def __init__(self, period: str, state: str) -> None:
        super().__init__(
            f"period {period} is {state}, not CLOSED",
            reason="PERIOD_NOT_CLOSED",
            metadata={"period": period, "state": state},
        )
        self.period = period
        self.state = state


class NoOpenPeriodError(FailedPreconditionError):
    """A correction or late record has no open period to land in."""

    def __init__(self, after: str) -> None:
        super().__init__(
            f"no open period after {after}", reason="NO_OPEN_PERIOD", metadata={"after": after}
        )
        self.after = after


class StatementNotReproducibleError(FailedPreconditionError):
    """This node computes different statement content from its own ledger."""

    def __init__(self, period: str, difference: str) -> None:
        super().__init__(
            f"statement of {period} not reproducible: {difference}",
            reason="STATEMENT_NOT_REPRODUCIBLE",
            metadata={"period": period, "difference": difference},
        )
        self.period = period
        self.difference = difference


class StatementNotSignedError(FailedPreconditionError):
    """A statement needed (for netting) is not signed by both regions."""

    def __init__(self, statement: str) -> None:
        super().__init__(
            f"statement {statement} is not signed by both regions",
            reason="STATEMENT_NOT_SIGNED",
            metadata={"statement": statement},
        )
        self.statement = statement


class StatementDigestMismatchError(AbortedError):
    """The statement changed since the signer reviewed its digest."""

    def __init__(self, expected: bytes, actual: bytes) -> None:
        super().__init__(
            f"statement digest is {actual.hex()}, reviewed {expected.hex()}",
            reason="STATEMENT_DIGEST_MISMATCH",
            metadata={"content_digest": actual.hex()},
        )
        self.expected = expected
        self.actual = actual


class EntryAlreadyReversedError(FailedPreconditionError):
    """A reversal cites an entry that an earlier reversal already cancelled."""

    def __init__(self, entry: str, reversal: str) -> None:
        super().__init__(
            f"entry {entry} already reversed by {reversal}",
            reason="ENTRY_ALREADY_REVERSED",
            metadata={"entry": entry, "reversal": reversal},
        )
        self.entry = entry
        self.reversal = reversal


class DisputeDeadlinePassedError(FailedPreconditionError):
    """A dispute step came after its stage's deadline."""

    def __init__(self, dispute: str, stage: str, deadline: datetime, now: datetime) -> None:
        super().__init__(
            f"{dispute}: {stage} deadline {deadline.isoformat()} passed",
            reason="DISPUTE_DEADLINE_PASSED",
            metadata={"dispute": dispute, "stage": stage, "deadline": deadline.isoformat()},
        )
        self.dispute = dispute
        self.stage = stage
        self.deadline = deadline
        self.now = now


class NotDisputePartyError(PermissionDeniedError):
    """The acting region is not the one that must act at this step."""

    def __init__(self, dispute: str, region: str, expected: str) -> None:
        super().__init__(
            f"{dispute}: region {region} cannot act, {expected} must",
            reason="NOT_DISPUTE_PARTY",
            metadata={"dispute": dispute, "region": region, "expected": expected},
        )
        self.dispute = dispute
        self.region = region
        self.expected = expected


class NettingNotConservedError(BashuError):
    """Netting produced positions that do not sum to zero: a bug, never expected."""

    def __init__(self, total: int) -> None:
        super().__init__(f"netting positions sum to {total}, not 0")
        self.total = total

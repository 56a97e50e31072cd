import datetime

from bashu.common.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PeriodState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERIOD_STATE_UNSPECIFIED: _ClassVar[PeriodState]
    PERIOD_STATE_OPEN: _ClassVar[PeriodState]
    PERIOD_STATE_CLOSING: _ClassVar[PeriodState]
    PERIOD_STATE_CLOSED: _ClassVar[PeriodState]

class AdjustmentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADJUSTMENT_KIND_UNSPECIFIED: _ClassVar[AdjustmentKind]
    ADJUSTMENT_KIND_REVERSAL: _ClassVar[AdjustmentKind]
    ADJUSTMENT_KIND_ADJUSTMENT: _ClassVar[AdjustmentKind]
    ADJUSTMENT_KIND_RE_RATING: _ClassVar[AdjustmentKind]
    ADJUSTMENT_KIND_DISPUTE_DECISION: _ClassVar[AdjustmentKind]

class StatementState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATEMENT_STATE_UNSPECIFIED: _ClassVar[StatementState]
    STATEMENT_STATE_UNSIGNED: _ClassVar[StatementState]
    STATEMENT_STATE_PARTIALLY_SIGNED: _ClassVar[StatementState]
    STATEMENT_STATE_SIGNED: _ClassVar[StatementState]
    STATEMENT_STATE_REFUSED: _ClassVar[StatementState]

class NettingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NETTING_MODE_UNSPECIFIED: _ClassVar[NettingMode]
    NETTING_MODE_BILATERAL: _ClassVar[NettingMode]
    NETTING_MODE_MULTILATERAL: _ClassVar[NettingMode]

class DisputeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPUTE_STATE_UNSPECIFIED: _ClassVar[DisputeState]
    DISPUTE_STATE_RAISED: _ClassVar[DisputeState]
    DISPUTE_STATE_EVIDENCE: _ClassVar[DisputeState]
    DISPUTE_STATE_RESPONDED: _ClassVar[DisputeState]
    DISPUTE_STATE_DECIDED: _ClassVar[DisputeState]

class DisputeEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPUTE_EVENT_KIND_UNSPECIFIED: _ClassVar[DisputeEventKind]
    DISPUTE_EVENT_KIND_RAISED: _ClassVar[DisputeEventKind]
    DISPUTE_EVENT_KIND_EVIDENCE_ADDED: _ClassVar[DisputeEventKind]
    DISPUTE_EVENT_KIND_RESPONDED: _ClassVar[DisputeEventKind]
    DISPUTE_EVENT_KIND_DEADLINE_MISSED: _ClassVar[DisputeEventKind]
    DISPUTE_EVENT_KIND_DECIDED: _ClassVar[DisputeEventKind]

class DisputeOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPUTE_OUTCOME_UNSPECIFIED: _ClassVar[DisputeOutcome]
    DISPUTE_OUTCOME_UPHELD: _ClassVar[DisputeOutcome]
    DISPUTE_OUTCOME_REJECTED: _ClassVar[DisputeOutcome]
    DISPUTE_OUTCOME_PARTIAL: _ClassVar[DisputeOutcome]

class ReconciliationTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECONCILIATION_TIER_UNSPECIFIED: _ClassVar[ReconciliationTier]
    RECONCILIATION_TIER_STATEMENT_TOTALS: _ClassVar[ReconciliationTier]
    RECONCILIATION_TIER_PRODUCT_DAY: _ClassVar[ReconciliationTier]
    RECONCILIATION_TIER_RECORD: _ClassVar[ReconciliationTier]

class MatchStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MATCH_STATUS_UNSPECIFIED: _ClassVar[MatchStatus]
    MATCH_STATUS_MATCHED: _ClassVar[MatchStatus]
    MATCH_STATUS_WITHIN_TOLERANCE: _ClassVar[MatchStatus]
    MATCH_STATUS_MISMATCHED: _ClassVar[MatchStatus]
    MATCH_STATUS_OURS_ONLY: _ClassVar[MatchStatus]
    MATCH_STATUS_THEIRS_ONLY: _ClassVar[MatchStatus]
PERIOD_STATE_UNSPECIFIED: PeriodState
PERIOD_STATE_OPEN: PeriodState
PERIOD_STATE_CLOSING: PeriodState
PERIOD_STATE_CLOSED: PeriodState
ADJUSTMENT_KIND_UNSPECIFIED: AdjustmentKind
ADJUSTMENT_KIND_REVERSAL: AdjustmentKind
ADJUSTMENT_KIND_ADJUSTMENT: AdjustmentKind
ADJUSTMENT_KIND_RE_RATING: AdjustmentKind
ADJUSTMENT_KIND_DISPUTE_DECISION: AdjustmentKind
STATEMENT_STATE_UNSPECIFIED: StatementState
STATEMENT_STATE_UNSIGNED: StatementState
STATEMENT_STATE_PARTIALLY_SIGNED: StatementState
STATEMENT_STATE_SIGNED: StatementState
STATEMENT_STATE_REFUSED: StatementState
NETTING_MODE_UNSPECIFIED: NettingMode
NETTING_MODE_BILATERAL: NettingMode
NETTING_MODE_MULTILATERAL: NettingMode
DISPUTE_STATE_UNSPECIFIED: DisputeState
DISPUTE_STATE_RAISED: DisputeState
DISPUTE_STATE_EVIDENCE: DisputeState
DISPUTE_STATE_RESPONDED: DisputeState
DISPUTE_STATE_DECIDED: DisputeState
DISPUTE_EVENT_KIND_UNSPECIFIED: DisputeEventKind
DISPUTE_EVENT_KIND_RAISED: DisputeEventKind
DISPUTE_EVENT_KIND_EVIDENCE_ADDED: DisputeEventKind
DISPUTE_EVENT_KIND_RESPONDED: DisputeEventKind
DISPUTE_EVENT_KIND_DEADLINE_MISSED: DisputeEventKind
DISPUTE_EVENT_KIND_DECIDED: DisputeEventKind
DISPUTE_OUTCOME_UNSPECIFIED: DisputeOutcome
DISPUTE_OUTCOME_UPHELD: DisputeOutcome
DISPUTE_OUTCOME_REJECTED: DisputeOutcome
DISPUTE_OUTCOME_PARTIAL: DisputeOutcome
RECONCILIATION_TIER_UNSPECIFIED: ReconciliationTier
RECONCILIATION_TIER_STATEMENT_TOTALS: ReconciliationTier
RECONCILIATION_TIER_PRODUCT_DAY: ReconciliationTier
RECONCILIATION_TIER_RECORD: ReconciliationTier
MATCH_STATUS_UNSPECIFIED: MatchStatus
MATCH_STATUS_MATCHED: MatchStatus
MATCH_STATUS_WITHIN_TOLERANCE: MatchStatus
MATCH_STATUS_MISMATCHED: MatchStatus
MATCH_STATUS_OURS_ONLY: MatchStatus
MATCH_STATUS_THEIRS_ONLY: MatchStatus

class Period(_message.Message):
    __slots__ = ("name", "time_range", "state", "counterparties", "grace_window", "closing_time", "grace_end_time", "close_time", "closer", "late_record_count", "ledger_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTIES_FIELD_NUMBER: _ClassVar[int]
    GRACE_WINDOW_FIELD_NUMBER: _ClassVar[int]
    CLOSING_TIME_FIELD_NUMBER: _ClassVar[int]
    GRACE_END_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSER_FIELD_NUMBER: _ClassVar[int]
    LATE_RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    time_range: _common_pb2.TimeRange
    state: PeriodState
    counterparties: _containers.RepeatedScalarFieldContainer[str]
    grace_window: _duration_pb2.Duration
    closing_time: _timestamp_pb2.Timestamp
    grace_end_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    closer: str
    late_record_count: int
    ledger_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., time_range: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., state: _Optional[_Union[PeriodState, str]] = ..., counterparties: _Optional[_Iterable[str]] = ..., grace_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., closing_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., grace_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closer: _Optional[str] = ..., late_record_count: _Optional[int] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class BatchRef(_message.Message):
    __slots__ = ("batch", "provider_region", "consumer_region", "sequence", "record_count", "amount", "merkle_root", "batch_digest", "provider_entry", "consumer_entry")
    BATCH_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MERKLE_ROOT_FIELD_NUMBER: _ClassVar[int]
    BATCH_DIGEST_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    batch: str
    provider_region: str
    consumer_region: str
    sequence: int
    record_count: int
    amount: _common_pb2.Money
    merkle_root: bytes
    batch_digest: bytes
    provider_entry: _common_pb2.EntryRef
    consumer_entry: _common_pb2.EntryRef
    def __init__(self, batch: _Optional[str] = ..., provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., sequence: _Optional[int] = ..., record_count: _Optional[int] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., merkle_root: _Optional[bytes] = ..., batch_digest: _Optional[bytes] = ..., provider_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ..., consumer_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class StatementLine(_message.Message):
    __slots__ = ("provider_region", "consumer_region", "product", "tariff", "purpose_class", "record_count", "zero_priced_count", "quantity", "gross_amount", "rounding_residue_fen", "entries_root", "late_record_count")
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_CLASS_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    ZERO_PRICED_COUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    GROSS_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_RESIDUE_FEN_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_ROOT_FIELD_NUMBER: _ClassVar[int]
    LATE_RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    provider_region: str
    consumer_region: str
    product: str
    tariff: str
    purpose_class: _common_pb2.PurposeClass
    record_count: int
    zero_priced_count: int
    quantity: _common_pb2.Quantity
    gross_amount: _common_pb2.Money
    rounding_residue_fen: str
    entries_root: bytes
    late_record_count: int
    def __init__(self, provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., product: _Optional[str] = ..., tariff: _Optional[str] = ..., purpose_class: _Optional[_Union[_common_pb2.PurposeClass, str]] = ..., record_count: _Optional[int] = ..., zero_priced_count: _Optional[int] = ..., quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., gross_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., rounding_residue_fen: _Optional[str] = ..., entries_root: _Optional[bytes] = ..., late_record_count: _Optional[int] = ...) -> None: ...

class Adjustment(_message.Message):
    __slots__ = ("name", "kind", "corrects", "usage_record", "provider_region", "consumer_region", "amount_delta", "quantity_delta", "tariff", "dispute", "reason", "period", "creator", "create_time", "ledger_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CORRECTS_FIELD_NUMBER: _ClassVar[int]
    USAGE_RECORD_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DELTA_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_DELTA_FIELD_NUMBER: _ClassVar[int]
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: AdjustmentKind
    corrects: _common_pb2.EntryRef
    usage_record: str
    provider_region: str
    consumer_region: str
    amount_delta: _common_pb2.Money
    quantity_delta: _common_pb2.Quantity
    tariff: str
    dispute: str
    reason: str
    period: str
    creator: str
    create_time: _timestamp_pb2.Timestamp
    ledger_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[AdjustmentKind, str]] = ..., corrects: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ..., usage_record: _Optional[str] = ..., provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., amount_delta: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., quantity_delta: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., tariff: _Optional[str] = ..., dispute: _Optional[str] = ..., reason: _Optional[str] = ..., period: _Optional[str] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class StatementAdjustment(_message.Message):
    __slots__ = ("adjustment", "kind", "provider_region", "consumer_region", "amount_delta", "entry", "corrects")
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DELTA_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    CORRECTS_FIELD_NUMBER: _ClassVar[int]
    adjustment: str
    kind: AdjustmentKind
    provider_region: str
    consumer_region: str
    amount_delta: _common_pb2.Money
    entry: _common_pb2.EntryRef
    corrects: _common_pb2.EntryRef
    def __init__(self, adjustment: _Optional[str] = ..., kind: _Optional[_Union[AdjustmentKind, str]] = ..., provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., amount_delta: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ..., corrects: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class DisputeHold(_message.Message):
    __slots__ = ("dispute", "provider_region", "consumer_region", "amount")
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    dispute: str
    provider_region: str
    consumer_region: str
    amount: _common_pb2.Money
    def __init__(self, dispute: _Optional[str] = ..., provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class DirectionTotal(_message.Message):
    __slots__ = ("provider_region", "consumer_region", "record_count", "zero_priced_count", "quantity", "gross_amount", "adjustment_amount", "disputed_amount", "net_amount")
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    ZERO_PRICED_COUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    GROSS_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NET_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    provider_region: str
    consumer_region: str
    record_count: int
    zero_priced_count: int
    quantity: _common_pb2.Quantity
    gross_amount: _common_pb2.Money
    adjustment_amount: _common_pb2.Money
    disputed_amount: _common_pb2.Money
    net_amount: _common_pb2.Money
    def __init__(self, provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., record_count: _Optional[int] = ..., zero_priced_count: _Optional[int] = ..., quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., gross_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., adjustment_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., disputed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., net_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class StatementContent(_message.Message):
    __slots__ = ("period", "period_range", "regions", "currency_code", "lines", "adjustments", "disputed", "totals", "net_payer_region", "net_payee_region", "net_amount", "rounding_residue_fen", "batches", "checkpoints", "record_count")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PERIOD_RANGE_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENTS_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    NET_PAYER_REGION_FIELD_NUMBER: _ClassVar[int]
    NET_PAYEE_REGION_FIELD_NUMBER: _ClassVar[int]
    NET_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_RESIDUE_FEN_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    period: str
    period_range: _common_pb2.TimeRange
    regions: _containers.RepeatedScalarFieldContainer[str]
    currency_code: str
    lines: _containers.RepeatedCompositeFieldContainer[StatementLine]
    adjustments: _containers.RepeatedCompositeFieldContainer[StatementAdjustment]
    disputed: _containers.RepeatedCompositeFieldContainer[DisputeHold]
    totals: _containers.RepeatedCompositeFieldContainer[DirectionTotal]
    net_payer_region: str
    net_payee_region: str
    net_amount: _common_pb2.Money
    rounding_residue_fen: str
    batches: _containers.RepeatedCompositeFieldContainer[BatchRef]
    checkpoints: _containers.RepeatedCompositeFieldContainer[_common_pb2.Checkpoint]
    record_count: int
    def __init__(self, period: _Optional[str] = ..., period_range: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., regions: _Optional[_Iterable[str]] = ..., currency_code: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[StatementLine, _Mapping]]] = ..., adjustments: _Optional[_Iterable[_Union[StatementAdjustment, _Mapping]]] = ..., disputed: _Optional[_Iterable[_Union[DisputeHold, _Mapping]]] = ..., totals: _Optional[_Iterable[_Union[DirectionTotal, _Mapping]]] = ..., net_payer_region: _Optional[str] = ..., net_payee_region: _Optional[str] = ..., net_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., rounding_residue_fen: _Optional[str] = ..., batches: _Optional[_Iterable[_Union[BatchRef, _Mapping]]] = ..., checkpoints: _Optional[_Iterable[_Union[_common_pb2.Checkpoint, _Mapping]]] = ..., record_count: _Optional[int] = ...) -> None: ...

class Statement(_message.Message):
    __slots__ = ("name", "counterparty", "content", "content_body", "content_digest", "signatures", "state", "refusal_reason", "create_time", "update_time", "ledger_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BODY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    counterparty: str
    content: StatementContent
    content_body: bytes
    content_digest: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[_common_pb2.Signature]
    state: StatementState
    refusal_reason: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    ledger_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., counterparty: _Optional[str] = ..., content: _Optional[_Union[StatementContent, _Mapping]] = ..., content_body: _Optional[bytes] = ..., content_digest: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[_common_pb2.Signature, _Mapping]]] = ..., state: _Optional[_Union[StatementState, str]] = ..., refusal_reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class Obligation(_message.Message):
    __slots__ = ("payer_region", "payee_region", "amount", "statement_digest")
    PAYER_REGION_FIELD_NUMBER: _ClassVar[int]
    PAYEE_REGION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    payer_region: str
    payee_region: str
    amount: _common_pb2.Money
    statement_digest: str
    def __init__(self, payer_region: _Optional[str] = ..., payee_region: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., statement_digest: _Optional[str] = ...) -> None: ...

class RegionPosition(_message.Message):
    __slots__ = ("region", "receivable", "payable", "net")
    REGION_FIELD_NUMBER: _ClassVar[int]
    RECEIVABLE_FIELD_NUMBER: _ClassVar[int]
    PAYABLE_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    region: str
    receivable: _common_pb2.Money
    payable: _common_pb2.Money
    net: _common_pb2.Money
    def __init__(self, region: _Optional[str] = ..., receivable: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., payable: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., net: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class NettingStep(_message.Message):
    __slots__ = ("step", "description", "obligations", "positions")
    STEP_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OBLIGATIONS_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    step: int
    description: str
    obligations: _containers.RepeatedCompositeFieldContainer[Obligation]
    positions: _containers.RepeatedCompositeFieldContainer[RegionPosition]
    def __init__(self, step: _Optional[int] = ..., description: _Optional[str] = ..., obligations: _Optional[_Iterable[_Union[Obligation, _Mapping]]] = ..., positions: _Optional[_Iterable[_Union[RegionPosition, _Mapping]]] = ...) -> None: ...

class Netting(_message.Message):
    __slots__ = ("period", "mode", "regions", "currency_code", "gross_obligations", "positions", "transfers", "steps", "conserved", "all_statements_signed", "compute_time")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    GROSS_OBLIGATIONS_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    CONSERVED_FIELD_NUMBER: _ClassVar[int]
    ALL_STATEMENTS_SIGNED_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    period: str
    mode: NettingMode
    regions: _containers.RepeatedScalarFieldContainer[str]
    currency_code: str
    gross_obligations: _containers.RepeatedCompositeFieldContainer[Obligation]
    positions: _containers.RepeatedCompositeFieldContainer[RegionPosition]
    transfers: _containers.RepeatedCompositeFieldContainer[Obligation]
    steps: _containers.RepeatedCompositeFieldContainer[NettingStep]
    conserved: bool
    all_statements_signed: bool
    compute_time: _timestamp_pb2.Timestamp
    def __init__(self, period: _Optional[str] = ..., mode: _Optional[_Union[NettingMode, str]] = ..., regions: _Optional[_Iterable[str]] = ..., currency_code: _Optional[str] = ..., gross_obligations: _Optional[_Iterable[_Union[Obligation, _Mapping]]] = ..., positions: _Optional[_Iterable[_Union[RegionPosition, _Mapping]]] = ..., transfers: _Optional[_Iterable[_Union[Obligation, _Mapping]]] = ..., steps: _Optional[_Iterable[_Union[NettingStep, _Mapping]]] = ..., conserved: _Optional[bool] = ..., all_statements_signed: _Optional[bool] = ..., compute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("description", "media_type", "content", "content_digest", "entries", "submitter", "submit_time")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    description: str
    media_type: str
    content: bytes
    content_digest: bytes
    entries: _containers.RepeatedCompositeFieldContainer[_common_pb2.EntryRef]
    submitter: str
    submit_time: _timestamp_pb2.Timestamp
    def __init__(self, description: _Optional[str] = ..., media_type: _Optional[str] = ..., content: _Optional[bytes] = ..., content_digest: _Optional[bytes] = ..., entries: _Optional[_Iterable[_Union[_common_pb2.EntryRef, _Mapping]]] = ..., submitter: _Optional[str] = ..., submit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DisputeEvent(_message.Message):
    __slots__ = ("kind", "actor", "actor_region", "time", "text", "evidence")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_REGION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    kind: DisputeEventKind
    actor: str
    actor_region: str
    time: _timestamp_pb2.Timestamp
    text: str
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    def __init__(self, kind: _Optional[_Union[DisputeEventKind, str]] = ..., actor: _Optional[str] = ..., actor_region: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., text: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ...) -> None: ...

class DisputeDecision(_message.Message):
    __slots__ = ("outcome", "awarded_amount", "rationale", "adjustment", "decider", "decide_time")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    AWARDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    DECIDER_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    outcome: DisputeOutcome
    awarded_amount: _common_pb2.Money
    rationale: str
    adjustment: str
    decider: str
    decide_time: _timestamp_pb2.Timestamp
    def __init__(self, outcome: _Optional[_Union[DisputeOutcome, str]] = ..., awarded_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., rationale: _Optional[str] = ..., adjustment: _Optional[str] = ..., decider: _Optional[str] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Dispute(_message.Message):
    __slots__ = ("name", "counterparty", "period", "statement", "entries", "disputed_amount", "provider_region", "consumer_region", "reason_code", "description", "state", "evidence_deadline", "response_deadline", "decision_deadline", "events", "decision", "raiser", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    DECISION_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    RAISER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    counterparty: str
    period: str
    statement: str
    entries: _containers.RepeatedCompositeFieldContainer[_common_pb2.EntryRef]
    disputed_amount: _common_pb2.Money
    provider_region: str
    consumer_region: str
    reason_code: str
    description: str
    state: DisputeState
    evidence_deadline: _timestamp_pb2.Timestamp
    response_deadline: _timestamp_pb2.Timestamp
    decision_deadline: _timestamp_pb2.Timestamp
    events: _containers.RepeatedCompositeFieldContainer[DisputeEvent]
    decision: DisputeDecision
    raiser: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., counterparty: _Optional[str] = ..., period: _Optional[str] = ..., statement: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[_common_pb2.EntryRef, _Mapping]]] = ..., disputed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., reason_code: _Optional[str] = ..., description: _Optional[str] = ..., state: _Optional[_Union[DisputeState, str]] = ..., evidence_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., response_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events: _Optional[_Iterable[_Union[DisputeEvent, _Mapping]]] = ..., decision: _Optional[_Union[DisputeDecision, _Mapping]] = ..., raiser: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Tolerance(_message.Message):
    __slots__ = ("amount_fen", "rows", "bytes", "time_skew")
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    TIME_SKEW_FIELD_NUMBER: _ClassVar[int]
    amount_fen: int
    rows: int
    bytes: int
    time_skew: _duration_pb2.Duration
    def __init__(self, amount_fen: _Optional[int] = ..., rows: _Optional[int] = ..., bytes: _Optional[int] = ..., time_skew: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class MatchCounts(_message.Message):
    __slots__ = ("matched", "within_tolerance", "mismatched", "ours_only", "theirs_only")
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    WITHIN_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    MISMATCHED_FIELD_NUMBER: _ClassVar[int]
    OURS_ONLY_FIELD_NUMBER: _ClassVar[int]
    THEIRS_ONLY_FIELD_NUMBER: _ClassVar[int]
    matched: int
    within_tolerance: int
    mismatched: int
    ours_only: int
    theirs_only: int
    def __init__(self, matched: _Optional[int] = ..., within_tolerance: _Optional[int] = ..., mismatched: _Optional[int] = ..., ours_only: _Optional[int] = ..., theirs_only: _Optional[int] = ...) -> None: ...

class TierResult(_message.Message):
    __slots__ = ("tier", "counts", "passed")
    TIER_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    tier: ReconciliationTier
    counts: MatchCounts
    passed: bool
    def __init__(self, tier: _Optional[_Union[ReconciliationTier, str]] = ..., counts: _Optional[_Union[MatchCounts, _Mapping]] = ..., passed: _Optional[bool] = ...) -> None: ...

class ReconciliationReport(_message.Message):
    __slots__ = ("name", "counterparty", "period", "tolerance", "tiers", "record_counts", "discrepancy_count", "discrepancies_digest", "our_checkpoint", "their_checkpoint", "creator", "create_time", "duration", "ledger_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNTS_FIELD_NUMBER: _ClassVar[int]
    DISCREPANCY_COUNT_FIELD_NUMBER: _ClassVar[int]
    DISCREPANCIES_DIGEST_FIELD_NUMBER: _ClassVar[int]
    OUR_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    THEIR_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    counterparty: str
    period: str
    tolerance: Tolerance
    tiers: _containers.RepeatedCompositeFieldContainer[TierResult]
    record_counts: MatchCounts
    discrepancy_count: int
    discrepancies_digest: bytes
    our_checkpoint: _common_pb2.Checkpoint
    their_checkpoint: _common_pb2.Checkpoint
    creator: str
    create_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    ledger_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., counterparty: _Optional[str] = ..., period: _Optional[str] = ..., tolerance: _Optional[_Union[Tolerance, _Mapping]] = ..., tiers: _Optional[_Iterable[_Union[TierResult, _Mapping]]] = ..., record_counts: _Optional[_Union[MatchCounts, _Mapping]] = ..., discrepancy_count: _Optional[int] = ..., discrepancies_digest: _Optional[bytes] = ..., our_checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., their_checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class Discrepancy(_message.Message):
    __slots__ = ("tier", "key", "status", "differing_fields", "product", "our_record_count", "their_record_count", "our_quantity", "their_quantity", "our_amount", "their_amount", "our_entry", "their_entry")
    TIER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DIFFERING_FIELDS_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    OUR_RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    THEIR_RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    OUR_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    THEIR_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    OUR_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    THEIR_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OUR_ENTRY_FIELD_NUMBER: _ClassVar[int]
    THEIR_ENTRY_FIELD_NUMBER: _ClassVar[int]
    tier: ReconciliationTier
    key: str
    status: MatchStatus
    differing_fields: _containers.RepeatedScalarFieldContainer[str]
    product: str
    our_record_count: int
    their_record_count: int
    our_quantity: _common_pb2.Quantity
    their_quantity: _common_pb2.Quantity
    our_amount: _common_pb2.Money
    their_amount: _common_pb2.Money
    our_entry: _common_pb2.EntryRef
    their_entry: _common_pb2.EntryRef
    def __init__(self, tier: _Optional[_Union[ReconciliationTier, str]] = ..., key: _Optional[str] = ..., status: _Optional[_Union[MatchStatus, str]] = ..., differing_fields: _Optional[_Iterable[str]] = ..., product: _Optional[str] = ..., our_record_count: _Optional[int] = ..., their_record_count: _Optional[int] = ..., our_quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., their_quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., our_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., their_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., our_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ..., their_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class SettlementRecord(_message.Message):
    __slots__ = ("id", "provider_region", "consumer_region", "product", "tariff", "purpose_class", "time", "quantity", "amount_fen", "entry", "cited_entry")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_CLASS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    CITED_ENTRY_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider_region: str
    consumer_region: str
    product: str
    tariff: str
    purpose_class: _common_pb2.PurposeClass
    time: _timestamp_pb2.Timestamp
    quantity: _common_pb2.Quantity
    amount_fen: int
    entry: _common_pb2.EntryRef
    cited_entry: _common_pb2.EntryRef
    def __init__(self, id: _Optional[str] = ..., provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., product: _Optional[str] = ..., tariff: _Optional[str] = ..., purpose_class: _Optional[_Union[_common_pb2.PurposeClass, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., amount_fen: _Optional[int] = ..., entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ..., cited_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class SettlementBucket(_message.Message):
    __slots__ = ("provider_region", "consumer_region", "product", "day", "record_count", "quantity", "amount_fen")
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    provider_region: str
    consumer_region: str
    product: str
    day: str
    record_count: int
    quantity: _common_pb2.Quantity
    amount_fen: int
    def __init__(self, provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., product: _Optional[str] = ..., day: _Optional[str] = ..., record_count: _Optional[int] = ..., quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., amount_fen: _Optional[int] = ...) -> None: ...

class ListPeriodsRequest(_message.Message):
    __slots__ = ("parent", "states", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    states: _containers.RepeatedScalarFieldContainer[PeriodState]
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., states: _Optional[_Iterable[_Union[PeriodState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPeriodsResponse(_message.Message):
    __slots__ = ("periods", "next_page_token")
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    periods: _containers.RepeatedCompositeFieldContainer[Period]
    next_page_token: str
    def __init__(self, periods: _Optional[_Iterable[_Union[Period, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPeriodRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetPeriodResponse(_message.Message):
    __slots__ = ("period",)
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: Period
    def __init__(self, period: _Optional[_Union[Period, _Mapping]] = ...) -> None: ...

class ClosePeriodRequest(_message.Message):
    __slots__ = ("name", "end_grace_now", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    END_GRACE_NOW_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    end_grace_now: bool
    request_id: str
    def __init__(self, name: _Optional[str] = ..., end_grace_now: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class ClosePeriodResponse(_message.Message):
    __slots__ = ("period",)
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: Period
    def __init__(self, period: _Optional[_Union[Period, _Mapping]] = ...) -> None: ...

class GetStatementRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetStatementResponse(_message.Message):
    __slots__ = ("statement",)
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    statement: Statement
    def __init__(self, statement: _Optional[_Union[Statement, _Mapping]] = ...) -> None: ...

class ListStatementsRequest(_message.Message):
    __slots__ = ("parent", "states", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    states: _containers.RepeatedScalarFieldContainer[StatementState]
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., states: _Optional[_Iterable[_Union[StatementState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStatementsResponse(_message.Message):
    __slots__ = ("statements", "next_page_token")
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    statements: _containers.RepeatedCompositeFieldContainer[Statement]
    next_page_token: str
    def __init__(self, statements: _Optional[_Iterable[_Union[Statement, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SignStatementRequest(_message.Message):
    __slots__ = ("name", "content_digest", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    content_digest: bytes
    request_id: str
    def __init__(self, name: _Optional[str] = ..., content_digest: _Optional[bytes] = ..., request_id: _Optional[str] = ...) -> None: ...

class SignStatementResponse(_message.Message):
    __slots__ = ("statement",)
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    statement: Statement
    def __init__(self, statement: _Optional[_Union[Statement, _Mapping]] = ...) -> None: ...

class ComputeNettingRequest(_message.Message):
    __slots__ = ("parent", "period", "regions", "mode", "allow_unsigned")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_UNSIGNED_FIELD_NUMBER: _ClassVar[int]
    parent: str
    period: str
    regions: _containers.RepeatedScalarFieldContainer[str]
    mode: NettingMode
    allow_unsigned: bool
    def __init__(self, parent: _Optional[str] = ..., period: _Optional[str] = ..., regions: _Optional[_Iterable[str]] = ..., mode: _Optional[_Union[NettingMode, str]] = ..., allow_unsigned: _Optional[bool] = ...) -> None: ...

class ComputeNettingResponse(_message.Message):
    __slots__ = ("netting",)
    NETTING_FIELD_NUMBER: _ClassVar[int]
    netting: Netting
    def __init__(self, netting: _Optional[_Union[Netting, _Mapping]] = ...) -> None: ...

class CreateAdjustmentRequest(_message.Message):
    __slots__ = ("parent", "adjustment", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    adjustment: Adjustment
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., adjustment: _Optional[_Union[Adjustment, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateAdjustmentResponse(_message.Message):
    __slots__ = ("adjustment",)
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    adjustment: Adjustment
    def __init__(self, adjustment: _Optional[_Union[Adjustment, _Mapping]] = ...) -> None: ...

class GetAdjustmentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetAdjustmentResponse(_message.Message):
    __slots__ = ("adjustment",)
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    adjustment: Adjustment
    def __init__(self, adjustment: _Optional[_Union[Adjustment, _Mapping]] = ...) -> None: ...

class ListAdjustmentsRequest(_message.Message):
    __slots__ = ("parent", "period", "counterparty", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    period: str
    counterparty: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., period: _Optional[str] = ..., counterparty: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAdjustmentsResponse(_message.Message):
    __slots__ = ("adjustments", "next_page_token")
    ADJUSTMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    adjustments: _containers.RepeatedCompositeFieldContainer[Adjustment]
    next_page_token: str
    def __init__(self, adjustments: _Optional[_Iterable[_Union[Adjustment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RaiseDisputeRequest(_message.Message):
    __slots__ = ("parent", "dispute", "evidence", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    dispute: Dispute
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., dispute: _Optional[_Union[Dispute, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RaiseDisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...

class AddDisputeEvidenceRequest(_message.Message):
    __slots__ = ("name", "evidence", "comment", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    comment: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., comment: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AddDisputeEvidenceResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...

class RespondToDisputeRequest(_message.Message):
    __slots__ = ("name", "response", "evidence", "conceded_amount", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    CONCEDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    response: str
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    conceded_amount: _common_pb2.Money
    request_id: str
    def __init__(self, name: _Optional[str] = ..., response: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., conceded_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RespondToDisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...

class DecideDisputeRequest(_message.Message):
    __slots__ = ("name", "decision", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    decision: DisputeDecision
    request_id: str
    def __init__(self, name: _Optional[str] = ..., decision: _Optional[_Union[DisputeDecision, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class DecideDisputeResponse(_message.Message):
    __slots__ = ("dispute", "adjustment")
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    adjustment: Adjustment
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ..., adjustment: _Optional[_Union[Adjustment, _Mapping]] = ...) -> None: ...

class GetDisputeRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetDisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...

class ListDisputesRequest(_message.Message):
    __slots__ = ("parent", "states", "counterparty", "period", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    states: _containers.RepeatedScalarFieldContainer[DisputeState]
    counterparty: str
    period: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., states: _Optional[_Iterable[_Union[DisputeState, str]]] = ..., counterparty: _Optional[str] = ..., period: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDisputesResponse(_message.Message):
    __slots__ = ("disputes", "next_page_token")
    DISPUTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    disputes: _containers.RepeatedCompositeFieldContainer[Dispute]
    next_page_token: str
    def __init__(self, disputes: _Optional[_Iterable[_Union[Dispute, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReconcileRequest(_message.Message):
    __slots__ = ("period", "counterparty", "tolerance", "request_id")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    period: str
    counterparty: str
    tolerance: Tolerance
    request_id: str
    def __init__(self, period: _Optional[str] = ..., counterparty: _Optional[str] = ..., tolerance: _Optional[_Union[Tolerance, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: ReconciliationReport
    def __init__(self, report: _Optional[_Union[ReconciliationReport, _Mapping]] = ...) -> None: ...

class GetReconciliationReportRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetReconciliationReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: ReconciliationReport
    def __init__(self, report: _Optional[_Union[ReconciliationReport, _Mapping]] = ...) -> None: ...

class ListReconciliationReportsRequest(_message.Message):
    __slots__ = ("parent", "counterparty", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    counterparty: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., counterparty: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReconciliationReportsResponse(_message.Message):
    __slots__ = ("reports", "next_page_token")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[ReconciliationReport]
    next_page_token: str
    def __init__(self, reports: _Optional[_Iterable[_Union[ReconciliationReport, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListReconciliationDiscrepanciesRequest(_message.Message):
    __slots__ = ("parent", "statuses", "tier", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    statuses: _containers.RepeatedScalarFieldContainer[MatchStatus]
    tier: ReconciliationTier
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[MatchStatus, str]]] = ..., tier: _Optional[_Union[ReconciliationTier, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReconciliationDiscrepanciesResponse(_message.Message):
    __slots__ = ("discrepancies", "next_page_token")
    DISCREPANCIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    discrepancies: _containers.RepeatedCompositeFieldContainer[Discrepancy]
    next_page_token: str
    def __init__(self, discrepancies: _Optional[_Iterable[_Union[Discrepancy, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

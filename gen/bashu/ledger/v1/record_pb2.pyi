import datetime

from bashu.access.v1 import access_pb2 as _access_pb2
from bashu.catalog.v1 import catalog_pb2 as _catalog_pb2
from bashu.common.v1 import common_pb2 as _common_pb2
from bashu.federation.v1 import federation_pb2 as _federation_pb2
from bashu.licensing.v1 import licensing_pb2 as _licensing_pb2
from bashu.settlement.v1 import settlement_pb2 as _settlement_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LedgerRecord(_message.Message):
    __slots__ = ("record_version", "time", "region", "idempotency_key", "actor", "product_listed", "product_revised", "product_status_changed", "tariff_published", "price_ceiling_set", "standard_mapping_loaded", "licence_decided", "licence_status_changed", "source_registered", "usage_recorded", "consumption_recorded", "batch_sealed", "batch_countersigned", "batch_returned", "checkpoint_witnessed", "fork_detected", "adjustment", "dispute_event", "statement_signed", "discrepancy_report", "period_status_changed", "key_rotated", "party_registered")
    RECORD_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_LISTED_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_REVISED_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    TARIFF_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    PRICE_CEILING_SET_FIELD_NUMBER: _ClassVar[int]
    STANDARD_MAPPING_LOADED_FIELD_NUMBER: _ClassVar[int]
    LICENCE_DECIDED_FIELD_NUMBER: _ClassVar[int]
    LICENCE_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    USAGE_RECORDED_FIELD_NUMBER: _ClassVar[int]
    CONSUMPTION_RECORDED_FIELD_NUMBER: _ClassVar[int]
    BATCH_SEALED_FIELD_NUMBER: _ClassVar[int]
    BATCH_COUNTERSIGNED_FIELD_NUMBER: _ClassVar[int]
    BATCH_RETURNED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_WITNESSED_FIELD_NUMBER: _ClassVar[int]
    FORK_DETECTED_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_EVENT_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_SIGNED_FIELD_NUMBER: _ClassVar[int]
    DISCREPANCY_REPORT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    KEY_ROTATED_FIELD_NUMBER: _ClassVar[int]
    PARTY_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    record_version: int
    time: _timestamp_pb2.Timestamp
    region: str
    idempotency_key: str
    actor: str
    product_listed: ProductListed
    product_revised: ProductRevised
    product_status_changed: ProductStatusChanged
    tariff_published: TariffPublished
    price_ceiling_set: PriceCeilingSet
    standard_mapping_loaded: StandardMappingLoaded
    licence_decided: LicenceDecided
    licence_status_changed: LicenceStatusChanged
    source_registered: SourceRegistered
    usage_recorded: UsageRecorded
    consumption_recorded: ConsumptionRecorded
    batch_sealed: BatchSealed
    batch_countersigned: BatchCountersigned
    batch_returned: BatchReturned
    checkpoint_witnessed: CheckpointWitnessed
    fork_detected: ForkDetected
    adjustment: AdjustmentPosted
    dispute_event: DisputeEventRecorded
    statement_signed: StatementSigned
    discrepancy_report: DiscrepancyReport
    period_status_changed: PeriodStatusChanged
    key_rotated: KeyRotated
    party_registered: PartyRegistered
    def __init__(self, record_version: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., region: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., actor: _Optional[str] = ..., product_listed: _Optional[_Union[ProductListed, _Mapping]] = ..., product_revised: _Optional[_Union[ProductRevised, _Mapping]] = ..., product_status_changed: _Optional[_Union[ProductStatusChanged, _Mapping]] = ..., tariff_published: _Optional[_Union[TariffPublished, _Mapping]] = ..., price_ceiling_set: _Optional[_Union[PriceCeilingSet, _Mapping]] = ..., standard_mapping_loaded: _Optional[_Union[StandardMappingLoaded, _Mapping]] = ..., licence_decided: _Optional[_Union[LicenceDecided, _Mapping]] = ..., licence_status_changed: _Optional[_Union[LicenceStatusChanged, _Mapping]] = ..., source_registered: _Optional[_Union[SourceRegistered, _Mapping]] = ..., usage_recorded: _Optional[_Union[UsageRecorded, _Mapping]] = ..., consumption_recorded: _Optional[_Union[ConsumptionRecorded, _Mapping]] = ..., batch_sealed: _Optional[_Union[BatchSealed, _Mapping]] = ..., batch_countersigned: _Optional[_Union[BatchCountersigned, _Mapping]] = ..., batch_returned: _Optional[_Union[BatchReturned, _Mapping]] = ..., checkpoint_witnessed: _Optional[_Union[CheckpointWitnessed, _Mapping]] = ..., fork_detected: _Optional[_Union[ForkDetected, _Mapping]] = ..., adjustment: _Optional[_Union[AdjustmentPosted, _Mapping]] = ..., dispute_event: _Optional[_Union[DisputeEventRecorded, _Mapping]] = ..., statement_signed: _Optional[_Union[StatementSigned, _Mapping]] = ..., discrepancy_report: _Optional[_Union[DiscrepancyReport, _Mapping]] = ..., period_status_changed: _Optional[_Union[PeriodStatusChanged, _Mapping]] = ..., key_rotated: _Optional[_Union[KeyRotated, _Mapping]] = ..., party_registered: _Optional[_Union[PartyRegistered, _Mapping]] = ...) -> None: ...

class ProductListed(_message.Message):
    __slots__ = ("product", "revision")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    product: _catalog_pb2.Product
    revision: _catalog_pb2.ProductRevision
    def __init__(self, product: _Optional[_Union[_catalog_pb2.Product, _Mapping]] = ..., revision: _Optional[_Union[_catalog_pb2.ProductRevision, _Mapping]] = ...) -> None: ...

class ProductRevised(_message.Message):
    __slots__ = ("product", "revision", "previous_revision")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_REVISION_FIELD_NUMBER: _ClassVar[int]
    product: str
    revision: _catalog_pb2.ProductRevision
    previous_revision: str
    def __init__(self, product: _Optional[str] = ..., revision: _Optional[_Union[_catalog_pb2.ProductRevision, _Mapping]] = ..., previous_revision: _Optional[str] = ...) -> None: ...

class ProductStatusChanged(_message.Message):
    __slots__ = ("product", "old_state", "new_state", "reason")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    OLD_STATE_FIELD_NUMBER: _ClassVar[int]
    NEW_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    product: str
    old_state: _catalog_pb2.ProductState
    new_state: _catalog_pb2.ProductState
    reason: str
    def __init__(self, product: _Optional[str] = ..., old_state: _Optional[_Union[_catalog_pb2.ProductState, str]] = ..., new_state: _Optional[_Union[_catalog_pb2.ProductState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class TariffPublished(_message.Message):
    __slots__ = ("tariff",)
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    tariff: _catalog_pb2.Tariff
    def __init__(self, tariff: _Optional[_Union[_catalog_pb2.Tariff, _Mapping]] = ...) -> None: ...

class PriceCeilingSet(_message.Message):
    __slots__ = ("price_ceiling",)
    PRICE_CEILING_FIELD_NUMBER: _ClassVar[int]
    price_ceiling: _catalog_pb2.PriceCeiling
    def __init__(self, price_ceiling: _Optional[_Union[_catalog_pb2.PriceCeiling, _Mapping]] = ...) -> None: ...

class StandardMappingLoaded(_message.Message):
    __slots__ = ("standard_mapping", "entries_digest")
    STANDARD_MAPPING_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_DIGEST_FIELD_NUMBER: _ClassVar[int]
    standard_mapping: _catalog_pb2.StandardMapping
    entries_digest: bytes
    def __init__(self, standard_mapping: _Optional[_Union[_catalog_pb2.StandardMapping, _Mapping]] = ..., entries_digest: _Optional[bytes] = ...) -> None: ...

class LicenceDecided(_message.Message):
    __slots__ = ("licence_request", "decision", "licence")
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    licence_request: _licensing_pb2.LicenceRequest
    decision: _licensing_pb2.Decision
    licence: _licensing_pb2.Licence
    def __init__(self, licence_request: _Optional[_Union[_licensing_pb2.LicenceRequest, _Mapping]] = ..., decision: _Optional[_Union[_licensing_pb2.Decision, _Mapping]] = ..., licence: _Optional[_Union[_licensing_pb2.Licence, _Mapping]] = ...) -> None: ...

class LicenceStatusChanged(_message.Message):
    __slots__ = ("licence", "old_state", "new_state", "reason")
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    OLD_STATE_FIELD_NUMBER: _ClassVar[int]
    NEW_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    licence: str
    old_state: _licensing_pb2.LicenceState
    new_state: _licensing_pb2.LicenceState
    reason: str
    def __init__(self, licence: _Optional[str] = ..., old_state: _Optional[_Union[_licensing_pb2.LicenceState, str]] = ..., new_state: _Optional[_Union[_licensing_pb2.LicenceState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class SourceRegistered(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: _access_pb2.Source
    def __init__(self, source: _Optional[_Union[_access_pb2.Source, _Mapping]] = ...) -> None: ...

class UsageRecorded(_message.Message):
    __slots__ = ("usage_record",)
    USAGE_RECORD_FIELD_NUMBER: _ClassVar[int]
    usage_record: _access_pb2.UsageRecord
    def __init__(self, usage_record: _Optional[_Union[_access_pb2.UsageRecord, _Mapping]] = ...) -> None: ...

class ConsumptionRecorded(_message.Message):
    __slots__ = ("usage_record", "usage_record_id", "licence", "consumer_party", "provider_region", "product", "tariff", "purpose_class", "provider_entry", "quantity", "amount", "usage_time", "receipt")
    USAGE_RECORD_FIELD_NUMBER: _ClassVar[int]
    USAGE_RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_PARTY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_CLASS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    USAGE_TIME_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    usage_record: str
    usage_record_id: str
    licence: str
    consumer_party: str
    provider_region: str
    product: str
    tariff: str
    purpose_class: _common_pb2.PurposeClass
    provider_entry: _common_pb2.EntryRef
    quantity: _common_pb2.Quantity
    amount: _common_pb2.Money
    usage_time: _timestamp_pb2.Timestamp
    receipt: _access_pb2.UsageReceipt
    def __init__(self, usage_record: _Optional[str] = ..., usage_record_id: _Optional[str] = ..., licence: _Optional[str] = ..., consumer_party: _Optional[str] = ..., provider_region: _Optional[str] = ..., product: _Optional[str] = ..., tariff: _Optional[str] = ..., purpose_class: _Optional[_Union[_common_pb2.PurposeClass, str]] = ..., provider_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ..., quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., usage_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receipt: _Optional[_Union[_access_pb2.UsageReceipt, _Mapping]] = ...) -> None: ...

class BatchSealed(_message.Message):
    __slots__ = ("usage_batch", "batch_digest")
    USAGE_BATCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_DIGEST_FIELD_NUMBER: _ClassVar[int]
    usage_batch: _federation_pb2.UsageBatch
    batch_digest: bytes
    def __init__(self, usage_batch: _Optional[_Union[_federation_pb2.UsageBatch, _Mapping]] = ..., batch_digest: _Optional[bytes] = ...) -> None: ...

class BatchCountersigned(_message.Message):
    __slots__ = ("countersignature",)
    COUNTERSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    countersignature: _federation_pb2.BatchCountersignature
    def __init__(self, countersignature: _Optional[_Union[_federation_pb2.BatchCountersignature, _Mapping]] = ...) -> None: ...

class BatchReturned(_message.Message):
    __slots__ = ("batch_return",)
    BATCH_RETURN_FIELD_NUMBER: _ClassVar[int]
    batch_return: _federation_pb2.BatchReturn
    def __init__(self, batch_return: _Optional[_Union[_federation_pb2.BatchReturn, _Mapping]] = ...) -> None: ...

class CheckpointWitnessed(_message.Message):
    __slots__ = ("peer_region", "checkpoint", "previous_tree_size", "cosignature")
    PEER_REGION_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    COSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    peer_region: str
    checkpoint: _common_pb2.Checkpoint
    previous_tree_size: int
    cosignature: _common_pb2.Cosignature
    def __init__(self, peer_region: _Optional[str] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., previous_tree_size: _Optional[int] = ..., cosignature: _Optional[_Union[_common_pb2.Cosignature, _Mapping]] = ...) -> None: ...

class ForkDetected(_message.Message):
    __slots__ = ("peer_region", "first", "second", "consistency_proof", "detail")
    PEER_REGION_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    SECOND_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_PROOF_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    peer_region: str
    first: _common_pb2.Checkpoint
    second: _common_pb2.Checkpoint
    consistency_proof: _containers.RepeatedScalarFieldContainer[bytes]
    detail: str
    def __init__(self, peer_region: _Optional[str] = ..., first: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., second: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., consistency_proof: _Optional[_Iterable[bytes]] = ..., detail: _Optional[str] = ...) -> None: ...

class AdjustmentPosted(_message.Message):
    __slots__ = ("adjustment",)
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    adjustment: _settlement_pb2.Adjustment
    def __init__(self, adjustment: _Optional[_Union[_settlement_pb2.Adjustment, _Mapping]] = ...) -> None: ...

class DisputeEventRecorded(_message.Message):
    __slots__ = ("dispute", "state", "event", "amount")
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    dispute: str
    state: _settlement_pb2.DisputeState
    event: _settlement_pb2.DisputeEvent
    amount: _common_pb2.Money
    def __init__(self, dispute: _Optional[str] = ..., state: _Optional[_Union[_settlement_pb2.DisputeState, str]] = ..., event: _Optional[_Union[_settlement_pb2.DisputeEvent, _Mapping]] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class StatementSigned(_message.Message):
    __slots__ = ("statement", "content_body", "content_digest", "signature", "complete")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BODY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    statement: str
    content_body: bytes
    content_digest: bytes
    signature: _common_pb2.Signature
    complete: bool
    def __init__(self, statement: _Optional[str] = ..., content_body: _Optional[bytes] = ..., content_digest: _Optional[bytes] = ..., signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ..., complete: _Optional[bool] = ...) -> None: ...

class DiscrepancyReport(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: _settlement_pb2.ReconciliationReport
    def __init__(self, report: _Optional[_Union[_settlement_pb2.ReconciliationReport, _Mapping]] = ...) -> None: ...

class PeriodStatusChanged(_message.Message):
    __slots__ = ("period", "old_state", "new_state", "late_record_count")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    OLD_STATE_FIELD_NUMBER: _ClassVar[int]
    NEW_STATE_FIELD_NUMBER: _ClassVar[int]
    LATE_RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    period: str
    old_state: _settlement_pb2.PeriodState
    new_state: _settlement_pb2.PeriodState
    late_record_count: int
    def __init__(self, period: _Optional[str] = ..., old_state: _Optional[_Union[_settlement_pb2.PeriodState, str]] = ..., new_state: _Optional[_Union[_settlement_pb2.PeriodState, str]] = ..., late_record_count: _Optional[int] = ...) -> None: ...

class KeyRotated(_message.Message):
    __slots__ = ("old_verifier_key", "new_verifier_key", "effective_time", "old_key_signature")
    OLD_VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    NEW_VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    OLD_KEY_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    old_verifier_key: str
    new_verifier_key: str
    effective_time: _timestamp_pb2.Timestamp
    old_key_signature: _common_pb2.Signature
    def __init__(self, old_verifier_key: _Optional[str] = ..., new_verifier_key: _Optional[str] = ..., effective_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., old_key_signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ...) -> None: ...

class PartyRegistered(_message.Message):
    __slots__ = ("party", "display_name", "roles")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    party: str
    display_name: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, party: _Optional[str] = ..., display_name: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...

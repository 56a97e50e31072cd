import datetime

from bashu.access.v1 import access_pb2 as _access_pb2
from bashu.catalog.v1 import catalog_pb2 as _catalog_pb2
from bashu.common.v1 import common_pb2 as _common_pb2
from bashu.licensing.v1 import licensing_pb2 as _licensing_pb2
from bashu.settlement.v1 import settlement_pb2 as _settlement_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_KIND_UNSPECIFIED: _ClassVar[MessageKind]
    MESSAGE_KIND_USAGE_BATCH: _ClassVar[MessageKind]
    MESSAGE_KIND_BATCH_COUNTERSIGNATURE: _ClassVar[MessageKind]
    MESSAGE_KIND_BATCH_RETURN: _ClassVar[MessageKind]
    MESSAGE_KIND_BATCH_REQUEST: _ClassVar[MessageKind]
    MESSAGE_KIND_STATEMENT_FOR_SIGNATURE: _ClassVar[MessageKind]
    MESSAGE_KIND_STATEMENT_SIGNATURE: _ClassVar[MessageKind]
    MESSAGE_KIND_LICENCE_NOTICE: _ClassVar[MessageKind]
    MESSAGE_KIND_DISPUTE_NOTICE: _ClassVar[MessageKind]

class ErrorGrade(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_GRADE_UNSPECIFIED: _ClassVar[ErrorGrade]
    ERROR_GRADE_FATAL: _ClassVar[ErrorGrade]
    ERROR_GRADE_SEVERE: _ClassVar[ErrorGrade]
    ERROR_GRADE_WARNING: _ClassVar[ErrorGrade]

class LicenceNoticeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LICENCE_NOTICE_KIND_UNSPECIFIED: _ClassVar[LicenceNoticeKind]
    LICENCE_NOTICE_KIND_REQUEST_DECIDED: _ClassVar[LicenceNoticeKind]
    LICENCE_NOTICE_KIND_REQUEST_EXPIRED: _ClassVar[LicenceNoticeKind]
    LICENCE_NOTICE_KIND_SUSPENDED: _ClassVar[LicenceNoticeKind]
    LICENCE_NOTICE_KIND_RESUMED: _ClassVar[LicenceNoticeKind]
    LICENCE_NOTICE_KIND_REVOKED: _ClassVar[LicenceNoticeKind]
    LICENCE_NOTICE_KIND_EXPIRED: _ClassVar[LicenceNoticeKind]

class AckStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACK_STATUS_UNSPECIFIED: _ClassVar[AckStatus]
    ACK_STATUS_ACCEPTED: _ClassVar[AckStatus]
    ACK_STATUS_DUPLICATE: _ClassVar[AckStatus]
    ACK_STATUS_REJECTED: _ClassVar[AckStatus]
    ACK_STATUS_RETRY_LATER: _ClassVar[AckStatus]

class BatchExchangeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BATCH_EXCHANGE_STATE_UNSPECIFIED: _ClassVar[BatchExchangeState]
    BATCH_EXCHANGE_STATE_SEALED: _ClassVar[BatchExchangeState]
    BATCH_EXCHANGE_STATE_DELIVERED: _ClassVar[BatchExchangeState]
    BATCH_EXCHANGE_STATE_COUNTERSIGNED: _ClassVar[BatchExchangeState]
    BATCH_EXCHANGE_STATE_RETURNED: _ClassVar[BatchExchangeState]

class AlarmKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALARM_KIND_UNSPECIFIED: _ClassVar[AlarmKind]
    ALARM_KIND_FORK_DETECTED: _ClassVar[AlarmKind]
    ALARM_KIND_CHECKPOINT_INVALID: _ClassVar[AlarmKind]
    ALARM_KIND_CONSISTENCY_PROOF_INVALID: _ClassVar[AlarmKind]
    ALARM_KIND_PEER_UNREACHABLE: _ClassVar[AlarmKind]
    ALARM_KIND_BATCH_SEQUENCE_GAP: _ClassVar[AlarmKind]
    ALARM_KIND_BATCH_RETURNED: _ClassVar[AlarmKind]
    ALARM_KIND_MESSAGE_REJECTED: _ClassVar[AlarmKind]
    ALARM_KIND_CLOCK_SKEW: _ClassVar[AlarmKind]
MESSAGE_KIND_UNSPECIFIED: MessageKind
MESSAGE_KIND_USAGE_BATCH: MessageKind
MESSAGE_KIND_BATCH_COUNTERSIGNATURE: MessageKind
MESSAGE_KIND_BATCH_RETURN: MessageKind
MESSAGE_KIND_BATCH_REQUEST: MessageKind
MESSAGE_KIND_STATEMENT_FOR_SIGNATURE: MessageKind
MESSAGE_KIND_STATEMENT_SIGNATURE: MessageKind
MESSAGE_KIND_LICENCE_NOTICE: MessageKind
MESSAGE_KIND_DISPUTE_NOTICE: MessageKind
ERROR_GRADE_UNSPECIFIED: ErrorGrade
ERROR_GRADE_FATAL: ErrorGrade
ERROR_GRADE_SEVERE: ErrorGrade
ERROR_GRADE_WARNING: ErrorGrade
LICENCE_NOTICE_KIND_UNSPECIFIED: LicenceNoticeKind
LICENCE_NOTICE_KIND_REQUEST_DECIDED: LicenceNoticeKind
LICENCE_NOTICE_KIND_REQUEST_EXPIRED: LicenceNoticeKind
LICENCE_NOTICE_KIND_SUSPENDED: LicenceNoticeKind
LICENCE_NOTICE_KIND_RESUMED: LicenceNoticeKind
LICENCE_NOTICE_KIND_REVOKED: LicenceNoticeKind
LICENCE_NOTICE_KIND_EXPIRED: LicenceNoticeKind
ACK_STATUS_UNSPECIFIED: AckStatus
ACK_STATUS_ACCEPTED: AckStatus
ACK_STATUS_DUPLICATE: AckStatus
ACK_STATUS_REJECTED: AckStatus
ACK_STATUS_RETRY_LATER: AckStatus
BATCH_EXCHANGE_STATE_UNSPECIFIED: BatchExchangeState
BATCH_EXCHANGE_STATE_SEALED: BatchExchangeState
BATCH_EXCHANGE_STATE_DELIVERED: BatchExchangeState
BATCH_EXCHANGE_STATE_COUNTERSIGNED: BatchExchangeState
BATCH_EXCHANGE_STATE_RETURNED: BatchExchangeState
ALARM_KIND_UNSPECIFIED: AlarmKind
ALARM_KIND_FORK_DETECTED: AlarmKind
ALARM_KIND_CHECKPOINT_INVALID: AlarmKind
ALARM_KIND_CONSISTENCY_PROOF_INVALID: AlarmKind
ALARM_KIND_PEER_UNREACHABLE: AlarmKind
ALARM_KIND_BATCH_SEQUENCE_GAP: AlarmKind
ALARM_KIND_BATCH_RETURNED: AlarmKind
ALARM_KIND_MESSAGE_REJECTED: AlarmKind
ALARM_KIND_CLOCK_SKEW: AlarmKind

class VouchedConsumer(_message.Message):
    __slots__ = ("party", "region", "display_name")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    party: str
    region: str
    display_name: str
    def __init__(self, party: _Optional[str] = ..., region: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class GetPeerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPeerInfoResponse(_message.Message):
    __slots__ = ("region", "api_version", "verifier_key", "witness_verifier_key", "log_origin", "standard_version", "node_version", "server_time", "message_kinds")
    REGION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    WITNESS_VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    LOG_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    STANDARD_VERSION_FIELD_NUMBER: _ClassVar[int]
    NODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_KINDS_FIELD_NUMBER: _ClassVar[int]
    region: str
    api_version: str
    verifier_key: str
    witness_verifier_key: str
    log_origin: str
    standard_version: str
    node_version: str
    server_time: _timestamp_pb2.Timestamp
    message_kinds: _containers.RepeatedScalarFieldContainer[MessageKind]
    def __init__(self, region: _Optional[str] = ..., api_version: _Optional[str] = ..., verifier_key: _Optional[str] = ..., witness_verifier_key: _Optional[str] = ..., log_origin: _Optional[str] = ..., standard_version: _Optional[str] = ..., node_version: _Optional[str] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message_kinds: _Optional[_Iterable[_Union[MessageKind, str]]] = ...) -> None: ...

class SearchCatalogRequest(_message.Message):
    __slots__ = ("filter", "element_code_region", "page_size", "page_token")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_CODE_REGION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: _catalog_pb2.ProductFilter
    element_code_region: str
    page_size: int
    page_token: str
    def __init__(self, filter: _Optional[_Union[_catalog_pb2.ProductFilter, _Mapping]] = ..., element_code_region: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchCatalogResponse(_message.Message):
    __slots__ = ("products", "next_page_token")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.Product]
    next_page_token: str
    def __init__(self, products: _Optional[_Iterable[_Union[_catalog_pb2.Product, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ForwardLicenceRequestRequest(_message.Message):
    __slots__ = ("consumer", "request")
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    consumer: VouchedConsumer
    request: _licensing_pb2.CreateLicenceRequestRequest
    def __init__(self, consumer: _Optional[_Union[VouchedConsumer, _Mapping]] = ..., request: _Optional[_Union[_licensing_pb2.CreateLicenceRequestRequest, _Mapping]] = ...) -> None: ...

class ForwardLicenceRequestResponse(_message.Message):
    __slots__ = ("licence_request", "licence")
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    licence_request: _licensing_pb2.LicenceRequest
    licence: _licensing_pb2.Licence
    def __init__(self, licence_request: _Optional[_Union[_licensing_pb2.LicenceRequest, _Mapping]] = ..., licence: _Optional[_Union[_licensing_pb2.Licence, _Mapping]] = ...) -> None: ...

class ForwardReadDataRequest(_message.Message):
    __slots__ = ("consumer", "request")
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    consumer: VouchedConsumer
    request: _access_pb2.ReadDataRequest
    def __init__(self, consumer: _Optional[_Union[VouchedConsumer, _Mapping]] = ..., request: _Optional[_Union[_access_pb2.ReadDataRequest, _Mapping]] = ...) -> None: ...

class ForwardReadDataResponse(_message.Message):
    __slots__ = ("schema", "record_batch", "receipt")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    RECORD_BATCH_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    schema: _access_pb2.DataSchema
    record_batch: bytes
    receipt: _access_pb2.UsageReceipt
    def __init__(self, schema: _Optional[_Union[_access_pb2.DataSchema, _Mapping]] = ..., record_batch: _Optional[bytes] = ..., receipt: _Optional[_Union[_access_pb2.UsageReceipt, _Mapping]] = ...) -> None: ...

class ForwardLookupRecordRequest(_message.Message):
    __slots__ = ("consumer", "request")
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    consumer: VouchedConsumer
    request: _access_pb2.LookupRecordRequest
    def __init__(self, consumer: _Optional[_Union[VouchedConsumer, _Mapping]] = ..., request: _Optional[_Union[_access_pb2.LookupRecordRequest, _Mapping]] = ...) -> None: ...

class ForwardLookupRecordResponse(_message.Message):
    __slots__ = ("response",)
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    response: _access_pb2.LookupRecordResponse
    def __init__(self, response: _Optional[_Union[_access_pb2.LookupRecordResponse, _Mapping]] = ...) -> None: ...

class ForwardVerifyClaimRequest(_message.Message):
    __slots__ = ("consumer", "request")
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    consumer: VouchedConsumer
    request: _access_pb2.VerifyClaimRequest
    def __init__(self, consumer: _Optional[_Union[VouchedConsumer, _Mapping]] = ..., request: _Optional[_Union[_access_pb2.VerifyClaimRequest, _Mapping]] = ...) -> None: ...

class ForwardVerifyClaimResponse(_message.Message):
    __slots__ = ("response",)
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    response: _access_pb2.VerifyClaimResponse
    def __init__(self, response: _Optional[_Union[_access_pb2.VerifyClaimResponse, _Mapping]] = ...) -> None: ...

class OutboxMessage(_message.Message):
    __slots__ = ("message_id", "kind", "sender_region", "recipient_region", "create_time", "attempt", "usage_batch", "batch_countersignature", "batch_return", "batch_request", "statement_for_signature", "statement_signature", "licence_notice", "dispute_notice")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SENDER_REGION_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_REGION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    USAGE_BATCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_COUNTERSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    BATCH_RETURN_FIELD_NUMBER: _ClassVar[int]
    BATCH_REQUEST_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FOR_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    LICENCE_NOTICE_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_NOTICE_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    kind: MessageKind
    sender_region: str
    recipient_region: str
    create_time: _timestamp_pb2.Timestamp
    attempt: int
    usage_batch: UsageBatch
    batch_countersignature: BatchCountersignature
    batch_return: BatchReturn
    batch_request: BatchRequest
    statement_for_signature: StatementForSignature
    statement_signature: StatementSignature
    licence_notice: LicenceNotice
    dispute_notice: DisputeNotice
    def __init__(self, message_id: _Optional[str] = ..., kind: _Optional[_Union[MessageKind, str]] = ..., sender_region: _Optional[str] = ..., recipient_region: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempt: _Optional[int] = ..., usage_batch: _Optional[_Union[UsageBatch, _Mapping]] = ..., batch_countersignature: _Optional[_Union[BatchCountersignature, _Mapping]] = ..., batch_return: _Optional[_Union[BatchReturn, _Mapping]] = ..., batch_request: _Optional[_Union[BatchRequest, _Mapping]] = ..., statement_for_signature: _Optional[_Union[StatementForSignature, _Mapping]] = ..., statement_signature: _Optional[_Union[StatementSignature, _Mapping]] = ..., licence_notice: _Optional[_Union[LicenceNotice, _Mapping]] = ..., dispute_notice: _Optional[_Union[DisputeNotice, _Mapping]] = ...) -> None: ...

class UsageBatch(_message.Message):
    __slots__ = ("body", "provider_signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    provider_signature: _common_pb2.Signature
    def __init__(self, body: _Optional[bytes] = ..., provider_signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ...) -> None: ...

class BatchEntry(_message.Message):
    __slots__ = ("index", "leaf_hash", "usage_record_id", "quantity", "amount_fen", "time")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    USAGE_RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    index: int
    leaf_hash: bytes
    usage_record_id: str
    quantity: _common_pb2.Quantity
    amount_fen: int
    time: _timestamp_pb2.Timestamp
    def __init__(self, index: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., usage_record_id: _Optional[str] = ..., quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., amount_fen: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UsageBatchBody(_message.Message):
    __slots__ = ("name", "provider_region", "consumer_region", "sequence", "time_range", "record_count", "total_quantity", "total_amount", "merkle_root", "entries", "corrects_return", "period", "checkpoint", "seal_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MERKLE_ROOT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CORRECTS_RETURN_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SEAL_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    provider_region: str
    consumer_region: str
    sequence: int
    time_range: _common_pb2.TimeRange
    record_count: int
    total_quantity: _common_pb2.Quantity
    total_amount: _common_pb2.Money
    merkle_root: bytes
    entries: _containers.RepeatedCompositeFieldContainer[BatchEntry]
    corrects_return: str
    period: str
    checkpoint: _common_pb2.Checkpoint
    seal_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., sequence: _Optional[int] = ..., time_range: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., record_count: _Optional[int] = ..., total_quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., total_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., merkle_root: _Optional[bytes] = ..., entries: _Optional[_Iterable[_Union[BatchEntry, _Mapping]]] = ..., corrects_return: _Optional[str] = ..., period: _Optional[str] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., seal_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BatchError(_message.Message):
    __slots__ = ("grade", "code", "entry_index", "leaf_hash", "usage_record_id", "detail")
    GRADE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    USAGE_RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    grade: ErrorGrade
    code: str
    entry_index: int
    leaf_hash: bytes
    usage_record_id: str
    detail: str
    def __init__(self, grade: _Optional[_Union[ErrorGrade, str]] = ..., code: _Optional[str] = ..., entry_index: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., usage_record_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class BatchCountersignature(_message.Message):
    __slots__ = ("batch", "batch_digest", "consumer_signature", "warnings", "consumer_entry")
    BATCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_DIGEST_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    batch: str
    batch_digest: bytes
    consumer_signature: _common_pb2.Signature
    warnings: _containers.RepeatedCompositeFieldContainer[BatchError]
    consumer_entry: _common_pb2.EntryRef
    def __init__(self, batch: _Optional[str] = ..., batch_digest: _Optional[bytes] = ..., consumer_signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[BatchError, _Mapping]]] = ..., consumer_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class BatchReturn(_message.Message):
    __slots__ = ("body", "consumer_signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    consumer_signature: _common_pb2.Signature
    def __init__(self, body: _Optional[bytes] = ..., consumer_signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ...) -> None: ...

class BatchReturnBody(_message.Message):
    __slots__ = ("name", "batch", "batch_digest", "errors", "return_time", "consumer_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    RETURN_TIME_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    batch: str
    batch_digest: bytes
    errors: _containers.RepeatedCompositeFieldContainer[BatchError]
    return_time: _timestamp_pb2.Timestamp
    consumer_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., batch: _Optional[str] = ..., batch_digest: _Optional[bytes] = ..., errors: _Optional[_Iterable[_Union[BatchError, _Mapping]]] = ..., return_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consumer_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class BatchRequest(_message.Message):
    __slots__ = ("provider_region", "consumer_region", "sequences")
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    provider_region: str
    consumer_region: str
    sequences: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, provider_region: _Optional[str] = ..., consumer_region: _Optional[str] = ..., sequences: _Optional[_Iterable[int]] = ...) -> None: ...

class StatementForSignature(_message.Message):
    __slots__ = ("period", "content_body", "signature")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    period: str
    content_body: bytes
    signature: _common_pb2.Signature
    def __init__(self, period: _Optional[str] = ..., content_body: _Optional[bytes] = ..., signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ...) -> None: ...

class StatementSignature(_message.Message):
    __slots__ = ("period", "content_digest", "signature", "refused", "refusal_reason")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    period: str
    content_digest: bytes
    signature: _common_pb2.Signature
    refused: bool
    refusal_reason: str
    def __init__(self, period: _Optional[str] = ..., content_digest: _Optional[bytes] = ..., signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ..., refused: _Optional[bool] = ..., refusal_reason: _Optional[str] = ...) -> None: ...

class LicenceNotice(_message.Message):
    __slots__ = ("kind", "licence_request", "licence", "time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    kind: LicenceNoticeKind
    licence_request: _licensing_pb2.LicenceRequest
    licence: _licensing_pb2.Licence
    time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[LicenceNoticeKind, str]] = ..., licence_request: _Optional[_Union[_licensing_pb2.LicenceRequest, _Mapping]] = ..., licence: _Optional[_Union[_licensing_pb2.Licence, _Mapping]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DisputeNotice(_message.Message):
    __slots__ = ("dispute", "event")
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    dispute: _settlement_pb2.Dispute
    event: _settlement_pb2.DisputeEvent
    def __init__(self, dispute: _Optional[_Union[_settlement_pb2.Dispute, _Mapping]] = ..., event: _Optional[_Union[_settlement_pb2.DisputeEvent, _Mapping]] = ...) -> None: ...

class DeliverMessagesRequest(_message.Message):
    __slots__ = ("messages", "request_id")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[OutboxMessage]
    request_id: str
    def __init__(self, messages: _Optional[_Iterable[_Union[OutboxMessage, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class MessageAck(_message.Message):
    __slots__ = ("message_id", "status", "reason", "detail")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    status: AckStatus
    reason: str
    detail: str
    def __init__(self, message_id: _Optional[str] = ..., status: _Optional[_Union[AckStatus, str]] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class DeliverMessagesResponse(_message.Message):
    __slots__ = ("acks",)
    ACKS_FIELD_NUMBER: _ClassVar[int]
    acks: _containers.RepeatedCompositeFieldContainer[MessageAck]
    def __init__(self, acks: _Optional[_Iterable[_Union[MessageAck, _Mapping]]] = ...) -> None: ...

class GetCosignaturesRequest(_message.Message):
    __slots__ = ("origin", "tree_size")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    origin: str
    tree_size: int
    def __init__(self, origin: _Optional[str] = ..., tree_size: _Optional[int] = ...) -> None: ...

class GetCosignaturesResponse(_message.Message):
    __slots__ = ("cosignatures",)
    COSIGNATURES_FIELD_NUMBER: _ClassVar[int]
    cosignatures: _containers.RepeatedCompositeFieldContainer[_common_pb2.Cosignature]
    def __init__(self, cosignatures: _Optional[_Iterable[_Union[_common_pb2.Cosignature, _Mapping]]] = ...) -> None: ...

class GetFederationStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BatchProgress(_message.Message):
    __slots__ = ("batch", "sequence", "state", "update_time")
    BATCH_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    batch: str
    sequence: int
    state: BatchExchangeState
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, batch: _Optional[str] = ..., sequence: _Optional[int] = ..., state: _Optional[_Union[BatchExchangeState, str]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Alarm(_message.Message):
    __slots__ = ("kind", "since", "detail", "evidence")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    kind: AlarmKind
    since: _timestamp_pb2.Timestamp
    detail: str
    evidence: _common_pb2.EntryRef
    def __init__(self, kind: _Optional[_Union[AlarmKind, str]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detail: _Optional[str] = ..., evidence: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class PeerStatus(_message.Message):
    __slots__ = ("region", "address", "reachable", "last_contact_time", "last_error", "last_checkpoint_seen", "last_checkpoint_cosigned", "outbox_backlog", "oldest_pending_time", "last_batch_sent", "last_batch_received", "alarms", "clock_skew")
    REGION_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    LAST_CONTACT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKPOINT_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKPOINT_COSIGNED_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_BACKLOG_FIELD_NUMBER: _ClassVar[int]
    OLDEST_PENDING_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_BATCH_SENT_FIELD_NUMBER: _ClassVar[int]
    LAST_BATCH_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ALARMS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_SKEW_FIELD_NUMBER: _ClassVar[int]
    region: str
    address: str
    reachable: bool
    last_contact_time: _timestamp_pb2.Timestamp
    last_error: str
    last_checkpoint_seen: _common_pb2.Checkpoint
    last_checkpoint_cosigned: _common_pb2.Checkpoint
    outbox_backlog: int
    oldest_pending_time: _timestamp_pb2.Timestamp
    last_batch_sent: BatchProgress
    last_batch_received: BatchProgress
    alarms: _containers.RepeatedCompositeFieldContainer[Alarm]
    clock_skew: _duration_pb2.Duration
    def __init__(self, region: _Optional[str] = ..., address: _Optional[str] = ..., reachable: _Optional[bool] = ..., last_contact_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., last_checkpoint_seen: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., last_checkpoint_cosigned: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., outbox_backlog: _Optional[int] = ..., oldest_pending_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_batch_sent: _Optional[_Union[BatchProgress, _Mapping]] = ..., last_batch_received: _Optional[_Union[BatchProgress, _Mapping]] = ..., alarms: _Optional[_Iterable[_Union[Alarm, _Mapping]]] = ..., clock_skew: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class GetFederationStatusResponse(_message.Message):
    __slots__ = ("region", "checkpoint", "peers", "time")
    REGION_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    region: str
    checkpoint: _common_pb2.Checkpoint
    peers: _containers.RepeatedCompositeFieldContainer[PeerStatus]
    time: _timestamp_pb2.Timestamp
    def __init__(self, region: _Optional[str] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., peers: _Optional[_Iterable[_Union[PeerStatus, _Mapping]]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPeriodSummaryRequest(_message.Message):
    __slots__ = ("period",)
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: str
    def __init__(self, period: _Optional[str] = ...) -> None: ...

class GetPeriodSummaryResponse(_message.Message):
    __slots__ = ("state", "totals", "buckets", "checkpoint")
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    state: _settlement_pb2.PeriodState
    totals: _containers.RepeatedCompositeFieldContainer[_settlement_pb2.DirectionTotal]
    buckets: _containers.RepeatedCompositeFieldContainer[_settlement_pb2.SettlementBucket]
    checkpoint: _common_pb2.Checkpoint
    def __init__(self, state: _Optional[_Union[_settlement_pb2.PeriodState, str]] = ..., totals: _Optional[_Iterable[_Union[_settlement_pb2.DirectionTotal, _Mapping]]] = ..., buckets: _Optional[_Iterable[_Union[_settlement_pb2.SettlementBucket, _Mapping]]] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ...) -> None: ...

class ExportPeriodRecordsRequest(_message.Message):
    __slots__ = ("period", "buckets", "tree_size", "arrow")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ARROW_FIELD_NUMBER: _ClassVar[int]
    period: str
    buckets: _containers.RepeatedScalarFieldContainer[str]
    tree_size: int
    arrow: bool
    def __init__(self, period: _Optional[str] = ..., buckets: _Optional[_Iterable[str]] = ..., tree_size: _Optional[int] = ..., arrow: _Optional[bool] = ...) -> None: ...

class ExportPeriodRecordsResponse(_message.Message):
    __slots__ = ("records", "arrow_records")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    ARROW_RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_settlement_pb2.SettlementRecord]
    arrow_records: bytes
    def __init__(self, records: _Optional[_Iterable[_Union[_settlement_pb2.SettlementRecord, _Mapping]]] = ..., arrow_records: _Optional[bytes] = ...) -> None: ...

class ListSignedStatementsRequest(_message.Message):
    __slots__ = ("period", "page_size", "page_token")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    period: str
    page_size: int
    page_token: str
    def __init__(self, period: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSignedStatementsResponse(_message.Message):
    __slots__ = ("statements", "next_page_token")
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    statements: _containers.RepeatedCompositeFieldContainer[_settlement_pb2.Statement]
    next_page_token: str
    def __init__(self, statements: _Optional[_Iterable[_Union[_settlement_pb2.Statement, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

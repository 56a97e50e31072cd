import datetime

from bashu.common.v1 import common_pb2 as _common_pb2
from bashu.licensing.v1 import licensing_pb2 as _licensing_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FileFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_FORMAT_UNSPECIFIED: _ClassVar[FileFormat]
    FILE_FORMAT_PARQUET: _ClassVar[FileFormat]
    FILE_FORMAT_CSV: _ClassVar[FileFormat]

class SourceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_STATE_UNSPECIFIED: _ClassVar[SourceState]
    SOURCE_STATE_ACTIVE: _ClassVar[SourceState]
    SOURCE_STATE_SUPERSEDED: _ClassVar[SourceState]

class FilterOperator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILTER_OPERATOR_UNSPECIFIED: _ClassVar[FilterOperator]
    FILTER_OPERATOR_EQ: _ClassVar[FilterOperator]
    FILTER_OPERATOR_NE: _ClassVar[FilterOperator]
    FILTER_OPERATOR_LT: _ClassVar[FilterOperator]
    FILTER_OPERATOR_LE: _ClassVar[FilterOperator]
    FILTER_OPERATOR_GT: _ClassVar[FilterOperator]
    FILTER_OPERATOR_GE: _ClassVar[FilterOperator]
    FILTER_OPERATOR_IN: _ClassVar[FilterOperator]
    FILTER_OPERATOR_IS_NULL: _ClassVar[FilterOperator]
    FILTER_OPERATOR_IS_NOT_NULL: _ClassVar[FilterOperator]

class ClaimVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLAIM_VERDICT_UNSPECIFIED: _ClassVar[ClaimVerdict]
    CLAIM_VERDICT_VALID: _ClassVar[ClaimVerdict]
    CLAIM_VERDICT_INVALID: _ClassVar[ClaimVerdict]
    CLAIM_VERDICT_UNKNOWN: _ClassVar[ClaimVerdict]

class UsageRecordStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_RECORD_STATUS_UNSPECIFIED: _ClassVar[UsageRecordStatus]
    USAGE_RECORD_STATUS_RECORDED: _ClassVar[UsageRecordStatus]
    USAGE_RECORD_STATUS_REJECTED: _ClassVar[UsageRecordStatus]

class UsageGrouping(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_GROUPING_UNSPECIFIED: _ClassVar[UsageGrouping]
    USAGE_GROUPING_LICENCE: _ClassVar[UsageGrouping]
    USAGE_GROUPING_PRODUCT: _ClassVar[UsageGrouping]
    USAGE_GROUPING_CONSUMER: _ClassVar[UsageGrouping]
    USAGE_GROUPING_DAY: _ClassVar[UsageGrouping]
FILE_FORMAT_UNSPECIFIED: FileFormat
FILE_FORMAT_PARQUET: FileFormat
FILE_FORMAT_CSV: FileFormat
SOURCE_STATE_UNSPECIFIED: SourceState
SOURCE_STATE_ACTIVE: SourceState
SOURCE_STATE_SUPERSEDED: SourceState
FILTER_OPERATOR_UNSPECIFIED: FilterOperator
FILTER_OPERATOR_EQ: FilterOperator
FILTER_OPERATOR_NE: FilterOperator
FILTER_OPERATOR_LT: FilterOperator
FILTER_OPERATOR_LE: FilterOperator
FILTER_OPERATOR_GT: FilterOperator
FILTER_OPERATOR_GE: FilterOperator
FILTER_OPERATOR_IN: FilterOperator
FILTER_OPERATOR_IS_NULL: FilterOperator
FILTER_OPERATOR_IS_NOT_NULL: FilterOperator
CLAIM_VERDICT_UNSPECIFIED: ClaimVerdict
CLAIM_VERDICT_VALID: ClaimVerdict
CLAIM_VERDICT_INVALID: ClaimVerdict
CLAIM_VERDICT_UNKNOWN: ClaimVerdict
USAGE_RECORD_STATUS_UNSPECIFIED: UsageRecordStatus
USAGE_RECORD_STATUS_RECORDED: UsageRecordStatus
USAGE_RECORD_STATUS_REJECTED: UsageRecordStatus
USAGE_GROUPING_UNSPECIFIED: UsageGrouping
USAGE_GROUPING_LICENCE: UsageGrouping
USAGE_GROUPING_PRODUCT: UsageGrouping
USAGE_GROUPING_CONSUMER: UsageGrouping
USAGE_GROUPING_DAY: UsageGrouping

class FileSource(_message.Message):
    __slots__ = ("path", "format", "csv_delimiter")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CSV_DELIMITER_FIELD_NUMBER: _ClassVar[int]
    path: str
    format: FileFormat
    csv_delimiter: str
    def __init__(self, path: _Optional[str] = ..., format: _Optional[_Union[FileFormat, str]] = ..., csv_delimiter: _Optional[str] = ...) -> None: ...

class SqlSource(_message.Message):
    __slots__ = ("url", "table", "query")
    URL_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    url: str
    table: str
    query: str
    def __init__(self, url: _Optional[str] = ..., table: _Optional[str] = ..., query: _Optional[str] = ...) -> None: ...

class Source(_message.Message):
    __slots__ = ("name", "product_revision", "file", "sql", "key_columns", "state", "provider", "arrow_schema", "row_count", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_REVISION_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    KEY_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    ARROW_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    product_revision: str
    file: FileSource
    sql: SqlSource
    key_columns: _containers.RepeatedScalarFieldContainer[str]
    state: SourceState
    provider: str
    arrow_schema: bytes
    row_count: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., product_revision: _Optional[str] = ..., file: _Optional[_Union[FileSource, _Mapping]] = ..., sql: _Optional[_Union[SqlSource, _Mapping]] = ..., key_columns: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[SourceState, str]] = ..., provider: _Optional[str] = ..., arrow_schema: _Optional[bytes] = ..., row_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RowFilter(_message.Message):
    __slots__ = ("column", "operator", "value", "values")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    column: str
    operator: FilterOperator
    value: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, column: _Optional[str] = ..., operator: _Optional[_Union[FilterOperator, str]] = ..., value: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class ReadDataRequest(_message.Message):
    __slots__ = ("licence", "columns", "filters", "max_batch_rows", "max_batch_bytes", "row_limit", "request_id")
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_ROWS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_BYTES_FIELD_NUMBER: _ClassVar[int]
    ROW_LIMIT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    licence: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    filters: _containers.RepeatedCompositeFieldContainer[RowFilter]
    max_batch_rows: int
    max_batch_bytes: int
    row_limit: int
    request_id: str
    def __init__(self, licence: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ..., filters: _Optional[_Iterable[_Union[RowFilter, _Mapping]]] = ..., max_batch_rows: _Optional[int] = ..., max_batch_bytes: _Optional[int] = ..., row_limit: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class DataSchema(_message.Message):
    __slots__ = ("arrow_schema", "masking", "estimated_rows")
    ARROW_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    MASKING_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_ROWS_FIELD_NUMBER: _ClassVar[int]
    arrow_schema: bytes
    masking: _containers.RepeatedCompositeFieldContainer[_common_pb2.FieldMasking]
    estimated_rows: int
    def __init__(self, arrow_schema: _Optional[bytes] = ..., masking: _Optional[_Iterable[_Union[_common_pb2.FieldMasking, _Mapping]]] = ..., estimated_rows: _Optional[int] = ...) -> None: ...

class ReadDataResponse(_message.Message):
    __slots__ = ("schema", "record_batch", "receipt")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    RECORD_BATCH_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    schema: DataSchema
    record_batch: bytes
    receipt: UsageReceipt
    def __init__(self, schema: _Optional[_Union[DataSchema, _Mapping]] = ..., record_batch: _Optional[bytes] = ..., receipt: _Optional[_Union[UsageReceipt, _Mapping]] = ...) -> None: ...

class LookupRecordRequest(_message.Message):
    __slots__ = ("licence", "key", "columns", "request_id")
    class KeyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    licence: str
    key: _containers.ScalarMap[str, str]
    columns: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    def __init__(self, licence: _Optional[str] = ..., key: _Optional[_Mapping[str, str]] = ..., columns: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class LookupRecordResponse(_message.Message):
    __slots__ = ("found", "arrow_ipc", "receipt")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    found: bool
    arrow_ipc: bytes
    receipt: UsageReceipt
    def __init__(self, found: _Optional[bool] = ..., arrow_ipc: _Optional[bytes] = ..., receipt: _Optional[_Union[UsageReceipt, _Mapping]] = ...) -> None: ...

class VerifyClaimRequest(_message.Message):
    __slots__ = ("licence", "claim", "request_id")
    class ClaimEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    licence: str
    claim: _containers.ScalarMap[str, str]
    request_id: str
    def __init__(self, licence: _Optional[str] = ..., claim: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class VerifyClaimResponse(_message.Message):
    __slots__ = ("verdict", "receipt")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    verdict: ClaimVerdict
    receipt: UsageReceipt
    def __init__(self, verdict: _Optional[_Union[ClaimVerdict, str]] = ..., receipt: _Optional[_Union[UsageReceipt, _Mapping]] = ...) -> None: ...

class UsageReceipt(_message.Message):
    __slots__ = ("body", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: _common_pb2.Signature
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ...) -> None: ...

class UsageReceiptBody(_message.Message):
    __slots__ = ("usage_record", "request_id", "licence", "consumer_party", "provider_region", "access_mode", "entry", "quantity", "amount", "tariff", "masking_applied", "time", "truncated", "truncation_reason")
    USAGE_RECORD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_PARTY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    ACCESS_MODE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    MASKING_APPLIED_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    usage_record: str
    request_id: str
    licence: str
    consumer_party: str
    provider_region: str
    access_mode: _common_pb2.AccessMode
    entry: _common_pb2.EntryRef
    quantity: _common_pb2.Quantity
    amount: _common_pb2.Money
    tariff: str
    masking_applied: _containers.RepeatedCompositeFieldContainer[_common_pb2.FieldMasking]
    time: _timestamp_pb2.Timestamp
    truncated: bool
    truncation_reason: str
    def __init__(self, usage_record: _Optional[str] = ..., request_id: _Optional[str] = ..., licence: _Optional[str] = ..., consumer_party: _Optional[str] = ..., provider_region: _Optional[str] = ..., access_mode: _Optional[_Union[_common_pb2.AccessMode, str]] = ..., entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ..., quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., tariff: _Optional[str] = ..., masking_applied: _Optional[_Iterable[_Union[_common_pb2.FieldMasking, _Mapping]]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., truncated: _Optional[bool] = ..., truncation_reason: _Optional[str] = ...) -> None: ...

class UsageRecord(_message.Message):
    __slots__ = ("name", "id", "source", "subject", "time", "type", "spec_version", "provider_party", "provider_region", "consumer_party", "consumer_region", "product", "product_revision", "tariff", "purpose", "access_mode", "data_grade", "personal_info_class", "cross_border", "destination_country", "approval_kind", "approval_reference", "quantity", "amount", "masking_applied", "columns", "truncated", "truncation_reason", "status", "rejection_reason", "relay_region", "ledger_entry", "period")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_PARTY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_PARTY_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_REVISION_FIELD_NUMBER: _ClassVar[int]
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_MODE_FIELD_NUMBER: _ClassVar[int]
    DATA_GRADE_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_INFO_CLASS_FIELD_NUMBER: _ClassVar[int]
    CROSS_BORDER_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_KIND_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MASKING_APPLIED_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    RELAY_REGION_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    name: str
    id: str
    source: str
    subject: str
    time: _timestamp_pb2.Timestamp
    type: str
    spec_version: str
    provider_party: str
    provider_region: str
    consumer_party: str
    consumer_region: str
    product: str
    product_revision: str
    tariff: str
    purpose: _licensing_pb2.Purpose
    access_mode: _common_pb2.AccessMode
    data_grade: _common_pb2.DataGrade
    personal_info_class: _common_pb2.PersonalInfoClass
    cross_border: bool
    destination_country: str
    approval_kind: _common_pb2.ApprovalKind
    approval_reference: str
    quantity: _common_pb2.Quantity
    amount: _common_pb2.Money
    masking_applied: _containers.RepeatedCompositeFieldContainer[_common_pb2.FieldMasking]
    columns: _containers.RepeatedScalarFieldContainer[str]
    truncated: bool
    truncation_reason: str
    status: UsageRecordStatus
    rejection_reason: str
    relay_region: str
    ledger_entry: _common_pb2.EntryRef
    period: str
    def __init__(self, name: _Optional[str] = ..., id: _Optional[str] = ..., source: _Optional[str] = ..., subject: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., spec_version: _Optional[str] = ..., provider_party: _Optional[str] = ..., provider_region: _Optional[str] = ..., consumer_party: _Optional[str] = ..., consumer_region: _Optional[str] = ..., product: _Optional[str] = ..., product_revision: _Optional[str] = ..., tariff: _Optional[str] = ..., purpose: _Optional[_Union[_licensing_pb2.Purpose, _Mapping]] = ..., access_mode: _Optional[_Union[_common_pb2.AccessMode, str]] = ..., data_grade: _Optional[_Union[_common_pb2.DataGrade, str]] = ..., personal_info_class: _Optional[_Union[_common_pb2.PersonalInfoClass, str]] = ..., cross_border: _Optional[bool] = ..., destination_country: _Optional[str] = ..., approval_kind: _Optional[_Union[_common_pb2.ApprovalKind, str]] = ..., approval_reference: _Optional[str] = ..., quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., masking_applied: _Optional[_Iterable[_Union[_common_pb2.FieldMasking, _Mapping]]] = ..., columns: _Optional[_Iterable[str]] = ..., truncated: _Optional[bool] = ..., truncation_reason: _Optional[str] = ..., status: _Optional[_Union[UsageRecordStatus, str]] = ..., rejection_reason: _Optional[str] = ..., relay_region: _Optional[str] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ..., period: _Optional[str] = ...) -> None: ...

class RegisterSourceRequest(_message.Message):
    __slots__ = ("parent", "source", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    source: Source
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RegisterSourceResponse(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: Source
    def __init__(self, source: _Optional[_Union[Source, _Mapping]] = ...) -> None: ...

class GetSourceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetSourceResponse(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: Source
    def __init__(self, source: _Optional[_Union[Source, _Mapping]] = ...) -> None: ...

class ListSourcesRequest(_message.Message):
    __slots__ = ("parent", "product_revision", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_REVISION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    product_revision: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., product_revision: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSourcesResponse(_message.Message):
    __slots__ = ("sources", "next_page_token")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[Source]
    next_page_token: str
    def __init__(self, sources: _Optional[_Iterable[_Union[Source, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetUsageRecordRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetUsageRecordResponse(_message.Message):
    __slots__ = ("usage_record",)
    USAGE_RECORD_FIELD_NUMBER: _ClassVar[int]
    usage_record: UsageRecord
    def __init__(self, usage_record: _Optional[_Union[UsageRecord, _Mapping]] = ...) -> None: ...

class UsageFilter(_message.Message):
    __slots__ = ("licence", "product", "consumer_party", "period", "time_range", "statuses", "consumer_region")
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_PARTY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    licence: str
    product: str
    consumer_party: str
    period: str
    time_range: _common_pb2.TimeRange
    statuses: _containers.RepeatedScalarFieldContainer[UsageRecordStatus]
    consumer_region: str
    def __init__(self, licence: _Optional[str] = ..., product: _Optional[str] = ..., consumer_party: _Optional[str] = ..., period: _Optional[str] = ..., time_range: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., statuses: _Optional[_Iterable[_Union[UsageRecordStatus, str]]] = ..., consumer_region: _Optional[str] = ...) -> None: ...

class ListUsageRecordsRequest(_message.Message):
    __slots__ = ("parent", "filter", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    filter: UsageFilter
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., filter: _Optional[_Union[UsageFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListUsageRecordsResponse(_message.Message):
    __slots__ = ("usage_records", "next_page_token")
    USAGE_RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    usage_records: _containers.RepeatedCompositeFieldContainer[UsageRecord]
    next_page_token: str
    def __init__(self, usage_records: _Optional[_Iterable[_Union[UsageRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UsageSummaryRow(_message.Message):
    __slots__ = ("key", "record_count", "zero_priced_count", "quantity", "amount")
    KEY_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    ZERO_PRICED_COUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    key: str
    record_count: int
    zero_priced_count: int
    quantity: _common_pb2.Quantity
    amount: _common_pb2.Money
    def __init__(self, key: _Optional[str] = ..., record_count: _Optional[int] = ..., zero_priced_count: _Optional[int] = ..., quantity: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class SummarizeUsageRequest(_message.Message):
    __slots__ = ("parent", "filter", "grouping", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    GROUPING_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    filter: UsageFilter
    grouping: UsageGrouping
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., filter: _Optional[_Union[UsageFilter, _Mapping]] = ..., grouping: _Optional[_Union[UsageGrouping, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SummarizeUsageResponse(_message.Message):
    __slots__ = ("rows", "total", "next_page_token")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[UsageSummaryRow]
    total: UsageSummaryRow
    next_page_token: str
    def __init__(self, rows: _Optional[_Iterable[_Union[UsageSummaryRow, _Mapping]]] = ..., total: _Optional[_Union[UsageSummaryRow, _Mapping]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetUsageReceiptRequest(_message.Message):
    __slots__ = ("parent", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetUsageReceiptResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: UsageReceipt
    def __init__(self, receipt: _Optional[_Union[UsageReceipt, _Mapping]] = ...) -> None: ...

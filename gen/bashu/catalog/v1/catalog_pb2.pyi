import datetime

from bashu.common.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProductState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRODUCT_STATE_UNSPECIFIED: _ClassVar[ProductState]
    PRODUCT_STATE_ACTIVE: _ClassVar[ProductState]
    PRODUCT_STATE_UNLISTED: _ClassVar[ProductState]
    PRODUCT_STATE_SUSPENDED: _ClassVar[ProductState]

class FieldType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIELD_TYPE_UNSPECIFIED: _ClassVar[FieldType]
    FIELD_TYPE_STRING: _ClassVar[FieldType]
    FIELD_TYPE_INT64: _ClassVar[FieldType]
    FIELD_TYPE_DOUBLE: _ClassVar[FieldType]
    FIELD_TYPE_DECIMAL: _ClassVar[FieldType]
    FIELD_TYPE_BOOL: _ClassVar[FieldType]
    FIELD_TYPE_DATE: _ClassVar[FieldType]
    FIELD_TYPE_TIMESTAMP: _ClassVar[FieldType]
    FIELD_TYPE_BINARY: _ClassVar[FieldType]
    FIELD_TYPE_GEOMETRY_WKB: _ClassVar[FieldType]

class UpdateFrequency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPDATE_FREQUENCY_UNSPECIFIED: _ClassVar[UpdateFrequency]
    UPDATE_FREQUENCY_REAL_TIME: _ClassVar[UpdateFrequency]
    UPDATE_FREQUENCY_DAILY: _ClassVar[UpdateFrequency]
    UPDATE_FREQUENCY_WEEKLY: _ClassVar[UpdateFrequency]
    UPDATE_FREQUENCY_MONTHLY: _ClassVar[UpdateFrequency]
    UPDATE_FREQUENCY_QUARTERLY: _ClassVar[UpdateFrequency]
    UPDATE_FREQUENCY_YEARLY: _ClassVar[UpdateFrequency]
    UPDATE_FREQUENCY_IRREGULAR: _ClassVar[UpdateFrequency]
    UPDATE_FREQUENCY_STATIC: _ClassVar[UpdateFrequency]

class TariffUnit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TARIFF_UNIT_UNSPECIFIED: _ClassVar[TariffUnit]
    TARIFF_UNIT_PER_CALL: _ClassVar[TariffUnit]
    TARIFF_UNIT_PER_ROW: _ClassVar[TariffUnit]
    TARIFF_UNIT_PER_MIB: _ClassVar[TariffUnit]
    TARIFF_UNIT_FREE: _ClassVar[TariffUnit]

class RoundingRule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUNDING_RULE_UNSPECIFIED: _ClassVar[RoundingRule]
    ROUNDING_RULE_HALF_UP_PER_LINE: _ClassVar[RoundingRule]

class MappingRelation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAPPING_RELATION_UNSPECIFIED: _ClassVar[MappingRelation]
    MAPPING_RELATION_EXACT: _ClassVar[MappingRelation]
    MAPPING_RELATION_BROADER: _ClassVar[MappingRelation]
    MAPPING_RELATION_NARROWER: _ClassVar[MappingRelation]

class PeerSearchState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PEER_SEARCH_STATE_UNSPECIFIED: _ClassVar[PeerSearchState]
    PEER_SEARCH_STATE_OK: _ClassVar[PeerSearchState]
    PEER_SEARCH_STATE_TIMEOUT: _ClassVar[PeerSearchState]
    PEER_SEARCH_STATE_UNREACHABLE: _ClassVar[PeerSearchState]
    PEER_SEARCH_STATE_ERROR: _ClassVar[PeerSearchState]
    PEER_SEARCH_STATE_SKIPPED: _ClassVar[PeerSearchState]
PRODUCT_STATE_UNSPECIFIED: ProductState
PRODUCT_STATE_ACTIVE: ProductState
PRODUCT_STATE_UNLISTED: ProductState
PRODUCT_STATE_SUSPENDED: ProductState
FIELD_TYPE_UNSPECIFIED: FieldType
FIELD_TYPE_STRING: FieldType
FIELD_TYPE_INT64: FieldType
FIELD_TYPE_DOUBLE: FieldType
FIELD_TYPE_DECIMAL: FieldType
FIELD_TYPE_BOOL: FieldType
FIELD_TYPE_DATE: FieldType
FIELD_TYPE_TIMESTAMP: FieldType
FIELD_TYPE_BINARY: FieldType
FIELD_TYPE_GEOMETRY_WKB: FieldType
UPDATE_FREQUENCY_UNSPECIFIED: UpdateFrequency
UPDATE_FREQUENCY_REAL_TIME: UpdateFrequency
UPDATE_FREQUENCY_DAILY: UpdateFrequency
UPDATE_FREQUENCY_WEEKLY: UpdateFrequency
UPDATE_FREQUENCY_MONTHLY: UpdateFrequency
UPDATE_FREQUENCY_QUARTERLY: UpdateFrequency
UPDATE_FREQUENCY_YEARLY: UpdateFrequency
UPDATE_FREQUENCY_IRREGULAR: UpdateFrequency
UPDATE_FREQUENCY_STATIC: UpdateFrequency
TARIFF_UNIT_UNSPECIFIED: TariffUnit
TARIFF_UNIT_PER_CALL: TariffUnit
TARIFF_UNIT_PER_ROW: TariffUnit
TARIFF_UNIT_PER_MIB: TariffUnit
TARIFF_UNIT_FREE: TariffUnit
ROUNDING_RULE_UNSPECIFIED: RoundingRule
ROUNDING_RULE_HALF_UP_PER_LINE: RoundingRule
MAPPING_RELATION_UNSPECIFIED: MappingRelation
MAPPING_RELATION_EXACT: MappingRelation
MAPPING_RELATION_BROADER: MappingRelation
MAPPING_RELATION_NARROWER: MappingRelation
PEER_SEARCH_STATE_UNSPECIFIED: PeerSearchState
PEER_SEARCH_STATE_OK: PeerSearchState
PEER_SEARCH_STATE_TIMEOUT: PeerSearchState
PEER_SEARCH_STATE_UNREACHABLE: PeerSearchState
PEER_SEARCH_STATE_ERROR: PeerSearchState
PEER_SEARCH_STATE_SKIPPED: PeerSearchState

class FieldSpec(_message.Message):
    __slots__ = ("name", "type", "element_code", "sensitivity", "description", "default_masking", "nullable")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_CODE_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MASKING_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: FieldType
    element_code: str
    sensitivity: _common_pb2.FieldSensitivity
    description: _common_pb2.LocalizedText
    default_masking: _common_pb2.MaskingRule
    nullable: bool
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[FieldType, str]] = ..., element_code: _Optional[str] = ..., sensitivity: _Optional[_Union[_common_pb2.FieldSensitivity, str]] = ..., description: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., default_masking: _Optional[_Union[_common_pb2.MaskingRule, str]] = ..., nullable: _Optional[bool] = ...) -> None: ...

class LicenceLimits(_message.Message):
    __slots__ = ("max_quota", "max_validity")
    MAX_QUOTA_FIELD_NUMBER: _ClassVar[int]
    MAX_VALIDITY_FIELD_NUMBER: _ClassVar[int]
    max_quota: _common_pb2.Quantity
    max_validity: _duration_pb2.Duration
    def __init__(self, max_quota: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., max_validity: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ProductDescriptor(_message.Message):
    __slots__ = ("title", "description", "provider", "region", "category", "source_class", "data_grade", "personal_info_class", "fields", "key_fields", "access_modes", "allowed_purpose_classes", "allowed_scenario_codes", "allowed_consumer_regions", "cross_border_allowed", "update_frequency", "standard_version", "limits", "keywords")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CLASS_FIELD_NUMBER: _ClassVar[int]
    DATA_GRADE_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_INFO_CLASS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELDS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_MODES_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_PURPOSE_CLASSES_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_SCENARIO_CODES_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_CONSUMER_REGIONS_FIELD_NUMBER: _ClassVar[int]
    CROSS_BORDER_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    STANDARD_VERSION_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    title: _common_pb2.LocalizedText
    description: _common_pb2.LocalizedText
    provider: str
    region: str
    category: _common_pb2.Category
    source_class: _common_pb2.SourceClass
    data_grade: _common_pb2.DataGrade
    personal_info_class: _common_pb2.PersonalInfoClass
    fields: _containers.RepeatedCompositeFieldContainer[FieldSpec]
    key_fields: _containers.RepeatedScalarFieldContainer[str]
    access_modes: _containers.RepeatedScalarFieldContainer[_common_pb2.AccessMode]
    allowed_purpose_classes: _containers.RepeatedScalarFieldContainer[_common_pb2.PurposeClass]
    allowed_scenario_codes: _containers.RepeatedScalarFieldContainer[str]
    allowed_consumer_regions: _containers.RepeatedScalarFieldContainer[str]
    cross_border_allowed: bool
    update_frequency: UpdateFrequency
    standard_version: str
    limits: LicenceLimits
    keywords: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, title: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., description: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., provider: _Optional[str] = ..., region: _Optional[str] = ..., category: _Optional[_Union[_common_pb2.Category, str]] = ..., source_class: _Optional[_Union[_common_pb2.SourceClass, str]] = ..., data_grade: _Optional[_Union[_common_pb2.DataGrade, str]] = ..., personal_info_class: _Optional[_Union[_common_pb2.PersonalInfoClass, str]] = ..., fields: _Optional[_Iterable[_Union[FieldSpec, _Mapping]]] = ..., key_fields: _Optional[_Iterable[str]] = ..., access_modes: _Optional[_Iterable[_Union[_common_pb2.AccessMode, str]]] = ..., allowed_purpose_classes: _Optional[_Iterable[_Union[_common_pb2.PurposeClass, str]]] = ..., allowed_scenario_codes: _Optional[_Iterable[str]] = ..., allowed_consumer_regions: _Optional[_Iterable[str]] = ..., cross_border_allowed: _Optional[bool] = ..., update_frequency: _Optional[_Union[UpdateFrequency, str]] = ..., standard_version: _Optional[str] = ..., limits: _Optional[_Union[LicenceLimits, _Mapping]] = ..., keywords: _Optional[_Iterable[str]] = ...) -> None: ...

class Product(_message.Message):
    __slots__ = ("name", "current_revision", "descriptor", "state", "state_reason", "provider", "region", "current_tariff", "create_time", "update_time", "etag", "mapped_element_codes", "standard_mapping")
    class MappedElementCodesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_REVISION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TARIFF_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    MAPPED_ELEMENT_CODES_FIELD_NUMBER: _ClassVar[int]
    STANDARD_MAPPING_FIELD_NUMBER: _ClassVar[int]
    name: str
    current_revision: str
    descriptor: ProductDescriptor
    state: ProductState
    state_reason: str
    provider: str
    region: str
    current_tariff: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    mapped_element_codes: _containers.ScalarMap[str, str]
    standard_mapping: str
    def __init__(self, name: _Optional[str] = ..., current_revision: _Optional[str] = ..., descriptor: _Optional[_Union[ProductDescriptor, _Mapping]] = ..., state: _Optional[_Union[ProductState, str]] = ..., state_reason: _Optional[str] = ..., provider: _Optional[str] = ..., region: _Optional[str] = ..., current_tariff: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., mapped_element_codes: _Optional[_Mapping[str, str]] = ..., standard_mapping: _Optional[str] = ...) -> None: ...

class ProductRevision(_message.Message):
    __slots__ = ("name", "descriptor", "change_note", "creator", "create_time", "descriptor_digest", "ledger_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    CHANGE_NOTE_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_DIGEST_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    descriptor: ProductDescriptor
    change_note: str
    creator: str
    create_time: _timestamp_pb2.Timestamp
    descriptor_digest: bytes
    ledger_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., descriptor: _Optional[_Union[ProductDescriptor, _Mapping]] = ..., change_note: _Optional[str] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., descriptor_digest: _Optional[bytes] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class PurposePrice(_message.Message):
    __slots__ = ("purpose_class", "unit_price")
    PURPOSE_CLASS_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    purpose_class: _common_pb2.PurposeClass
    unit_price: str
    def __init__(self, purpose_class: _Optional[_Union[_common_pb2.PurposeClass, str]] = ..., unit_price: _Optional[str] = ...) -> None: ...

class Tariff(_message.Message):
    __slots__ = ("name", "unit", "currency_code", "unit_price", "purpose_prices", "rounding_rule", "effective_time", "creator", "create_time", "ledger_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_PRICES_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_RULE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    unit: TariffUnit
    currency_code: str
    unit_price: str
    purpose_prices: _containers.RepeatedCompositeFieldContainer[PurposePrice]
    rounding_rule: RoundingRule
    effective_time: _timestamp_pb2.Timestamp
    creator: str
    create_time: _timestamp_pb2.Timestamp
    ledger_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., unit: _Optional[_Union[TariffUnit, str]] = ..., currency_code: _Optional[str] = ..., unit_price: _Optional[str] = ..., purpose_prices: _Optional[_Iterable[_Union[PurposePrice, _Mapping]]] = ..., rounding_rule: _Optional[_Union[RoundingRule, str]] = ..., effective_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class PriceCeiling(_message.Message):
    __slots__ = ("name", "unit", "category", "max_unit_price", "currency_code", "creator", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MAX_UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    unit: TariffUnit
    category: _common_pb2.Category
    max_unit_price: str
    currency_code: str
    creator: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., unit: _Optional[_Union[TariffUnit, str]] = ..., category: _Optional[_Union[_common_pb2.Category, str]] = ..., max_unit_price: _Optional[str] = ..., currency_code: _Optional[str] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ElementMapping(_message.Message):
    __slots__ = ("peer_code", "local_code", "relation", "note")
    PEER_CODE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_CODE_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    peer_code: str
    local_code: str
    relation: MappingRelation
    note: str
    def __init__(self, peer_code: _Optional[str] = ..., local_code: _Optional[str] = ..., relation: _Optional[_Union[MappingRelation, str]] = ..., note: _Optional[str] = ...) -> None: ...

class StandardMapping(_message.Message):
    __slots__ = ("name", "peer_region", "version", "peer_standard_version", "local_standard_version", "entries", "effective_time", "in_force", "creator", "create_time", "ledger_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PEER_REGION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PEER_STANDARD_VERSION_FIELD_NUMBER: _ClassVar[int]
    LOCAL_STANDARD_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    IN_FORCE_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    peer_region: str
    version: int
    peer_standard_version: str
    local_standard_version: str
    entries: _containers.RepeatedCompositeFieldContainer[ElementMapping]
    effective_time: _timestamp_pb2.Timestamp
    in_force: bool
    creator: str
    create_time: _timestamp_pb2.Timestamp
    ledger_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., peer_region: _Optional[str] = ..., version: _Optional[int] = ..., peer_standard_version: _Optional[str] = ..., local_standard_version: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[ElementMapping, _Mapping]]] = ..., effective_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., in_force: _Optional[bool] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class ProductFilter(_message.Message):
    __slots__ = ("categories", "data_grades", "personal_info_classes", "source_classes", "access_modes", "text", "element_code", "element_code_region", "provider", "states")
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    DATA_GRADES_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_INFO_CLASSES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CLASSES_FIELD_NUMBER: _ClassVar[int]
    ACCESS_MODES_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_CODE_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_CODE_REGION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedScalarFieldContainer[_common_pb2.Category]
    data_grades: _containers.RepeatedScalarFieldContainer[_common_pb2.DataGrade]
    personal_info_classes: _containers.RepeatedScalarFieldContainer[_common_pb2.PersonalInfoClass]
    source_classes: _containers.RepeatedScalarFieldContainer[_common_pb2.SourceClass]
    access_modes: _containers.RepeatedScalarFieldContainer[_common_pb2.AccessMode]
    text: str
    element_code: str
    element_code_region: str
    provider: str
    states: _containers.RepeatedScalarFieldContainer[ProductState]
    def __init__(self, categories: _Optional[_Iterable[_Union[_common_pb2.Category, str]]] = ..., data_grades: _Optional[_Iterable[_Union[_common_pb2.DataGrade, str]]] = ..., personal_info_classes: _Optional[_Iterable[_Union[_common_pb2.PersonalInfoClass, str]]] = ..., source_classes: _Optional[_Iterable[_Union[_common_pb2.SourceClass, str]]] = ..., access_modes: _Optional[_Iterable[_Union[_common_pb2.AccessMode, str]]] = ..., text: _Optional[str] = ..., element_code: _Optional[str] = ..., element_code_region: _Optional[str] = ..., provider: _Optional[str] = ..., states: _Optional[_Iterable[_Union[ProductState, str]]] = ...) -> None: ...

class CreateProductRequest(_message.Message):
    __slots__ = ("parent", "product_id", "descriptor", "change_note", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    CHANGE_NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    product_id: str
    descriptor: ProductDescriptor
    change_note: str
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., product_id: _Optional[str] = ..., descriptor: _Optional[_Union[ProductDescriptor, _Mapping]] = ..., change_note: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateProductResponse(_message.Message):
    __slots__ = ("product", "revision")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    product: Product
    revision: ProductRevision
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., revision: _Optional[_Union[ProductRevision, _Mapping]] = ...) -> None: ...

class GetProductRequest(_message.Message):
    __slots__ = ("name", "element_code_region")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_CODE_REGION_FIELD_NUMBER: _ClassVar[int]
    name: str
    element_code_region: str
    def __init__(self, name: _Optional[str] = ..., element_code_region: _Optional[str] = ...) -> None: ...

class GetProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: Product
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("parent", "filter", "element_code_region", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_CODE_REGION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    filter: ProductFilter
    element_code_region: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., filter: _Optional[_Union[ProductFilter, _Mapping]] = ..., element_code_region: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products", "next_page_token")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[Product]
    next_page_token: str
    def __init__(self, products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PeerSearchStatus(_message.Message):
    __slots__ = ("region", "state", "result_count", "latency", "detail")
    REGION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESULT_COUNT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    region: str
    state: PeerSearchState
    result_count: int
    latency: _duration_pb2.Duration
    detail: str
    def __init__(self, region: _Optional[str] = ..., state: _Optional[_Union[PeerSearchState, str]] = ..., result_count: _Optional[int] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., detail: _Optional[str] = ...) -> None: ...

class SearchProductsRequest(_message.Message):
    __slots__ = ("filter", "regions", "element_code_region", "peer_timeout", "page_size", "page_token")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_CODE_REGION_FIELD_NUMBER: _ClassVar[int]
    PEER_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: ProductFilter
    regions: _containers.RepeatedScalarFieldContainer[str]
    element_code_region: str
    peer_timeout: _duration_pb2.Duration
    page_size: int
    page_token: str
    def __init__(self, filter: _Optional[_Union[ProductFilter, _Mapping]] = ..., regions: _Optional[_Iterable[str]] = ..., element_code_region: _Optional[str] = ..., peer_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchProductsResponse(_message.Message):
    __slots__ = ("products", "next_page_token", "peer_statuses", "degraded")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PEER_STATUSES_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[Product]
    next_page_token: str
    peer_statuses: _containers.RepeatedCompositeFieldContainer[PeerSearchStatus]
    degraded: bool
    def __init__(self, products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., peer_statuses: _Optional[_Iterable[_Union[PeerSearchStatus, _Mapping]]] = ..., degraded: _Optional[bool] = ...) -> None: ...

class UpdateProductRequest(_message.Message):
    __slots__ = ("name", "descriptor", "update_mask", "etag", "change_note", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CHANGE_NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    descriptor: ProductDescriptor
    update_mask: _field_mask_pb2.FieldMask
    etag: str
    change_note: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., descriptor: _Optional[_Union[ProductDescriptor, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., etag: _Optional[str] = ..., change_note: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdateProductResponse(_message.Message):
    __slots__ = ("product", "revision")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    product: Product
    revision: ProductRevision
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ..., revision: _Optional[_Union[ProductRevision, _Mapping]] = ...) -> None: ...

class UnlistProductRequest(_message.Message):
    __slots__ = ("name", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UnlistProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: Product
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ...) -> None: ...

class SuspendProductRequest(_message.Message):
    __slots__ = ("name", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SuspendProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: Product
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ...) -> None: ...

class ResumeProductRequest(_message.Message):
    __slots__ = ("name", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ResumeProductResponse(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: Product
    def __init__(self, product: _Optional[_Union[Product, _Mapping]] = ...) -> None: ...

class GetProductRevisionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetProductRevisionResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: ProductRevision
    def __init__(self, revision: _Optional[_Union[ProductRevision, _Mapping]] = ...) -> None: ...

class ListProductRevisionsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProductRevisionsResponse(_message.Message):
    __slots__ = ("revisions", "next_page_token")
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[ProductRevision]
    next_page_token: str
    def __init__(self, revisions: _Optional[_Iterable[_Union[ProductRevision, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateTariffRequest(_message.Message):
    __slots__ = ("parent", "tariff", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    tariff: Tariff
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., tariff: _Optional[_Union[Tariff, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateTariffResponse(_message.Message):
    __slots__ = ("tariff",)
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    tariff: Tariff
    def __init__(self, tariff: _Optional[_Union[Tariff, _Mapping]] = ...) -> None: ...

class GetTariffRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetTariffResponse(_message.Message):
    __slots__ = ("tariff",)
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    tariff: Tariff
    def __init__(self, tariff: _Optional[_Union[Tariff, _Mapping]] = ...) -> None: ...

class ListTariffsRequest(_message.Message):
    __slots__ = ("parent", "in_force_at", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    IN_FORCE_AT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    in_force_at: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., in_force_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTariffsResponse(_message.Message):
    __slots__ = ("tariffs", "next_page_token")
    TARIFFS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tariffs: _containers.RepeatedCompositeFieldContainer[Tariff]
    next_page_token: str
    def __init__(self, tariffs: _Optional[_Iterable[_Union[Tariff, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetPriceCeilingRequest(_message.Message):
    __slots__ = ("parent", "price_ceiling", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PRICE_CEILING_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    price_ceiling: PriceCeiling
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., price_ceiling: _Optional[_Union[PriceCeiling, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetPriceCeilingResponse(_message.Message):
    __slots__ = ("price_ceiling",)
    PRICE_CEILING_FIELD_NUMBER: _ClassVar[int]
    price_ceiling: PriceCeiling
    def __init__(self, price_ceiling: _Optional[_Union[PriceCeiling, _Mapping]] = ...) -> None: ...

class ListPriceCeilingsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPriceCeilingsResponse(_message.Message):
    __slots__ = ("price_ceilings", "next_page_token")
    PRICE_CEILINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    price_ceilings: _containers.RepeatedCompositeFieldContainer[PriceCeiling]
    next_page_token: str
    def __init__(self, price_ceilings: _Optional[_Iterable[_Union[PriceCeiling, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateStandardMappingRequest(_message.Message):
    __slots__ = ("parent", "standard_mapping", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    STANDARD_MAPPING_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    standard_mapping: StandardMapping
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., standard_mapping: _Optional[_Union[StandardMapping, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateStandardMappingResponse(_message.Message):
    __slots__ = ("standard_mapping",)
    STANDARD_MAPPING_FIELD_NUMBER: _ClassVar[int]
    standard_mapping: StandardMapping
    def __init__(self, standard_mapping: _Optional[_Union[StandardMapping, _Mapping]] = ...) -> None: ...

class GetStandardMappingRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetStandardMappingResponse(_message.Message):
    __slots__ = ("standard_mapping",)
    STANDARD_MAPPING_FIELD_NUMBER: _ClassVar[int]
    standard_mapping: StandardMapping
    def __init__(self, standard_mapping: _Optional[_Union[StandardMapping, _Mapping]] = ...) -> None: ...

class ListStandardMappingsRequest(_message.Message):
    __slots__ = ("parent", "peer_region", "in_force_only", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PEER_REGION_FIELD_NUMBER: _ClassVar[int]
    IN_FORCE_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    peer_region: str
    in_force_only: bool
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., peer_region: _Optional[str] = ..., in_force_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStandardMappingsResponse(_message.Message):
    __slots__ = ("standard_mappings", "next_page_token")
    STANDARD_MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    standard_mappings: _containers.RepeatedCompositeFieldContainer[StandardMapping]
    next_page_token: str
    def __init__(self, standard_mappings: _Optional[_Iterable[_Union[StandardMapping, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

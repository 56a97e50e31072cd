import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataGrade(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_GRADE_UNSPECIFIED: _ClassVar[DataGrade]
    DATA_GRADE_CORE: _ClassVar[DataGrade]
    DATA_GRADE_IMPORTANT: _ClassVar[DataGrade]
    DATA_GRADE_GENERAL: _ClassVar[DataGrade]

class PersonalInfoClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERSONAL_INFO_CLASS_UNSPECIFIED: _ClassVar[PersonalInfoClass]
    PERSONAL_INFO_CLASS_NONE: _ClassVar[PersonalInfoClass]
    PERSONAL_INFO_CLASS_PERSONAL: _ClassVar[PersonalInfoClass]
    PERSONAL_INFO_CLASS_SENSITIVE: _ClassVar[PersonalInfoClass]
    PERSONAL_INFO_CLASS_ANONYMISED: _ClassVar[PersonalInfoClass]

class AccessMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_MODE_UNSPECIFIED: _ClassVar[AccessMode]
    ACCESS_MODE_BULK: _ClassVar[AccessMode]
    ACCESS_MODE_LOOKUP: _ClassVar[AccessMode]
    ACCESS_MODE_VERIFY: _ClassVar[AccessMode]

class PurposeClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURPOSE_CLASS_UNSPECIFIED: _ClassVar[PurposeClass]
    PURPOSE_CLASS_COMMERCIAL: _ClassVar[PurposeClass]
    PURPOSE_CLASS_PUBLIC_WELFARE: _ClassVar[PurposeClass]
    PURPOSE_CLASS_GOVERNMENT_SHARING: _ClassVar[PurposeClass]
    PURPOSE_CLASS_RESEARCH: _ClassVar[PurposeClass]

class Category(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CATEGORY_UNSPECIFIED: _ClassVar[Category]
    CATEGORY_NATURAL_PERSON: _ClassVar[Category]
    CATEGORY_LEGAL_PERSON: _ClassVar[Category]
    CATEGORY_NATURAL_RESOURCES_GEOGRAPHY: _ClassVar[Category]
    CATEGORY_ELECTRONIC_LICENCE: _ClassVar[Category]
    CATEGORY_TRANSPORT: _ClassVar[Category]
    CATEGORY_HEALTH: _ClassVar[Category]
    CATEGORY_CULTURE_TOURISM: _ClassVar[Category]
    CATEGORY_LIVELIHOOD: _ClassVar[Category]
    CATEGORY_SCIENCE: _ClassVar[Category]
    CATEGORY_OTHER: _ClassVar[Category]

class SourceClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_CLASS_UNSPECIFIED: _ClassVar[SourceClass]
    SOURCE_CLASS_GOVERNMENT: _ClassVar[SourceClass]
    SOURCE_CLASS_PUBLIC: _ClassVar[SourceClass]
    SOURCE_CLASS_SOCIAL: _ClassVar[SourceClass]

class FieldSensitivity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIELD_SENSITIVITY_UNSPECIFIED: _ClassVar[FieldSensitivity]
    FIELD_SENSITIVITY_PUBLIC: _ClassVar[FieldSensitivity]
    FIELD_SENSITIVITY_INTERNAL: _ClassVar[FieldSensitivity]
    FIELD_SENSITIVITY_PERSONAL: _ClassVar[FieldSensitivity]
    FIELD_SENSITIVITY_SENSITIVE_PERSONAL: _ClassVar[FieldSensitivity]

class ApprovalKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_KIND_UNSPECIFIED: _ClassVar[ApprovalKind]
    APPROVAL_KIND_SECURITY_ASSESSMENT: _ClassVar[ApprovalKind]
    APPROVAL_KIND_STANDARD_CONTRACT: _ClassVar[ApprovalKind]
    APPROVAL_KIND_CERTIFICATION: _ClassVar[ApprovalKind]

class MaskingRule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MASKING_RULE_UNSPECIFIED: _ClassVar[MaskingRule]
    MASKING_RULE_NONE: _ClassVar[MaskingRule]
    MASKING_RULE_REDACT: _ClassVar[MaskingRule]
    MASKING_RULE_ID_NUMBER: _ClassVar[MaskingRule]
    MASKING_RULE_PHONE: _ClassVar[MaskingRule]
    MASKING_RULE_NAME: _ClassVar[MaskingRule]
    MASKING_RULE_HASH: _ClassVar[MaskingRule]
    MASKING_RULE_TRUNCATE_DATE: _ClassVar[MaskingRule]
DATA_GRADE_UNSPECIFIED: DataGrade
DATA_GRADE_CORE: DataGrade
DATA_GRADE_IMPORTANT: DataGrade
DATA_GRADE_GENERAL: DataGrade
PERSONAL_INFO_CLASS_UNSPECIFIED: PersonalInfoClass
PERSONAL_INFO_CLASS_NONE: PersonalInfoClass
PERSONAL_INFO_CLASS_PERSONAL: PersonalInfoClass
PERSONAL_INFO_CLASS_SENSITIVE: PersonalInfoClass
PERSONAL_INFO_CLASS_ANONYMISED: PersonalInfoClass
ACCESS_MODE_UNSPECIFIED: AccessMode
ACCESS_MODE_BULK: AccessMode
ACCESS_MODE_LOOKUP: AccessMode
ACCESS_MODE_VERIFY: AccessMode
PURPOSE_CLASS_UNSPECIFIED: PurposeClass
PURPOSE_CLASS_COMMERCIAL: PurposeClass
PURPOSE_CLASS_PUBLIC_WELFARE: PurposeClass
PURPOSE_CLASS_GOVERNMENT_SHARING: PurposeClass
PURPOSE_CLASS_RESEARCH: PurposeClass
CATEGORY_UNSPECIFIED: Category
CATEGORY_NATURAL_PERSON: Category
CATEGORY_LEGAL_PERSON: Category
CATEGORY_NATURAL_RESOURCES_GEOGRAPHY: Category
CATEGORY_ELECTRONIC_LICENCE: Category
CATEGORY_TRANSPORT: Category
CATEGORY_HEALTH: Category
CATEGORY_CULTURE_TOURISM: Category
CATEGORY_LIVELIHOOD: Category
CATEGORY_SCIENCE: Category
CATEGORY_OTHER: Category
SOURCE_CLASS_UNSPECIFIED: SourceClass
SOURCE_CLASS_GOVERNMENT: SourceClass
SOURCE_CLASS_PUBLIC: SourceClass
SOURCE_CLASS_SOCIAL: SourceClass
FIELD_SENSITIVITY_UNSPECIFIED: FieldSensitivity
FIELD_SENSITIVITY_PUBLIC: FieldSensitivity
FIELD_SENSITIVITY_INTERNAL: FieldSensitivity
FIELD_SENSITIVITY_PERSONAL: FieldSensitivity
FIELD_SENSITIVITY_SENSITIVE_PERSONAL: FieldSensitivity
APPROVAL_KIND_UNSPECIFIED: ApprovalKind
APPROVAL_KIND_SECURITY_ASSESSMENT: ApprovalKind
APPROVAL_KIND_STANDARD_CONTRACT: ApprovalKind
APPROVAL_KIND_CERTIFICATION: ApprovalKind
MASKING_RULE_UNSPECIFIED: MaskingRule
MASKING_RULE_NONE: MaskingRule
MASKING_RULE_REDACT: MaskingRule
MASKING_RULE_ID_NUMBER: MaskingRule
MASKING_RULE_PHONE: MaskingRule
MASKING_RULE_NAME: MaskingRule
MASKING_RULE_HASH: MaskingRule
MASKING_RULE_TRUNCATE_DATE: MaskingRule

class Money(_message.Message):
    __slots__ = ("currency_code", "amount_fen")
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    currency_code: str
    amount_fen: int
    def __init__(self, currency_code: _Optional[str] = ..., amount_fen: _Optional[int] = ...) -> None: ...

class Quantity(_message.Message):
    __slots__ = ("calls", "rows", "bytes")
    CALLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    calls: int
    rows: int
    bytes: int
    def __init__(self, calls: _Optional[int] = ..., rows: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class LocalizedText(_message.Message):
    __slots__ = ("zh", "en")
    ZH_FIELD_NUMBER: _ClassVar[int]
    EN_FIELD_NUMBER: _ClassVar[int]
    zh: str
    en: str
    def __init__(self, zh: _Optional[str] = ..., en: _Optional[str] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EntryRef(_message.Message):
    __slots__ = ("origin", "index", "leaf_hash")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    origin: str
    index: int
    leaf_hash: bytes
    def __init__(self, origin: _Optional[str] = ..., index: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("origin", "tree_size", "root_hash", "signed_note", "sign_time")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNED_NOTE_FIELD_NUMBER: _ClassVar[int]
    SIGN_TIME_FIELD_NUMBER: _ClassVar[int]
    origin: str
    tree_size: int
    root_hash: bytes
    signed_note: str
    sign_time: _timestamp_pb2.Timestamp
    def __init__(self, origin: _Optional[str] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., signed_note: _Optional[str] = ..., sign_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Cosignature(_message.Message):
    __slots__ = ("cosigner_region", "key_name", "origin", "tree_size", "root_hash", "time", "signature_line")
    COSIGNER_REGION_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_LINE_FIELD_NUMBER: _ClassVar[int]
    cosigner_region: str
    key_name: str
    origin: str
    tree_size: int
    root_hash: bytes
    time: _timestamp_pb2.Timestamp
    signature_line: str
    def __init__(self, cosigner_region: _Optional[str] = ..., key_name: _Optional[str] = ..., origin: _Optional[str] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signature_line: _Optional[str] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ("signer_region", "key_name", "key_id", "signature", "sign_time")
    SIGNER_REGION_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGN_TIME_FIELD_NUMBER: _ClassVar[int]
    signer_region: str
    key_name: str
    key_id: str
    signature: bytes
    sign_time: _timestamp_pb2.Timestamp
    def __init__(self, signer_region: _Optional[str] = ..., key_name: _Optional[str] = ..., key_id: _Optional[str] = ..., signature: _Optional[bytes] = ..., sign_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FieldMasking(_message.Message):
    __slots__ = ("field", "rule")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    field: str
    rule: MaskingRule
    def __init__(self, field: _Optional[str] = ..., rule: _Optional[_Union[MaskingRule, str]] = ...) -> None: ...

import datetime

from bashu.common.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LicenceRequestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LICENCE_REQUEST_STATE_UNSPECIFIED: _ClassVar[LicenceRequestState]
    LICENCE_REQUEST_STATE_HELD: _ClassVar[LicenceRequestState]
    LICENCE_REQUEST_STATE_GRANTED: _ClassVar[LicenceRequestState]
    LICENCE_REQUEST_STATE_DENIED: _ClassVar[LicenceRequestState]
    LICENCE_REQUEST_STATE_REJECTED: _ClassVar[LicenceRequestState]
    LICENCE_REQUEST_STATE_EXPIRED: _ClassVar[LicenceRequestState]

class DecisionOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_OUTCOME_UNSPECIFIED: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_GRANT: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_HOLD: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_DENY: _ClassVar[DecisionOutcome]

class LicenceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LICENCE_STATE_UNSPECIFIED: _ClassVar[LicenceState]
    LICENCE_STATE_ACTIVE: _ClassVar[LicenceState]
    LICENCE_STATE_SUSPENDED: _ClassVar[LicenceState]
    LICENCE_STATE_REVOKED: _ClassVar[LicenceState]
    LICENCE_STATE_EXPIRED: _ClassVar[LicenceState]

class RuleEffect(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_EFFECT_UNSPECIFIED: _ClassVar[RuleEffect]
    RULE_EFFECT_DENY: _ClassVar[RuleEffect]
    RULE_EFFECT_HOLD: _ClassVar[RuleEffect]
    RULE_EFFECT_INFORM: _ClassVar[RuleEffect]
LICENCE_REQUEST_STATE_UNSPECIFIED: LicenceRequestState
LICENCE_REQUEST_STATE_HELD: LicenceRequestState
LICENCE_REQUEST_STATE_GRANTED: LicenceRequestState
LICENCE_REQUEST_STATE_DENIED: LicenceRequestState
LICENCE_REQUEST_STATE_REJECTED: LicenceRequestState
LICENCE_REQUEST_STATE_EXPIRED: LicenceRequestState
DECISION_OUTCOME_UNSPECIFIED: DecisionOutcome
DECISION_OUTCOME_GRANT: DecisionOutcome
DECISION_OUTCOME_HOLD: DecisionOutcome
DECISION_OUTCOME_DENY: DecisionOutcome
LICENCE_STATE_UNSPECIFIED: LicenceState
LICENCE_STATE_ACTIVE: LicenceState
LICENCE_STATE_SUSPENDED: LicenceState
LICENCE_STATE_REVOKED: LicenceState
LICENCE_STATE_EXPIRED: LicenceState
RULE_EFFECT_UNSPECIFIED: RuleEffect
RULE_EFFECT_DENY: RuleEffect
RULE_EFFECT_HOLD: RuleEffect
RULE_EFFECT_INFORM: RuleEffect

class Purpose(_message.Message):
    __slots__ = ("scenario_code", "purpose_class", "description")
    SCENARIO_CODE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_CLASS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    scenario_code: str
    purpose_class: _common_pb2.PurposeClass
    description: str
    def __init__(self, scenario_code: _Optional[str] = ..., purpose_class: _Optional[_Union[_common_pb2.PurposeClass, str]] = ..., description: _Optional[str] = ...) -> None: ...

class CrossBorder(_message.Message):
    __slots__ = ("destination_country", "destination_region", "approval_kind", "approval_reference", "approval_expire_time")
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_REGION_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_KIND_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    destination_country: str
    destination_region: str
    approval_kind: _common_pb2.ApprovalKind
    approval_reference: str
    approval_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, destination_country: _Optional[str] = ..., destination_region: _Optional[str] = ..., approval_kind: _Optional[_Union[_common_pb2.ApprovalKind, str]] = ..., approval_reference: _Optional[str] = ..., approval_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LicenceTerms(_message.Message):
    __slots__ = ("product", "product_revision", "purpose", "fields", "unmasked_fields", "access_modes", "quota", "validity", "consumer_party", "consumer_region", "cross_border")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_REVISION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    UNMASKED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_MODES_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_PARTY_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_REGION_FIELD_NUMBER: _ClassVar[int]
    CROSS_BORDER_FIELD_NUMBER: _ClassVar[int]
    product: str
    product_revision: str
    purpose: Purpose
    fields: _containers.RepeatedScalarFieldContainer[str]
    unmasked_fields: _containers.RepeatedScalarFieldContainer[str]
    access_modes: _containers.RepeatedScalarFieldContainer[_common_pb2.AccessMode]
    quota: _common_pb2.Quantity
    validity: _common_pb2.TimeRange
    consumer_party: str
    consumer_region: str
    cross_border: CrossBorder
    def __init__(self, product: _Optional[str] = ..., product_revision: _Optional[str] = ..., purpose: _Optional[_Union[Purpose, _Mapping]] = ..., fields: _Optional[_Iterable[str]] = ..., unmasked_fields: _Optional[_Iterable[str]] = ..., access_modes: _Optional[_Iterable[_Union[_common_pb2.AccessMode, str]]] = ..., quota: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., validity: _Optional[_Union[_common_pb2.TimeRange, _Mapping]] = ..., consumer_party: _Optional[str] = ..., consumer_region: _Optional[str] = ..., cross_border: _Optional[_Union[CrossBorder, _Mapping]] = ...) -> None: ...

class DecisionReason(_message.Message):
    __slots__ = ("code", "rule_id", "rule_version", "message", "field", "effect")
    CODE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    code: str
    rule_id: str
    rule_version: int
    message: str
    field: str
    effect: DecisionOutcome
    def __init__(self, code: _Optional[str] = ..., rule_id: _Optional[str] = ..., rule_version: _Optional[int] = ..., message: _Optional[str] = ..., field: _Optional[str] = ..., effect: _Optional[_Union[DecisionOutcome, str]] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("outcome", "reasons", "policy_version", "decider", "decide_time")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    DECIDER_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    outcome: DecisionOutcome
    reasons: _containers.RepeatedCompositeFieldContainer[DecisionReason]
    policy_version: str
    decider: str
    decide_time: _timestamp_pb2.Timestamp
    def __init__(self, outcome: _Optional[_Union[DecisionOutcome, str]] = ..., reasons: _Optional[_Iterable[_Union[DecisionReason, _Mapping]]] = ..., policy_version: _Optional[str] = ..., decider: _Optional[str] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LicenceRequest(_message.Message):
    __slots__ = ("name", "terms", "state", "decision", "review", "licence", "requester", "home_region", "justification", "create_time", "update_time", "ledger_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    HOME_REGION_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    terms: LicenceTerms
    state: LicenceRequestState
    decision: Decision
    review: Decision
    licence: str
    requester: str
    home_region: str
    justification: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    ledger_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., terms: _Optional[_Union[LicenceTerms, _Mapping]] = ..., state: _Optional[_Union[LicenceRequestState, str]] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., review: _Optional[_Union[Decision, _Mapping]] = ..., licence: _Optional[str] = ..., requester: _Optional[str] = ..., home_region: _Optional[str] = ..., justification: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class LicenceDocument(_message.Message):
    __slots__ = ("licence", "terms", "masking", "tariff", "standard_mapping", "provider", "provider_region", "licence_request", "grant_time", "policy_version", "descriptor_digest")
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    MASKING_FIELD_NUMBER: _ClassVar[int]
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    STANDARD_MAPPING_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GRANT_TIME_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_DIGEST_FIELD_NUMBER: _ClassVar[int]
    licence: str
    terms: LicenceTerms
    masking: _containers.RepeatedCompositeFieldContainer[_common_pb2.FieldMasking]
    tariff: str
    standard_mapping: str
    provider: str
    provider_region: str
    licence_request: str
    grant_time: _timestamp_pb2.Timestamp
    policy_version: str
    descriptor_digest: bytes
    def __init__(self, licence: _Optional[str] = ..., terms: _Optional[_Union[LicenceTerms, _Mapping]] = ..., masking: _Optional[_Iterable[_Union[_common_pb2.FieldMasking, _Mapping]]] = ..., tariff: _Optional[str] = ..., standard_mapping: _Optional[str] = ..., provider: _Optional[str] = ..., provider_region: _Optional[str] = ..., licence_request: _Optional[str] = ..., grant_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., policy_version: _Optional[str] = ..., descriptor_digest: _Optional[bytes] = ...) -> None: ...

class Licence(_message.Message):
    __slots__ = ("name", "terms", "state", "state_reason", "masking", "tariff", "standard_mapping", "provider", "provider_region", "licence_request", "quota_used", "document", "signature", "grant_time", "update_time", "ledger_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    MASKING_FIELD_NUMBER: _ClassVar[int]
    TARIFF_FIELD_NUMBER: _ClassVar[int]
    STANDARD_MAPPING_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REGION_FIELD_NUMBER: _ClassVar[int]
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    QUOTA_USED_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    GRANT_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    terms: LicenceTerms
    state: LicenceState
    state_reason: str
    masking: _containers.RepeatedCompositeFieldContainer[_common_pb2.FieldMasking]
    tariff: str
    standard_mapping: str
    provider: str
    provider_region: str
    licence_request: str
    quota_used: _common_pb2.Quantity
    document: bytes
    signature: _common_pb2.Signature
    grant_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    ledger_entry: _common_pb2.EntryRef
    def __init__(self, name: _Optional[str] = ..., terms: _Optional[_Union[LicenceTerms, _Mapping]] = ..., state: _Optional[_Union[LicenceState, str]] = ..., state_reason: _Optional[str] = ..., masking: _Optional[_Iterable[_Union[_common_pb2.FieldMasking, _Mapping]]] = ..., tariff: _Optional[str] = ..., standard_mapping: _Optional[str] = ..., provider: _Optional[str] = ..., provider_region: _Optional[str] = ..., licence_request: _Optional[str] = ..., quota_used: _Optional[_Union[_common_pb2.Quantity, _Mapping]] = ..., document: _Optional[bytes] = ..., signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ..., grant_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ledger_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class PolicyRule(_message.Message):
    __slots__ = ("name", "rule_id", "version", "description", "effect", "reason_codes", "parameters", "enabled", "effective_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    rule_id: str
    version: int
    description: _common_pb2.LocalizedText
    effect: RuleEffect
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    parameters: _struct_pb2.Struct
    enabled: bool
    effective_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., rule_id: _Optional[str] = ..., version: _Optional[int] = ..., description: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., effect: _Optional[_Union[RuleEffect, str]] = ..., reason_codes: _Optional[_Iterable[str]] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., enabled: _Optional[bool] = ..., effective_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateLicenceRequestRequest(_message.Message):
    __slots__ = ("parent", "licence_request", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    licence_request: LicenceRequest
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., licence_request: _Optional[_Union[LicenceRequest, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateLicenceRequestResponse(_message.Message):
    __slots__ = ("licence_request", "licence")
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    licence_request: LicenceRequest
    licence: Licence
    def __init__(self, licence_request: _Optional[_Union[LicenceRequest, _Mapping]] = ..., licence: _Optional[_Union[Licence, _Mapping]] = ...) -> None: ...

class GetLicenceRequestRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetLicenceRequestResponse(_message.Message):
    __slots__ = ("licence_request",)
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    licence_request: LicenceRequest
    def __init__(self, licence_request: _Optional[_Union[LicenceRequest, _Mapping]] = ...) -> None: ...

class ListLicenceRequestsRequest(_message.Message):
    __slots__ = ("parent", "states", "product", "consumer_party", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_PARTY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    states: _containers.RepeatedScalarFieldContainer[LicenceRequestState]
    product: str
    consumer_party: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., states: _Optional[_Iterable[_Union[LicenceRequestState, str]]] = ..., product: _Optional[str] = ..., consumer_party: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLicenceRequestsResponse(_message.Message):
    __slots__ = ("licence_requests", "next_page_token")
    LICENCE_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    licence_requests: _containers.RepeatedCompositeFieldContainer[LicenceRequest]
    next_page_token: str
    def __init__(self, licence_requests: _Optional[_Iterable[_Union[LicenceRequest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ApproveLicenceRequestRequest(_message.Message):
    __slots__ = ("name", "comment", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    comment: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., comment: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ApproveLicenceRequestResponse(_message.Message):
    __slots__ = ("licence_request", "licence")
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    licence_request: LicenceRequest
    licence: Licence
    def __init__(self, licence_request: _Optional[_Union[LicenceRequest, _Mapping]] = ..., licence: _Optional[_Union[Licence, _Mapping]] = ...) -> None: ...

class RejectLicenceRequestRequest(_message.Message):
    __slots__ = ("name", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RejectLicenceRequestResponse(_message.Message):
    __slots__ = ("licence_request",)
    LICENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    licence_request: LicenceRequest
    def __init__(self, licence_request: _Optional[_Union[LicenceRequest, _Mapping]] = ...) -> None: ...

class GetLicenceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetLicenceResponse(_message.Message):
    __slots__ = ("licence",)
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    licence: Licence
    def __init__(self, licence: _Optional[_Union[Licence, _Mapping]] = ...) -> None: ...

class ListLicencesRequest(_message.Message):
    __slots__ = ("parent", "states", "product", "consumer_party", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_PARTY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    states: _containers.RepeatedScalarFieldContainer[LicenceState]
    product: str
    consumer_party: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., states: _Optional[_Iterable[_Union[LicenceState, str]]] = ..., product: _Optional[str] = ..., consumer_party: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLicencesResponse(_message.Message):
    __slots__ = ("licences", "next_page_token")
    LICENCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    licences: _containers.RepeatedCompositeFieldContainer[Licence]
    next_page_token: str
    def __init__(self, licences: _Optional[_Iterable[_Union[Licence, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SuspendLicenceRequest(_message.Message):
    __slots__ = ("name", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SuspendLicenceResponse(_message.Message):
    __slots__ = ("licence",)
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    licence: Licence
    def __init__(self, licence: _Optional[_Union[Licence, _Mapping]] = ...) -> None: ...

class ResumeLicenceRequest(_message.Message):
    __slots__ = ("name", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ResumeLicenceResponse(_message.Message):
    __slots__ = ("licence",)
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    licence: Licence
    def __init__(self, licence: _Optional[_Union[Licence, _Mapping]] = ...) -> None: ...

class RevokeLicenceRequest(_message.Message):
    __slots__ = ("name", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RevokeLicenceResponse(_message.Message):
    __slots__ = ("licence",)
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    licence: Licence
    def __init__(self, licence: _Optional[_Union[Licence, _Mapping]] = ...) -> None: ...

class ListPolicyRulesRequest(_message.Message):
    __slots__ = ("parent", "policy_version", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    policy_version: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., policy_version: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPolicyRulesResponse(_message.Message):
    __slots__ = ("policy_rules", "policy_version", "next_page_token")
    POLICY_RULES_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    policy_rules: _containers.RepeatedCompositeFieldContainer[PolicyRule]
    policy_version: str
    next_page_token: str
    def __init__(self, policy_rules: _Optional[_Iterable[_Union[PolicyRule, _Mapping]]] = ..., policy_version: _Optional[str] = ..., next_page_token: _Optional[str] = ...) -> None: ...

import datetime

from bashu.common.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Entry(_message.Message):
    __slots__ = ("index", "data", "leaf_hash", "idempotency_key", "append_time")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    APPEND_TIME_FIELD_NUMBER: _ClassVar[int]
    index: int
    data: bytes
    leaf_hash: bytes
    idempotency_key: str
    append_time: _timestamp_pb2.Timestamp
    def __init__(self, index: _Optional[int] = ..., data: _Optional[bytes] = ..., leaf_hash: _Optional[bytes] = ..., idempotency_key: _Optional[str] = ..., append_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RetiredKey(_message.Message):
    __slots__ = ("verifier_key", "retire_time", "rotation_entry")
    VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    RETIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ROTATION_ENTRY_FIELD_NUMBER: _ClassVar[int]
    verifier_key: str
    retire_time: _timestamp_pb2.Timestamp
    rotation_entry: _common_pb2.EntryRef
    def __init__(self, verifier_key: _Optional[str] = ..., retire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rotation_entry: _Optional[_Union[_common_pb2.EntryRef, _Mapping]] = ...) -> None: ...

class GetCheckpointRequest(_message.Message):
    __slots__ = ("log", "min_tree_size")
    LOG_FIELD_NUMBER: _ClassVar[int]
    MIN_TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    log: str
    min_tree_size: int
    def __init__(self, log: _Optional[str] = ..., min_tree_size: _Optional[int] = ...) -> None: ...

class GetCheckpointResponse(_message.Message):
    __slots__ = ("checkpoint", "cosignatures")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    COSIGNATURES_FIELD_NUMBER: _ClassVar[int]
    checkpoint: _common_pb2.Checkpoint
    cosignatures: _containers.RepeatedCompositeFieldContainer[_common_pb2.Cosignature]
    def __init__(self, checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., cosignatures: _Optional[_Iterable[_Union[_common_pb2.Cosignature, _Mapping]]] = ...) -> None: ...

class ListEntriesRequest(_message.Message):
    __slots__ = ("log", "start_index", "page_size", "page_token")
    LOG_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    log: str
    start_index: int
    page_size: int
    page_token: str
    def __init__(self, log: _Optional[str] = ..., start_index: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token", "tree_size")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    next_page_token: str
    tree_size: int
    def __init__(self, entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., tree_size: _Optional[int] = ...) -> None: ...

class GetEntryRequest(_message.Message):
    __slots__ = ("log", "index", "idempotency_key")
    LOG_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    log: str
    index: int
    idempotency_key: str
    def __init__(self, log: _Optional[str] = ..., index: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class GetEntryResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: Entry
    def __init__(self, entry: _Optional[_Union[Entry, _Mapping]] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("log", "index", "leaf_hash", "tree_size")
    LOG_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    log: str
    index: int
    leaf_hash: bytes
    tree_size: int
    def __init__(self, log: _Optional[str] = ..., index: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., tree_size: _Optional[int] = ...) -> None: ...

class GetInclusionProofResponse(_message.Message):
    __slots__ = ("index", "tree_size", "hashes", "checkpoint")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    checkpoint: _common_pb2.Checkpoint
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ..., checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("log", "first_tree_size", "second_tree_size")
    LOG_FIELD_NUMBER: _ClassVar[int]
    FIRST_TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    SECOND_TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    log: str
    first_tree_size: int
    second_tree_size: int
    def __init__(self, log: _Optional[str] = ..., first_tree_size: _Optional[int] = ..., second_tree_size: _Optional[int] = ...) -> None: ...

class GetConsistencyProofResponse(_message.Message):
    __slots__ = ("first_tree_size", "second_tree_size", "hashes", "first_checkpoint", "second_checkpoint")
    FIRST_TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    SECOND_TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    FIRST_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SECOND_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    first_tree_size: int
    second_tree_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    first_checkpoint: _common_pb2.Checkpoint
    second_checkpoint: _common_pb2.Checkpoint
    def __init__(self, first_tree_size: _Optional[int] = ..., second_tree_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ..., first_checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ..., second_checkpoint: _Optional[_Union[_common_pb2.Checkpoint, _Mapping]] = ...) -> None: ...

class ListCheckpointsRequest(_message.Message):
    __slots__ = ("log", "min_tree_size", "page_size", "page_token")
    LOG_FIELD_NUMBER: _ClassVar[int]
    MIN_TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    log: str
    min_tree_size: int
    page_size: int
    page_token: str
    def __init__(self, log: _Optional[str] = ..., min_tree_size: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCheckpointsResponse(_message.Message):
    __slots__ = ("checkpoints", "next_page_token")
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    checkpoints: _containers.RepeatedCompositeFieldContainer[_common_pb2.Checkpoint]
    next_page_token: str
    def __init__(self, checkpoints: _Optional[_Iterable[_Union[_common_pb2.Checkpoint, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPublicKeyRequest(_message.Message):
    __slots__ = ("log",)
    LOG_FIELD_NUMBER: _ClassVar[int]
    log: str
    def __init__(self, log: _Optional[str] = ...) -> None: ...

class GetPublicKeyResponse(_message.Message):
    __slots__ = ("region", "key_name", "verifier_key", "public_key", "retired_keys")
    REGION_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    RETIRED_KEYS_FIELD_NUMBER: _ClassVar[int]
    region: str
    key_name: str
    verifier_key: str
    public_key: bytes
    retired_keys: _containers.RepeatedCompositeFieldContainer[RetiredKey]
    def __init__(self, region: _Optional[str] = ..., key_name: _Optional[str] = ..., verifier_key: _Optional[str] = ..., public_key: _Optional[bytes] = ..., retired_keys: _Optional[_Iterable[_Union[RetiredKey, _Mapping]]] = ...) -> None: ...

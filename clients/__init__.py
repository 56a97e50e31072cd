"""Bashu Exchange SDK.

    from clients import connect
    with connect("127.0.0.1:50051", api_key) as client:
        cp = client.ledger.checkpoint(vkey)

Every failed call raises a :class:`BashuRpcError` subclass (see
:mod:`clients.sdk.errors`), never a raw ``grpc.RpcError``.
"""

from clients.sdk.channel import TlsOptions
from clients.sdk.client import Client, connect
from clients.sdk.errors import (
    AlreadyExistsError,
    BashuRpcError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    VerificationError,
)
from clients.sdk.ledger import verify_checkpoint_note, verify_inclusion_offline

__all__ = [
    "AlreadyExistsError",
    "BashuRpcError",
    "Client",
    "FailedPreconditionError",
    "FieldViolation",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "TlsOptions",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "VerificationError",
    "connect",
    "verify_checkpoint_note",
    "verify_inclusion_offline",
]

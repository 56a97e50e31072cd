"""The SDK's one exception tree, rebuilt from ``google.rpc.Status``.

Every failed call raises a subclass of :class:`BashuRpcError` carrying the gRPC
code, the ``ErrorInfo`` reason and metadata, and any ``BadRequest`` field
violations. Callers branch on the class or on ``reason``, never on message text::

    try:
        client.ledger.get_entry(10**9)
    except NotFoundError as exc:
        print(exc.reason)            # "ENTRY_NOT_FOUND"

Map of gRPC codes to classes: INVALID_ARGUMENT → InvalidArgumentError, NOT_FOUND →
NotFoundError, ALREADY_EXISTS → AlreadyExistsError, PERMISSION_DENIED →
PermissionDeniedError, UNAUTHENTICATED → UnauthenticatedError, RESOURCE_EXHAUSTED →
ResourceExhaustedError, FAILED_PRECONDITION → FailedPreconditionError, OUT_OF_RANGE →
OutOfRangeError, ABORTED → AbortedError, UNAVAILABLE / DEADLINE_EXCEEDED → UnavailableError /
DeadlineExceededError, UNIMPLEMENTED → UnimplementedError, anything else →
BashuRpcError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "BashuRpcError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "VerificationError",
    "from_rpc_error",
]


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class BashuRpcError(Exception):
    """A call the node refused or could not complete."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str = "",
        metadata: dict[str, str] | None = None,
        field_violations: tuple[FieldViolation, ...] = (),
    ) -> None:
        super().__init__(f"{code.name}: {reason + ': ' if reason else ''}{message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.field_violations = field_violations


class InvalidArgumentError(BashuRpcError): ...


class NotFoundError(BashuRpcError): ...


class AlreadyExistsError(BashuRpcError): ...


class PermissionDeniedError(BashuRpcError): ...


class UnauthenticatedError(BashuRpcError): ...


class ResourceExhaustedError(BashuRpcError): ...


class FailedPreconditionError(BashuRpcError): ...


class OutOfRangeError(BashuRpcError): ...


class AbortedError(BashuRpcError):
    """A concurrent change won (for example two approvals of one request); retrying
    the same call with the same ``request_id`` is safe."""


class UnavailableError(BashuRpcError): ...


class DeadlineExceededError(BashuRpcError): ...


class UnimplementedError(BashuRpcError): ...


class VerificationError(Exception):
    """Something the node sent did not verify locally (proof, signature, checkpoint)."""


_BY_CODE: dict[grpc.StatusCode, type[BashuRpcError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRangeError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
}


def from_rpc_error(err: grpc.RpcError) -> BashuRpcError:
    """Rebuild the typed error from a failed call's status and trailers."""
    # Every RpcError raised by a call is also a grpc.Call; the typing stubs cannot say so.
    call = cast(grpc.Call, err) if hasattr(err, "code") else None
    code: grpc.StatusCode = call.code() if call is not None else grpc.StatusCode.UNKNOWN
    message: str = (call.details() if call is not None else str(err)) or ""
    reason = ""
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    status = rpc_status.from_call(call) if call is not None else None
    if status is not None:
        message = status.message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
                metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations.extend(
                    FieldViolation(v.field, v.description) for v in bad.field_violations
                )
    klass = _BY_CODE.get(code, BashuRpcError)
    return klass(code, message, reason, metadata, tuple(violations))

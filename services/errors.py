"""The node's domain errors and the one table that maps errors to gRPC status.

Servicers never catch exceptions: they raise the domain error that describes what
went wrong, and :mod:`services.interceptors` turns it into a ``google.rpc.Status``
with an ``ErrorInfo`` (domain ``bashu.exchange``, an UPPER_SNAKE ``reason`` and
string metadata) plus ``BadRequest`` field violations or a ``QuotaFailure`` where
they fit. The table :data:`STATUS_TABLE` is the only place a status code is chosen.

Example::

    raise InvalidArgumentError([FieldViolation("product.title_zh", "must not be empty")])
    raise NotFoundError("regions/sc/products/p1")
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import grpc

from ledger import errors as ledger_errors
from services.db import TransactionAborted, is_transient

__all__ = [
    "ERROR_DOMAIN",
    "STATUS_TABLE",
    "TRANSACTION_ABORTED_MESSAGE",
    "AbortedError",
    "AlreadyExistsError",
    "BashuError",
    "ConfigError",
    "FailedPreconditionError",
    "FieldViolation",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "UnauthenticatedError",
    "UnavailableError",
    "status_for",
]

ERROR_DOMAIN = "bashu.exchange"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class BashuError(Exception):
    """Base of every error the node reports to a caller on purpose."""

    reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take other constructor arguments than ``args`` holds, so an error
        # crossing a process boundary (the metering writer) is rebuilt from its state.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[BashuError], args: tuple[Any, ...], state: dict[str, Any]) -> BashuError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class InvalidArgumentError(BashuError):
    """The request is malformed; every violation is reported at once."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation], *, reason: str | None = None) -> None:
        text = "; ".join(f"{v.field}: {v.description}" for v in violations) or "invalid request"
        super().__init__(text, reason=reason)
        self.violations = list(violations)


class NotFoundError(BashuError):
    reason = "NOT_FOUND"

    def __init__(self, resource: str, *, reason: str | None = None) -> None:
        super().__init__(f"{resource} not found", reason=reason, metadata={"resource": resource})
        self.resource = resource


class AlreadyExistsError(BashuError):
    reason = "ALREADY_EXISTS"


class PermissionDeniedError(BashuError):
    reason = "PERMISSION_DENIED"


class UnauthenticatedError(BashuError):
    reason = "UNAUTHENTICATED"


class FailedPreconditionError(BashuError):
    reason = "FAILED_PRECONDITION"


class UnavailableError(BashuError):
    reason = "UNAVAILABLE"


class AbortedError(BashuError):
    """A concurrency conflict the caller resolves by re-reading and retrying."""

    reason = "ABORTED"


class QuotaExceededError(BashuError):
    """A licence's quota would be exceeded; nothing was delivered or metered."""

    reason = "QUOTA_EXHAUSTED"

    def __init__(self, licence: str, dimension: str, limit: int, used: int, asked: int) -> None:
        super().__init__(
            f"{licence}: {dimension} quota {limit}, used {used}, asked {asked}",
            metadata={
                "licence": licence,
                "dimension": dimension,
                "limit": str(limit),
                "used": str(used),
            },
        )
        self.licence = licence
        self.dimension = dimension
        self.limit = limit
        self.used = used
        self.asked = asked


@dataclass
class ConfigError(Exception):
    """A node configuration or CLI argument is wrong (reported, never a traceback)."""

    field: str
    message: str
    extra: dict[str, str] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


# Exception type -> (status code, reason used when the error carries none of its own).
# Looked up along the exception's MRO, so the most specific entry wins.
STATUS_TABLE: dict[type[BaseException], tuple[grpc.StatusCode, str]] = {
    InvalidArgumentError: (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    NotFoundError: (grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    AlreadyExistsError: (grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
    PermissionDeniedError: (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"),
    UnauthenticatedError: (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"),
    FailedPreconditionError: (grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION"),
    UnavailableError: (grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE"),
    AbortedError: (grpc.StatusCode.ABORTED, "ABORTED"),
    TransactionAborted: (grpc.StatusCode.ABORTED, "TRANSACTION_ABORTED"),
    QuotaExceededError: (grpc.StatusCode.RESOURCE_EXHAUSTED, "QUOTA_EXHAUSTED"),
    BashuError: (grpc.StatusCode.INTERNAL, "INTERNAL"),
    # A method whose shape is in the API but whose implementation has not landed.
    NotImplementedError: (grpc.StatusCode.UNIMPLEMENTED, "NOT_IMPLEMENTED"),
    ledger_errors.EntryNotFoundError: (grpc.StatusCode.NOT_FOUND, "ENTRY_NOT_FOUND"),
    ledger_errors.TreeSizeError: (grpc.StatusCode.OUT_OF_RANGE, "TREE_SIZE_NOT_REACHED"),
    ledger_errors.InvalidProofError: (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    ledger_errors.NoteError: (grpc.StatusCode.INVALID_ARGUMENT, "SIGNATURE_INVALID"),
    ledger_errors.CheckpointError: (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    ledger_errors.LedgerError: (grpc.StatusCode.INTERNAL, "INTERNAL"),
}


# What a caller is told when its transaction lost a race it may win on a retry.
TRANSACTION_ABORTED_MESSAGE = "the transaction was aborted by a concurrent one; retry"


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """The status code and reason for ``exc``, or None for an unexpected error."""
    if is_transient(exc):
        # A race lost by a transaction the node does not run again itself (those
        # it does end as TransactionAborted): ABORTED is the code a client may
        # retry at a higher level (AIP-194), and nothing was committed.
        return grpc.StatusCode.ABORTED, "TRANSACTION_ABORTED"
    for klass in type(exc).__mro__:
        entry = STATUS_TABLE.get(klass)
        if entry is not None:
            code, default_reason = entry
            reason = exc.reason if isinstance(exc, BashuError) else default_reason
            return code, reason
    return None

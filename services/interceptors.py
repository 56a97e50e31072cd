"""The node's one server interceptor: telemetry, authentication, validation, errors.

Every RPC that reaches a servicer has passed, in this order:

1. **Telemetry** — a server span named after the method, continuing the caller's
   trace from the W3C ``traceparent`` metadata (so a cross-region call is one trace).
2. **Authentication** — ``authorization: Bearer <key>`` resolved to a
   :class:`~services.auth.Principal`; a missing, malformed, unknown or revoked key is
   ``UNAUTHENTICATED``. On a method peers may call (``PEER_METHODS``), signed
   ``x-bashu-*`` metadata authenticates the calling REGION instead
   (:class:`~services.peer_auth.Peer`); a method only peers may call never looks at
   an API key (a party's key never crosses regions) and refuses a call without the
   metadata as ``PEER_AUTH_MISSING``.
3. **Authorisation** — the method's roles from :data:`services.permissions.METHOD_ROLES`;
   a method not in the table is refused (deny by default) with ``PERMISSION_DENIED``.
4. **Parsing** — requests are deserialised here rather than by gRPC, so that bytes
   that are not a valid message become ``INVALID_ARGUMENT`` (gRPC would answer
   ``INTERNAL``), and only after the caller is known to be allowed.
5. **Error mapping** — domain errors raised by servicers become a
   ``google.rpc.Status`` with ``ErrorInfo`` (and ``BadRequest``/``QuotaFailure``)
   through the one table in :mod:`services.errors`; anything unexpected is logged and
   answered ``INTERNAL`` without internals leaking to the caller.

Servicers read the caller with :func:`current_principal` (a party of this region) or
:func:`current_peer` (a peer region); :func:`current_caller` returns whichever it is.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from services.auth import Principal, Role
from services.errors import (
    ERROR_DOMAIN,
    TRANSACTION_ABORTED_MESSAGE,
    BashuError,
    FieldViolation,
    InvalidArgumentError,
    PermissionDeniedError,
    QuotaExceededError,
    UnauthenticatedError,
    status_for,
)
from services.peer_auth import Peer, PeerAuthenticator, has_peer_metadata

__all__ = [
    "PUBLIC_METHOD_PREFIXES",
    "NodeInterceptor",
    "current_caller",
    "current_peer",
    "current_principal",
    "rich_status",
]

log = logging.getLogger(__name__)

# Standard services a client written by others must reach without a Bashu key.
PUBLIC_METHOD_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "bashu_principal", default=None
)

_peer: contextvars.ContextVar[Peer | None] = contextvars.ContextVar("bashu_peer", default=None)

Authenticator = Callable[[str], Principal]
Caller = Principal | Peer


def current_principal() -> Principal:
    """The authenticated party calling the RPC being served (set by the interceptor)."""
    principal = _principal.get()
    if principal is None:
        raise UnauthenticatedError("no authenticated caller", reason="UNAUTHENTICATED")
    return principal


def current_peer() -> Peer:
    """The authenticated peer region calling the RPC being served."""
    peer = _peer.get()
    if peer is None:
        raise UnauthenticatedError("the caller is not a peer region", reason="PEER_AUTH_MISSING")
    return peer


def current_caller() -> Caller:
    """The party or the peer region calling the RPC being served."""
    peer = _peer.get()
    return peer if peer is not None else current_principal()


def rich_status(exc: BaseException) -> status_pb2.Status:
    """Build the ``google.rpc.Status`` a caller receives for ``exc``."""
    mapped = status_for(exc)
    if mapped is None:
        code, reason, message = grpc.StatusCode.INTERNAL, "INTERNAL", "internal error"
    else:
        code, reason = mapped
        if isinstance(exc, BashuError):
            message = exc.message
        elif reason == "TRANSACTION_ABORTED":  # not the driver's text: it names SQL
            message = TRANSACTION_ABORTED_MESSAGE
        else:
            message = str(exc)
    metadata = dict(exc.metadata) if isinstance(exc, BashuError) else {}
    details: list[any_pb2.Any] = []
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata))
    details.append(info)
    if isinstance(exc, InvalidArgumentError) and exc.violations:
        bad = any_pb2.Any()
        bad.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in exc.violations
                ]
            )
        )
        details.append(bad)
    if isinstance(exc, QuotaExceededError):
        quota = any_pb2.Any()
        quota.Pack(
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(
                        subject=exc.licence, description=f"{exc.dimension} quota exhausted"
                    )
                ]
            )
        )
        details.append(quota)
    return status_pb2.Status(code=code.value[0], message=message, details=details)


def _bearer(metadata: Mapping[str, str | bytes]) -> str | None:
    value = metadata.get("authorization")
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    scheme, _, token = text.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError(
            "authorization metadata must be 'Bearer <key>'", reason="API_KEY_INVALID"
        )
    return token.strip()


def _enter(caller: Caller, span: trace.Span) -> Callable[[], None]:
    """Make ``caller`` current for the servicer; return what undoes it."""
    if isinstance(caller, Peer):
        span.set_attribute("bashu.peer.region", caller.region)
        peer_token = _peer.set(caller)
        return lambda: _peer.reset(peer_token)
    token = _principal.set(caller)
    return lambda: _principal.reset(token)


class NodeInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Wraps every registered method; see the module docstring for the order."""

    def __init__(
        self,
        authenticate: Authenticator,
        method_roles: Mapping[str, frozenset[Role]],
        tracer: Tracer | None = None,
        *,
        peer_authenticator: PeerAuthenticator | None = None,
        peer_methods: frozenset[str] = frozenset(),
    ) -> None:
        self._authenticate = authenticate
        self._method_roles = method_roles
        self._tracer = tracer or trace.get_tracer("bashu.node")
        self._peer_auth = peer_authenticator
        self._peer_methods = peer_methods

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(details)
        method: str = details.method
        if handler is None or method.startswith(PUBLIC_METHOD_PREFIXES):
            return handler
        metadata: dict[str, str | bytes] = {k: v for k, v in details.invocation_metadata or ()}
        if handler.request_streaming:
            # No Bashu method streams requests; refuse rather than serve unchecked.
            return None
        return self._wrap(handler, method, metadata)

    # -- wrapping ---------------------------------------------------------------

    def _admit(
        self,
        method: str,
        metadata: Mapping[str, str | bytes],
        raw: bytes,
        deserialize: Callable[[bytes], Any] | None,
    ) -> tuple[Caller, Any]:
        caller = self._identify(method, metadata, raw, deserialize)
        if deserialize is None:
            return caller, raw
        try:
            request = deserialize(raw)
        except (DecodeError, ValueError, TypeError) as exc:
            raise InvalidArgumentError(
                [FieldViolation("request", "not a valid protobuf message")]
            ) from exc
        return caller, request

    def _identify(
        self,
        method: str,
        metadata: Mapping[str, str | bytes],
        raw: bytes,
        deserialize: Callable[[bytes], Any] | None,
    ) -> Caller:
        peer_allowed = self._peer_auth is not None and method in self._peer_methods
        if peer_allowed and has_peer_metadata(metadata):
            assert self._peer_auth is not None
            return self._peer_auth.authenticate(method, metadata, raw, deserialize)
        if peer_allowed and method not in self._method_roles:
            # Deliberately not a look-up of the API key: a peer method says nothing
            # about whether a party's key is valid.
            raise UnauthenticatedError(
                f"{method} is called by peer regions with signed x-bashu-* metadata",
                reason="PEER_AUTH_MISSING",
            )
        return self._authenticate_party(method, metadata)

    def _authenticate_party(self, method: str, metadata: Mapping[str, str | bytes]) -> Principal:
        token = _bearer(metadata)
        if token is None:
            raise UnauthenticatedError("missing API key", reason="API_KEY_MISSING")
        principal = self._authenticate(token)
        allowed = self._method_roles.get(method)
        if allowed is None:
            raise PermissionDeniedError(
                f"{method} is not open to parties", reason="ROLE_NOT_ALLOWED"
            )
        if not principal.has_any(allowed):
            need = ",".join(sorted(r.value for r in allowed))
            raise PermissionDeniedError(
                f"{method} needs one of the roles: {need}",
                reason="ROLE_NOT_ALLOWED",
                metadata={"required_roles": need},
            )
        return principal

    def _fail(self, context: grpc.ServicerContext, exc: Exception, span: trace.Span) -> None:
        if status_for(exc) is None:
            log.exception("unexpected error in RPC")
        status = rich_status(exc)
        span.set_status(Status(StatusCode.ERROR, status.message))
        span.set_attribute("rpc.grpc.status_code", status.code)
        context.abort_with_status(rpc_status.to_status(status))

    def _wrap(
        self,
        handler: grpc.RpcMethodHandler[Any, Any],
        method: str,
        metadata: Mapping[str, str | bytes],
    ) -> grpc.RpcMethodHandler[Any, Any]:
        deserialize = handler.request_deserializer
        parent = propagate.extract(
            carrier={k: v for k, v in metadata.items() if isinstance(v, str)}
        )
        tracer = self._tracer
        span_name = method.lstrip("/")

        if handler.response_streaming:
            stream_behavior = handler.unary_stream
            assert stream_behavior is not None

            def unary_stream(raw: bytes, context: grpc.ServicerContext) -> Iterator[Any]:
                with tracer.start_as_current_span(
                    span_name, context=parent, kind=SpanKind.SERVER
                ) as span:
                    reset: Callable[[], None] | None = None
                    try:
                        caller, request = self._admit(method, metadata, raw, deserialize)
                        reset = _enter(caller, span)
                        yield from stream_behavior(request, context)
                    except Exception as exc:
                        self._fail(context, exc, span)
                    finally:
                        if reset is not None:
                            reset()

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=None,
                response_serializer=handler.response_serializer,
            )

        unary_behavior = handler.unary_unary
        assert unary_behavior is not None

        def unary_unary(raw: bytes, context: grpc.ServicerContext) -> Any:
            with tracer.start_as_current_span(
                span_name, context=parent, kind=SpanKind.SERVER
            ) as span:
                reset: Callable[[], None] | None = None
                try:
                    caller, request = self._admit(method, metadata, raw, deserialize)
                    reset = _enter(caller, span)
                    return unary_behavior(request, context)
                except Exception as exc:
                    self._fail(context, exc, span)
                    return None
                finally:
                    if reset is not None:
                        reset()

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=None,
            response_serializer=handler.response_serializer,
        )

"""Channels to a node: credentials, the API key, trace propagation, typed errors.

:func:`open_channel` returns a gRPC channel whose every call carries
``authorization: Bearer <key>`` and the current OpenTelemetry context (W3C
``traceparent``), so a trace started in the SDK continues on the node and across
regions. :class:`ErrorTranslating` wraps a generated stub so that every call raises
:class:`~clients.sdk.errors.BashuRpcError` subclasses instead of raw ``RpcError``.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from opentelemetry import propagate

from clients.sdk.errors import from_rpc_error

__all__ = ["ErrorTranslating", "TlsOptions", "open_channel"]

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class TlsOptions:
    """TLS for the channel: the CA that signed the node's certificate, and for
    mutual TLS the client's certificate and key."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name_override: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(p: Path | None) -> bytes | None:
            return p.read_bytes() if p is not None else None

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_file),
            private_key=read(self.key_file),
            certificate_chain=read(self.cert_file),
        )


class _ClientCallDetails(
    collections.namedtuple(
        "_ClientCallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class _MetadataInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[type-arg]
):
    def __init__(self, api_key: str | None) -> None:
        self._auth = (("authorization", f"Bearer {api_key}"),) if api_key else ()

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        metadata = [*(details.metadata or ()), *self._auth, *carrier.items()]
        return _ClientCallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details), request)


def open_channel(
    address: str,
    api_key: str | None = None,
    *,
    tls: TlsOptions | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> grpc.Channel:
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    if tls is not None:
        if tls.server_name_override:
            options.append(("grpc.ssl_target_name_override", tls.server_name_override))
        channel = grpc.secure_channel(address, tls.credentials(), options=options)
    else:
        channel = grpc.insecure_channel(address, options=options)
    return grpc.intercept_channel(channel, _MetadataInterceptor(api_key))


class _TranslatingIterator:
    def __init__(self, inner: Iterator[Any]) -> None:
        self._inner = inner

    def __iter__(self) -> _TranslatingIterator:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._inner)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def cancel(self) -> None:
        cancel = getattr(self._inner, "cancel", None)
        if cancel is not None:
            cancel()


class ErrorTranslating:
    """Proxy a generated stub: same methods, typed errors, default deadline."""

    def __init__(self, stub: Any, timeout: float | None = 30.0) -> None:
        self._stub = stub
        self._timeout = timeout

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)
        timeout = self._timeout

        def call(request: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout)
            try:
                result = method(request, **kwargs)
            except grpc.RpcError as err:
                raise from_rpc_error(err) from None
            if hasattr(result, "__next__"):
                return _TranslatingIterator(result)
            return result

        return call

"""The SDK turns every status code a node can send into its typed exception, with the
ErrorInfo reason and field violations, over a real gRPC connection."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from clients.sdk import errors

_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: errors.NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: errors.UnauthenticatedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPreconditionError,
    grpc.StatusCode.ABORTED: errors.AbortedError,
    grpc.StatusCode.OUT_OF_RANGE: errors.OutOfRangeError,
    grpc.StatusCode.UNAVAILABLE: errors.UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceededError,
    grpc.StatusCode.UNIMPLEMENTED: errors.UnimplementedError,
    grpc.StatusCode.INTERNAL: errors.BashuRpcError,
}


def _fail(request: bytes, context: grpc.ServicerContext) -> bytes:
    code = grpc.StatusCode[request.decode()]
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason="TEST_REASON", domain="bashu.exchange"))
    bad = any_pb2.Any()
    bad.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="name", description="empty")
            ]
        )
    )
    status = status_pb2.Status(
        code=getattr(code_pb2, code.name), message="refused", details=[info, bad]
    )
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.method_handlers_generic_handler(
        "test.Fail", {"Fail": grpc.unary_unary_rpc_method_handler(_fail)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(None)


@pytest.mark.parametrize("code", list(_CODES), ids=lambda c: c.name)
def test_each_code_maps_to_its_class(channel: grpc.Channel, code: grpc.StatusCode) -> None:
    call = channel.unary_unary("/test.Fail/Fail", None, None)
    with pytest.raises(grpc.RpcError) as caught:
        call(code.name.encode())
    err = errors.from_rpc_error(caught.value)
    assert type(err) is _CODES[code]
    assert err.code == code
    assert err.reason == "TEST_REASON"
    assert err.message == "refused"
    assert err.field_violations == (errors.FieldViolation("name", "empty"),)

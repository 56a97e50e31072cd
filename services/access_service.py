"""AccessService: sources, metered data calls and the usage they recorded.

Thin by design: each method converts protobuf to the domain types of
:mod:`services.dataplane` / :mod:`services.metering`, calls the domain with the
caller from :func:`~services.interceptors.current_principal`, and converts back.
Errors are domain errors mapped by the interceptor; nothing is caught here.

``ReadData`` passes the domain's frames through one by one (gRPC pulls the next
frame only when the previous send completed), and closing this generator (the
client went away) closes the domain's stream, which records what was delivered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import grpc
from bashu.access.v1 import access_pb2, access_pb2_grpc
from bashu.common.v1 import common_pb2

from services.dataplane import (
    DataPlane,
    Frame,
    LookupRequest,
    ReadRequest,
    SchemaFrame,
    VerifyRequest,
    source_message,
)
from services.errors import FieldViolation, InvalidArgumentError
from services.interceptors import current_principal
from services.market import MarketDataPlane
from services.metering import (
    OnceWriter,
    Receipt,
    UsageFilter,
    UsageGrouping,
    UsageItem,
    UsageSummary,
)
from services.records import length_delimited
from services.sources import FileFormat, FileLocation, FilterOp, Location, RowFilter, SqlLocation

if TYPE_CHECKING:
    from services.market import Market
    from services.registry import NodeContext

__all__ = ["AccessServicer", "add_access_service", "receipt_message"]


def receipt_message(receipt: Receipt) -> access_pb2.UsageReceipt:
    sig = receipt.signature
    msg = access_pb2.UsageReceipt(
        body=receipt.body,
        signature=common_pb2.Signature(
            signer_region=sig.signer_region,
            key_name=sig.key_name,
            key_id=sig.key_id,
            signature=sig.signature,
        ),
    )
    msg.signature.sign_time.FromMicroseconds(sig.sign_us)
    return msg


_RECORD_BATCH = access_pb2.ReadDataResponse.RECORD_BATCH_FIELD_NUMBER


def _frame(frame: Frame) -> access_pb2.ReadDataResponse | bytes:
    """A frame as sent. Record batches are framed here, already serialized: the wire
    form of a ReadDataResponse holding only ``record_batch`` is its tag, the length
    and the bytes, and building it directly saves two copies of every batch."""
    if isinstance(frame, bytes | memoryview):
        return length_delimited(_RECORD_BATCH, frame)
    if isinstance(frame, SchemaFrame):
        return access_pb2.ReadDataResponse(
            schema=access_pb2.DataSchema(
                arrow_schema=frame.arrow_schema,
                masking=[
                    common_pb2.FieldMasking(field=name, rule=f"MASKING_RULE_{rule.value}")
                    for name, rule in frame.masking
                ],
                estimated_rows=frame.estimated_rows,
            )
        )
    return access_pb2.ReadDataResponse(receipt=receipt_message(frame))


def _filters(request: access_pb2.ReadDataRequest) -> tuple[RowFilter, ...]:
    out = []
    bad = []
    for i, f in enumerate(request.filters):
        name = access_pb2.FilterOperator.Name(f.operator) if f.operator in _OPS else ""
        if not name or f.operator == access_pb2.FILTER_OPERATOR_UNSPECIFIED:
            bad.append(FieldViolation(f"filters[{i}].operator", "unknown operator"))
            continue
        op = FilterOp(name.removeprefix("FILTER_OPERATOR_"))
        out.append(RowFilter(f.column, op, f.value, tuple(f.values)))
    if bad:
        raise InvalidArgumentError(bad, reason="INVALID_FILTER")
    return tuple(out)


_OPS = frozenset(access_pb2.FilterOperator.values())


def _location(source: access_pb2.Source) -> Location:
    which = source.WhichOneof("location")
    if which == "file":
        f = source.file
        fmt = (
            FileFormat(access_pb2.FileFormat.Name(f.format).removeprefix("FILE_FORMAT_"))
            if f.format in (access_pb2.FILE_FORMAT_PARQUET, access_pb2.FILE_FORMAT_CSV)
            else None
        )
        if f.format not in (
            access_pb2.FILE_FORMAT_UNSPECIFIED,
            access_pb2.FILE_FORMAT_PARQUET,
            access_pb2.FILE_FORMAT_CSV,
        ):
            raise InvalidArgumentError(
                [FieldViolation("source.file.format", "unknown format")], reason="INVALID_SOURCE"
            )
        return FileLocation(f.path, fmt, f.csv_delimiter or ",")
    if which == "sql":
        return SqlLocation(source.sql.url, source.sql.table, source.sql.query)
    raise InvalidArgumentError(
        [FieldViolation("source.location", "give a file or a sql source")],
        reason="INVALID_SOURCE",
    )


_STATUSES = (access_pb2.USAGE_RECORD_STATUS_RECORDED, access_pb2.USAGE_RECORD_STATUS_REJECTED)


def _usage_filter(f: access_pb2.UsageFilter) -> UsageFilter:
    start = end = None
    if f.HasField("time_range"):
        if f.time_range.HasField("start_time"):
            start = f.time_range.start_time.ToMicroseconds()
        if f.time_range.HasField("end_time"):
            end = f.time_range.end_time.ToMicroseconds()
    statuses = []
    for s in f.statuses:
        if s not in (
            access_pb2.USAGE_RECORD_STATUS_RECORDED,
            access_pb2.USAGE_RECORD_STATUS_REJECTED,
        ):
            raise InvalidArgumentError([FieldViolation("filter.statuses", f"unknown status {s}")])
        statuses.append(access_pb2.UsageRecordStatus.Name(s).removeprefix("USAGE_RECORD_STATUS_"))
    return UsageFilter(
        licence=f.licence,
        product=f.product,
        consumer_party=f.consumer_party,
        period=f.period,
        start_us=start,
        end_us=end,
        statuses=tuple(statuses),
        consumer_region=f.consumer_region,
    )


def _usage_record(item: UsageItem, origin: str) -> access_pb2.UsageRecord:
    record = access_pb2.UsageRecord.FromString(item.record)
    if item.ledger_index is not None and item.ledger_leaf_hash is not None:
        record.ledger_entry.CopyFrom(
            common_pb2.EntryRef(
                origin=origin, index=item.ledger_index, leaf_hash=item.ledger_leaf_hash
            )
        )
    record.period = item.period
    return record


def _summary_row(row: UsageSummary) -> access_pb2.UsageSummaryRow:
    return access_pb2.UsageSummaryRow(
        key=row.key,
        record_count=row.record_count,
        zero_priced_count=row.zero_priced_count,
        quantity=common_pb2.Quantity(
            calls=row.quantity.calls, rows=row.quantity.rows, bytes=row.quantity.bytes
        ),
        amount=common_pb2.Money(currency_code=row.currency_code, amount_fen=row.amount_fen),
    )


_GROUPING = {
    access_pb2.USAGE_GROUPING_UNSPECIFIED: UsageGrouping.PRODUCT,
    access_pb2.USAGE_GROUPING_LICENCE: UsageGrouping.LICENCE,
    access_pb2.USAGE_GROUPING_PRODUCT: UsageGrouping.PRODUCT,
    access_pb2.USAGE_GROUPING_CONSUMER: UsageGrouping.CONSUMER,
    access_pb2.USAGE_GROUPING_DAY: UsageGrouping.DAY,
}


def _serialize_frame(frame: access_pb2.ReadDataResponse | bytes) -> bytes:
    return frame if isinstance(frame, bytes) else frame.SerializeToString()


class _SwapReadDataSerializer:
    """Stands in for the server while the generated code registers the service, so
    ReadData gets :func:`_serialize_frame` (which passes framed batches through)."""

    def __init__(self, server: grpc.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass  # registered below, from the same table

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        read = handlers["ReadData"]
        handlers = {
            **handlers,
            "ReadData": grpc.unary_stream_rpc_method_handler(
                read.unary_stream,
                request_deserializer=read.request_deserializer,
                response_serializer=_serialize_frame,
            ),
        }
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, handlers),)
        )
        # Registered methods skip gRPC's generic lookup (as the generated code does).
        cast(Any, self._server).add_registered_method_handlers(service, handlers)


def add_access_service(
    server: grpc.Server, ctx: NodeContext, writer: OnceWriter | None = None
) -> AccessServicer:
    """Register the AccessService of the node ``ctx`` describes on ``server``
    (one-shot calls committed by ``writer``, the metering writer process, if given)."""
    servicer = AccessServicer.for_node(ctx, writer)
    access_pb2_grpc.add_AccessServiceServicer_to_server(servicer, _SwapReadDataSerializer(server))
    return servicer


class AccessServicer(access_pb2_grpc.AccessServiceServicer):
    def __init__(self, plane: DataPlane) -> None:
        self._plane = plane
        self._region = plane.region
        # The federated market: calls on other regions' licences are relayed through it.
        self.market: Market | None = None

    @classmethod
    def for_node(cls, ctx: NodeContext, writer: OnceWriter | None = None) -> AccessServicer:
        return cls(
            MarketDataPlane(
                ctx.engine,
                ctx.ledger,
                ctx.signer,
                ctx.config.region,
                ctx.config.data_dir,
                max_message_bytes=ctx.config.limits.max_message_bytes,
                writer=writer,
            )
        )

    def _check_parent(self, parent: str) -> None:
        if parent != f"regions/{self._region}":
            raise InvalidArgumentError(
                [FieldViolation("parent", f"must be regions/{self._region}")],
                reason="INVALID_NAME",
            )

    # -- sources ------------------------------------------------------------------------

    def RegisterSource(
        self, request: access_pb2.RegisterSourceRequest, context: grpc.ServicerContext
    ) -> access_pb2.RegisterSourceResponse:
        info = self._plane.register_source(
            current_principal(),
            request.parent,
            request.source.product_revision,
            _location(request.source),
            tuple(request.source.key_columns),
            request.request_id,
        )
        return access_pb2.RegisterSourceResponse(source=source_message(info))

    def GetSource(
        self, request: access_pb2.GetSourceRequest, context: grpc.ServicerContext
    ) -> access_pb2.GetSourceResponse:
        info = self._plane.get_source(current_principal(), request.name)
        return access_pb2.GetSourceResponse(source=source_message(info))

    def ListSources(
        self, request: access_pb2.ListSourcesRequest, context: grpc.ServicerContext
    ) -> access_pb2.ListSourcesResponse:
        infos, token = self._plane.list_sources(
            current_principal(),
            request.parent,
            request.product_revision,
            request.page_size,
            request.page_token,
        )
        return access_pb2.ListSourcesResponse(
            sources=[source_message(i) for i in infos], next_page_token=token
        )

    # -- data calls ---------------------------------------------------------------------

    def ReadData(
        self, request: access_pb2.ReadDataRequest, context: grpc.ServicerContext
    ) -> Iterator[access_pb2.ReadDataResponse | bytes]:
        if self.market is not None and self.market.is_remote(request.licence):
            remaining = context.time_remaining()
            yield from self.market.relay_read(
                current_principal(), request, None if remaining is None else float(remaining)
            )
            return
        frames = self._plane.read(
            current_principal(),
            ReadRequest(
                licence=request.licence,
                columns=tuple(request.columns),
                filters=_filters(request),
                max_batch_rows=request.max_batch_rows,
                max_batch_bytes=request.max_batch_bytes,
                row_limit=request.row_limit,
                request_id=request.request_id,
            ),
        )
        with contextlib.closing(frames):
            for frame in frames:
                yield _frame(frame)

    def LookupRecord(
        self, request: access_pb2.LookupRecordRequest, context: grpc.ServicerContext
    ) -> access_pb2.LookupRecordResponse:
        if self.market is not None and self.market.is_remote(request.licence):
            return self.market.relay_lookup(current_principal(), request)
        result = self._plane.lookup(
            current_principal(),
            LookupRequest(
                licence=request.licence,
                key=tuple(sorted(request.key.items())),
                columns=tuple(request.columns),
                request_id=request.request_id,
            ),
        )
        return access_pb2.LookupRecordResponse(
            found=result.found, arrow_ipc=result.arrow_ipc, receipt=receipt_message(result.receipt)
        )

    def VerifyClaim(
        self, request: access_pb2.VerifyClaimRequest, context: grpc.ServicerContext
    ) -> access_pb2.VerifyClaimResponse:
        if self.market is not None and self.market.is_remote(request.licence):
            return self.market.relay_verify(current_principal(), request)
        result = self._plane.verify(
            current_principal(),
            VerifyRequest(
                licence=request.licence,
                claim=tuple(sorted(request.claim.items())),
                request_id=request.request_id,
            ),
        )
        return access_pb2.VerifyClaimResponse(
            verdict=f"CLAIM_VERDICT_{result.verdict}", receipt=receipt_message(result.receipt)
        )

    # -- usage --------------------------------------------------------------------------

    def GetUsageRecord(
        self, request: access_pb2.GetUsageRecordRequest, context: grpc.ServicerContext
    ) -> access_pb2.GetUsageRecordResponse:
        item = self._plane.meter.get_usage(current_principal(), request.name)
        return access_pb2.GetUsageRecordResponse(
            usage_record=_usage_record(item, self._plane.meter.origin)
        )

    def ListUsageRecords(
        self, request: access_pb2.ListUsageRecordsRequest, context: grpc.ServicerContext
    ) -> access_pb2.ListUsageRecordsResponse:
        self._check_parent(request.parent)
        items, token = self._plane.meter.list_usage(
            current_principal(),
            _usage_filter(request.filter),
            request.page_size,
            request.page_token,
        )
        origin = self._plane.meter.origin
        return access_pb2.ListUsageRecordsResponse(
            usage_records=[_usage_record(i, origin) for i in items], next_page_token=token
        )

    def SummarizeUsage(
        self, request: access_pb2.SummarizeUsageRequest, context: grpc.ServicerContext
    ) -> access_pb2.SummarizeUsageResponse:
        self._check_parent(request.parent)
        grouping = _GROUPING.get(request.grouping)
        if grouping is None:
            raise InvalidArgumentError([FieldViolation("grouping", "unknown grouping")])
        rows, total, token = self._plane.meter.summarize(
            current_principal(),
            _usage_filter(request.filter),
            grouping,
            request.page_size,
            request.page_token,
        )
        return access_pb2.SummarizeUsageResponse(
            rows=[_summary_row(r) for r in rows], total=_summary_row(total), next_page_token=token
        )

    def GetUsageReceipt(
        self, request: access_pb2.GetUsageReceiptRequest, context: grpc.ServicerContext
    ) -> access_pb2.GetUsageReceiptResponse:
        if self.market is not None and self.market.is_remote(request.parent):
            return access_pb2.GetUsageReceiptResponse(
                receipt=self.market.consumed_receipt(current_principal(), request)
            )
        self._check_parent(request.parent)
        caller = current_principal()
        receipt = self._plane.meter.receipt(
            f"regions/{self._region}/parties/{caller.party_id}", request.request_id
        )
        return access_pb2.GetUsageReceiptResponse(receipt=receipt_message(receipt))

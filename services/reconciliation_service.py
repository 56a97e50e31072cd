"""SettlementService methods for reconciliation (mixed into the settlement servicer).

``Reconcile`` compares this region's records of a period with a counterparty's, in
the three tiers of :mod:`services.settlement.reconcile`::

    our checkpoint ──▶ peer.GetPeriodSummary (their checkpoint, tiers 1–2)
                   ──▶ peer.ExportPeriodRecords(tree_size = their checkpoint, Arrow)
                   ──▶ our records below our checkpoint (one query per side, Arrow)
                   ──▶ reconcile (every record: matched, within tolerance,
                       mismatched, ours only, theirs only)
                   ──▶ DiscrepancyReport ledger entry ──▶ report + discrepancy rows

Both sides are read at a signed checkpoint, named in the report, so the comparison
can be repeated exactly. The counterparty's checkpoint is verified with its
configured key before it is used. A retry with the same ``request_id`` returns the
first report; the ledger entry's idempotency key follows from the request, so a
crash between the append and the insert cannot record the report twice.

The servicer stays thin: the work is :class:`Reconciliations`, built on first use
from the node context the settlement servicer holds as ``_ctx``.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import grpc
import pyarrow as pa
from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2
from bashu.ledger.v1 import record_pb2
from bashu.settlement.v1 import settlement_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.exc import IntegrityError

from ledger.errors import LedgerError
from ledger.log import SignedCheckpoint
from services.auth import Principal
from services.catalog import PageRequest, RequestKey, fingerprint
from services.errors import (
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from services.interceptors import current_principal
from services.ledger_service import checkpoint_message
from services.peers import describe_rpc_error, open_peer_checkpoint
from services.reconciliation_store import (
    PeerPeriod,
    ReportStore,
    bucket_key,
    load_records,
    period_span,
    read_arrow_chunks,
    records_from_messages,
    report_id_for,
    summary_from_message,
    usage_table,
)
from services.records import encode_record
from services.settlement.model import log_origin
from services.settlement.reconcile import (
    PeriodSummary,
    RecordScope,
    RecordSet,
    Tolerance,
    reconcile,
    summarize,
)
from services.settlement.usage import UsageTable

if TYPE_CHECKING:
    from services.registry import NodeContext

__all__ = ["PeerPeriod", "ReconciliationServicerMixin", "Reconciliations"]

_REGION = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
_PERIOD_NAME = re.compile(r"^regions/([a-z][a-z0-9-]{1,31})/periods/([A-Za-z0-9:-]{1,64})$")
_REPORT_NAME = re.compile(
    r"^regions/([a-z][a-z0-9-]{1,31})/periods/([A-Za-z0-9:-]{1,64})"
    r"/reconciliationReports/([0-9a-f]{32})$"
)
_US = 1_000_000


def _now_us() -> int:
    return time.time_ns() // 1000


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


def _tolerance(msg: settlement_pb2.Tolerance, field: str) -> Tolerance:
    violations = [
        FieldViolation(f"{field}.{name}", "must not be negative")
        for name in ("amount_fen", "rows", "bytes")
        if getattr(msg, name) < 0
    ]
    skew_us = msg.time_skew.seconds * _US + msg.time_skew.nanos // 1000
    if skew_us < 0:
        violations.append(FieldViolation(f"{field}.time_skew", "must not be negative"))
    if violations:
        raise InvalidArgumentError(violations)
    return Tolerance(
        amount_fen=msg.amount_fen,
        rows=msg.rows,
        bytes=msg.bytes,
        time_skew=timedelta(microseconds=skew_us),
    )


class Reconciliations:
    """Reconciliation of this node's region with its peers (see the module docstring)."""

    def __init__(self, ctx: NodeContext, *, scope: RecordScope = RecordScope.ALL) -> None:
        self._ctx = ctx
        self._region = ctx.config.region
        self._store = ReportStore(ctx.engine)
        # ALL compares every record (finds differences that cancel within a day);
        # DIFFERING_BUCKETS ships only the records of buckets whose totals differ.
        self._scope = scope

    @property
    def store(self) -> ReportStore:
        return self._store

    # --- names ------------------------------------------------------------------------

    def _period_id(self, name: str, field: str, *, allow_all: bool = False) -> str | None:
        m = _PERIOD_NAME.fullmatch(name)
        if m is None and allow_all and name == f"regions/{self._region}/periods/-":
            return None
        if m is None:
            raise InvalidArgumentError(
                [FieldViolation(field, "not 'regions/{region}/periods/{period}'")],
                reason="INVALID_RESOURCE_NAME",
            )
        if m.group(1) != self._region:
            raise NotFoundError(name, reason="PERIOD_NOT_FOUND")
        if allow_all and m.group(2) == "-":
            return None
        return m.group(2)

    def _report_ref(self, name: str, field: str) -> tuple[str, str]:
        m = _REPORT_NAME.fullmatch(name)
        if m is None:
            raise InvalidArgumentError(
                [
                    FieldViolation(
                        field,
                        "not 'regions/{region}/periods/{period}/reconciliationReports/{report}'",
                    )
                ],
                reason="INVALID_RESOURCE_NAME",
            )
        if m.group(1) != self._region:
            raise NotFoundError(name, reason="RECONCILIATION_REPORT_NOT_FOUND")
        return m.group(2), m.group(3)

    def report_name(self, period_id: str, report_id: str) -> str:
        return f"regions/{self._region}/periods/{period_id}/reconciliationReports/{report_id}"

    # --- Reconcile ----------------------------------------------------------------------

    def reconcile(
        self,
        principal: Principal,
        request: settlement_pb2.ReconcileRequest,
        timeout: float | None = None,
    ) -> settlement_pb2.ReconciliationReport:
        started = time.perf_counter()
        violations: list[FieldViolation] = []
        if not _PERIOD_NAME.fullmatch(request.period):
            violations.append(FieldViolation("period", "not 'regions/{region}/periods/{period}'"))
        cp = request.counterparty
        if not _REGION.fullmatch(cp):
            violations.append(FieldViolation("counterparty", "not a region id (e.g. 'cq')"))
        elif cp == self._region:
            violations.append(FieldViolation("counterparty", "cannot reconcile with itself"))
        if violations:
            raise InvalidArgumentError(violations)
        tolerance = (
            _tolerance(request.tolerance, "tolerance")
            if request.HasField("tolerance")
            else Tolerance()
        )
        copy = settlement_pb2.ReconcileRequest()
        copy.CopyFrom(request)
        copy.request_id = ""
        key = RequestKey(
            request.request_id,
            fingerprint("Reconcile", copy.SerializeToString(deterministic=True)),
        )
        creator = principal.party_name
        found = self._store.find(creator, key.request_id)
        if found is not None:
            key.check_same(found.request_fingerprint)
            return found.report
        period_id = self._period_id(request.period, "period")
        assert period_id is not None
        span = period_span(period_id, self._ctx.config.settlement.build_cadence())
        if span.start.timestamp() * _US > _now_us():
            raise NotFoundError(request.period, reason="PERIOD_NOT_FOUND")
        fed = self._ctx.federation
        if fed is None:
            raise UnavailableError(f"{cp!r} is not a configured peer", reason="PEER_UNAVAILABLE")
        peer_config = fed.channels.config(cp)
        peer = fed.channels.federation(cp)

        ours_cp = self._ctx.ledger.checkpoint()
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining() -> float:
            left = fed.config.federation.peer_timeout_s * 30
            if deadline is not None:
                left = min(left, deadline - time.monotonic())
            if left <= 0:
                raise UnavailableError(
                    f"no time left to ask {cp} (raise the call's deadline)",
                    reason="PEER_UNAVAILABLE",
                )
            return left

        try:
            summary = peer.GetPeriodSummary(
                federation_pb2.GetPeriodSummaryRequest(period=period_id), timeout=remaining()
            )
        except grpc.RpcError as exc:
            raise UnavailableError(
                f"{cp}: period summary: {describe_rpc_error(exc)}", reason="PEER_UNAVAILABLE"
            ) from None
        their_cp: common_pb2.Checkpoint | None = None
        their_size = 0
        if summary.HasField("checkpoint") and summary.checkpoint.signed_note:
            try:
                opened = open_peer_checkpoint(summary.checkpoint.signed_note, peer_config)
            except LedgerError as exc:
                raise UnavailableError(
                    f"{cp}: its checkpoint does not verify: {exc}", reason="PEER_UNAVAILABLE"
                ) from None
            their_cp = summary.checkpoint
            their_size = opened.size
        export = federation_pb2.ExportPeriodRecordsRequest(
            period=period_id, tree_size=their_size, arrow=True
        )

        def our_side() -> UsageTable:
            return usage_table(
                load_records(
                    self._ctx.engine, self._region, cp, span, tree_size=ours_cp.checkpoint.size
                )
            )

        their_summary = None
        if self._scope is RecordScope.DIFFERING_BUCKETS:
            ours = our_side()
            their_summary = summary_from_message(summary.totals, summary.buckets)
            export.buckets.extend(self._differing_buckets(summarize(ours), their_summary))
            theirs = self._fetch_theirs(peer, cp, export, remaining)
        else:
            # The peer reads and ships its side while this node reads its own.
            with ThreadPoolExecutor(1, thread_name_prefix="reconcile-peer") as pool:
                # In the caller's context, so the peer call continues this call's trace.
                context = contextvars.copy_context()
                fetching = pool.submit(context.run, self._fetch_theirs, peer, cp, export, remaining)
                ours = our_side()
                theirs = fetching.result()
        result = reconcile(
            RecordSet(self._region, ours),
            RecordSet(cp, usage_table(theirs)),
            period=period_id,
            tolerance=tolerance,
            scope=self._scope,
            their_summary=their_summary,
        )

        report_id = report_id_for(creator, key.request_id)
        create_us = _now_us()
        report = settlement_pb2.ReconciliationReport.FromString(result.body)
        report.name = self.report_name(period_id, report_id)
        report.our_checkpoint.CopyFrom(_checkpoint(ours_cp))
        if their_cp is not None:
            report.their_checkpoint.CopyFrom(their_cp)
        report.creator = creator
        report.create_time.CopyFrom(_ts(create_us))
        elapsed = Duration()
        elapsed.FromMicroseconds(int((time.perf_counter() - started) * _US))
        report.duration.CopyFrom(elapsed)

        idem = f"reconciliation:{report_id}"
        data = encode_record(
            self._region,
            creator,
            idem,
            discrepancy_report=record_pb2.DiscrepancyReport(report=report),
        )
        appended = self._ctx.ledger.append(data, idem)
        report.ledger_entry.CopyFrom(
            common_pb2.EntryRef(
                origin=log_origin(self._region),
                index=appended.index,
                leaf_hash=appended.leaf_hash,
            )
        )
        rows = [
            (int(d.tier), int(d.status), d.key, d.encode(result.currency))
            for d in result.discrepancies
        ]
        try:
            self._store.save(
                report_id=report_id,
                period=period_id,
                counterparty=cp,
                creator=creator,
                request_id=key.request_id,
                request_fingerprint=key.fingerprint,
                create_us=create_us,
                report=report,
                discrepancies=rows,
            )
        except IntegrityError:
            # The same request ran concurrently and stored first: answer with its report.
            again = self._store.find(creator, key.request_id)
            if again is None:
                raise
            key.check_same(again.request_fingerprint)
            return again.report
        return report

    @staticmethod
    def _differing_buckets(ours: PeriodSummary, theirs: PeriodSummary) -> list[str]:
        """Keys of the product-day buckets whose totals are not identical."""
        o = {b.ident: b for b in ours.buckets}
        t = {b.ident: b for b in theirs.buckets}
        return [bucket_key(*i) for i in sorted(o.keys() | t.keys()) if o.get(i) != t.get(i)]

    def _fetch_theirs(
        self,
        peer: Any,
        cp: str,
        request: federation_pb2.ExportPeriodRecordsRequest,
        remaining: Callable[[], float],
    ) -> pa.Table:
        blobs: list[bytes] = []
        messages: list[settlement_pb2.SettlementRecord] = []
        try:
            for chunk in peer.ExportPeriodRecords(request, timeout=remaining()):
                if chunk.arrow_records:
                    blobs.append(chunk.arrow_records)
                messages.extend(chunk.records)
        except grpc.RpcError as exc:
            raise UnavailableError(
                f"{cp}: period records: {describe_rpc_error(exc)}", reason="PEER_UNAVAILABLE"
            ) from None
        if messages and not blobs:  # a peer that answers only in messages
            return records_from_messages(messages)
        return read_arrow_chunks(blobs)

    # --- reading ----------------------------------------------------------------------

    def get(self, name: str) -> settlement_pb2.ReconciliationReport:
        period_id, report_id = self._report_ref(name, "name")
        found = self._store.get(report_id, period_id)
        if found is None:
            raise NotFoundError(name, reason="RECONCILIATION_REPORT_NOT_FOUND")
        return found.report

    def list(
        self, request: settlement_pb2.ListReconciliationReportsRequest
    ) -> settlement_pb2.ListReconciliationReportsResponse:
        period_id = self._period_id(request.parent, "parent", allow_all=True)
        if request.counterparty and not _REGION.fullmatch(request.counterparty):
            raise InvalidArgumentError(
                [FieldViolation("counterparty", "not a region id (e.g. 'cq')")]
            )
        page = PageRequest(
            request.page_size,
            request.page_token,
            fingerprint("ListReconciliationReports", request.parent, request.counterparty),
        )
        reports, token = self._store.reports(period_id, request.counterparty, page)
        return settlement_pb2.ListReconciliationReportsResponse(
            reports=reports, next_page_token=token
        )

    def discrepancies(
        self, request: settlement_pb2.ListReconciliationDiscrepanciesRequest
    ) -> settlement_pb2.ListReconciliationDiscrepanciesResponse:
        period_id, report_id = self._report_ref(request.parent, "parent")
        if self._store.get(report_id, period_id) is None:
            raise NotFoundError(request.parent, reason="RECONCILIATION_REPORT_NOT_FOUND")
        statuses = [int(s) for s in request.statuses]
        bad = [
            FieldViolation(f"statuses[{i}]", "not a match status")
            for i, s in enumerate(statuses)
            if s not in settlement_pb2.MatchStatus.values() or s == 0
        ]
        if request.tier not in settlement_pb2.ReconciliationTier.values():
            bad.append(FieldViolation("tier", "not a reconciliation tier"))
        if bad:
            raise InvalidArgumentError(bad)
        page = PageRequest(
            request.page_size,
            request.page_token,
            fingerprint(
                "ListReconciliationDiscrepancies",
                request.parent,
                ",".join(map(str, statuses)),
                str(int(request.tier)),
            ),
        )
        items, token = self._store.discrepancies(report_id, statuses, int(request.tier), page)
        return settlement_pb2.ListReconciliationDiscrepanciesResponse(
            discrepancies=items, next_page_token=token
        )


def _checkpoint(signed: SignedCheckpoint) -> common_pb2.Checkpoint:
    return checkpoint_message(signed)


def _remaining(context: grpc.ServicerContext) -> float | None:
    left = context.time_remaining()
    return None if left is None else float(left)


class ReconciliationServicerMixin:
    """Reconcile, GetReconciliationReport, ListReconciliationReports and
    ListReconciliationDiscrepancies; inherited by ``SettlementServicer``, which holds
    the node context as ``_ctx``."""

    _ctx: NodeContext
    _reconciliations_cache: Reconciliations | None = None

    @property
    def _reconciliations(self) -> Reconciliations:
        if self._reconciliations_cache is None:
            self._reconciliations_cache = Reconciliations(self._ctx)
        return self._reconciliations_cache

    def Reconcile(
        self, request: settlement_pb2.ReconcileRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.ReconcileResponse:
        report = self._reconciliations.reconcile(current_principal(), request, _remaining(context))
        return settlement_pb2.ReconcileResponse(report=report)

    def GetReconciliationReport(
        self,
        request: settlement_pb2.GetReconciliationReportRequest,
        context: grpc.ServicerContext,
    ) -> settlement_pb2.GetReconciliationReportResponse:
        return settlement_pb2.GetReconciliationReportResponse(
            report=self._reconciliations.get(request.name)
        )

    def ListReconciliationReports(
        self,
        request: settlement_pb2.ListReconciliationReportsRequest,
        context: grpc.ServicerContext,
    ) -> settlement_pb2.ListReconciliationReportsResponse:
        return self._reconciliations.list(request)

    def ListReconciliationDiscrepancies(
        self,
        request: settlement_pb2.ListReconciliationDiscrepanciesRequest,
        context: grpc.ServicerContext,
    ) -> settlement_pb2.ListReconciliationDiscrepanciesResponse:
        return self._reconciliations.discrepancies(request)

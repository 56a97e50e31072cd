"""FederationService: what peer regions (and this node's operators) call.

Thin by design: the interceptor has already authenticated the calling region (or the
operator's key); each method converts protobuf to a call on
:class:`~services.federation.Federation` and back. Implemented: GetPeerInfo,
DeliverMessages, GetCosignatures, GetFederationStatus, and for reconciliation
GetPeriodSummary and ExportPeriodRecords (:mod:`services.reconciliation_store`). The
market methods (SearchCatalog, ForwardLicenceRequest, ForwardReadData,
ForwardLookupRecord, ForwardVerifyClaim) are served by :mod:`services.market`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import grpc
from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2, federation_pb2_grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from services.batches import fill_batch_progress
from services.errors import FieldViolation, InvalidArgumentError, NotFoundError
from services.federation import Federation
from services.interceptors import current_caller, current_peer
from services.ledger_service import checkpoint_message
from services.outbox import Ack
from services.peer_auth import Peer
from services.peer_state import AlarmView, CheckpointView, FederationStatus, PeerStatusView
from services.reconciliation_store import PeerPeriod
from services.settlement_store import signed_statements
from services.witness import checkpoint_proto, cosignature_proto

if TYPE_CHECKING:
    from services.catalog_service import CatalogServicer
    from services.market import Market

__all__ = ["FederationServicer", "status_message"]


def _ts_us(us: int | None) -> Timestamp | None:
    if us is None:
        return None
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


def _ack(ack: Ack) -> federation_pb2.MessageAck:
    return federation_pb2.MessageAck(
        message_id=ack.message_id,
        status=f"ACK_STATUS_{ack.status}",
        reason=ack.reason,
        detail=ack.detail,
    )


def _checkpoint(view: CheckpointView | None) -> common_pb2.Checkpoint | None:
    return None if view is None else checkpoint_proto(view.note, view.checkpoint)


def _alarm(alarm: AlarmView) -> federation_pb2.Alarm:
    message = federation_pb2.Alarm(
        kind=f"ALARM_KIND_{alarm.kind.value}",
        since=_ts_us(alarm.since_us),
        detail=alarm.detail,
    )
    if alarm.evidence is not None:
        index, leaf_hash = alarm.evidence
        message.evidence.CopyFrom(common_pb2.EntryRef(index=index, leaf_hash=leaf_hash))
    return message


def _peer(view: PeerStatusView, origin: str) -> federation_pb2.PeerStatus:
    message = federation_pb2.PeerStatus(
        region=view.region,
        address=view.address,
        reachable=view.reachable,
        last_contact_time=_ts_us(view.last_contact_us),
        last_error=view.last_error,
        last_checkpoint_seen=_checkpoint(view.last_seen),
        last_checkpoint_cosigned=_checkpoint(view.last_cosigned),
        outbox_backlog=view.outbox_backlog,
        oldest_pending_time=_ts_us(view.oldest_pending_us),
        alarms=[_alarm(a) for a in view.alarms],
    )
    for alarm in message.alarms:
        if alarm.HasField("evidence"):
            alarm.evidence.origin = origin
    if view.clock_skew_ms is not None:
        skew = Duration()
        skew.FromMilliseconds(view.clock_skew_ms)
        message.clock_skew.CopyFrom(skew)
    return message


def status_message(
    status: FederationStatus, origin: str
) -> federation_pb2.GetFederationStatusResponse:
    """The API form of a :class:`~services.peer_state.FederationStatus`."""
    response = federation_pb2.GetFederationStatusResponse(
        region=status.region,
        peers=[_peer(p, origin) for p in status.peers],
        time=_ts_us(status.time_us),
    )
    if status.checkpoint is not None:
        response.checkpoint.CopyFrom(checkpoint_message(status.checkpoint))
    return response


class FederationServicer(federation_pb2_grpc.FederationServiceServicer):
    def __init__(self, federation: Federation) -> None:
        self._fed = federation
        # The federated market (services.market), set by the registry.
        self.market: Market | None = None
        self.catalog: CatalogServicer | None = None

    # --- the market: search, forwarded licence requests and data calls ---------------

    def _market(self) -> Market:
        if self.market is None:
            raise NotImplementedError("this node does not serve the federated market")
        return self.market

    def SearchCatalog(
        self, request: federation_pb2.SearchCatalogRequest, context: grpc.ServicerContext
    ) -> federation_pb2.SearchCatalogResponse:
        market = self._market()
        assert self.catalog is not None
        caller = market.peer_principal(current_peer().region)
        products, token = self.catalog.search_catalog(caller, request)
        return federation_pb2.SearchCatalogResponse(products=products, next_page_token=token)

    def ForwardLicenceRequest(
        self, request: federation_pb2.ForwardLicenceRequestRequest, context: grpc.ServicerContext
    ) -> federation_pb2.ForwardLicenceRequestResponse:
        return self._market().decide_forwarded(current_peer().region, request)

    def ForwardReadData(
        self, request: federation_pb2.ForwardReadDataRequest, context: grpc.ServicerContext
    ) -> Iterator[federation_pb2.ForwardReadDataResponse]:
        return self._market().forward_read(current_peer().region, request, context)

    def ForwardLookupRecord(
        self, request: federation_pb2.ForwardLookupRecordRequest, context: grpc.ServicerContext
    ) -> federation_pb2.ForwardLookupRecordResponse:
        return self._market().forward_lookup(current_peer().region, request, context)

    def ForwardVerifyClaim(
        self, request: federation_pb2.ForwardVerifyClaimRequest, context: grpc.ServicerContext
    ) -> federation_pb2.ForwardVerifyClaimResponse:
        return self._market().forward_verify(current_peer().region, request, context)

    def GetPeerInfo(
        self, request: federation_pb2.GetPeerInfoRequest, context: grpc.ServicerContext
    ) -> federation_pb2.GetPeerInfoResponse:
        info = self._fed.peer_info()
        server_time = Timestamp()
        server_time.FromNanoseconds(int(info.server_time * 1e9))
        return federation_pb2.GetPeerInfoResponse(
            region=info.region,
            api_version=info.api_version,
            verifier_key=info.verifier_key,
            witness_verifier_key=info.witness_verifier_key,
            log_origin=info.log_origin,
            standard_version=info.standard_version,
            node_version=info.node_version,
            server_time=server_time,
            message_kinds=[federation_pb2.MessageKind.Name(k) for k in info.message_kinds],
        )

    def DeliverMessages(
        self, request: federation_pb2.DeliverMessagesRequest, context: grpc.ServicerContext
    ) -> federation_pb2.DeliverMessagesResponse:
        sender = current_peer()
        acks = self._fed.inbox.receive(sender.region, list(request.messages), request.request_id)
        return federation_pb2.DeliverMessagesResponse(acks=[_ack(a) for a in acks])

    def GetCosignatures(
        self, request: federation_pb2.GetCosignaturesRequest, context: grpc.ServicerContext
    ) -> federation_pb2.GetCosignaturesResponse:
        caller = current_caller()
        violations = []
        if request.tree_size < 0:
            violations.append(FieldViolation("tree_size", "must not be negative"))
        origin = request.origin
        if isinstance(caller, Peer):
            own = f"bashu.exchange/log/{caller.region}"
            if origin and origin != own:
                violations.append(FieldViolation("origin", "a peer may ask only for its own log"))
            origin = own
        elif not origin:
            violations.append(FieldViolation("origin", "name the log (for example a peer's)"))
        if violations:
            raise InvalidArgumentError(violations)
        found = self._fed.cosignatures(origin, request.tree_size)
        if not found:
            raise NotFoundError(
                f"cosignature of {origin} at size {request.tree_size or 'any'}",
                reason="CHECKPOINT_NOT_FOUND",
            )
        return federation_pb2.GetCosignaturesResponse(
            cosignatures=[cosignature_proto(c) for c in found]
        )

    def GetFederationStatus(
        self, request: federation_pb2.GetFederationStatusRequest, context: grpc.ServicerContext
    ) -> federation_pb2.GetFederationStatusResponse:
        response = status_message(self._fed.status(), self._fed.config.origin)
        fill_batch_progress(response, self._fed.engine, self._fed.region)
        return response

    def ListSignedStatements(
        self, request: federation_pb2.ListSignedStatementsRequest, context: grpc.ServicerContext
    ) -> federation_pb2.ListSignedStatementsResponse:
        # Any peer may read them: a third region nets the period with them, and each
        # carries both regions' signatures, which the reader checks itself.
        statements, token = signed_statements(
            self._fed.engine,
            self._fed.region,
            request.period,
            request.page_size,
            request.page_token,
        )
        return federation_pb2.ListSignedStatementsResponse(
            statements=statements, next_page_token=token
        )

    # --- reconciliation: a peer reads its pair's records of a period ------------------

    def _peer_period(self, period: str) -> PeerPeriod:
        fed = self._fed
        now_us = int(fed.clock() * 1_000_000)
        return PeerPeriod.of(
            fed.engine,
            fed.ledger,
            fed.region,
            current_peer().region,
            period,
            now_us,
            cadence=fed.config.settlement.build_cadence(),
        )

    def GetPeriodSummary(
        self, request: federation_pb2.GetPeriodSummaryRequest, context: grpc.ServicerContext
    ) -> federation_pb2.GetPeriodSummaryResponse:
        return self._peer_period(request.period).summary(int(self._fed.clock() * 1_000_000))

    def ExportPeriodRecords(
        self, request: federation_pb2.ExportPeriodRecordsRequest, context: grpc.ServicerContext
    ) -> Iterator[federation_pb2.ExportPeriodRecordsResponse]:
        period = self._peer_period(request.period)
        return period.export(list(request.buckets), request.tree_size, request.arrow)

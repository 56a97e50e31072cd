"""Which servicers a node serves. Called only from :mod:`services.node`.

Services whose implementation has not landed yet are registered with their
generated base class: every method is still authenticated and authorised by the
interceptor, then answers ``UNIMPLEMENTED`` (reason ``NOT_IMPLEMENTED``), so the
whole API's shape is visible through reflection from the first release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from bashu.access.v1 import access_pb2
from bashu.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from bashu.federation.v1 import federation_pb2, federation_pb2_grpc
from bashu.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from bashu.licensing.v1 import licensing_pb2, licensing_pb2_grpc
from bashu.settlement.v1 import settlement_pb2, settlement_pb2_grpc
from sqlalchemy import Engine

from ledger.log import Log
from ledger.note import Signer
from services.access_service import add_access_service
from services.batches import Batches, BatchSealer
from services.catalog import Catalog
from services.catalog_service import CatalogServicer, LedgerCatalogRecorder
from services.config import NodeConfig
from services.federation import Federation
from services.federation_service import FederationServicer
from services.ledger_service import LedgerServicer
from services.licensing_service import LedgerLicensingRecorder, LicensingServicer
from services.market import Market, MarketLicensing
from services.metering_writer import writer_for
from services.outbox import keep_in_inbox
from services.settlement_service import SettlementScheduler, SettlementServicer, build_settlement

__all__ = ["SERVICE_NAMES", "NodeContext", "register_services"]


class ChildProcess(Protocol):
    """A process the node runs beside its server (the metering writer)."""

    def start(self) -> None:
        """Start it now rather than at first use (never raises: logs)."""

    def close(self) -> None:
        """Stop it; called once the server has drained."""


@dataclass(frozen=True)
class NodeContext:
    config: NodeConfig
    engine: Engine
    signer: Signer
    ledger: Log
    # Peers, outbox, inbox and witness; None only where no federation was built.
    federation: Federation | None = None
    # Threads the node starts and stops with the server (start() and stop()).
    background: list[Any] = field(default_factory=list)
    # Child processes (the metering writer), started at first use or by
    # Node.prewarm() and closed once the server has drained, before the ledger and
    # the database: start() and close().
    processes: list[ChildProcess] = field(default_factory=list)


SERVICE_NAMES = [
    ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"].full_name,
    catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
    licensing_pb2.DESCRIPTOR.services_by_name["LicensingService"].full_name,
    access_pb2.DESCRIPTOR.services_by_name["AccessService"].full_name,
    settlement_pb2.DESCRIPTOR.services_by_name["SettlementService"].full_name,
    federation_pb2.DESCRIPTOR.services_by_name["FederationService"].full_name,
]


def _catalog_and_licensing(ctx: NodeContext) -> tuple[CatalogServicer, LicensingServicer]:
    region = ctx.config.region
    catalog = Catalog(ctx.engine, region, LedgerCatalogRecorder(ctx.ledger, region))
    licensing = MarketLicensing(
        ctx.engine, region, catalog, ctx.signer, LedgerLicensingRecorder(ctx.ledger, region)
    )
    fed = ctx.federation
    # Changes to licences of peers' consumers reach their home nodes as LicenceNotices.
    licensing.notices = fed.outbox if fed is not None else None
    licensing.origin = ctx.config.origin
    licensing.peer_countries = {p.region: p.country for p in ctx.config.peers}
    # A process that died between a commit and its ledger append left a change
    # unrecorded: record it now (the ledger's idempotency keys make this safe).
    catalog.record_pending()
    licensing.record_pending()
    market = Market(
        region=region,
        origin=ctx.config.origin,
        engine=ctx.engine,
        ledger=ctx.ledger,
        catalog=catalog,
        licensing=licensing,
        channels=fed.channels if fed is not None else None,
        peers=ctx.config.peers,
        peer_timeout_s=ctx.config.federation.peer_timeout_s,
    )
    return (
        CatalogServicer(catalog, ctx.config.origin, market),
        LicensingServicer(licensing, ctx.config.origin, market),
    )


def register_services(server: grpc.Server, ctx: NodeContext) -> list[str]:
    """Add every service to ``server``; return their full names (for health/reflection)."""
    fed = ctx.federation
    ledger_servicer = (
        LedgerServicer(ctx.ledger, ctx.signer, ctx.config.region, fed.received_cosignatures)
        if fed is not None
        else LedgerServicer(ctx.ledger, ctx.signer, ctx.config.region)
    )
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(ledger_servicer, server)
    catalog_servicer, licensing_servicer = _catalog_and_licensing(ctx)
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(catalog_servicer, server)
    licensing_pb2_grpc.add_LicensingServiceServicer_to_server(licensing_servicer, server)
    # Lookups' and verifies' usage is committed by a child process (started at first
    # use or by Node.prewarm, closed after the server drained).
    writer = writer_for(ctx.config, ctx.signer, ctx.ledger)
    if writer is not None:
        ctx.processes.append(writer)
    access_servicer = add_access_service(server, ctx, writer)
    market = catalog_servicer.market
    assert market is not None
    access_servicer.market = market
    market.access = access_servicer
    book = build_settlement(
        ctx.engine,
        ctx.config.region,
        ctx.signer,
        ctx.ledger,
        peers=ctx.config.peers,
        outbox=fed.outbox if fed is not None else None,
        channels=fed.channels if fed is not None else None,
        handlers=fed.handlers if fed is not None else None,
        peer_timeout_s=ctx.config.federation.peer_timeout_s,
        cadence=ctx.config.settlement.build_cadence(),
        grace_window=ctx.config.settlement.grace_window,
    )
    # Periods close by time and dispute deadlines pass without anyone calling: the
    # node runs the scheduler step like the witness loop (started and stopped with it).
    ctx.background.append(SettlementScheduler(book))
    settlement_pb2_grpc.add_SettlementServiceServicer_to_server(
        SettlementServicer(book, ctx), server
    )
    if fed is not None:
        # Usage batches: handlers for the four batch message kinds, and the sealing
        # loop (every [federation] batch_interval_s), started and stopped with the node.
        batches = Batches(
            ctx.engine,
            ctx.config.region,
            ctx.signer,
            ctx.ledger,
            fed.outbox,
            ctx.config.peers,
            ctx.config.federation,
        )
        batches.register_handlers(fed.handlers)
        ctx.background.append(BatchSealer(batches))
    federation_servicer: federation_pb2_grpc.FederationServiceServicer
    if fed is not None:
        federation_servicer = FederationServicer(fed)
        federation_servicer.market = market
        federation_servicer.catalog = catalog_servicer
        # Licence notices update the consumers' copies, unless the node was built with
        # a handler of its own for them (a market's own, from an earlier build, is ours).
        notices = fed.handlers.get(federation_pb2.MESSAGE_KIND_LICENCE_NOTICE)
        owner = getattr(notices, "__self__", None)
        if notices in (None, keep_in_inbox) or isinstance(owner, Market):
            fed.handlers.register(
                federation_pb2.MESSAGE_KIND_LICENCE_NOTICE, market.on_licence_notice, replace=True
            )
    else:
        federation_servicer = federation_pb2_grpc.FederationServiceServicer()
    federation_pb2_grpc.add_FederationServiceServicer_to_server(federation_servicer, server)
    return list(SERVICE_NAMES)

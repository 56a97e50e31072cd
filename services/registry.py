"""Which servicers a node serves. Called only from :mod:`services.node`.

Services whose implementation has not landed yet are registered with their
generated base class: every method is still authenticated and authorised by the
interceptor, then answers ``UNIMPLEMENTED`` (reason ``NOT_IMPLEMENTED``), so the
whole API's shape is visible through reflection from the first release.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from services.catalog import Catalog
from services.catalog_service import CatalogServicer, LedgerCatalogRecorder
from services.config import NodeConfig
from services.federation import Federation
from services.federation_service import FederationServicer
from services.ledger_service import LedgerServicer
from services.licensing import Licensing
from services.licensing_service import LedgerLicensingRecorder, LicensingServicer

__all__ = ["SERVICE_NAMES", "NodeContext", "register_services"]


@dataclass(frozen=True)
class NodeContext:
    config: NodeConfig
    engine: Engine
    signer: Signer
    ledger: Log
    # Peers, outbox, inbox and witness; None only where no federation was built.
    federation: Federation | None = None


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
    licensing = Licensing(
        ctx.engine, region, catalog, ctx.signer, LedgerLicensingRecorder(ctx.ledger, region)
    )
    # A process that died between a commit and its ledger append left a change
    # unrecorded: record it now (the ledger's idempotency keys make this safe).
    catalog.record_pending()
    licensing.record_pending()
    return (
        CatalogServicer(catalog, ctx.config.origin),
        LicensingServicer(licensing, ctx.config.origin),
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
    add_access_service(server, ctx)
    settlement_pb2_grpc.add_SettlementServiceServicer_to_server(
        settlement_pb2_grpc.SettlementServiceServicer(), server
    )
    federation_pb2_grpc.add_FederationServiceServicer_to_server(
        FederationServicer(fed)
        if fed is not None
        else federation_pb2_grpc.FederationServiceServicer(),
        server,
    )
    return list(SERVICE_NAMES)

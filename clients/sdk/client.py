"""``connect(address, api_key)``: typed clients for one node."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

import grpc
from bashu.access.v1 import access_pb2_grpc
from bashu.catalog.v1 import catalog_pb2_grpc
from bashu.licensing.v1 import licensing_pb2_grpc
from bashu.settlement.v1 import settlement_pb2_grpc

from clients.sdk.access import AccessClient
from clients.sdk.catalog import CatalogClient
from clients.sdk.channel import ErrorTranslating, TlsOptions, open_channel
from clients.sdk.ledger import LedgerClient
from clients.sdk.licensing import LicensingClient
from clients.sdk.reconciliation import ReconciliationClient
from clients.sdk.settlement import SettlementClient

__all__ = ["Client", "connect"]


@dataclass
class Client:
    """One node's services over one channel. Use as a context manager or ``close()``."""

    channel: grpc.Channel
    region: str | None = None
    ledger: LedgerClient = field(init=False)
    catalog: CatalogClient = field(init=False)
    licensing: LicensingClient = field(init=False)
    reconciliation: ReconciliationClient = field(init=False)
    settlement: SettlementClient = field(init=False)

    def __post_init__(self) -> None:
        from bashu.ledger.v1 import ledger_pb2_grpc

        ledger_stub = ledger_pb2_grpc.LedgerServiceStub(self.channel)
        self.ledger = LedgerClient(ledger_stub, self.region)
        self.catalog = CatalogClient(
            catalog_pb2_grpc.CatalogServiceStub(self.channel), ledger_stub, self.region
        )
        self.licensing = LicensingClient(
            licensing_pb2_grpc.LicensingServiceStub(self.channel), ledger_stub, self.region
        )
        # Raw stubs (typed errors, default deadline) for services whose friendly
        # clients are still to come.
        self.access = AccessClient(
            access_pb2_grpc.AccessServiceStub(self.channel), self.ledger, self.region
        )
        self.settlement = SettlementClient(
            settlement_pb2_grpc.SettlementServiceStub(self.channel), ledger_stub, self.region
        )
        self.reconciliation = ReconciliationClient(
            ErrorTranslating(settlement_pb2_grpc.SettlementServiceStub(self.channel)),
            ErrorTranslating(ledger_stub),
            self.region,
        )

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    address: str,
    api_key: str | None = None,
    *,
    tls: TlsOptions | None = None,
    region: str | None = None,
) -> Client:
    """Open a client to the node at ``address`` (``host:port``), calling with ``api_key``."""
    return Client(open_channel(address, api_key, tls=tls), region=region)

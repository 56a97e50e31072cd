"""``connect(address, api_key)``: typed clients for one node."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

import grpc
from bashu.access.v1 import access_pb2_grpc
from bashu.catalog.v1 import catalog_pb2_grpc
from bashu.licensing.v1 import licensing_pb2_grpc
from bashu.settlement.v1 import settlement_pb2_grpc

from clients.sdk.channel import ErrorTranslating, TlsOptions, open_channel
from clients.sdk.ledger import LedgerClient

__all__ = ["Client", "connect"]


@dataclass
class Client:
    """One node's services over one channel. Use as a context manager or ``close()``."""

    channel: grpc.Channel
    region: str | None = None
    ledger: LedgerClient = field(init=False)

    def __post_init__(self) -> None:
        from bashu.ledger.v1 import ledger_pb2_grpc

        self.ledger = LedgerClient(ledger_pb2_grpc.LedgerServiceStub(self.channel), self.region)
        # Raw stubs (typed errors, default deadline) for services whose friendly
        # clients are still to come.
        self.catalog = ErrorTranslating(catalog_pb2_grpc.CatalogServiceStub(self.channel))
        self.licensing = ErrorTranslating(licensing_pb2_grpc.LicensingServiceStub(self.channel))
        self.access = ErrorTranslating(access_pb2_grpc.AccessServiceStub(self.channel))
        self.settlement = ErrorTranslating(settlement_pb2_grpc.SettlementServiceStub(self.channel))

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

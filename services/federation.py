"""The federation of one node: its peers, outbox, inbox, witness and status, together.

Built once by the composition root (:mod:`services.node`), started with the server
and stopped on drain; the FederationService servicer and the ledger servicer read
from it, and the market modules enqueue their messages through ``outbox`` and
register their message handlers on ``handlers``::

    fed = build_federation(config, engine, signer, ledger, meter=telemetry.meter)
    fed.handlers.register(MessageKind.MESSAGE_KIND_USAGE_BATCH, on_usage_batch)
    fed.start()                      # deliverer and witness threads (when peers exist)
    ...
    fed.stop()                       # before the ledger and the engine close

With no peers configured nothing is started and every peer call is refused
``PEER_UNKNOWN``: a single region runs exactly as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata as importlib_metadata

from bashu.common.v1 import common_pb2
from opentelemetry import metrics
from sqlalchemy import Engine

from ledger.log import Log
from ledger.note import Signer, Verifier
from services.config import NodeConfig
from services.outbox import Deliverer, Inbox, MessageHandlers, Outbox
from services.peer_auth import PeerAuthenticator, SqlNonceStore
from services.peer_state import FederationStatus, federation_status
from services.peers import PeerChannels
from services.witness import Cosignature, Witness, cosignature_proto, cosignatures_of

__all__ = ["API_VERSION", "Federation", "PeerInfo", "build_federation"]

API_VERSION = "bashu.v1"


def _node_version() -> str:
    try:
        return importlib_metadata.version("bashu-exchange")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class PeerInfo:
    """What ``GetPeerInfo`` says about this node."""

    region: str
    api_version: str
    verifier_key: str
    witness_verifier_key: str
    log_origin: str
    standard_version: str
    node_version: str
    server_time: float
    message_kinds: tuple[int, ...]


@dataclass
class Federation:
    """Everything federation-related one node owns (see the module docstring)."""

    config: NodeConfig
    engine: Engine
    signer: Signer
    ledger: Log
    channels: PeerChannels
    authenticator: PeerAuthenticator
    outbox: Outbox
    handlers: MessageHandlers
    inbox: Inbox
    deliverer: Deliverer
    witness: Witness
    clock: Callable[[], float] = time.time
    _running: bool = False

    @property
    def region(self) -> str:
        return self.config.region

    def start(self) -> None:
        if not self.config.peers or self._running:
            return
        self._running = True
        self.deliverer.start()
        self.witness.start()

    def stop(self) -> None:
        if self._running:
            self._running = False
            self.deliverer.stop()
            self.witness.stop()
        self.channels.close()

    def peer_info(self) -> PeerInfo:
        return PeerInfo(
            region=self.region,
            api_version=API_VERSION,
            verifier_key=self.signer.vkey(),
            witness_verifier_key=self.witness.cosigner.vkey(),
            log_origin=self.config.origin,
            standard_version="",
            node_version=_node_version(),
            server_time=self.clock(),
            message_kinds=tuple(self.handlers.kinds()),
        )

    def status(self) -> FederationStatus:
        return federation_status(
            self.engine, self.config, self.ledger.latest_checkpoint(), clock=self.clock()
        )

    def cosignatures(self, origin: str, tree_size: int) -> list[Cosignature]:
        """This node's cosignatures (as a witness) of ``origin``'s checkpoint."""
        size = tree_size or None  # 0 asks for the largest cosigned size
        return cosignatures_of(self.engine, origin, tree_size=size, cosigner=self.region)

    def received_cosignatures(
        self, tree_size: int, root_hash: bytes
    ) -> Sequence[common_pb2.Cosignature]:
        """The peers' verified cosignatures of this node's checkpoint (for GetCheckpoint)."""
        if not self.config.peers:
            return ()
        found = cosignatures_of(
            self.engine, self.config.origin, tree_size=tree_size, root_hash=root_hash
        )
        return [cosignature_proto(c) for c in found if c.cosigner_region != self.region]


def build_federation(
    config: NodeConfig,
    engine: Engine,
    signer: Signer,
    ledger: Log,
    *,
    meter: metrics.Meter | None = None,
    handlers: MessageHandlers | None = None,
    clock: Callable[[], float] = time.time,
) -> Federation:
    """Wire the federation of one node from its configuration (nothing started)."""
    channels = PeerChannels(
        config.region, signer, config.peers, max_message_bytes=config.limits.max_message_bytes
    )
    authenticator = PeerAuthenticator(
        config.region,
        {p.region: [Verifier.from_vkey(k) for k in p.verifier_keys] for p in config.peers},
        SqlNonceStore(engine, clock=clock),
        clock=clock,
    )
    handlers = handlers or MessageHandlers.defaults()
    return Federation(
        config=config,
        engine=engine,
        signer=signer,
        ledger=ledger,
        channels=channels,
        authenticator=authenticator,
        outbox=Outbox(config.region, [p.region for p in config.peers], clock=clock),
        handlers=handlers,
        inbox=Inbox(engine, config.region, handlers, clock=clock),
        deliverer=Deliverer(engine, channels, config.federation, meter=meter, clock=clock),
        witness=Witness(
            engine,
            config.region,
            signer,
            ledger,
            channels,
            config.federation,
            meter=meter,
            clock=clock,
        ),
        clock=clock,
    )

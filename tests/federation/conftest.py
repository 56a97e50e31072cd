"""Fixtures for federation tests: several regional nodes on loopback, peers of each other.

Each region has its own database (SQLite files, or PostgreSQL databases created in the
server ``BASHU_TEST_POSTGRES_URL`` points at) and its own region key. Ports are chosen
before the nodes are built, because each node's configuration names its peers'
addresses, and so that a stopped node can be started again on the same address.
Background threads run with long intervals: tests drive delivery and witnessing
explicitly (``deliver_once``, ``witness_once``) unless they test the threads.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from ledger.note import Signer
from services.config import ORIGIN_PREFIX, FederationSettings, NodeConfig, PeerConfig
from services.federation import Federation
from services.keys import create_region_key
from services.migrate import upgrade
from services.node import Node, build_node
from services.outbox import MessageHandlers
from services.telemetry import Telemetry
from tests.conftest import create_postgres_database, drop_postgres_database, postgres_admin_url
from tests.node.conftest import register_role_parties

FAST = FederationSettings(
    witness_interval_s=3600.0,
    deliver_interval_s=3600.0,
    retry_base_s=0.2,
    retry_max_s=1.0,
    peer_timeout_s=3.0,
    witness_record_interval_s=3600.0,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Region:
    """One region of a test federation: its files, database, key and (running) node."""

    name: str
    data_dir: Path
    db_url: str
    port: int
    signer: Signer
    keys: dict[str, str] = field(default_factory=dict)
    config: NodeConfig | None = None
    node: Node | None = None
    metrics: InMemoryMetricReader | None = None
    handlers: MessageHandlers | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def vkey(self) -> str:
        return self.signer.vkey()

    def running(self) -> Node:
        assert self.node is not None, f"{self.name} is not running"
        return self.node

    @property
    def fed(self) -> Federation:
        federation = self.running().federation
        assert federation is not None
        return federation

    def start(self) -> Node:
        assert self.config is not None
        assert self.node is None
        self.metrics = InMemoryMetricReader()
        telemetry = Telemetry(TracerProvider(), MeterProvider(metric_readers=[self.metrics]))
        self.node = build_node(self.config, telemetry=telemetry, message_handlers=self.handlers)
        self.node.start()
        return self.node

    def stop(self) -> None:
        if self.node is not None:
            self.node.stop(grace=0.5)
            self.node = None


def prepare_region(name: str, data_dir: Path, db_url: str) -> Region:
    data_dir.mkdir(parents=True, exist_ok=True)
    signer = create_region_key(data_dir / "region.key", ORIGIN_PREFIX + name)
    upgrade(db_url)
    keys, _, _ = register_role_parties(db_url)
    return Region(name, data_dir, db_url, free_port(), signer, keys)


# Where each test region's consumers are: sg is the cross-border partner.
COUNTRIES = {"sg": "SG"}


def configure(
    region: Region,
    peers: list[Region],
    settings: FederationSettings = FAST,
    extra_peers: tuple[PeerConfig, ...] = (),
) -> NodeConfig:
    region.config = NodeConfig(
        region=region.name,
        listen=region.address,
        database_url=region.db_url,
        key_file=region.data_dir / "region.key",
        data_dir=region.data_dir,
        checkpoint_interval_s=3600.0,
        peers=(
            *(
                PeerConfig(p.name, p.address, p.vkey, country=COUNTRIES.get(p.name, "CN"))
                for p in peers
                if p is not region
            ),
            *extra_peers,
        ),
        federation=settings,
    )
    return region.config


@pytest.fixture
def region_db_urls(db_url: str) -> Iterator[dict[str, str]]:
    """One fresh database per region (sc uses ``db_url`` itself)."""
    if db_url.startswith("sqlite"):
        base = db_url.removesuffix("test.db")
        yield {r: f"{base}{r}.db" for r in ("sc", "cq", "sg")}
        return
    assert postgres_admin_url() is not None
    extra = {r: create_postgres_database() for r in ("cq", "sg")}
    try:
        yield {"sc": db_url, **{r: url for r, (url, _) in extra.items()}}
    finally:
        for _, name in extra.values():
            drop_postgres_database(name)


@pytest.fixture
def trio(tmp_path: Path, region_db_urls: dict[str, str]) -> Iterator[dict[str, Region]]:
    """sc, cq and sg, each configured with the other two as peers, all running."""
    regions = {r: prepare_region(r, tmp_path / r, url) for r, url in region_db_urls.items()}
    for region in regions.values():
        configure(region, list(regions.values()))
    try:
        for region in regions.values():
            region.start()
        yield regions
    finally:
        for region in regions.values():
            region.stop()

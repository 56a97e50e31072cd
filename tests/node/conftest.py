"""Fixtures for integration tests: real nodes on loopback port 0, the real SDK."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services import auth
from services.config import ORIGIN_PREFIX, NodeConfig
from services.db import make_engine, session_scope
from services.keys import create_region_key
from services.migrate import upgrade
from services.node import Node, build_node


@dataclass
class RunningNode:
    node: Node
    keys: dict[str, str]  # role name -> API key of a party with only that role
    key_ids: dict[str, str]
    party_ids: dict[str, str]

    @property
    def address(self) -> str:
        return self.node.address


def make_node_config(data_dir: Path, region: str, db_url: str) -> NodeConfig:
    data_dir.mkdir(parents=True, exist_ok=True)
    create_region_key(data_dir / "region.key", ORIGIN_PREFIX + region)
    upgrade(db_url)
    return NodeConfig(
        region=region,
        listen="127.0.0.1:0",
        database_url=db_url,
        key_file=data_dir / "region.key",
        data_dir=data_dir,
        checkpoint_interval_s=3600.0,
    )


def register_role_parties(db_url: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    engine = make_engine(db_url)
    keys: dict[str, str] = {}
    key_ids: dict[str, str] = {}
    party_ids: dict[str, str] = {}
    with session_scope(engine) as session:
        for role in auth.Role:
            party, key = auth.register_party(session, f"party-{role.value}", frozenset({role}))
            keys[role.value] = key
            key_ids[role.value] = key.split("_")[1]
            party_ids[role.value] = party.id
    engine.dispose()
    return keys, key_ids, party_ids


@pytest.fixture
def running_node(tmp_path: Path, db_url: str) -> Iterator[RunningNode]:
    config = make_node_config(tmp_path / "sc", "sc", db_url)
    keys, key_ids, party_ids = register_role_parties(db_url)
    node = build_node(config)
    node.start()
    try:
        yield RunningNode(node=node, keys=keys, key_ids=key_ids, party_ids=party_ids)
    finally:
        node.stop(grace=1.0)

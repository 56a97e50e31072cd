"""A new region joins a running federation by configuration alone.

sc and cq run as ``bashu node serve`` processes, peers of each other, witnessing
each other. sg is initialised with ``bashu node init``; ``bashu federation add-peer``
adds it to sc's and cq's ``node.toml`` and them to sg's. A running node reads its
peers at start only, so sc and cq are restarted one at a time (rolling: the other
keeps serving), as docs/operations.md says. Then, with no other step: sg witnesses
sc and cq, they witness sg, sg's own checkpoint carries their cosignatures, and sg
appears in ``bashu federation status`` on the old regions. Every ledger verifies.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import grpc
from bashu.ledger.v1 import ledger_pb2, ledger_pb2_grpc

from services.config import load_config
from services.db import make_engine
from services.peer_state import PeerStatusView, federation_status
from tests.federation.conftest import free_port
from tests.node.processes import ServeProcess, add_party, bashu, start

FAST_FEDERATION = """
[federation]
witness_interval_s = 0.3
deliver_interval_s = 0.3
peer_timeout_s = 3.0
"""


def _init(root: Path, region: str, port: int, db_url: str) -> Path:
    data_dir = root / region
    bashu("node", "init", "--region", region, "--data-dir", str(data_dir),
          "--listen", f"127.0.0.1:{port}", "--database-url", db_url)  # fmt: skip
    config = data_dir / "node.toml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"checkpoint_interval_s = .*", "checkpoint_interval_s = 0.3", text)
    config.write_text(text + FAST_FEDERATION, encoding="utf-8")
    return config


def _add_peer(config: Path, peer: str, peer_config: Path) -> None:
    key = bashu("node", "public-key", "--config", str(peer_config)).strip()
    address = load_config(peer_config).listen
    bashu("federation", "add-peer", "--config", str(config), "--region", peer,
          "--address", address, "--key", key)  # fmt: skip


def _peer(config: Path, region: str) -> PeerStatusView | None:
    cfg = load_config(config)
    engine = make_engine(cfg.database_url)
    try:
        status = federation_status(engine, cfg, None)
    finally:
        engine.dispose()
    return next((p for p in status.peers if p.region == region), None)


def _witnessed(config: Path, region: str) -> bool:
    """This node reached ``region`` and cosigned one of its checkpoints."""
    view = _peer(config, region)
    return view is not None and view.reachable and view.last_cosigned is not None


def _wait(what: str, condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def test_a_new_region_joins_by_configuration(
    tmp_path: Path, region_db_urls: dict[str, str]
) -> None:
    ports = {r: free_port() for r in ("sc", "cq", "sg")}
    cfg = {r: _init(tmp_path, r, ports[r], region_db_urls[r]) for r in ("sc", "cq")}
    _add_peer(cfg["sc"], "cq", cfg["cq"])
    _add_peer(cfg["cq"], "sc", cfg["sc"])
    for r in ("sc", "cq"):
        add_party(cfg[r], f"{r} operator", "operator")
    running: dict[str, ServeProcess] = {}
    try:
        running = {r: start(cfg[r]) for r in ("sc", "cq")}
        _wait("sc and cq witness each other", lambda: _witnessed(cfg["sc"], "cq"))
        _wait("cq witnesses sc", lambda: _witnessed(cfg["cq"], "sc"))

        # The new region: initialised, then known to the others by configuration only.
        cfg["sg"] = _init(tmp_path, "sg", ports["sg"], region_db_urls["sg"])
        _, sg_key = add_party(cfg["sg"], "Singapore Trade Data Exchange", "operator")
        for r in ("sc", "cq"):
            _add_peer(cfg["sg"], r, cfg[r])
            _add_peer(cfg[r], "sg", cfg["sg"])
        assert _peer(cfg["sc"], "sg") is not None  # configured, not yet seen
        assert not _witnessed(cfg["sc"], "sg")
        for r in ("sc", "cq"):  # rolling restart: the other region keeps serving
            running.pop(r).stop()
            running[r] = start(cfg[r])
        running["sg"] = start(cfg["sg"])

        for old in ("sc", "cq"):
            _wait(f"sg witnesses {old}", partial(_witnessed, cfg["sg"], old))
            _wait(f"{old} witnesses sg", partial(_witnessed, cfg[old], "sg"))

        # sg's own checkpoint is handed out with the old regions' cosignatures.
        with grpc.insecure_channel(running["sg"].address) as channel:
            ledger = ledger_pb2_grpc.LedgerServiceStub(channel)

            def cosigned_by_both() -> bool:
                resp = ledger.GetCheckpoint(
                    ledger_pb2.GetCheckpointRequest(log="regions/sg/log"),
                    metadata=[("authorization", f"Bearer {sg_key}")],
                    timeout=10,
                )
                return {"sc", "cq"} <= {c.cosigner_region for c in resp.cosignatures}

            _wait("sg's checkpoint carries sc's and cq's cosignatures", cosigned_by_both)

        for old in ("sc", "cq"):
            out = bashu("federation", "status", "--config", str(cfg[old]))
            (row,) = [line for line in out.splitlines() if f"127.0.0.1:{ports['sg']}" in line]
            assert "sg" in row
            assert "yes" in row
            assert "size" in row  # a checkpoint of sg was seen and cosigned
    finally:
        for node in running.values():
            node.stop()

    for r in ("sc", "cq", "sg"):
        report = json.loads(bashu("ledger", "verify", "--config", str(cfg[r]), "--json"))
        assert report["ok"], (r, report)

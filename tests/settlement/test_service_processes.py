"""Two regional nodes as separate ``bashu node serve`` processes close a period and
get the same statement signed by both through their outboxes (no test-driven
delivery: the nodes' own deliverer threads carry the messages)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bashu.settlement.v1 import settlement_pb2

import clients
from clients.sdk.settlement import verify_statement_signatures
from services.config import render_config, render_peer
from tests.federation.conftest import Region, configure, prepare_region
from tests.settlement.test_service_support import oct_, region_db_urls, seed_use

__all__ = ["region_db_urls"]


def _serve(config: Path) -> subprocess.Popen[str]:
    bashu = Path(sys.executable).with_name("bashu")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_SDK_DISABLED"] = "true"
    return subprocess.Popen(
        [str(bashu), "node", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def processes(tmp_path: Path, region_db_urls: dict[str, str]) -> Iterator[dict[str, Region]]:
    regions = {r: prepare_region(r, tmp_path / r, region_db_urls[r]) for r in ("sc", "cq")}
    for region in regions.values():
        configure(region, list(regions.values()))
    # Usage is seeded through in-process nodes, which are then stopped.
    for region in regions.values():
        region.start()
    seed_use(regions["sc"], regions["cq"], at=oct_(3), amount_fen=880)
    seed_use(regions["cq"], regions["sc"], at=oct_(4), amount_fen=120)
    for region in regions.values():
        region.stop()
    procs = []
    try:
        for region in regions.values():
            text = render_config(region.name, region.address, region.db_url, "region.key")
            text += "\n[federation]\ndeliver_interval_s = 0.2\nretry_base_s = 0.2\n"
            text += "retry_max_s = 1.0\nwitness_interval_s = 3600.0\n"
            for peer in regions.values():
                if peer is not region:
                    text += render_peer(peer.name, peer.address, peer.vkey)
            config = region.data_dir / "node.toml"
            config.write_text(text, encoding="utf-8")
            proc = _serve(config)
            procs.append(proc)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "listening on" in line, (line, proc.stderr.read() if proc.stderr else "")
        yield regions
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def test_node_processes_sign_the_same_statement(processes: dict[str, Region]) -> None:
    sc, cq = processes["sc"], processes["cq"]
    finance = {
        r.name: clients.connect(r.address, r.keys["finance"], region=r.name) for r in (sc, cq)
    }
    try:
        for c in finance.values():
            assert c.settlement.close_now("2026-10").state == settlement_pb2.PERIOD_STATE_CLOSED
        ours = finance["sc"].settlement.statement("2026-10", "cq")
        theirs = finance["cq"].settlement.statement("2026-10", "sc")
        assert ours.content_body == theirs.content_body
        assert ours.content.net_amount.amount_fen == 760
        finance["sc"].settlement.sign("2026-10", "cq", ours.content_digest)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = [
                finance[a].settlement.statement("2026-10", b).state
                for a, b in (("sc", "cq"), ("cq", "sc"))
            ]
            if done == [settlement_pb2.STATEMENT_STATE_SIGNED] * 2:
                break
            time.sleep(0.2)
        keys = {"sc": [sc.vkey], "cq": [cq.vkey]}
        for a, b in (("sc", "cq"), ("cq", "sc")):
            st = finance[a].settlement.statement("2026-10", b)
            assert st.state == settlement_pb2.STATEMENT_STATE_SIGNED, st.refusal_reason
            assert verify_statement_signatures(st, keys) == ["cq", "sc"]
            assert st.content_body == ours.content_body
    finally:
        for c in finance.values():
            c.close()

"""``[[peers]]`` in node.toml and ``bashu federation …`` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from bashu.federation.v1 import federation_pb2

from ledger.note import Signer
from services.config import load_config
from services.db import make_engine, session_scope
from services.errors import ConfigError
from services.outbox import Outbox
from services.telemetry import setup_telemetry
from tests.cli.test_cli import bashu
from tests.federation.conftest import free_port

VKEY_CQ = Signer.generate("bashu.exchange/log/cq").vkey()


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(
        'region = "sc"\nlisten = "127.0.0.1:0"\ndatabase_url = "sqlite://"\n' + body,
        encoding="utf-8",
    )
    return path


def test_peers_are_read_and_validated_with_field_names(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            f"""
[federation]
witness_interval_s = 5

[[peers]]
region = "cq"
address = "cq.example:50051"
verifier_key = "{VKEY_CQ}"
ca_file = "peers/cq-ca.pem"
server_name = "cq.bashu.example"
""",
        )
    )
    (peer,) = config.peers
    assert (peer.region, peer.address, peer.verifier_key) == ("cq", "cq.example:50051", VKEY_CQ)
    assert peer.tls is not None
    assert peer.tls.ca_file == tmp_path / "peers/cq-ca.pem"
    assert peer.tls.server_name == "cq.bashu.example"
    assert config.federation.witness_interval_s == 5.0
    assert config.peer("cq") == peer
    assert config.peer("sg") is None

    sg_key = Signer.generate("bashu.exchange/log/sg").vkey()

    def table(region: str, address: str, key: str, extra: str = "") -> str:
        return (
            f'[[peers]]\nregion = "{region}"\naddress = "{address}"\n'
            f'verifier_key = "{key}"\n{extra}'
        )

    bad = {
        "peers[0].region": table("SC!", "a:1", "x"),
        "peers[0].address": table("cq", "nohost", VKEY_CQ),
        "peers[0].verifier_key": table("cq", "a:1", "nope"),
        "peers[1].verifier_key": table("sg", "a:1", sg_key) + table("cq", "a:1", sg_key),
        "peers[1].region": table("cq", "a:1", VKEY_CQ) * 2,
        "peers[0].cert_file": table("cq", "a:1", VKEY_CQ, 'cert_file = "c.pem"\n'),
        "peers[0].colour": table("cq", "a:1", VKEY_CQ, 'colour = "red"\n'),
        "federation.retry_base_s": "[federation]\nretry_base_s = 0\n",
    }
    for field, body in bad.items():
        with pytest.raises(ConfigError) as err:
            load_config(_write(tmp_path, body))
        assert err.value.field == field, (field, err.value)


def test_add_peer_status_and_deliver(tmp_path: Path, region_db_urls: dict[str, str]) -> None:
    ports = {r: free_port() for r in ("sc", "cq")}
    dirs = {r: tmp_path / r for r in ("sc", "cq")}
    for r in ("sc", "cq"):
        args = ["node", "init", "--region", r, "--data-dir", str(dirs[r])]
        args += ["--listen", f"127.0.0.1:{ports[r]}"]
        if not region_db_urls[r].startswith("sqlite"):
            args += ["--database-url", region_db_urls[r]]
        res = bashu(*args)
        assert res.returncode == 0, res.stderr
    vkeys = {r: Signer.from_skey((dirs[r] / "region.key").read_text().strip()).vkey() for r in dirs}
    cfg = {r: dirs[r] / "node.toml" for r in dirs}

    before = cfg["sc"].read_text()
    bad = bashu("federation", "add-peer", "--config", str(cfg["sc"]), "--region", "cq",
                "--address", f"127.0.0.1:{ports['cq']}", "--key", vkeys["sc"])  # fmt: skip
    assert bad.returncode == 1
    assert "peers[0].verifier_key" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert cfg["sc"].read_text() == before  # a refused peer leaves the file as it was
    for me, other in (("sc", "cq"), ("cq", "sc")):
        res = bashu("federation", "add-peer", "--config", str(cfg[me]), "--region", other,
                    "--address", f"127.0.0.1:{ports[other]}", "--key", vkeys[other])  # fmt: skip
        assert res.returncode == 0, res.stderr
    again = bashu("federation", "add-peer", "--config", str(cfg["sc"]), "--region", "cq",
                  "--address", "127.0.0.1:1", "--key", vkeys["cq"])  # fmt: skip
    assert again.returncode == 1
    assert "listed twice" in again.stderr
    sc_config = load_config(cfg["sc"])
    assert [p.region for p in sc_config.peers] == ["cq"]

    # A message for cq while cq is down: deliver fails and says so; nothing is lost.
    engine = make_engine(sc_config.database_url)
    with session_scope(engine) as session:
        Outbox("sc", ["cq"]).enqueue(session, "cq", federation_pb2.LicenceNotice())
    engine.dispose()
    down = bashu("federation", "deliver", "--config", str(cfg["sc"]))
    assert down.returncode == 1
    assert "unreachable: cq" in down.stdout
    status = bashu("federation", "status", "--config", str(cfg["sc"]))
    assert status.returncode == 0, status.stderr
    (row,) = [line for line in status.stdout.splitlines() if line.startswith("│ cq")]
    assert "no" in row
    assert "1 (oldest" in row

    # cq comes up (in this process); the next run delivers the waiting message.
    from services.node import build_node

    cq = build_node(load_config(cfg["cq"]), telemetry=setup_telemetry("cq", "none"))
    cq.start()
    try:
        up = bashu("federation", "deliver", "--config", str(cfg["sc"]), "--force")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "delivered 1" in up.stdout
        witness = bashu("federation", "witness", "--config", str(cfg["sc"]))
        assert witness.returncode == 0, witness.stdout + witness.stderr
        assert "cq: cosigned" in witness.stdout
    finally:
        cq.stop(grace=0.5)
    status = bashu("federation", "status", "--config", str(cfg["sc"]))
    (row,) = [line for line in status.stdout.splitlines() if line.startswith("│ cq")]
    assert "yes" in row
    assert "size" in row  # the checkpoint seen and cosigned
    assert "none" in row  # no alarms

"""The ``bashu`` command as a user runs it: real processes, real files."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ledger.note import Signer

BASHU = str(Path(sys.executable).with_name("bashu"))


def bashu(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASHU, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


@pytest.fixture
def node_dir(tmp_path: Path, db_url: str) -> Path:
    data = tmp_path / "sc"
    args = ["node", "init", "--region", "sc", "--data-dir", str(data), "--listen", "127.0.0.1:0"]
    if not db_url.startswith("sqlite"):
        args += ["--database-url", db_url]
    res = bashu(*args)
    assert res.returncode == 0, res.stderr
    return data


def test_init_writes_private_key_never_printed(node_dir: Path) -> None:
    key_file = node_dir / "region.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    skey = key_file.read_text().strip()
    assert skey.startswith("PRIVATE+KEY+bashu.exchange/log/sc+")
    pub = bashu("node", "public-key", "--config", str(node_dir / "node.toml"))
    assert pub.returncode == 0
    assert re.fullmatch(r"bashu\.exchange/log/sc\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+\n", pub.stdout)
    assert pub.stdout.strip() == Signer.from_skey(skey).vkey()
    # A second init must not overwrite the key or the config.
    again = bashu("node", "init", "--region", "sc", "--data-dir", str(node_dir))
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert key_file.read_text().strip() == skey


def test_party_keys_and_bad_input(node_dir: Path) -> None:
    cfg = str(node_dir / "node.toml")
    add = ("admin", "party", "add", "--config", cfg, "--name", "SC Data", "--roles")
    res = bashu(*add, "wizard")
    assert res.returncode == 1
    assert "unknown role 'wizard'" in res.stderr
    assert "Traceback" not in res.stderr
    res = bashu(*add, "provider")
    assert res.returncode == 0, res.stderr
    key = res.stdout.strip().splitlines()[-1]
    assert key.startswith("bsk_")
    dup = bashu(*add, "consumer")
    assert dup.returncode == 1
    listing = bashu("admin", "party", "list", "--config", cfg)
    assert "SC Data" in listing.stdout
    assert key not in listing.stdout
    key_id = key.split("_")[1]
    assert bashu("admin", "key", "revoke", "--config", cfg, key_id).returncode == 0
    assert "revoked" in bashu("admin", "party", "list", "--config", cfg).stdout
    missing = bashu("admin", "key", "revoke", "--config", cfg, "nosuchkey")
    assert missing.returncode == 1


def test_checkpoint_verify_and_tamper(node_dir: Path, tmp_path: Path) -> None:
    cfg = str(node_dir / "node.toml")
    note = bashu("ledger", "checkpoint", "--config", cfg)
    assert note.returncode == 0, note.stderr
    assert note.stdout.startswith("bashu.exchange/log/sc\n0\n")
    note_file = tmp_path / "cp.note"
    note_file.write_text(note.stdout)
    vkey = bashu("node", "public-key", "--config", cfg).stdout.strip()
    ok = bashu("ledger", "verify-checkpoint", "--key", vkey, str(note_file))
    assert ok.returncode == 0, ok.stderr
    other = Signer.generate("bashu.exchange/log/sc").vkey()
    assert bashu("ledger", "verify-checkpoint", "--key", other, str(note_file)).returncode == 1
    note_file.write_text(note.stdout.replace("\n0\n", "\n1\n", 1))
    assert bashu("ledger", "verify-checkpoint", "--key", vkey, str(note_file)).returncode == 1
    verify = bashu("ledger", "verify", "--config", cfg, "--json")
    assert verify.returncode == 0, verify.stderr
    summary = json.loads(verify.stdout)
    assert summary["ok"] is True
    assert summary["checkpoints_checked"] >= 1


def test_serve_answers_health_and_drains_on_sigterm(node_dir: Path) -> None:
    proc = subprocess.Popen(
        [BASHU, "node", "serve", "--config", str(node_dir / "node.toml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (\S+)", line)
        assert match, line + (proc.stderr.read() if proc.stderr else "")
        with grpc.insecure_channel(match.group(1)) as channel:
            resp = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="bashu.ledger.v1.LedgerService"), timeout=5
            )
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out

"""The ``bashu`` command as a user runs it: real processes, real files."""

from __future__ import annotations

import json
import os
import re
import shutil
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


def test_key_rotation_is_a_ledger_entry_and_old_checkpoints_still_verify(
    node_dir: Path, tmp_path: Path
) -> None:
    cfg = str(node_dir / "node.toml")
    old_vkey = bashu("node", "public-key", "--config", cfg).stdout.strip()
    old_note = bashu("ledger", "checkpoint", "--config", cfg).stdout
    rotated = bashu("node", "rotate-key", "--config", cfg)
    assert rotated.returncode == 0, rotated.stderr
    new_vkey = bashu("node", "public-key", "--config", cfg).stdout.strip()
    assert new_vkey != old_vkey
    assert stat.S_IMODE((node_dir / "region.key").stat().st_mode) == 0o600
    index = int(re.search(r"ledger index (\d+)", rotated.stdout).group(1))  # type: ignore[union-attr]
    shown = bashu("ledger", "show", "--config", cfg, str(index))
    assert shown.returncode == 0, shown.stderr
    assert "key_rotated" in shown.stdout
    assert old_vkey in shown.stdout.replace("\n", "")
    # New checkpoints are signed by the new key; the old one still verifies with the old.
    new_note = bashu("ledger", "checkpoint", "--config", cfg).stdout
    (tmp_path / "new.note").write_text(new_note)
    (tmp_path / "old.note").write_text(old_note)
    check = ("ledger", "verify-checkpoint", "--key")
    assert bashu(*check, new_vkey, str(tmp_path / "new.note")).returncode == 0
    assert bashu(*check, old_vkey, str(tmp_path / "old.note")).returncode == 0
    assert bashu(*check, new_vkey, str(tmp_path / "old.note")).returncode == 1
    verify = bashu("ledger", "verify", "--config", cfg, "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["checkpoints_checked"] >= 3


def test_prove_prints_a_tlog_proof_that_verifies(node_dir: Path, tmp_path: Path) -> None:
    from ledger.note import Verifier
    from ledger.tlogproof import parse_tlog_proof, verify_tlog_proof

    cfg = str(node_dir / "node.toml")
    for name in ("A", "B", "C"):
        add = bashu("admin", "party", "add", "--config", cfg, "--name", name, "--roles", "consumer")
        assert add.returncode == 0, add.stderr
    out = bashu("ledger", "prove", "--config", cfg, "1", "--format", "tlog-proof")
    assert out.returncode == 0, out.stderr
    vkey = bashu("node", "public-key", "--config", cfg).stdout.strip()
    shown = bashu("ledger", "show", "--config", cfg, "1")
    leaf = re.search(r"leaf hash\s*│\s*([0-9a-f]{64})", shown.stdout)
    assert leaf, shown.stdout
    cp = verify_tlog_proof(
        parse_tlog_proof(out.stdout),
        Verifier.from_vkey(vkey),
        leaf_hash=bytes.fromhex(leaf.group(1)),
    )
    assert cp.size == 3
    missing = bashu("ledger", "show", "--config", cfg, "99")
    assert missing.returncode == 1
    assert len(missing.stderr.strip().splitlines()) == 1


NODE_VERIFIER = Path(__file__).with_name("verify_note.mjs")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_an_independent_verifier_accepts_our_checkpoint(node_dir: Path) -> None:
    cfg = str(node_dir / "node.toml")
    note = bashu("ledger", "checkpoint", "--config", cfg).stdout
    vkey = bashu("node", "public-key", "--config", cfg).stdout.strip()
    node = ["node", str(NODE_VERIFIER), vkey]
    ok = subprocess.run(node, input=note, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    tampered = note.replace("\n", "\nx", 1)
    bad = subprocess.run(node, input=tampered, capture_output=True, text=True, check=False)
    assert bad.returncode == 1


def test_verify_checkpoint_accepts_a_note_signed_elsewhere(tmp_path: Path) -> None:
    vectors = json.loads(
        (Path(__file__).parents[1] / "vectors" / "signed_note_vectors.json").read_text()
    )
    sumdb = vectors["sumdb_checkpoint"]
    note = tmp_path / "sumdb.note"
    note.write_text(sumdb["signed_note"])
    ok = bashu("ledger", "verify-checkpoint", "--key", sumdb["vkey"], str(note))
    assert ok.returncode == 0, ok.stderr
    assert f"size {sumdb['size']}" in ok.stdout
    note.write_text(sumdb["signed_note"].replace("6476701", "6476702"))
    assert bashu("ledger", "verify-checkpoint", "--key", sumdb["vkey"], str(note)).returncode == 1


def test_verify_names_the_first_tampered_entry(node_dir: Path, db_url: str) -> None:
    import sqlite3

    if not db_url.startswith("sqlite"):
        pytest.skip("tampering is exercised on PostgreSQL in tests/ledger")
    cfg = str(node_dir / "node.toml")
    for name in ("A", "B", "C", "D"):
        add = bashu("admin", "party", "add", "--config", cfg, "--name", name, "--roles", "consumer")
        assert add.returncode == 0, add.stderr
    assert bashu("ledger", "verify", "--config", cfg).returncode == 0
    db = sqlite3.connect(node_dir / "node.db")
    (data,) = db.execute("SELECT data FROM ledger_entries WHERE idx = 2").fetchone()
    flipped = bytes([data[0]]) + bytes([data[1] ^ 0x01]) + data[2:]
    db.execute("UPDATE ledger_entries SET data = ? WHERE idx = 2", (flipped,))
    db.commit()
    db.close()
    res = bashu("ledger", "verify", "--config", cfg)
    assert res.returncode == 1
    assert "index 2" in res.stderr
    summary = json.loads(bashu("ledger", "verify", "--config", cfg, "--json").stdout)
    assert summary["ok"] is False
    assert summary["first_bad_index"] == 2


def test_database_url_from_environment_overrides_config(node_dir: Path, tmp_path: Path) -> None:
    cfg = str(node_dir / "node.toml")
    other = tmp_path / "other.db"
    env = {"BASHU_DATABASE_URL": f"sqlite:///{other}"}
    assert bashu("node", "migrate", "--config", cfg, env=env).returncode == 0
    assert other.exists()
    add = bashu("admin", "party", "add", "--config", cfg, "--name", "Env", "--roles", "consumer",
                env=env)  # fmt: skip
    assert add.returncode == 0, add.stderr
    assert "Env" in bashu("admin", "party", "list", "--config", cfg, env=env).stdout
    assert "Env" not in bashu("admin", "party", "list", "--config", cfg).stdout

"""A backup taken while a node is writing restores into a node whose ledger verifies
and extends every checkpoint published before the backup.

Real processes, as an operator runs them: ``bashu node serve``, writes through the
SDK while the backup runs, then on SQLite ``bashu node backup`` / ``bashu node
restore`` and on PostgreSQL ``pg_dump -Fc`` / ``pg_restore`` into a fresh database
(docs/operations.md, "Backups"). The restored node must pass ``bashu ledger verify``,
serve, prove every pre-backup checkpoint consistent with its own, and hold exactly a
prefix of the original log (the original kept writing after the backup).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import clients
from clients.sdk.client import Client
from clients.sdk.errors import AlreadyExistsError
from clients.sdk.ledger import verify_checkpoint_note
from ledger.checkpoint import Checkpoint
from services.db import is_sqlite
from tests.access.conftest import descriptor
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.node.processes import add_party, bashu, run, served


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as the libpq URL pg_dump and pg_restore take."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _list_products(client: Client, party: str, first: int, count: int) -> None:
    for i in range(first, first + count):
        client.catalog.create_product(descriptor(party), product_id=f"p-{i}")


def _entries(client: Client) -> list[tuple[bytes, str]]:
    return [(e.leaf_hash, e.idempotency_key) for e in client.ledger.entries()]


def _checkpoint(config: Path, vkey: str, env: dict[str, str] | None = None) -> Checkpoint:
    return verify_checkpoint_note(
        bashu("ledger", "checkpoint", "--config", str(config), env=env), vkey
    )


def test_backup_restore_keeps_the_ledger_verifiable(tmp_path: Path, db_url: str) -> None:
    sqlite = is_sqlite(db_url)
    if not sqlite and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    source = tmp_path / "sc"
    bashu("node", "init", "--region", "sc", "--data-dir", str(source),
          "--listen", "127.0.0.1:0", "--database-url", db_url)  # fmt: skip
    config = source / "node.toml"
    vkey = bashu("node", "public-key", "--config", str(config)).strip()
    party_id, key = add_party(config, "Sichuan Big Data Center", "provider")
    party = f"regions/sc/parties/{party_id}"

    restored_db: tuple[str, str] | None = None
    with served(config) as original:
        client = clients.connect(original.address, key, region="sc")
        published = []
        for batch in range(3):
            _list_products(client, party, batch * 5, 5)
            published.append(_checkpoint(config, vkey))

        # The backup is taken while another writer keeps appending.
        stop = threading.Event()
        written: list[int] = []

        def keep_writing() -> None:
            i = 1000
            while not stop.is_set():
                _list_products(client, party, i, 1)
                written.append(i)
                i += 1

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            while len(written) < 3:
                stop.wait(0.05)
            if sqlite:
                backup = tmp_path / "sc-backup.db"
                out = bashu("node", "backup", "--config", str(config), "--out", str(backup))
                assert "backup of sc written" in out
            else:
                backup = tmp_path / "sc.dump"
                subprocess.run(
                    ["pg_dump", "--format=custom", f"--file={backup}", _libpq(db_url)],
                    check=True, capture_output=True, timeout=120,
                )  # fmt: skip
            while len(written) < 6:
                stop.wait(0.05)
        finally:
            stop.set()
            writer.join()
        _list_products(client, party, 2000, 3)  # after the backup: not in it
        final = _checkpoint(config, vkey)
        original_log = _entries(client)
        client.close()

    target = tmp_path / "sc-restored"
    env: dict[str, str] = {}
    try:
        if sqlite:
            out = bashu("node", "restore", "--config", str(config), "--backup", str(backup),
                        "--data-dir", str(target))  # fmt: skip
            assert "restored" in out
        else:
            restored_db = create_postgres_database()
            subprocess.run(
                ["pg_restore", "--no-owner", f"--dbname={_libpq(restored_db[0])}", str(backup)],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            target.mkdir()
            shutil.copy2(config, target / "node.toml")
            shutil.copy2(source / "region.key", target / "region.key")
            env = {"BASHU_DATABASE_URL": restored_db[0]}
        restored_config = target / "node.toml"

        report = json.loads(
            bashu("ledger", "verify", "--config", str(restored_config), "--json", env=env)
        )
        assert report["ok"], report
        assert report["checkpoints_checked"] >= len(published)
        backup_size = report["size"]
        # A consistent prefix of the original: the writes during the backup are
        # either wholly in it or not at all, and the later ones are absent.
        assert published[-1].size <= backup_size < len(original_log)

        with served(restored_config, env=env) as restored:
            rc = clients.connect(restored.address, key, region="sc")
            latest = rc.ledger.checkpoint(vkey)
            # Every checkpoint published before the backup is extended by the restore.
            for old in published:
                assert rc.ledger.prove_consistency(vkey, old).size == latest.size
            restored_entries = _entries(rc)
            assert restored_entries[:backup_size] == original_log[:backup_size]
            # On start the node completes what was committed but not yet in its
            # ledger when the snapshot was taken (a listing whose append was in
            # flight): the same events as in the original, recorded anew.
            original_keys = {k for _, k in original_log}
            assert {k for _, k in restored_entries[backup_size:]} <= original_keys
            assert final.size == len(original_log)
            # The restored node works: it appends, and its new checkpoint still extends
            # what was published.
            rc.catalog.create_product(descriptor(party), product_id="after-restore")
            grown = rc.ledger.checkpoint(vkey, min_tree_size=len(restored_entries) + 1)
            assert rc.ledger.prove_consistency(vkey, published[0]).size == grown.size
            with pytest.raises(AlreadyExistsError):
                # A product listed before the backup is still there (ids are unique).
                rc.catalog.create_product(descriptor(party), product_id="p-0")
            rc.close()
        report = json.loads(
            bashu("ledger", "verify", "--config", str(restored_config), "--json", env=env)
        )
        assert report["ok"], report
    finally:
        if restored_db is not None:
            drop_postgres_database(restored_db[1])


def test_backup_refuses_to_overwrite_and_postgres(tmp_path: Path) -> None:
    source = tmp_path / "sc"
    bashu("node", "init", "--region", "sc", "--data-dir", str(source), "--listen", "127.0.0.1:0")
    config = source / "node.toml"
    existing = tmp_path / "exists.db"
    existing.write_bytes(b"")
    res = run("node", "backup", "--config", str(config), "--out", str(existing))
    assert res.returncode == 1
    assert "already exists" in res.stderr
    pg = {"BASHU_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    res = run("node", "backup", "--config", str(config), "--out", str(tmp_path / "x.db"), env=pg)
    assert res.returncode == 1
    assert "pg_dump" in res.stderr
    res = run("node", "restore", "--config", str(config), "--backup", str(existing),
              "--data-dir", str(source))  # fmt: skip
    assert res.returncode == 1
    assert "already exists" in res.stderr

"""A Hypothesis state machine over a real SQLite-backed Log.

Rules append single entries and batches (drawing keys from a small pool, so keys
repeat, inside a batch and across calls) and sign checkpoints, interleaved. A
plain in-memory model says which index each key must get. Invariants, after every
step: the stored log equals the model; every old checkpoint is provably
consistent with the newest one (proofs read from the database, checked with
``verify_consistency``); every entry's inclusion proof verifies against the newest
checkpoint.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from functools import cache
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger import merkle
from ledger.checkpoint import open_checkpoint
from ledger.log import Log, SignedCheckpoint
from ledger.note import Signer, Verifier
from services.db import make_engine
from services.migrate import upgrade

ORIGIN = "stateful.bashu.example/ledger"
KEYS = [f"k{i}" for i in range(30)]


@cache
def _migrated_template() -> Path:
    """One migrated empty database, copied for every run (migrating each time is slow)."""
    path = Path(tempfile.mkdtemp(prefix="ledger-stateful-")) / "template.db"
    atexit.register(shutil.rmtree, path.parent, True)
    upgrade(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


class LogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-sm-"))
        db = self.dir / "ledger.db"
        shutil.copyfile(_migrated_template(), db)
        self.engine = make_engine(f"sqlite:///{db}")
        self.signer = Signer.generate(ORIGIN)
        self.verifier = Verifier.from_vkey(self.signer.vkey())
        self.log = Log(self.engine, self.signer, ORIGIN, max_delay=0.0)
        self.entries: list[bytes] = []
        self.index_of: dict[str, int] = {}
        self.checkpoints: list[SignedCheckpoint] = []
        self.counter = 0

    def _expect(self, data: bytes, key: str) -> tuple[int, bool]:
        if key in self.index_of:
            return self.index_of[key], True
        self.index_of[key] = len(self.entries)
        self.entries.append(data)
        return self.index_of[key], False

    def _data(self) -> bytes:
        self.counter += 1
        return b"payload-%d" % self.counter

    @rule(key=st.sampled_from(KEYS))
    def append_one(self, key: str) -> None:
        data = self._data()
        res = self.log.append(data, key)
        assert (res.index, res.duplicate) == self._expect(data, key)

    @rule(keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=12))
    def append_batch(self, keys: list[str]) -> None:
        items = [(self._data(), key) for key in keys]
        results = self.log.append_many(items)
        expected = [self._expect(data, key) for data, key in items]
        assert [(r.index, r.duplicate) for r in results] == expected

    @rule(new_if_stale=st.booleans())
    def checkpoint(self, new_if_stale: bool) -> None:
        cp = self.log.checkpoint(new_if_stale=new_if_stale)
        size = cp.checkpoint.size
        assert size <= len(self.entries)
        if new_if_stale or not self.checkpoints:
            assert size == len(self.entries)
        assert cp.checkpoint.root_hash == merkle.root_hash(self.entries[:size])
        assert open_checkpoint(cp.note, self.verifier, origin=ORIGIN) == cp.checkpoint
        if cp not in self.checkpoints:
            self.checkpoints.append(cp)

    @invariant()
    def stored_log_is_the_model(self) -> None:
        assert self.log.size() == len(self.entries)
        assert [e.data for e in self.log.entries(0, len(self.entries) + 1)] == self.entries

    @invariant()
    def old_checkpoints_are_consistent_with_the_newest(self) -> None:
        if not self.checkpoints:
            return
        newest = max(self.checkpoints, key=lambda c: c.checkpoint.size).checkpoint
        assert self.log.latest_checkpoint() is not None
        for old in self.checkpoints:
            o = old.checkpoint
            proof = self.log.consistency_proof(o.size, newest.size)
            merkle.verify_consistency(o.size, newest.size, o.root_hash, newest.root_hash, proof)

    @invariant()
    def every_entry_is_included_in_the_newest(self) -> None:
        if not self.checkpoints:
            return
        newest = max(self.checkpoints, key=lambda c: c.checkpoint.size).checkpoint
        for index in range(newest.size):
            proof = self.log.inclusion_proof(index, newest.size)
            leaf = merkle.leaf_hash(self.entries[index])
            merkle.verify_inclusion(leaf, index, newest.size, proof, newest.root_hash)

    def teardown(self) -> None:
        self.log.close()
        self.engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)


LogMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
TestLogMachine = LogMachine.TestCase

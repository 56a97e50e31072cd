"""The ledger: entries (with their stored subtree hashes), the head row, checkpoints.

Mirrors ``ledger.storage.metadata`` (read its docstring for what each table and
column holds). Only the head row is ever updated; entries and checkpoints are
insert-only.

Revision ID: 0002_ledger
Revises: 0001_core
Create Date: 2026-11-28
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0002_ledger"
down_revision = "0001_core"
branch_labels = None
depends_on = None

# SQLite only aliases the rowid for "INTEGER PRIMARY KEY" (see ledger.storage).
_BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# MTH of the empty tree (RFC 9162): the head of a log with no entries.
_EMPTY_ROOT = hashlib.sha256(b"").digest()


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("idx", _BigIntKey, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        # Hashes of the perfect subtrees this leaf completes (ledger.storage.node_location).
        sa.Column("nodes", sa.LargeBinary(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("appended_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_ledger_entries_idempotency_key"),
    )
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ledger_head_single_row"),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", _BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
    )
    op.create_index("ix_ledger_checkpoints_tree_size", "ledger_checkpoints", ["tree_size"])
    # The head row exists from the start, so appenders only ever lock and update it
    # (no "first insert" race between processes).
    op.bulk_insert(head, [{"id": 1, "tree_size": 0, "root_hash": _EMPTY_ROOT, "updated_at": 0.0}])


def downgrade() -> None:
    op.drop_index("ix_ledger_checkpoints_tree_size", table_name="ledger_checkpoints")
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_head")
    op.drop_table("ledger_entries")

"""Usage batches exchanged between regions and their countersignatures or returns.

Mirrors ``services.models.FederationBatch`` and ``FederationBatchItem`` (read their
comments for what each column holds).

Revision ID: 0008_batches
Revises: 0007_market
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_batches"
down_revision = "0007_market"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_batches",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("provider_region", sa.String(16), nullable=False),
        sa.Column("consumer_region", sa.String(16), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("sequence_claim", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("batch", sa.LargeBinary(), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("seal_us", sa.BigInteger(), nullable=False),
        sa.Column("corrects_return", sa.String(200), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("answer", sa.LargeBinary(), nullable=True),
        sa.Column("return_name", sa.String(200), nullable=False),
        sa.Column("corrected", sa.Integer(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("ledger_leaf_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("answer_index", sa.BigInteger(), nullable=True),
        sa.Column("answer_leaf_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("sequence_claim", name="uq_federation_batches_sequence"),
    )
    op.create_index(
        "ix_federation_batches_pair",
        "federation_batches",
        ["provider_region", "consumer_region", "sequence"],
    )
    op.create_index("ix_federation_batches_state", "federation_batches", ["state", "update_us"])
    op.create_table(
        "federation_batch_items",
        sa.Column("provider_region", sa.String(16), primary_key=True),
        sa.Column("usage_record_id", sa.String(300), primary_key=True),
        sa.Column("consumer_region", sa.String(16), nullable=False),
        sa.Column("usage_id", sa.String(32), nullable=False),
        sa.Column("entry_index", sa.BigInteger(), nullable=False),
        sa.Column("batch", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("hold_until_us", sa.BigInteger(), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_federation_batch_items_batch", "federation_batch_items", ["batch"])
    op.create_index("ix_federation_batch_items_usage", "federation_batch_items", ["usage_id"])


def downgrade() -> None:
    op.drop_index("ix_federation_batch_items_usage", table_name="federation_batch_items")
    op.drop_index("ix_federation_batch_items_batch", table_name="federation_batch_items")
    op.drop_table("federation_batch_items")
    op.drop_index("ix_federation_batches_state", table_name="federation_batches")
    op.drop_index("ix_federation_batches_pair", table_name="federation_batches")
    op.drop_table("federation_batches")

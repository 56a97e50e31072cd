"""Retired region keys, so checkpoints signed before a key rotation still verify.

Revision ID: 0003_region_keys
Revises: 0002_ledger
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_region_keys"
down_revision = "0002_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_keys",
        sa.Column("key_id", sa.String(8), primary_key=True),
        sa.Column("verifier_key", sa.Text(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rotation_entry", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("region_keys")

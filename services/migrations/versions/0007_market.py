"""Federated market: consumption records kept by a consumer's home node.

Mirrors ``services.models.ConsumptionRow`` and ``MarketLicenceCopy`` (read their
comments for what each column holds).

Revision ID: 0007_market
Revises: 0006_federation
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_market"
down_revision = "0006_federation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_consumption",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("usage_record_id", sa.String(300), nullable=False),
        sa.Column("usage_record", sa.String(300), nullable=False),
        sa.Column("provider_region", sa.String(16), nullable=False),
        sa.Column("consumer_party", sa.String(200), nullable=False),
        sa.Column("licence", sa.String(300), nullable=False),
        sa.Column("product", sa.String(300), nullable=False),
        sa.Column("tariff", sa.String(300), nullable=False),
        sa.Column("purpose_class", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("provider_entry_index", sa.BigInteger(), nullable=False),
        sa.Column("provider_leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("qty_calls", sa.BigInteger(), nullable=False),
        sa.Column("qty_rows", sa.BigInteger(), nullable=False),
        sa.Column("qty_bytes", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("usage_time_us", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("receipt", sa.LargeBinary(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("ledger_leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("usage_record_id", name="uq_market_consumption_usage_record"),
    )
    op.create_index(
        "ix_market_consumption_time", "market_consumption", ["provider_region", "usage_time_us"]
    )
    op.create_index(
        "ix_market_consumption_period", "market_consumption", ["provider_region", "period"]
    )
    op.create_table(
        "market_licence_copies",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("provider_region", sa.String(16), nullable=False),
        sa.Column("consumer_party", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("licence_name", sa.String(300), nullable=False),
        sa.Column("licence_state", sa.String(16), nullable=False),
        sa.Column("licence_request", sa.LargeBinary(), nullable=False),
        sa.Column("licence", sa.LargeBinary(), nullable=True),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_market_licence_copies_licence", "market_licence_copies", ["licence_name"])
    op.create_index(
        "ix_market_licence_copies_consumer",
        "market_licence_copies",
        ["consumer_party", "create_us"],
    )


def downgrade() -> None:
    op.drop_index("ix_market_licence_copies_consumer", table_name="market_licence_copies")
    op.drop_index("ix_market_licence_copies_licence", table_name="market_licence_copies")
    op.drop_table("market_licence_copies")
    op.drop_index("ix_market_consumption_period", table_name="market_consumption")
    op.drop_index("ix_market_consumption_time", table_name="market_consumption")
    op.drop_table("market_consumption")

"""Metered access: sources and usage records.

Mirrors ``AccessSource`` and ``UsageRow`` in ``services.models`` (read their comments
for what each column holds). Quota counters are the ``used_*`` columns of
``licences`` (0004), so this migration adds none.

Revision ID: 0005_access
Revises: 0004_catalog_licensing
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_access"
down_revision = "0004_catalog_licensing"
branch_labels = None
depends_on = None


def _ledger_ref() -> list[sa.Column[object]]:
    return [
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("ledger_leaf_hash", sa.LargeBinary(32), nullable=True),
    ]


def _big(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(n, sa.BigInteger(), nullable=False, server_default="0") for n in names]


def upgrade() -> None:
    op.create_table(
        "access_sources",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("provider_party", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False, server_default=""),
        sa.Column("file_format", sa.String(16), nullable=False, server_default=""),
        sa.Column("csv_delimiter", sa.String(1), nullable=False, server_default=","),
        sa.Column("sql_url", sa.Text(), nullable=False, server_default=""),
        sa.Column("sql_table", sa.String(200), nullable=False, server_default=""),
        sa.Column("sql_query", sa.Text(), nullable=False, server_default=""),
        sa.Column("key_columns", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("arrow_schema", sa.LargeBinary(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("creator", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        *_ledger_ref(),
        sa.UniqueConstraint("creator", "request_id", name="uq_access_sources_request"),
    )
    op.create_index(
        "ix_access_sources_revision", "access_sources", ["product_id", "revision", "state"]
    )
    op.create_index("ix_access_sources_order", "access_sources", ["create_us", "id"])
    op.create_table(
        "access_usage",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("consumer_party", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("licence_id", sa.String(32), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("provider_party", sa.String(64), nullable=False),
        sa.Column("consumer_region", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_until_us", sa.BigInteger(), nullable=False),
        *_big(
            "reserved_calls",
            "reserved_rows",
            "reserved_bytes",
            "qty_calls",
            "qty_rows",
            "qty_bytes",
            "amount_fen",
        ),
        sa.Column("currency_code", sa.String(3), nullable=False, server_default="CNY"),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False, server_default=""),
        sa.Column("rejection_reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("record", sa.LargeBinary(), nullable=True),
        sa.Column("receipt_body", sa.LargeBinary(), nullable=True),
        sa.Column("receipt_signature", sa.LargeBinary(64), nullable=True),
        sa.Column("receipt_key_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("receipt_key_id", sa.String(8), nullable=False, server_default=""),
        sa.Column("receipt_sign_us", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
        *_ledger_ref(),
        sa.UniqueConstraint("consumer_party", "request_id", name="uq_access_usage_request"),
    )
    op.create_index("ix_access_usage_order", "access_usage", ["time_us", "id"])
    op.create_index("ix_access_usage_licence", "access_usage", ["licence_id", "time_us"])
    op.create_index("ix_access_usage_product", "access_usage", ["product_id", "time_us"])
    op.create_index("ix_access_usage_provider", "access_usage", ["provider_party", "time_us"])
    op.create_index("ix_access_usage_state", "access_usage", ["state", "lease_until_us"])


def downgrade() -> None:
    for name in (
        "ix_access_usage_state",
        "ix_access_usage_provider",
        "ix_access_usage_product",
        "ix_access_usage_licence",
        "ix_access_usage_order",
    ):
        op.drop_index(name, table_name="access_usage")
    op.drop_table("access_usage")
    op.drop_index("ix_access_sources_order", table_name="access_sources")
    op.drop_index("ix_access_sources_revision", table_name="access_sources")
    op.drop_table("access_sources")

"""Settlement: periods, statements and their signatures, adjustments, disputes.

Mirrors the ``Settlement*`` classes in ``services.models`` (read their comments for
what each column holds).

Revision ID: 0009_settlement
Revises: 0008_batches
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_settlement"
down_revision = "0008_batches"
branch_labels = None
depends_on = None


def _ledger_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("ledger_leaf_hash", sa.LargeBinary(32), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "settlement_periods",
        sa.Column("period_id", sa.String(64), primary_key=True),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("grace_window_us", sa.BigInteger(), nullable=False),
        sa.Column("counterparties", sa.Text(), nullable=False),
        sa.Column("closing_us", sa.BigInteger(), nullable=True),
        sa.Column("grace_end_us", sa.BigInteger(), nullable=True),
        sa.Column("close_us", sa.BigInteger(), nullable=True),
        sa.Column("closer", sa.String(200), nullable=False),
        sa.Column("closing_request_id", sa.String(128), nullable=False),
        sa.Column("close_request_id", sa.String(128), nullable=False),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
        *_ledger_columns(),
    )
    op.create_index("ix_settlement_periods_start", "settlement_periods", ["start_us"])
    op.create_table(
        "settlement_statements",
        sa.Column("period_id", sa.String(64), primary_key=True),
        sa.Column("counterparty", sa.String(16), primary_key=True),
        sa.Column("content_body", sa.LargeBinary(), nullable=False),
        sa.Column("content_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("refusal_reason", sa.Text(), nullable=False),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
        *_ledger_columns(),
    )
    op.create_index(
        "ix_settlement_statements_state", "settlement_statements", ["state", "period_id"]
    )
    op.create_table(
        "settlement_statement_signatures",
        sa.Column("period_id", sa.String(64), primary_key=True),
        sa.Column("counterparty", sa.String(16), primary_key=True),
        sa.Column("signer_region", sa.String(16), primary_key=True),
        sa.Column("content_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("sign_us", sa.BigInteger(), nullable=False),
        *_ledger_columns(),
    )
    op.create_table(
        "settlement_adjustments",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("origin_region", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("corrects_origin", sa.String(64), nullable=False),
        sa.Column("corrects_index", sa.BigInteger(), nullable=True),
        sa.Column("corrects_leaf_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("usage_record", sa.String(300), nullable=False),
        sa.Column("provider_region", sa.String(16), nullable=False),
        sa.Column("consumer_region", sa.String(16), nullable=False),
        sa.Column("amount_delta_fen", sa.BigInteger(), nullable=False),
        sa.Column("qty_calls", sa.BigInteger(), nullable=False),
        sa.Column("qty_rows", sa.BigInteger(), nullable=False),
        sa.Column("qty_bytes", sa.BigInteger(), nullable=False),
        sa.Column("exact_delta_fen", sa.String(64), nullable=False),
        sa.Column("tariff", sa.String(300), nullable=False),
        sa.Column("dispute", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("period", sa.String(64), nullable=False),
        sa.Column("creator", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        *_ledger_columns(),
        sa.UniqueConstraint("creator", "request_id", name="uq_settlement_adjustments_request"),
    )
    op.create_index(
        "ix_settlement_adjustments_period", "settlement_adjustments", ["period", "create_us"]
    )
    op.create_index(
        "ix_settlement_adjustments_corrects",
        "settlement_adjustments",
        ["corrects_origin", "corrects_index"],
    )
    op.create_table(
        "settlement_disputes",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("raiser_region", sa.String(16), nullable=False),
        sa.Column("counterparty", sa.String(16), nullable=False),
        sa.Column("period", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("disputed_fen", sa.BigInteger(), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=False),
        sa.Column("raiser", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("raiser", "request_id", name="uq_settlement_disputes_request"),
    )
    op.create_index(
        "ix_settlement_disputes_period", "settlement_disputes", ["period", "counterparty"]
    )
    op.create_index("ix_settlement_disputes_order", "settlement_disputes", ["create_us", "name"])
    op.create_table(
        "settlement_dispute_events",
        sa.Column("dispute", sa.String(300), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.LargeBinary(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        *_ledger_columns(),
        sa.UniqueConstraint("dispute", "request_id", name="uq_settlement_dispute_events_request"),
    )


def downgrade() -> None:
    for table in (
        "settlement_dispute_events",
        "settlement_disputes",
        "settlement_adjustments",
        "settlement_statement_signatures",
        "settlement_statements",
        "settlement_periods",
    ):
        op.drop_table(table)

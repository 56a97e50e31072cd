"""Reconciliation reports and their discrepancies.

Mirrors ``ReconciliationReportRow`` and ``ReconciliationDiscrepancyRow`` in
``services.models`` (read their comments for what each column holds).

Revision ID: 0010_reconciliation
Revises: 0009_settlement
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_reconciliation"
down_revision = "0009_settlement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("period", sa.String(64), nullable=False),
        sa.Column("counterparty", sa.String(16), nullable=False),
        sa.Column("creator", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("discrepancy_count", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=False),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("ledger_leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.UniqueConstraint("creator", "request_id", name="uq_reconciliation_reports_request"),
    )
    op.create_index(
        "ix_reconciliation_reports_period", "reconciliation_reports", ["period", "create_us"]
    )
    op.create_index(
        "ix_reconciliation_reports_order", "reconciliation_reports", ["create_us", "id"]
    )
    op.create_table(
        "reconciliation_discrepancies",
        sa.Column(
            "report_id",
            sa.String(32),
            sa.ForeignKey("reconciliation_reports.id"),
            primary_key=True,
        ),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(400), nullable=False),
        sa.Column("discrepancy", sa.LargeBinary(), nullable=False),
    )
    op.create_index(
        "ix_reconciliation_discrepancies_filter",
        "reconciliation_discrepancies",
        ["report_id", "tier", "status", "seq"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_reconciliation_discrepancies_filter", table_name="reconciliation_discrepancies"
    )
    op.drop_table("reconciliation_discrepancies")
    op.drop_index("ix_reconciliation_reports_order", table_name="reconciliation_reports")
    op.drop_index("ix_reconciliation_reports_period", table_name="reconciliation_reports")
    op.drop_table("reconciliation_reports")

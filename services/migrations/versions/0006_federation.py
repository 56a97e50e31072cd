"""Federation: peer nonces, the durable outbox and inbox, witnessing and alarms.

Mirrors the ``Federation*`` classes in ``services.models`` (read their comments for
what each column holds).

Revision ID: 0006_federation
Revises: 0005_access
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_federation"
down_revision = "0005_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_nonces",
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("nonce", sa.String(32), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_federation_nonces_expiry", "federation_nonces", ["expires_at"])
    op.create_table(
        "federation_outbox",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("recipient_region", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), nullable=False),
        sa.Column("delivered_us", sa.BigInteger(), nullable=True),
        sa.Column("ack_status", sa.String(24), nullable=False, server_default=""),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_federation_outbox_due",
        "federation_outbox",
        ["state", "recipient_region", "next_attempt_us"],
    )
    op.create_index(
        "ix_federation_outbox_order", "federation_outbox", ["recipient_region", "create_us"]
    )
    op.create_table(
        "federation_inbox",
        sa.Column("sender_region", sa.String(32), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("delivery_request_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("receive_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_federation_inbox_kind", "federation_inbox", ["kind", "receive_us"])
    op.create_table(
        "federation_peer_state",
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("last_contact_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("clock_skew_ms", sa.BigInteger(), nullable=True),
        sa.Column("seen_size", sa.BigInteger(), nullable=True),
        sa.Column("seen_root", sa.LargeBinary(32), nullable=True),
        sa.Column("seen_note", sa.Text(), nullable=True),
        sa.Column("seen_us", sa.BigInteger(), nullable=True),
        sa.Column("cosigned_size", sa.BigInteger(), nullable=True),
        sa.Column("cosigned_note", sa.Text(), nullable=True),
        sa.Column("cosigned_us", sa.BigInteger(), nullable=True),
        sa.Column("recorded_us", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "federation_cosignatures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("cosigner_region", sa.String(32), nullable=False),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("signature_line", sa.Text(), nullable=False),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint(
            "origin", "tree_size", "cosigner_region", "key_id", name="uq_federation_cosignatures"
        ),
    )
    op.create_table(
        "federation_forks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("peer_region", sa.String(32), nullable=False),
        sa.Column("first_note", sa.Text(), nullable=False),
        sa.Column("second_note", sa.Text(), nullable=False),
        sa.Column("proof", sa.LargeBinary(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("detect_us", sa.BigInteger(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("ledger_leaf_hash", sa.LargeBinary(32), nullable=True),
    )
    op.create_table(
        "federation_alarms",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("peer_region", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("since_us", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("evidence_index", sa.BigInteger(), nullable=True),
        sa.Column("evidence_leaf_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("cleared_us", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_federation_alarms_peer", "federation_alarms", ["peer_region", "cleared_us"])


def downgrade() -> None:
    op.drop_table("federation_alarms")
    op.drop_table("federation_forks")
    op.drop_table("federation_cosignatures")
    op.drop_table("federation_peer_state")
    op.drop_table("federation_inbox")
    op.drop_table("federation_outbox")
    op.drop_table("federation_nonces")

"""Catalog and licensing: products, revisions, tariffs, ceilings, mappings, licences.

Mirrors the ORM classes of ``services.models`` from ``CatalogProduct`` on (read their
comments for what each column holds). Times are integer microseconds; every row a
mutating call creates carries the caller's request_id under a unique constraint.

Revision ID: 0004_catalog_licensing
Revises: 0003_region_keys
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_catalog_licensing"
down_revision = "0003_region_keys"
branch_labels = None
depends_on = None


def _ledger_ref() -> list[sa.Column[object]]:
    return [
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("ledger_leaf_hash", sa.LargeBinary(32), nullable=True),
    ]


def _request(actor: str) -> list[sa.Column[object]]:
    return [
        sa.Column(actor, sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "catalog_products",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("provider_party", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("current_revision", sa.Integer(), nullable=False),
        sa.Column("status_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("data_grade", sa.String(16), nullable=False),
        sa.Column("personal_info_class", sa.String(16), nullable=False),
        sa.Column("source_class", sa.String(16), nullable=False),
        sa.Column("access_modes", sa.String(64), nullable=False),
        sa.Column("element_codes", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
    )
    op.create_index("ix_catalog_products_order", "catalog_products", ["create_us", "id"])
    op.create_table(
        "catalog_revisions",
        sa.Column(
            "product_id", sa.String(64), sa.ForeignKey("catalog_products.id"), primary_key=True
        ),
        sa.Column("revision", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("descriptor", sa.Text(), nullable=False),
        sa.Column("descriptor_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("change_note", sa.Text(), nullable=False, server_default=""),
        *_request("creator"),
        *_ledger_ref(),
        sa.UniqueConstraint("creator", "request_id", name="uq_catalog_revisions_request"),
    )
    op.create_table(
        "catalog_product_events",
        sa.Column(
            "product_id", sa.String(64), sa.ForeignKey("catalog_products.id"), primary_key=True
        ),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        *_request("actor"),
        sa.Column("old_state", sa.String(16), nullable=False),
        sa.Column("new_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        *_ledger_ref(),
        sa.UniqueConstraint("actor", "request_id", name="uq_catalog_product_events_request"),
    )
    op.create_table(
        "catalog_tariffs",
        sa.Column(
            "product_id", sa.String(64), sa.ForeignKey("catalog_products.id"), primary_key=True
        ),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("unit_price", sa.String(32), nullable=False),
        sa.Column("purpose_prices", sa.Text(), nullable=False),
        sa.Column("rounding_rule", sa.String(32), nullable=False),
        sa.Column("effective_us", sa.BigInteger(), nullable=False),
        *_request("creator"),
        *_ledger_ref(),
        sa.UniqueConstraint("creator", "request_id", name="uq_catalog_tariffs_request"),
    )
    op.create_table(
        "catalog_price_ceilings",
        sa.Column("unit", sa.String(16), primary_key=True),
        sa.Column("category", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("max_unit_price", sa.String(32), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        *_request("creator"),
        *_ledger_ref(),
        sa.UniqueConstraint("creator", "request_id", name="uq_catalog_price_ceilings_request"),
    )
    op.create_table(
        "catalog_standard_mappings",
        sa.Column("peer_region", sa.String(16), primary_key=True),
        sa.Column("version", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("peer_standard_version", sa.String(64), nullable=False),
        sa.Column("local_standard_version", sa.String(64), nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("effective_us", sa.BigInteger(), nullable=False),
        *_request("creator"),
        *_ledger_ref(),
        sa.UniqueConstraint("creator", "request_id", name="uq_catalog_standard_mappings_request"),
    )
    op.create_table(
        "licence_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "product_id", sa.String(64), sa.ForeignKey("catalog_products.id"), nullable=False
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("provider_party", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("consumer_party", sa.String(200), nullable=False),
        sa.Column("home_region", sa.String(16), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False, server_default=""),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("review", sa.Text(), nullable=True),
        sa.Column("licence_id", sa.String(32), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=True),
        sa.Column("review_request_id", sa.String(128), nullable=True),
        sa.Column("review_fingerprint", sa.String(64), nullable=True),
        sa.Column("create_us", sa.BigInteger(), nullable=False),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
        sa.Column("hold_expire_us", sa.BigInteger(), nullable=False),
        sa.Column("decision_ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("decision_leaf_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("review_ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("review_leaf_hash", sa.LargeBinary(32), nullable=True),
        sa.UniqueConstraint("requester", "request_id", name="uq_licence_requests_request"),
        sa.UniqueConstraint("reviewer", "review_request_id", name="uq_licence_requests_review"),
    )
    op.create_index("ix_licence_requests_order", "licence_requests", ["create_us", "id"])
    op.create_table(
        "licences",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "licence_request_id",
            sa.String(32),
            sa.ForeignKey("licence_requests.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column(
            "product_id", sa.String(64), sa.ForeignKey("catalog_products.id"), nullable=False
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("provider_party", sa.String(64), nullable=False),
        sa.Column("consumer_party", sa.String(200), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("masking", sa.Text(), nullable=False),
        sa.Column("tariff_version", sa.Integer(), nullable=True),
        sa.Column("standard_mapping", sa.String(200), nullable=False, server_default=""),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("status_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("valid_from_us", sa.BigInteger(), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger(), nullable=True),
        *[
            sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            for name in (
                "quota_calls",
                "quota_rows",
                "quota_bytes",
                "used_calls",
                "used_rows",
                "used_bytes",
            )
        ],
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("signature_key_name", sa.String(200), nullable=False),
        sa.Column("signature_key_id", sa.String(8), nullable=False),
        sa.Column("sign_us", sa.BigInteger(), nullable=False),
        sa.Column("grant_us", sa.BigInteger(), nullable=False),
        sa.Column("update_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_licences_order", "licences", ["grant_us", "id"])
    op.create_table(
        "licence_events",
        sa.Column("licence_id", sa.String(32), sa.ForeignKey("licences.id"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        *_request("actor"),
        sa.Column("old_state", sa.String(16), nullable=False),
        sa.Column("new_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        *_ledger_ref(),
        sa.UniqueConstraint("actor", "request_id", name="uq_licence_events_request"),
    )


def downgrade() -> None:
    op.drop_table("licence_events")
    op.drop_index("ix_licences_order", table_name="licences")
    op.drop_table("licences")
    op.drop_index("ix_licence_requests_order", table_name="licence_requests")
    op.drop_table("licence_requests")
    op.drop_table("catalog_standard_mappings")
    op.drop_table("catalog_price_ceilings")
    op.drop_table("catalog_tariffs")
    op.drop_table("catalog_product_events")
    op.drop_table("catalog_revisions")
    op.drop_index("ix_catalog_products_order", table_name="catalog_products")
    op.drop_table("catalog_products")

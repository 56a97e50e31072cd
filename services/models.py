"""ORM tables of a node (everything except the ledger's own tables).

The ledger keeps its tables in ``ledger.storage`` (it is a pure core and may not
import this module); Alembic sees both metadata objects. The schema changes only
through migrations in ``services/migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Party(Base):
    """A provider, consumer, finance office or operator of this region."""

    __tablename__ = "parties"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Comma-separated role names, a closed set validated by services.auth.Role.
    roles: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """An API key of a party, stored only as its SHA-256 hash."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_api_keys_party", "party_id"),)


class RegionKey(Base):
    """Every verifier key the region has signed with; rows are only ever added.

    Written by key rotation (whose ledger entry is the authoritative record) so
    that verification can accept checkpoints signed before a rotation.
    """

    __tablename__ = "region_keys"

    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    verifier_key: Mapped[str] = mapped_column(Text)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rotation_entry: Mapped[int | None] = mapped_column(nullable=True)


# --- Catalog and licensing (migration 0004_catalog_licensing) ----------------------
#
# Times are integer microseconds since the epoch (UTC): exact, portable between
# SQLite and PostgreSQL, and totally ordered, which keyset pagination relies on.
# Enumerations are stored by name. Every row a mutating call creates carries the
# caller's request_id under a unique constraint, so a retry finds the first result
# on every process sharing the database. ``ledger_index``/``ledger_leaf_hash`` point
# at the ledger entry that recorded the row (NULL until the append returned).


class CatalogProduct(Base):
    """A product of this region; the search columns mirror its current revision."""

    __tablename__ = "catalog_products"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_party: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str] = mapped_column(Text, default="")
    current_revision: Mapped[int] = mapped_column(Integer)
    # Number of state changes so far: the sequence of the next status event.
    status_seq: Mapped[int] = mapped_column(Integer, default=0)
    create_us: Mapped[int] = mapped_column(BigInteger)
    update_us: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str] = mapped_column(String(40))
    data_grade: Mapped[str] = mapped_column(String(16))
    personal_info_class: Mapped[str] = mapped_column(String(16))
    source_class: Mapped[str] = mapped_column(String(16))
    # ",BULK,LOOKUP," so that one LIKE finds a mode.
    access_modes: Mapped[str] = mapped_column(String(64))
    # " CODE1 CODE2 " (every field's element code, space-delimited).
    element_codes: Mapped[str] = mapped_column(Text)
    # Lower-cased titles, descriptions and keywords for substring search.
    search_text: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_catalog_products_order", "create_us", "id"),)


class CatalogRevision(Base):
    """One immutable revision of a product (rows are never updated but for the ledger ref)."""

    __tablename__ = "catalog_revisions"

    product_id: Mapped[str] = mapped_column(ForeignKey("catalog_products.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    descriptor: Mapped[str] = mapped_column(Text)  # canonical JSON of the domain descriptor
    descriptor_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    change_note: Mapped[str] = mapped_column(Text, default="")
    creator: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    create_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("creator", "request_id", name="uq_catalog_revisions_request"),
    )


class CatalogProductEvent(Base):
    """A product state change (unlist, suspend, resume); insert-only."""

    __tablename__ = "catalog_product_events"

    product_id: Mapped[str] = mapped_column(ForeignKey("catalog_products.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    old_state: Mapped[str] = mapped_column(String(16))
    new_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    create_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("actor", "request_id", name="uq_catalog_product_events_request"),
    )


class CatalogTariff(Base):
    """One immutable tariff version of a product."""

    __tablename__ = "catalog_tariffs"

    product_id: Mapped[str] = mapped_column(ForeignKey("catalog_products.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit: Mapped[str] = mapped_column(String(16))
    currency_code: Mapped[str] = mapped_column(String(3))
    unit_price: Mapped[str] = mapped_column(String(32))  # decimal string, never a float
    purpose_prices: Mapped[str] = mapped_column(Text)  # JSON {"PUBLIC_WELFARE": "0", ...}
    rounding_rule: Mapped[str] = mapped_column(String(32))
    effective_us: Mapped[int] = mapped_column(BigInteger)
    creator: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    create_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (UniqueConstraint("creator", "request_id", name="uq_catalog_tariffs_request"),)


class CatalogPriceCeiling(Base):
    """Every version of an operator's price ceiling; the highest version is in force."""

    __tablename__ = "catalog_price_ceilings"

    unit: Mapped[str] = mapped_column(String(16), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)  # UNSPECIFIED = all
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    max_unit_price: Mapped[str] = mapped_column(String(32))
    currency_code: Mapped[str] = mapped_column(String(3))
    creator: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    create_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("creator", "request_id", name="uq_catalog_price_ceilings_request"),
    )


class CatalogStandardMapping(Base):
    """One immutable version of the element-code mapping for one peer region."""

    __tablename__ = "catalog_standard_mappings"

    peer_region: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    peer_standard_version: Mapped[str] = mapped_column(String(64))
    local_standard_version: Mapped[str] = mapped_column(String(64))
    entries: Mapped[str] = mapped_column(Text)  # JSON list of [peer, local, relation, note]
    entry_count: Mapped[int] = mapped_column(Integer)
    effective_us: Mapped[int] = mapped_column(BigInteger)
    creator: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    create_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("creator", "request_id", name="uq_catalog_standard_mappings_request"),
    )


class LicenceRequestRow(Base):
    """A consumer's licence request and its decisions.

    ``state`` moves HELD → GRANTED/REJECTED only through a conditional UPDATE
    (``WHERE state = 'HELD'``), so two concurrent reviews cannot both win.
    """

    __tablename__ = "licence_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("catalog_products.id"))
    revision: Mapped[int] = mapped_column(Integer)
    provider_party: Mapped[str] = mapped_column(String(64))
    requester: Mapped[str] = mapped_column(String(64))  # party id of the caller
    consumer_party: Mapped[str] = mapped_column(String(200))  # party resource name
    home_region: Mapped[str] = mapped_column(String(16))
    terms: Mapped[str] = mapped_column(Text)  # JSON of the domain terms asked for
    justification: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(Text)  # JSON of the policy decision
    review: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON of the review
    licence_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    review_request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    review_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    create_us: Mapped[int] = mapped_column(BigInteger)
    update_us: Mapped[int] = mapped_column(BigInteger)
    # A HELD request reads as EXPIRED from this time on (30 days, or the end of the
    # validity asked for if sooner); stored so listings can filter on it.
    hold_expire_us: Mapped[int] = mapped_column(BigInteger)
    decision_ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decision_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    review_ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    review_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("requester", "request_id", name="uq_licence_requests_request"),
        UniqueConstraint("reviewer", "review_request_id", name="uq_licence_requests_review"),
        Index("ix_licence_requests_order", "create_us", "id"),
    )


class LicenceRow(Base):
    """A granted licence with its signed document; at most one per request."""

    __tablename__ = "licences"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    licence_request_id: Mapped[str] = mapped_column(ForeignKey("licence_requests.id"), unique=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("catalog_products.id"))
    revision: Mapped[int] = mapped_column(Integer)
    provider_party: Mapped[str] = mapped_column(String(64))
    consumer_party: Mapped[str] = mapped_column(String(200))  # party resource name
    terms: Mapped[str] = mapped_column(Text)  # JSON of the granted terms
    masking: Mapped[str] = mapped_column(Text)  # JSON [[field, rule], ...]
    tariff_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    standard_mapping: Mapped[str] = mapped_column(String(200), default="")
    policy_version: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str] = mapped_column(Text, default="")
    status_seq: Mapped[int] = mapped_column(Integer, default=0)
    valid_from_us: Mapped[int] = mapped_column(BigInteger)
    valid_until_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Quota limits (0 = unlimited) and use so far; the data plane updates the
    # counters atomically (UPDATE ... WHERE used + n <= limit).
    quota_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    quota_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    quota_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    used_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    document: Mapped[bytes] = mapped_column(LargeBinary)  # the exact signed bytes
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    signature_key_name: Mapped[str] = mapped_column(String(200))
    signature_key_id: Mapped[str] = mapped_column(String(8))
    sign_us: Mapped[int] = mapped_column(BigInteger)
    grant_us: Mapped[int] = mapped_column(BigInteger)
    update_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_licences_order", "grant_us", "id"),)


class LicenceEvent(Base):
    """A licence state change (suspend, resume, revoke); insert-only."""

    __tablename__ = "licence_events"

    licence_id: Mapped[str] = mapped_column(ForeignKey("licences.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    old_state: Mapped[str] = mapped_column(String(16))
    new_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    create_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (UniqueConstraint("actor", "request_id", name="uq_licence_events_request"),)


# --- Metered access (migration 0005_access) -------------------------------------------
#
# Same conventions as above: integer microseconds, enumerations by name, request ids
# under unique constraints. Quota counters live on ``licences`` (used_*), updated by
# ``services.metering`` with conditional UPDATEs; these tables hold sources and the
# usage records (one row per data call, which is also the call's idempotency claim).


class AccessSource(Base):
    """The data behind one product revision; a newer registration supersedes older ones."""

    __tablename__ = "access_sources"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    provider_party: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # FILE or SQL
    file_path: Mapped[str] = mapped_column(Text, default="")
    file_format: Mapped[str] = mapped_column(String(16), default="")
    csv_delimiter: Mapped[str] = mapped_column(String(1), default=",")
    # The SQL URL as given (the node needs the password to connect); responses and
    # the ledger only ever see it redacted.
    sql_url: Mapped[str] = mapped_column(Text, default="")
    sql_table: Mapped[str] = mapped_column(String(200), default="")
    sql_query: Mapped[str] = mapped_column(Text, default="")
    key_columns: Mapped[str] = mapped_column(Text)  # JSON list
    state: Mapped[str] = mapped_column(String(16))  # ACTIVE or SUPERSEDED
    arrow_schema: Mapped[bytes] = mapped_column(LargeBinary)
    row_count: Mapped[int] = mapped_column(BigInteger)
    creator: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    create_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("creator", "request_id", name="uq_access_sources_request"),
        Index("ix_access_sources_revision", "product_id", "revision", "state"),
        Index("ix_access_sources_order", "create_us", "id"),
    )


class UsageRow(Base):
    """One data call: its idempotency claim while it runs, its usage record after.

    ``state`` is RUNNING (claimed, quota ``reserved_*`` held on the licence until
    ``lease_until_us``), RECORDED (in the ledger at ``ledger_index``, receipt signed)
    or REJECTED (failed validation: kept with ``rejection_reason``, never settled).
    """

    __tablename__ = "access_usage"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consumer_party: Mapped[str] = mapped_column(String(200))  # party resource name
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))  # BULK, LOOKUP or VERIFY
    licence_id: Mapped[str] = mapped_column(String(32))
    product_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    provider_party: Mapped[str] = mapped_column(String(64))
    consumer_region: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    lease_until_us: Mapped[int] = mapped_column(BigInteger)
    reserved_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    qty_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    qty_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    qty_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    currency_code: Mapped[str] = mapped_column(String(3), default="CNY")
    time_us: Mapped[int] = mapped_column(BigInteger)
    period: Mapped[str] = mapped_column(String(7))  # "2026-11", UTC
    day: Mapped[str] = mapped_column(String(10))  # "2026-11-03", UTC
    outcome: Mapped[str] = mapped_column(String(16), default="")  # FOUND, VALID, ...
    rejection_reason: Mapped[str] = mapped_column(String(64), default="")
    record: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # UsageRecord
    receipt_body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    receipt_signature: Mapped[bytes | None] = mapped_column(LargeBinary(64), nullable=True)
    receipt_key_name: Mapped[str] = mapped_column(String(200), default="")
    receipt_key_id: Mapped[str] = mapped_column(String(8), default="")
    receipt_sign_us: Mapped[int] = mapped_column(BigInteger, default=0)
    create_us: Mapped[int] = mapped_column(BigInteger)
    update_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("consumer_party", "request_id", name="uq_access_usage_request"),
        Index("ix_access_usage_order", "time_us", "id"),
        Index("ix_access_usage_licence", "licence_id", "time_us"),
        Index("ix_access_usage_product", "product_id", "time_us"),
        Index("ix_access_usage_provider", "provider_party", "time_us"),
        Index("ix_access_usage_state", "state", "lease_until_us"),
    )


# --- Federation (migration 0006_federation) ------------------------------------------
#
# Times are integer microseconds since the epoch (UTC), as above, except nonce expiry
# (whole seconds, the unit of the signed timestamp). Several processes of one node may
# share these tables: every write is a single-row insert under a unique key or a
# conditional update, so no process needs to believe it is alone.


class FederationNonce(Base):
    """A (region, nonce) pair a peer signed a call with; kept until it leaves the window."""

    __tablename__ = "federation_nonces"

    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)  # Unix seconds

    __table_args__ = (Index("ix_federation_nonces_expiry", "expires_at"),)


class FederationOutboxMessage(Base):
    """A message to a peer, written in the transaction of the change that causes it.

    ``state`` is PENDING (to deliver at ``next_attempt_us``; a deliverer claims a row
    by moving ``next_attempt_us`` past its call's deadline), DELIVERED (the peer
    acknowledged it ACCEPTED or DUPLICATE) or REJECTED (parked; an alarm is raised).
    """

    __tablename__ = "federation_outbox"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    recipient_region: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48))
    message: Mapped[bytes] = mapped_column(LargeBinary)  # OutboxMessage, attempt unset
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    create_us: Mapped[int] = mapped_column(BigInteger)
    next_attempt_us: Mapped[int] = mapped_column(BigInteger)
    delivered_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ack_status: Mapped[str] = mapped_column(String(24), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_federation_outbox_due", "state", "recipient_region", "next_attempt_us"),
        Index("ix_federation_outbox_order", "recipient_region", "create_us"),
    )


class FederationInboxMessage(Base):
    """A message a peer delivered, processed once: the key is (sender, message id)."""

    __tablename__ = "federation_inbox"

    sender_region: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    status: Mapped[str] = mapped_column(String(16))  # ACCEPTED or REJECTED
    reason: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[bytes] = mapped_column(LargeBinary)  # the OutboxMessage as received
    delivery_request_id: Mapped[str] = mapped_column(String(128), default="")
    receive_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_federation_inbox_kind", "kind", "receive_us"),)


class FederationPeerState(Base):
    """What this node last observed of one peer: contact, clock and witnessing.

    ``seen_*`` is the peer's latest checkpoint verified and proven consistent with
    every earlier one seen; ``cosigned_*`` the latest this node cosigned (the note
    carries the cosignature line). Columns are updated one concern at a time, so the
    deliverer and the witness never overwrite each other's observations.
    """

    __tablename__ = "federation_peer_state"

    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_contact_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    clock_skew_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    seen_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    seen_root: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    seen_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    seen_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cosigned_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cosigned_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    cosigned_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    recorded_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class FederationCosignature(Base):
    """A C2SP cosignature of a checkpoint: ours of a peer's log, or a peer's of ours."""

    __tablename__ = "federation_cosignatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(200))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    cosigner_region: Mapped[str] = mapped_column(String(32))
    key_name: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(8))
    timestamp: Mapped[int] = mapped_column(BigInteger)  # Unix seconds, as signed
    signature_line: Mapped[str] = mapped_column(Text)
    create_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint(
            "origin", "tree_size", "cosigner_region", "key_id", name="uq_federation_cosignatures"
        ),
    )


class FederationFork(Base):
    """Evidence that a peer's log forked: two signed notes that are not consistent."""

    __tablename__ = "federation_forks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # digest of both notes
    peer_region: Mapped[str] = mapped_column(String(32))
    first_note: Mapped[str] = mapped_column(Text)
    second_note: Mapped[str] = mapped_column(Text)
    proof: Mapped[bytes] = mapped_column(LargeBinary)  # the failed proof, 32-byte hashes
    detail: Mapped[str] = mapped_column(Text)
    detect_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)


class FederationAlarm(Base):
    """A standing alarm about a peer; ``key`` names what it is about, so raising the
    same alarm twice keeps one row (re-opened if it had been cleared)."""

    __tablename__ = "federation_alarms"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    peer_region: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48))
    since_us: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text)
    evidence_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    evidence_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    cleared_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (Index("ix_federation_alarms_peer", "peer_region", "cleared_us"),)


# --- market (consumption records) tables: migration 0007_market ---
#
# Written by ``services.market`` on a consumer's home node: one row per relayed data
# call, citing the provider region's UsageRecorded entry and holding its receipt.
# ``ledger_*`` is this node's ConsumptionRecorded entry for the same call.


class ConsumptionRow(Base):
    """A data call a local consumer made against another region's product."""

    __tablename__ = "market_consumption"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    usage_record_id: Mapped[str] = mapped_column(String(300))  # "{consumer}/{request_id}"
    usage_record: Mapped[str] = mapped_column(String(300))  # provider's resource name
    provider_region: Mapped[str] = mapped_column(String(16))
    consumer_party: Mapped[str] = mapped_column(String(200))
    licence: Mapped[str] = mapped_column(String(300))  # in the provider region
    product: Mapped[str] = mapped_column(String(300))
    tariff: Mapped[str] = mapped_column(String(300))
    purpose_class: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(8))  # BULK, LOOKUP or VERIFY
    provider_entry_index: Mapped[int] = mapped_column(BigInteger)
    provider_leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    qty_calls: Mapped[int] = mapped_column(BigInteger)
    qty_rows: Mapped[int] = mapped_column(BigInteger)
    qty_bytes: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency_code: Mapped[str] = mapped_column(String(3))
    usage_time_us: Mapped[int] = mapped_column(BigInteger)  # event time per the receipt
    period: Mapped[str] = mapped_column(String(7))  # "2026-11", UTC
    day: Mapped[str] = mapped_column(String(10))  # "2026-11-03", UTC
    receipt: Mapped[bytes] = mapped_column(LargeBinary)  # bashu.access.v1.UsageReceipt
    ledger_index: Mapped[int] = mapped_column(BigInteger)
    ledger_leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    create_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("usage_record_id", name="uq_market_consumption_usage_record"),
        Index("ix_market_consumption_time", "provider_region", "usage_time_us"),
        Index("ix_market_consumption_period", "provider_region", "period"),
    )


class MarketLicenceCopy(Base):
    """The home node's copy of a licence request (and its licence) that a local
    consumer made in another region; kept current by the provider's LicenceNotices."""

    __tablename__ = "market_licence_copies"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)  # the request's name
    provider_region: Mapped[str] = mapped_column(String(16))
    consumer_party: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))  # request state, by name
    licence_name: Mapped[str] = mapped_column(String(300), default="")
    licence_state: Mapped[str] = mapped_column(String(16), default="")
    licence_request: Mapped[bytes] = mapped_column(LargeBinary)  # licensing.v1.LicenceRequest
    licence: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # Licence
    create_us: Mapped[int] = mapped_column(BigInteger)
    update_us: Mapped[int] = mapped_column(BigInteger)  # time of the change last applied

    __table_args__ = (
        Index("ix_market_licence_copies_licence", "licence_name"),
        Index("ix_market_licence_copies_consumer", "consumer_party", "create_us"),
    )


# --- usage batch tables: migration 0008_batches ---
#
# Written by ``services.batches`` on both sides of a region pair. A batch row is kept
# on the provider (it sealed it) and on the consumer (it received it), keyed by the
# digest of the signed body, so a second batch claiming a sequence number already
# used (SEQUENCE_CONFLICT) has a row of its own; ``sequence_claim`` ("provider/
# consumer/sequence", unique) is set on the first batch of each sequence only, and
# is what stops two sealing processes from using one number. Items say where each
# cross-region use stands in batching (the provider's pool, or what the consumer has
# seen countersigned).


class FederationBatch(Base):
    """A usage batch this node sealed (provider) or received (consumer).

    ``state``: SEALING (claimed, its BatchSealed entry not yet appended), SEALED
    (queued for the consumer), COUNTERSIGNED or RETURNED; a consumer's row is
    created COUNTERSIGNED or RETURNED.
    """

    __tablename__ = "federation_batches"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of body, hex
    name: Mapped[str] = mapped_column(String(200))
    provider_region: Mapped[str] = mapped_column(String(16))
    consumer_region: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(BigInteger)
    sequence_claim: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    batch: Mapped[bytes] = mapped_column(LargeBinary)  # UsageBatch (body + signature)
    record_count: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    period: Mapped[str] = mapped_column(String(7))
    start_us: Mapped[int] = mapped_column(BigInteger)
    end_us: Mapped[int] = mapped_column(BigInteger)
    seal_us: Mapped[int] = mapped_column(BigInteger)
    corrects_return: Mapped[str] = mapped_column(String(200), default="")
    message_id: Mapped[str] = mapped_column(String(64), default="")  # outbox, provider side
    answer: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    return_name: Mapped[str] = mapped_column(String(200), default="")
    corrected: Mapped[int] = mapped_column(Integer, default=0)  # a return answered by a batch
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    answer_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    answer_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    update_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("sequence_claim", name="uq_federation_batches_sequence"),
        Index("ix_federation_batches_pair", "provider_region", "consumer_region", "sequence"),
        Index("ix_federation_batches_state", "state", "update_us"),
    )


class FederationBatchItem(Base):
    """Where one cross-region use stands in batching.

    On the provider (``provider_region`` is this region): BATCHED in ``batch`` (a
    sealed or countersigned batch), HELD out of batches until ``hold_until_us`` after
    a return (0: at the next seal), or PARKED (returned too often, or with different
    amounts: an operator's matter). A use with no row is in the pool. On the consumer:
    COUNTERSIGNED, the use is covered by a batch it countersigned.
    """

    __tablename__ = "federation_batch_items"

    provider_region: Mapped[str] = mapped_column(String(16), primary_key=True)
    usage_record_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    consumer_region: Mapped[str] = mapped_column(String(16))
    usage_id: Mapped[str] = mapped_column(String(32), default="")  # access_usage.id (provider)
    entry_index: Mapped[int] = mapped_column(BigInteger)
    batch: Mapped[str] = mapped_column(String(64))  # digest of the batch, hex
    state: Mapped[str] = mapped_column(String(16))
    hold_until_us: Mapped[int] = mapped_column(BigInteger, default=0)
    returns: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(64), default="")
    update_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_federation_batch_items_batch", "batch"),
        Index("ix_federation_batch_items_usage", "usage_id"),
    )


# --- settlement tables (periods, statements, adjustments, disputes): migration 0009_settlement ---
#
# Written by ``services.settlement_store``. Times are integer microseconds (UTC),
# states by name. Statement content is kept as the exact bytes both regions sign;
# disputes keep their API form (``bashu.settlement.v1.Dispute`` without events) next
# to the columns they are queried by, and one row per step in
# ``settlement_dispute_events``. Rows of the counterparty's disputes and dispute
# decisions (copies received in DisputeNotices) live in the same tables.


class SettlementPeriod(Base):
    """A settlement period of this region: OPEN → CLOSING → CLOSED."""

    __tablename__ = "settlement_periods"

    period_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    start_us: Mapped[int] = mapped_column(BigInteger)
    end_us: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    grace_window_us: Mapped[int] = mapped_column(BigInteger)
    counterparties: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    closing_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    grace_end_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    close_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closer: Mapped[str] = mapped_column(String(200), default="")
    closing_request_id: Mapped[str] = mapped_column(String(128), default="")
    close_request_id: Mapped[str] = mapped_column(String(128), default="")
    update_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (Index("ix_settlement_periods_start", "start_us"),)


class SettlementStatement(Base):
    """This region's statement of one period with one counterparty."""

    __tablename__ = "settlement_statements"

    period_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    counterparty: Mapped[str] = mapped_column(String(16), primary_key=True)
    content_body: Mapped[bytes] = mapped_column(LargeBinary)  # StatementContent
    content_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    state: Mapped[str] = mapped_column(String(24))
    refusal_reason: Mapped[str] = mapped_column(Text, default="")
    create_us: Mapped[int] = mapped_column(BigInteger)
    update_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (Index("ix_settlement_statements_state", "state", "period_id"),)


class SettlementStatementSignature(Base):
    """One region's signature over a statement's content (at most one per region)."""

    __tablename__ = "settlement_statement_signatures"

    period_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    counterparty: Mapped[str] = mapped_column(String(16), primary_key=True)
    signer_region: Mapped[str] = mapped_column(String(16), primary_key=True)
    content_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    key_name: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(8))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    sign_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)


class SettlementAdjustment(Base):
    """A correction (reversal, adjustment, re-rating, dispute decision), posted here or
    (dispute decisions) copied from the counterparty; ``ledger_*`` is its entry in the
    ``origin_region``'s ledger."""

    __tablename__ = "settlement_adjustments"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    origin_region: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(24))
    corrects_origin: Mapped[str] = mapped_column(String(64), default="")
    corrects_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    corrects_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    usage_record: Mapped[str] = mapped_column(String(300), default="")
    provider_region: Mapped[str] = mapped_column(String(16))
    consumer_region: Mapped[str] = mapped_column(String(16))
    amount_delta_fen: Mapped[int] = mapped_column(BigInteger)
    qty_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    qty_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    qty_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    exact_delta_fen: Mapped[str] = mapped_column(String(64), default="")
    tariff: Mapped[str] = mapped_column(String(300), default="")
    dispute: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text)
    period: Mapped[str] = mapped_column(String(64))
    creator: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    create_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("creator", "request_id", name="uq_settlement_adjustments_request"),
        Index("ix_settlement_adjustments_period", "period", "create_us"),
        Index("ix_settlement_adjustments_corrects", "corrects_origin", "corrects_index"),
    )


class SettlementDispute(Base):
    """A dispute raised here, or this node's copy of one raised against it."""

    __tablename__ = "settlement_disputes"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    raiser_region: Mapped[str] = mapped_column(String(16))
    counterparty: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    disputed_fen: Mapped[int] = mapped_column(BigInteger)
    header: Mapped[bytes] = mapped_column(LargeBinary)  # Dispute without events
    raiser: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    create_us: Mapped[int] = mapped_column(BigInteger)
    update_us: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("raiser", "request_id", name="uq_settlement_disputes_request"),
        Index("ix_settlement_disputes_period", "period", "counterparty"),
        Index("ix_settlement_disputes_order", "create_us", "name"),
    )


class SettlementDisputeEvent(Base):
    """One step of a dispute (``seq`` from 0), with its DisputeEventRecorded entry
    when this node recorded it."""

    __tablename__ = "settlement_dispute_events"

    dispute: Mapped[str] = mapped_column(String(300), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    stage: Mapped[str] = mapped_column(String(16), default="")
    time_us: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[bytes] = mapped_column(LargeBinary)  # DisputeEvent
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)

    __table_args__ = (
        UniqueConstraint("dispute", "request_id", name="uq_settlement_dispute_events_request"),
    )


# --- reconciliation tables: migration 0010_reconciliation ---
#
# Written by ``services.reconciliation_store``. A report keeps its API form
# (``bashu.settlement.v1.ReconciliationReport``, with its ledger entry) next to the
# columns it is listed by; its discrepancies are one row each, ``seq`` being the
# position in the (tier, key) order the report's digest pins.


class ReconciliationReportRow(Base):
    """One reconciliation of a period with a counterparty (a DiscrepancyReport entry)."""

    __tablename__ = "reconciliation_reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(64))  # period id, "2026-11"
    counterparty: Mapped[str] = mapped_column(String(16))
    creator: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[str] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    discrepancy_count: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))  # of the report body
    report: Mapped[bytes] = mapped_column(LargeBinary)  # ReconciliationReport
    create_us: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int] = mapped_column(BigInteger)
    ledger_leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    __table_args__ = (
        UniqueConstraint("creator", "request_id", name="uq_reconciliation_reports_request"),
        Index("ix_reconciliation_reports_period", "period", "create_us"),
        Index("ix_reconciliation_reports_order", "create_us", "id"),
    )


class ReconciliationDiscrepancyRow(Base):
    """One discrepancy of a report, in the report's (tier, key) order."""

    __tablename__ = "reconciliation_discrepancies"

    report_id: Mapped[str] = mapped_column(
        ForeignKey("reconciliation_reports.id"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tier: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)
    item_key: Mapped[str] = mapped_column(String(400))
    discrepancy: Mapped[bytes] = mapped_column(LargeBinary)  # Discrepancy

    __table_args__ = (
        Index("ix_reconciliation_discrepancies_filter", "report_id", "tier", "status", "seq"),
    )

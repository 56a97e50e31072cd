"""ORM tables of a node (everything except the ledger's own tables).

The ledger keeps its tables in ``ledger.storage`` (it is a pure core and may not
import this module); Alembic sees both metadata objects. The schema changes only
through migrations in ``services/migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
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

"""``bashu admin …``: parties and API keys of this region (operators)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from clients.cli._common import console
from clients.cli.node import CONFIG_OPTION

__all__ = ["admin"]


@click.group()
def admin() -> None:
    """Register parties and manage their API keys."""


@admin.group()
def party() -> None:
    """Parties (providers, consumers, finance offices, operators)."""


@party.command("add")
@CONFIG_OPTION
@click.option("--name", required=True)
@click.option("--roles", required=True, help="Comma-separated: provider,consumer,finance,operator")
def party_add(config_path: Path, name: str, roles: str) -> None:
    """Register a party and print its API key (shown once, stored only as a hash)."""
    from ledger.log import Log
    from services import auth
    from services.config import load_config
    from services.db import make_engine
    from services.keys import load_region_key
    from services.parties import register_party

    config = load_config(config_path)
    parsed = auth.parse_roles(roles)
    engine = make_engine(config.database_url)
    log = Log(engine, load_region_key(config.key_file), config.origin)
    try:
        party_id, key = register_party(engine, log, config.region, name, parsed)
    finally:
        log.close()
        engine.dispose()
    console.print(f"party {name!r} registered as {party_id} ({', '.join(sorted(parsed))})")
    console.print("API key (shown once, keep it secret):", style="bold")
    print(key)


@party.command("list")
@CONFIG_OPTION
def party_list(config_path: Path) -> None:
    """List the parties of this region and their keys."""
    from sqlalchemy import select

    from services.config import load_config
    from services.db import make_engine, session_scope
    from services.models import ApiKey, Party

    config = load_config(config_path)
    engine = make_engine(config.database_url)
    table = Table("party", "name", "roles", "key id", "key state")
    with session_scope(engine) as session:
        rows = session.execute(
            select(Party, ApiKey).join(ApiKey, ApiKey.party_id == Party.id).order_by(Party.name)
        ).all()
        for p, k in rows:
            state = "revoked" if k.revoked_at else "active"
            table.add_row(p.id, p.name, p.roles, k.id, state)
    engine.dispose()
    console.print(table)


@admin.group()
def key() -> None:
    """API keys."""


@key.command("issue")
@CONFIG_OPTION
@click.option("--party", "party_id", required=True, help="Party id.")
def key_issue(config_path: Path, party_id: str) -> None:
    """Issue another key for a party (for rotation); printed once."""
    from services import auth
    from services.config import load_config
    from services.db import make_engine, session_scope
    from services.errors import NotFoundError
    from services.models import Party

    config = load_config(config_path)
    engine = make_engine(config.database_url)
    with session_scope(engine) as session:
        if session.get(Party, party_id) is None:
            raise NotFoundError(f"party {party_id}", reason="PARTY_NOT_FOUND")
        key_id, secret = auth.issue_key(session, party_id)
    engine.dispose()
    console.print(f"key {key_id} issued (shown once):", style="bold")
    print(secret)


@key.command("revoke")
@CONFIG_OPTION
@click.argument("key_id")
def key_revoke(config_path: Path, key_id: str) -> None:
    """Revoke a key by its id (effective on the next call, on every process)."""
    from services import auth
    from services.config import load_config
    from services.db import make_engine, session_scope

    config = load_config(config_path)
    engine = make_engine(config.database_url)
    with session_scope(engine) as session:
        auth.revoke_key(session, key_id)
    engine.dispose()
    console.print(f"key {key_id} revoked")

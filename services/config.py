"""Node configuration: ``DIR/node.toml`` as written by ``bashu node init``.

Example::

    region = "sc"
    listen = "127.0.0.1:50051"
    database_url = "sqlite:////var/bashu/sc/node.db"
    key_file = "region.key"          # relative to the config file's directory

    [tls]                            # optional; plaintext when absent
    cert_file = "server.crt"
    key_file = "server.key"
    client_ca_file = ""              # set to require client certificates (mTLS)

    [limits]
    max_message_bytes = 4194304

    [ledger]
    checkpoint_interval_s = 10.0

``BASHU_DATABASE_URL`` in the environment overrides ``database_url``. All limits live
in one frozen dataclass so the composition root is the only reader of the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.errors import ConfigError

__all__ = ["DATABASE_URL_ENV", "Limits", "NodeConfig", "TlsConfig", "load_config", "render_config"]

DATABASE_URL_ENV = "BASHU_DATABASE_URL"
REGION_RE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
ORIGIN_PREFIX = "bashu.exchange/log/"


@dataclass(frozen=True)
class TlsConfig:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


@dataclass(frozen=True)
class Limits:
    # gRPC refuses larger requests with RESOURCE_EXHAUSTED before any handler runs.
    max_message_bytes: int = 4 * 1024 * 1024
    max_workers: int = 32
    # How long SIGTERM waits for in-flight calls before cancelling them.
    drain_grace_s: float = 10.0


@dataclass(frozen=True)
class NodeConfig:
    region: str
    listen: str
    database_url: str
    key_file: Path
    data_dir: Path
    tls: TlsConfig | None = None
    limits: Limits = field(default_factory=Limits)
    checkpoint_interval_s: float = 10.0

    def __post_init__(self) -> None:
        if not REGION_RE.match(self.region):
            raise ConfigError("region", f"{self.region!r} is not a region id (e.g. 'sc')")
        if ":" not in self.listen:
            raise ConfigError("listen", f"{self.listen!r} is not HOST:PORT")

    @property
    def origin(self) -> str:
        """The ledger's log origin and the region key's name."""
        return ORIGIN_PREFIX + self.region


def _path(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def load_config(path: str | os.PathLike[str]) -> NodeConfig:
    """Read ``node.toml``; raise ConfigError naming the bad field."""
    cfg_path = Path(path)
    try:
        raw: dict[str, Any] = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config", f"{cfg_path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{cfg_path} is not valid TOML: {exc}") from None
    base = cfg_path.resolve().parent
    try:
        db_url = os.environ.get(DATABASE_URL_ENV) or str(raw["database_url"])
        tls_raw = raw.get("tls")
        tls = None
        if tls_raw:
            ca = tls_raw.get("client_ca_file") or ""
            tls = TlsConfig(
                cert_file=_path(base, str(tls_raw["cert_file"])),
                key_file=_path(base, str(tls_raw["key_file"])),
                client_ca_file=_path(base, ca) if ca else None,
            )
        limits_raw = raw.get("limits", {})
        limits = Limits(
            max_message_bytes=int(limits_raw.get("max_message_bytes", Limits.max_message_bytes)),
            max_workers=int(limits_raw.get("max_workers", Limits.max_workers)),
            drain_grace_s=float(limits_raw.get("drain_grace_s", Limits.drain_grace_s)),
        )
        return NodeConfig(
            region=str(raw["region"]),
            listen=str(raw.get("listen", "127.0.0.1:0")),
            database_url=db_url,
            key_file=_path(base, str(raw.get("key_file", "region.key"))),
            data_dir=base,
            tls=tls,
            limits=limits,
            checkpoint_interval_s=float(raw.get("ledger", {}).get("checkpoint_interval_s", 10.0)),
        )
    except KeyError as exc:
        raise ConfigError(str(exc.args[0]), "is required in node.toml") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError("config", str(exc)) from None


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(region: str, listen: str, database_url: str, key_file: str) -> str:
    """The text of a fresh ``node.toml`` (no TLS; see docs/operations.md to add it)."""
    return (
        "# Bashu Exchange regional node. See docs/operations.md.\n"
        f"region = {_toml_str(region)}\n"
        f"listen = {_toml_str(listen)}\n"
        f"database_url = {_toml_str(database_url)}\n"
        f"key_file = {_toml_str(key_file)}\n"
        "\n[limits]\n"
        f"max_message_bytes = {Limits.max_message_bytes}\n"
        "\n[ledger]\n"
        "checkpoint_interval_s = 10.0\n"
    )

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

    [federation]                     # optional; the defaults suit production
    witness_interval_s = 30.0

    [[peers]]                        # one table per peer region (bashu federation add-peer)
    region = "cq"
    address = "cq.bashu.example:50051"
    verifier_key = "bashu.exchange/log/cq+1a2b3c4d+AQ…"   # `bashu node public-key` on cq
    ca_file = "peers/cq-ca.pem"      # optional: TLS to this peer (plaintext when absent)
    country = "CN"                   # optional: where the peer's consumers are (ISO 3166)

``BASHU_DATABASE_URL`` in the environment overrides ``database_url``. All limits live
in one frozen dataclass so the composition root is the only reader of the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.errors import NoteError
from ledger.note import Verifier
from services.errors import ConfigError
from services.settlement.errors import SettlementValueError
from services.settlement.periods import Cadence, CadenceKind

__all__ = [
    "DATABASE_URL_ENV",
    "FederationSettings",
    "Limits",
    "NodeConfig",
    "PeerConfig",
    "PeerTls",
    "TlsConfig",
    "load_config",
    "render_config",
    "render_peer",
]

DATABASE_URL_ENV = "BASHU_DATABASE_URL"
REGION_RE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
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
    # Commit lookups' and verifies' usage in a metering writer process beside the
    # server (services/metering_writer.py) instead of in the server's own threads:
    # their transactions then run outside the server's interpreter lock (see
    # docs/access.md). Ignored for an in-memory SQLite database, which no other
    # process can open.
    metering_process: bool = True


@dataclass(frozen=True)
class PeerTls:
    """TLS towards one peer: the CA that signed its certificate, and for mutual TLS
    this node's client certificate and key. ``ca_file`` None uses the system roots."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None


@dataclass(frozen=True)
class PeerConfig:
    """One peer region: where it listens and the key its requests and checkpoints
    are signed with (``bashu node public-key`` on that node)."""

    region: str
    address: str
    verifier_key: str
    # Keys the peer rotated away from: still accepted for its requests (chosen by
    # x-bashu-key-id) and for its checkpoints signed before the rotation.
    previous_verifier_keys: tuple[str, ...] = ()
    tls: PeerTls | None = None
    # The country the peer's consumers are in (ISO 3166-1 alpha-2). Data licensed to
    # a peer outside the home country crosses the border, whatever the request says.
    country: str = "CN"

    @property
    def origin(self) -> str:
        return ORIGIN_PREFIX + self.region

    @property
    def verifier_keys(self) -> tuple[str, ...]:
        return (self.verifier_key, *self.previous_verifier_keys)


@dataclass(frozen=True)
class FederationSettings:
    """Timings of the node's federation work (all in seconds)."""

    # How often each peer's checkpoint is fetched, checked and cosigned.
    witness_interval_s: float = 30.0
    # How often the outbox is scanned for due messages.
    deliver_interval_s: float = 2.0
    # Retry backoff of undelivered messages: base * 2^(attempt-1), capped, jittered.
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0
    # Deadline of one call to a peer (delivery, witnessing).
    peer_timeout_s: float = 10.0
    # A peer unreachable for longer than this raises PEER_UNREACHABLE.
    unreachable_alarm_s: float = 300.0
    # At most one CheckpointWitnessed ledger entry per peer per this interval (0: none).
    # Every entry grows our log, which the peers then witness: recording every
    # cosignature would make idle regions append to each other forever.
    witness_record_interval_s: float = 3600.0
    # Usage batches (services.batches): how often cross-region usage is sealed per
    # peer; uses younger than batch_min_age_s wait for the next seal (so the
    # consumer's consumption entry has landed); a consumer holds a batch naming a use
    # it has not recorded yet for up to batch_grace_s before returning it.
    batch_interval_s: float = 300.0
    batch_min_age_s: float = 60.0
    batch_grace_s: float = 600.0

    def __post_init__(self) -> None:
        for name in (
            "witness_interval_s",
            "deliver_interval_s",
            "retry_base_s",
            "retry_max_s",
            "peer_timeout_s",
            "unreachable_alarm_s",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"federation.{name}", f"must be > 0, got {value!r}")
        if self.retry_max_s < self.retry_base_s:
            raise ConfigError("federation.retry_max_s", "must be >= retry_base_s")
        if self.witness_record_interval_s < 0:
            raise ConfigError("federation.witness_record_interval_s", "must be >= 0")
        if not self.batch_interval_s > 0:
            raise ConfigError("federation.batch_interval_s", "must be > 0")
        for name in ("batch_min_age_s", "batch_grace_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"federation.{name}", "must be >= 0")


@dataclass(frozen=True)
class SettlementSettings:
    """How this region cuts time into settlement periods (``[settlement]``). Both
    regions of an agreement must configure the same cadence: a statement the other
    side cannot reproduce is never signed."""

    # "month" (calendar months, the default), "week" (ISO weeks) or "fixed".
    cadence: str = "month"
    # Local offset from UTC in minutes for month and week boundaries (480 = UTC+8).
    utc_offset_minutes: int = 0
    # For "fixed": the period length in seconds (whole minutes, at least one hour)
    # and an RFC 3339 instant one period starts at.
    period_length_s: int = 0
    anchor: str = ""
    # After a period ends, how long late batches may still count toward it.
    grace_window_s: float = 5 * 86400.0

    def __post_init__(self) -> None:
        if self.grace_window_s < 0:
            raise ConfigError("settlement.grace_window_s", "must be >= 0")
        try:
            self.build_cadence()
        except SettlementValueError as exc:
            raise ConfigError("settlement", str(exc)) from None

    def build_cadence(self) -> Cadence:
        kinds = {k.value: k for k in CadenceKind}
        if self.cadence not in kinds:
            raise ConfigError("settlement.cadence", f"{self.cadence!r}: use month, week or fixed")
        offset = timedelta(minutes=self.utc_offset_minutes)
        if kinds[self.cadence] is not CadenceKind.FIXED:
            if self.period_length_s or self.anchor:
                raise ConfigError(
                    "settlement.cadence", "period_length_s and anchor are for fixed cadences"
                )
            return Cadence(kinds[self.cadence], offset)
        try:
            anchor = datetime.fromisoformat(self.anchor)
        except ValueError:
            raise ConfigError("settlement.anchor", f"{self.anchor!r} is not RFC 3339") from None
        if anchor.tzinfo is None:
            raise ConfigError("settlement.anchor", "needs a UTC offset (e.g. Z)")
        if anchor.second or anchor.microsecond:
            # Period ids name the minute a period starts.
            raise ConfigError("settlement.anchor", "must be a whole minute")
        return Cadence.fixed(timedelta(seconds=self.period_length_s), anchor, offset)

    @property
    def grace_window(self) -> timedelta:
        return timedelta(seconds=self.grace_window_s)


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
    peers: tuple[PeerConfig, ...] = ()
    federation: FederationSettings = field(default_factory=FederationSettings)
    settlement: SettlementSettings = field(default_factory=SettlementSettings)

    def __post_init__(self) -> None:
        if not REGION_RE.match(self.region):
            raise ConfigError("region", f"{self.region!r} is not a region id (e.g. 'sc')")
        if ":" not in self.listen:
            raise ConfigError("listen", f"{self.listen!r} is not HOST:PORT")
        seen: set[str] = set()
        for i, peer in enumerate(self.peers):
            if peer.region == self.region:
                raise ConfigError(f"peers[{i}].region", "a node is not its own peer")
            if peer.region in seen:
                raise ConfigError(f"peers[{i}].region", f"peer {peer.region!r} is listed twice")
            seen.add(peer.region)

    def peer(self, region: str) -> PeerConfig | None:
        """The configured peer ``region``, or None."""
        return next((p for p in self.peers if p.region == region), None)

    @property
    def origin(self) -> str:
        """The ledger's log origin and the region key's name."""
        return ORIGIN_PREFIX + self.region


def _path(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def _check_vkey(value: object, region: str, where: str) -> str:
    """A peer key must be a valid Ed25519 C2SP verifier key named after its log."""
    if not isinstance(value, str):
        raise ConfigError(where, "must be a string")
    try:
        verifier = Verifier.from_vkey(value.strip())
    except NoteError as exc:
        raise ConfigError(where, f"not a C2SP Ed25519 verifier key: {exc}") from None
    if verifier.name != ORIGIN_PREFIX + region:
        raise ConfigError(
            where, f"key is named {verifier.name!r}, expected {ORIGIN_PREFIX + region!r}"
        )
    return value.strip()


def _peer(base: Path, raw: object, i: int) -> PeerConfig:
    where = f"peers[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(where, "must be a table ([[peers]])")
    known = {
        "region",
        "address",
        "verifier_key",
        "previous_verifier_keys",
        "ca_file",
        "cert_file",
        "key_file",
        "server_name",
        "country",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", "is not a peer setting")
    for required in ("region", "address", "verifier_key"):
        if not raw.get(required):
            raise ConfigError(f"{where}.{required}", "is required")
    region = raw["region"]
    if not isinstance(region, str) or not REGION_RE.match(region):
        raise ConfigError(f"{where}.region", f"{region!r} is not a region id (e.g. 'cq')")
    address = raw["address"]
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    if not host or not port.isdigit() or any(c.isspace() for c in host):
        raise ConfigError(f"{where}.address", f"{address!r} is not HOST:PORT")
    vkey = _check_vkey(raw["verifier_key"], region, f"{where}.verifier_key")
    previous = raw.get("previous_verifier_keys", [])
    if not isinstance(previous, list):
        raise ConfigError(f"{where}.previous_verifier_keys", "must be a list of keys")
    old = tuple(
        _check_vkey(k, region, f"{where}.previous_verifier_keys[{j}]")
        for j, k in enumerate(previous)
    )
    tls = None
    if any(raw.get(k) for k in ("ca_file", "cert_file", "key_file", "server_name")):
        files: dict[str, Path | None] = {}
        for name in ("ca_file", "cert_file", "key_file"):
            value = raw.get(name) or ""
            if not isinstance(value, str):
                raise ConfigError(f"{where}.{name}", "must be a path")
            files[name] = _path(base, value) if value else None
        if (files["cert_file"] is None) != (files["key_file"] is None):
            raise ConfigError(
                f"{where}.cert_file", "cert_file and key_file go together (mutual TLS)"
            )
        server_name = raw.get("server_name") or None
        if server_name is not None and not isinstance(server_name, str):
            raise ConfigError(f"{where}.server_name", "must be a host name")
        tls = PeerTls(
            ca_file=files["ca_file"],
            cert_file=files["cert_file"],
            key_file=files["key_file"],
            server_name=server_name,
        )
    country = raw.get("country", "CN")
    if not isinstance(country, str) or not COUNTRY_RE.match(country):
        raise ConfigError(f"{where}.country", f"{country!r} is not an ISO 3166 code (e.g. 'SG')")
    return PeerConfig(
        region=region,
        address=address,
        verifier_key=vkey,
        previous_verifier_keys=old,
        tls=tls,
        country=country,
    )


def _peers(base: Path, raw: object) -> tuple[PeerConfig, ...]:
    if not isinstance(raw, list):
        raise ConfigError("peers", "must be an array of tables ([[peers]])")
    return tuple(_peer(base, p, i) for i, p in enumerate(raw))


def _federation(raw: object) -> FederationSettings:
    if raw is None:
        return FederationSettings()
    if not isinstance(raw, dict):
        raise ConfigError("federation", "must be a table")
    fields = {f for f in FederationSettings.__dataclass_fields__}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ConfigError(f"federation.{unknown[0]}", "is not a federation setting")
    values: dict[str, float] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"federation.{name}", "must be a number of seconds")
        values[name] = float(value)
    return FederationSettings(**values)


def _settlement(raw: object) -> SettlementSettings:
    if raw is None:
        return SettlementSettings()
    if not isinstance(raw, dict):
        raise ConfigError("settlement", "must be a table")
    types: dict[str, tuple[type, ...]] = {
        "cadence": (str,),
        "utc_offset_minutes": (int,),
        "period_length_s": (int,),
        "anchor": (str,),
        "grace_window_s": (int, float),
    }
    for name, value in raw.items():
        if name not in types:
            raise ConfigError(f"settlement.{name}", "is not a settlement setting")
        if isinstance(value, bool) or not isinstance(value, types[name]):
            raise ConfigError(f"settlement.{name}", f"must be a {types[name][0].__name__}")
    return SettlementSettings(**raw)


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
            metering_process=_bool(
                limits_raw.get("metering_process", Limits.metering_process),
                "limits.metering_process",
            ),
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
            peers=_peers(base, raw.get("peers", [])),
            federation=_federation(raw.get("federation")),
            settlement=_settlement(raw.get("settlement")),
        )
    except KeyError as exc:
        raise ConfigError(str(exc.args[0]), "is required in node.toml") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError("config", str(exc)) from None


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(name, f"must be true or false, not {value!r}")
    return value


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
        "# Lookups' and verifies' usage committed by a child process (docs/access.md).\n"
        "metering_process = true\n"
        "\n[ledger]\n"
        "checkpoint_interval_s = 10.0\n"
    )


def render_peer(
    region: str,
    address: str,
    verifier_key: str,
    *,
    ca_file: str = "",
    cert_file: str = "",
    key_file: str = "",
    server_name: str = "",
    country: str = "CN",
) -> str:
    """The ``[[peers]]`` table for one peer, to append to ``node.toml``."""
    lines = [
        "",
        "[[peers]]",
        f"region = {_toml_str(region)}",
        f"address = {_toml_str(address)}",
        f"verifier_key = {_toml_str(verifier_key)}",
    ]
    for name, value in (
        ("ca_file", ca_file),
        ("cert_file", cert_file),
        ("key_file", key_file),
        ("server_name", server_name),
        ("country", "" if country == "CN" else country),
    ):
        if value:
            lines.append(f"{name} = {_toml_str(value)}")
    return "\n".join(lines) + "\n"

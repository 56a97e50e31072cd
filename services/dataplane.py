"""The data plane: one data call from request to receipt, and the sources behind it.

:class:`DataPlane` composes the licence (terms from the licensing tables), the source
(``services.sources``), masking (``services.masking``) and metering
(``services.metering``) for each access mode::

    plane = DataPlane(engine, ledger, signer, "sc", data_dir)
    result = plane.lookup(caller, LookupRequest(licence, {"id_no": "…"}, (), "req-1"))
    for frame in plane.read(caller, ReadRequest(licence, request_id="req-2")):
        ...   # SchemaFrame, then IPC record-batch messages (bytes), then a Receipt

Order of a call, and what a refusal leaves behind (nothing, in every case):

1. the request itself (request_id, batch bounds) — INVALID_ARGUMENT;
2. the licence's immutable terms — LICENCE_NOT_FOUND, NOT_LICENCE_HOLDER,
   ACCESS_MODE_NOT_GRANTED, FIELD_NOT_GRANTED (columns, filters on masked or
   ungranted fields, claim fields);
3. the source — SOURCE_NOT_REGISTERED, INVALID_FILTER / INVALID_KEY,
   SOURCE_UNAVAILABLE;
4. :meth:`Meter.start` — replay of a finished call, REQUEST_IN_PROGRESS,
   REQUEST_ID_REUSED, LICENCE_NOT_YET_VALID / EXPIRED / SUSPENDED / REVOKED,
   PRODUCT_SUSPENDED, QUOTA_EXHAUSTED.

A keyed lookup reads its row before it claims, so the reservation is exact. A bulk
read claims one call, then reserves each batch (rows and body bytes) before
sending it; a batch counts as delivered when it is handed to gRPC, which asks for
the next frame only after the previous send completed — so when a stream breaks,
the batches that left plus at most the one in flight are recorded, and no data
ever leaves unmetered. When the stream ends early — quota, row limit, the client
going away, the source failing — exactly those batches are recorded; a stream that
handed out no batch records nothing.

Source registrations live here too (``register_source`` …): they need the catalog's
descriptor (fields, key fields, owner) and the ledger.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Generator, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from bashu.access.v1 import access_pb2
from bashu.ledger.v1 import record_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from ledger.log import Log
from ledger.note import Signer
from services import catalog as cat
from services import policy
from services.auth import Principal, Role
from services.db import session_scope
from services.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from services.masking import MaskingRule, hash_key, mask_array, mask_batch
from services.metering import (
    AccessMode,
    CallSpec,
    Claim,
    CrossBorder,
    FieldInfo,
    LicenceDirectory,
    LicenceTerms,
    Meter,
    Money,
    OnceWriter,
    Outcome,
    Purpose,
    Quantity,
    RatingError,
    Receipt,
    Replay,
    check_fields,
    check_holder,
    check_mode,
    fingerprint,
    reading_engine,
    request_id_valid,
)
from services.models import AccessSource, CatalogProduct, CatalogRevision, CatalogTariff, LicenceRow
from services.records import encode_record
from services.sources import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_ROWS,
    MAX_BATCH_BYTES,
    Column,
    EncodedBatch,
    FieldType,
    FileFormat,
    FileLocation,
    Location,
    Reader,
    RowFilter,
    SqlLocation,
    check_covers,
    encode_batch,
    encode_bounded,
    inspect_source,
    ipc_body_size,
    open_reader,
    parse_literal,
    redact_url,
    validate_location,
)

__all__ = [
    "DataPlane",
    "Frame",
    "LookupRequest",
    "LookupResult",
    "ReadRequest",
    "SchemaFrame",
    "SourceInfo",
    "SqlLicenceDirectory",
    "TariffRater",
    "VerifyRequest",
    "VerifyResult",
]

MASKING_METADATA = b"bashu.masking"
# Room left in a gRPC message for the frame around a record batch.
FRAME_OVERHEAD = 64 * 1024
# How long this process trusts its view of which source serves a revision (another
# process's re-registration is seen within this; this process's at once).
SOURCE_CACHE_S = 1.0


# --- requests and results ----------------------------------------------------------------


@dataclass(frozen=True)
class ReadRequest:
    licence: str
    columns: tuple[str, ...] = ()
    filters: tuple[RowFilter, ...] = ()
    max_batch_rows: int = 0
    max_batch_bytes: int = 0
    row_limit: int = 0
    request_id: str = ""


@dataclass(frozen=True)
class LookupRequest:
    licence: str
    key: tuple[tuple[str, str], ...]
    columns: tuple[str, ...] = ()
    request_id: str = ""


@dataclass(frozen=True)
class VerifyRequest:
    licence: str
    claim: tuple[tuple[str, str], ...]
    request_id: str = ""


@dataclass(frozen=True)
class SchemaFrame:
    arrow_schema: bytes  # Arrow IPC encapsulated schema message
    masking: tuple[tuple[str, MaskingRule], ...]
    estimated_rows: int


Frame = SchemaFrame | memoryview | Receipt
"""One frame of a bulk read: the schema, an IPC record-batch message, the receipt."""


@dataclass(frozen=True)
class LookupResult:
    found: bool
    arrow_ipc: bytes  # IPC stream: schema, then one batch of 0 or 1 row ("" on a replay)
    receipt: Receipt


@dataclass(frozen=True)
class VerifyResult:
    verdict: str  # VALID, INVALID or UNKNOWN
    receipt: Receipt


@dataclass(frozen=True)
class SourceInfo:
    """A registered source (the SQL URL as stored: redact it before showing it)."""

    id: str
    region: str
    product_id: str
    revision: int
    provider_party: str
    location: Location
    key_columns: tuple[str, ...]
    state: str
    arrow_schema: bytes
    row_count: int
    create_us: int

    @property
    def name(self) -> str:
        return f"regions/{self.region}/sources/{self.id}"

    @property
    def product_revision(self) -> str:
        return f"regions/{self.region}/products/{self.product_id}/revisions/{self.revision}"

    @property
    def provider(self) -> str:
        return f"regions/{self.region}/parties/{self.provider_party}"


# --- licences and tariffs from the licensing tables ----------------------------------------


def _parse_name(name: str, region: str, collection: str, field_path: str) -> str:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "regions" or parts[2] != collection or not parts[3]:
        raise InvalidArgumentError(
            [FieldViolation(field_path, f"{name!r} is not regions/{{region}}/{collection}/{{id}}")],
            reason="INVALID_NAME",
        )
    if parts[1] != region:
        # The home node relays calls on a peer's licence through federation, which
        # this node does not offer yet.
        raise NotImplementedError(f"{name} belongs to region {parts[1]}; relaying is not offered")
    return parts[3]


def _field_infos(descriptor: cat.Descriptor) -> tuple[FieldInfo, ...]:
    return tuple(
        FieldInfo(f.name, FieldType[f.type.name], f.sensitivity.name) for f in descriptor.fields
    )


class SqlLicenceDirectory(LicenceDirectory):
    """Licence terms read from ``licences`` and ``catalog_revisions``, cached per licence
    (terms never change; state is checked on every call by the meter)."""

    def __init__(self, engine: Engine, region: str) -> None:
        self._engine = engine
        self._region = region
        self._cache: dict[str, LicenceTerms] = {}
        self._lock = threading.Lock()

    def terms(self, licence: str) -> LicenceTerms:
        cached = self._cache.get(licence)
        if cached is not None:
            return cached
        licence_id = _parse_name(licence, self._region, "licences", "licence")
        with self._engine.connect() as conn:
            row = conn.execute(select(LicenceRow).where(LicenceRow.id == licence_id)).first()
            rev = (
                conn.execute(
                    select(CatalogRevision.descriptor).where(
                        CatalogRevision.product_id == row.product_id,
                        CatalogRevision.revision == row.revision,
                    )
                ).scalar_one_or_none()
                if row is not None
                else None
            )
        if row is None or rev is None:
            raise NotFoundError(licence, reason="LICENCE_NOT_FOUND")
        terms = self._build(licence, row, cat.from_json(cat.Descriptor, rev))
        with self._lock:
            self._cache[licence] = terms
        return terms

    def _build(self, licence: str, row: Any, descriptor: cat.Descriptor) -> LicenceTerms:
        granted: policy.LicenceTerms = cat.from_json(policy.LicenceTerms, row.terms)
        masking = {f: MaskingRule(r) for f, r in json.loads(row.masking)}
        names = set(granted.granted_fields(descriptor))
        everything = _field_infos(descriptor)
        cb = granted.cross_border
        region = self._region
        return LicenceTerms(
            licence=licence,
            licence_id=row.id,
            region=region,
            consumer_party=row.consumer_party,
            consumer_region=granted.consumer_region,
            provider_party=row.provider_party,
            product_id=row.product_id,
            revision=row.revision,
            purpose=Purpose(
                granted.purpose.scenario_code,
                granted.purpose.purpose_class.name,
                granted.purpose.description,
            ),
            fields=tuple(f for f in everything if f.name in names),
            masking={n: masking.get(n, MaskingRule.REDACT) for n in names},
            key_fields=tuple(descriptor.key_fields),
            access_modes=frozenset(
                AccessMode(m.name) for m in granted.access_modes if m.name in AccessMode.__members__
            ),
            quota=Quantity(row.quota_calls, row.quota_rows, row.quota_bytes),
            valid_from_us=row.valid_from_us,
            valid_until_us=row.valid_until_us,
            tariff=(
                f"regions/{region}/products/{row.product_id}/tariffs/{row.tariff_version}"
                if row.tariff_version
                else ""
            ),
            data_grade=descriptor.data_grade.name,
            personal_info_class=descriptor.personal_info_class.name,
            cross_border=(
                CrossBorder(cb.destination_country, cb.approval_kind.name, cb.approval_reference)
                if cb is not None
                else None
            ),
            all_fields=everything,
        )


class TariffRater:
    """Rates a use with the tariff version the licence cites (``catalog.amount_fen``:
    exact decimals, one half-up rounding per usage line)."""

    def __init__(self, engine: Engine, region: str) -> None:
        self._engine = engine
        self._region = region
        self._cache: dict[str, cat.Tariff] = {}
        # A tariff version never changes, so the amount of a quantity under it is fixed:
        # lookups repeat the same few quantities, and exact decimal arithmetic is
        # a large part of a lookup's own cost.
        self._amounts: dict[tuple[str, str, int, int, int], Money] = {}

    def _tariff(self, terms: LicenceTerms) -> cat.Tariff:
        cached = self._cache.get(terms.tariff)
        if cached is not None:
            return cached
        version = int(terms.tariff.rsplit("/", 1)[-1])
        with self._engine.connect() as conn:
            row = conn.execute(
                select(CatalogTariff).where(
                    CatalogTariff.product_id == terms.product_id, CatalogTariff.version == version
                )
            ).first()
        if row is None:
            raise RatingError("TARIFF_NOT_FOUND", terms.tariff)
        prices: dict[str, str] = json.loads(row.purpose_prices)
        tariff = cat.Tariff(
            product_id=row.product_id,
            region=self._region,
            version=row.version,
            unit=cat.TariffUnit[row.unit],
            unit_price=Decimal(row.unit_price),
            purpose_prices=tuple(
                (cat.PurposeClass[k], Decimal(p)) for k, p in sorted(prices.items())
            ),
            currency_code=row.currency_code,
            rounding_rule=cat.RoundingRule[row.rounding_rule],
            effective_us=row.effective_us,
            creator=row.creator,
            create_us=row.create_us,
        )
        self._cache[terms.tariff] = tariff
        return tariff

    def __call__(self, terms: LicenceTerms, quantity: Quantity) -> Money:
        if not terms.tariff:
            return Money(cat.CURRENCY, 0)
        ident = (
            terms.tariff,
            terms.purpose.purpose_class,
            quantity.calls,
            quantity.rows,
            quantity.bytes,
        )
        found = self._amounts.get(ident)
        if found is not None:
            return found
        tariff = self._tariff(terms)
        fen = cat.amount_fen(
            tariff,
            cat.Quantity(quantity.calls, quantity.rows, quantity.bytes),
            cat.PurposeClass[terms.purpose.purpose_class],
        )
        money = Money(tariff.currency_code, fen)
        if len(self._amounts) >= 65_536:
            self._amounts.clear()
        self._amounts[ident] = money
        return money


# --- the data plane ----------------------------------------------------------------------


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


def _location_of(row: AccessSource) -> Location:
    if row.kind == "FILE":
        return FileLocation(row.file_path, FileFormat(row.file_format), row.csv_delimiter)
    return SqlLocation(row.sql_url, row.sql_table, row.sql_query)


def _source_info(row: AccessSource, region: str) -> SourceInfo:
    return SourceInfo(
        id=row.id,
        region=region,
        product_id=row.product_id,
        revision=row.revision,
        provider_party=row.provider_party,
        location=_location_of(row),
        key_columns=tuple(json.loads(row.key_columns)),
        state=row.state,
        arrow_schema=bytes(row.arrow_schema),
        row_count=row.row_count,
        create_us=row.create_us,
    )


def source_message(info: SourceInfo) -> access_pb2.Source:
    """The API view of a source (password redacted); also what the ledger records."""
    msg = access_pb2.Source(
        name=info.name,
        product_revision=info.product_revision,
        key_columns=list(info.key_columns),
        state=f"SOURCE_STATE_{info.state}",
        provider=info.provider,
        arrow_schema=info.arrow_schema,
        row_count=info.row_count,
        create_time=_ts(info.create_us),
    )
    loc = info.location
    if isinstance(loc, FileLocation):
        msg.file.CopyFrom(
            access_pb2.FileSource(
                path=loc.path,
                format=f"FILE_FORMAT_{loc.resolved_format.value}",
                csv_delimiter=loc.csv_delimiter,
            )
        )
    else:
        msg.sql.CopyFrom(
            access_pb2.SqlSource(url=redact_url(loc.url), table=loc.table, query=loc.query)
        )
    return msg


_IPC_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # end of an Arrow IPC stream


def _as_is(table: pa.Table) -> pa.Table:
    """The view of a source no rule masks: the source's own table."""
    return table


def _masked_tag(masking: tuple[tuple[str, MaskingRule], ...], key: bytes) -> Hashable:
    """The name of a masked view of a source: the rules, and the licence's key only
    when a rule uses it (HASH), so other licences share the view."""
    return ("masked", masking, key if any(r is MaskingRule.HASH for _, r in masking) else b"")


@dataclass
class _LookupPlan:
    """Lookups of one column selection under one licence (fields already checked)."""

    columns: tuple[str, ...]
    rules: dict[str, MaskingRule]
    key: bytes  # the licence's masking key (HASH)
    tag: Hashable
    build: Callable[[pa.Table], pa.Table] | None  # the masked view; None: nothing masked
    outcome_found: Outcome
    outcome_missing: Outcome
    # The reader last used and the masked schema's IPC message on it (swapped whole,
    # so a thread never sees one reader with another's schema).
    bound: tuple[Reader, bytes] | None = None


@dataclass
class _Stream:
    """Bookkeeping of one bulk read."""

    claim: Claim
    delivered: Quantity
    reserved: Quantity
    batches: int = 0
    truncation: str = ""
    cut_by_limit: bool = False
    done: bool = False


@dataclass
class DataPlane:
    """Every data call of one node, and its source registrations (thread-safe)."""

    engine: Engine
    ledger: Log
    signer: Signer
    region: str
    data_dir: Path
    max_message_bytes: int = 4 * 1024 * 1024
    clock: Callable[[], float] = time.time
    directory: LicenceDirectory | None = None
    # Commits one-shot calls in the metering writer process (None: in this one).
    writer: OnceWriter | None = None
    meter: Meter = field(init=False)
    _mask_secret: bytes = field(init=False)
    _active: dict[tuple[str, int], tuple[float, SourceInfo | None]] = field(init=False)

    def __post_init__(self) -> None:
        self._reads = reading_engine(self.engine)
        if self.directory is None:
            self.directory = SqlLicenceDirectory(self._reads, self.region)
        self.meter = Meter(
            self.engine,
            self.ledger,
            self.signer,
            self.region,
            rater=TariffRater(self._reads, self.region),
            clock=self.clock,
            reads=self._reads,
            writer=self.writer,
        )
        self._refreshing = threading.Lock()
        self._readers: dict[tuple[str, str, str], Reader] = {}
        self._lookups: dict[tuple[str, tuple[str, ...]], _LookupPlan] = {}
        # Ed25519 signatures are deterministic, so every process holding the region
        # key derives the same masking secret, and no other secret needs storing.
        self._mask_secret = hashlib.sha256(
            self.signer.sign(b"bashu.exchange/masking-secret/v1")
        ).digest()
        self._active = {}

    # -- helpers ----------------------------------------------------------------------------

    def _party(self, caller: Principal) -> str:
        return f"regions/{self.region}/parties/{caller.party_id}"

    def _terms(self, licence: str) -> LicenceTerms:
        assert self.directory is not None
        return self.directory.terms(licence)

    def _columns(self, terms: LicenceTerms) -> list[Column]:
        return [Column(f.name, f.type) for f in terms.all_fields or terms.fields]

    def _reader(self, terms: LicenceTerms) -> Reader:
        source = self.active_source(terms.product_id, terms.revision)
        if source is None:
            raise FailedPreconditionError(
                f"no source serves {terms.product_revision}",
                reason="SOURCE_NOT_REGISTERED",
                metadata={"product_revision": terms.product_revision},
            )
        # The columns come from the revision's descriptor (immutable), so a reader is
        # shared by every licence on the revision; a key of strings hashes cheaply.
        ident = (
            (source.id, terms.product_id, str(terms.revision))
            if terms.all_fields
            else (source.id, terms.licence, "")
        )
        reader = self._readers.get(ident)
        if reader is None:
            columns = tuple(self._columns(terms))
            reader = open_reader(source.location, self.data_dir, columns, source.key_columns)
            if len(self._readers) > 256:
                self._readers.clear()
            self._readers[ident] = reader
        return reader

    def _rules(self, terms: LicenceTerms, columns: Sequence[str]) -> dict[str, MaskingRule]:
        return {c: terms.rule(c) for c in columns}

    def _mask_key(self, terms: LicenceTerms) -> bytes:
        return hash_key(self._mask_secret, terms.licence)

    @staticmethod
    def _masked_schema(schema: pa.Schema, rules: Mapping[str, MaskingRule]) -> pa.Schema:
        fields = []
        for f in schema:
            rule = rules.get(f.name, MaskingRule.NONE)
            if rule is not MaskingRule.NONE:
                meta = dict(f.metadata or {})
                meta[MASKING_METADATA] = rule.value.encode()
                f = f.with_metadata(meta)
            fields.append(f)
        return pa.schema(fields)

    # -- keyed lookup --------------------------------------------------------------------

    def _lookup_plan(self, terms: LicenceTerms, asked: Sequence[str]) -> _LookupPlan:
        """What every lookup of ``asked`` columns under ``terms`` shares, checked and
        built once (the terms are immutable; the licence's state is checked by the
        meter on every call). The source-dependent part is bound by :meth:`_bind`."""
        ident = (terms.licence, tuple(asked))
        plan = self._lookups.get(ident)
        if plan is not None:
            return plan
        columns = tuple(asked or terms.granted)
        check_fields(terms, columns=columns)
        rules = self._rules(terms, columns)
        key = self._mask_key(terms)
        masking = tuple(sorted((c, r) for c, r in rules.items() if r is not MaskingRule.NONE))
        plan = _LookupPlan(
            columns=columns,
            rules=rules,
            key=key,
            tag=_masked_tag(masking, key),
            build=(lambda t: mask_table(t, dict(masking), key)) if masking else None,
            outcome_found=Outcome(columns, tuple(rules.items()), result="FOUND"),
            outcome_missing=Outcome(columns, tuple(rules.items()), result="NOT_FOUND"),
        )
        if len(self._lookups) > 1024:
            self._lookups.clear()
        self._lookups[ident] = plan
        return plan

    def _schema_ipc(self, plan: _LookupPlan, reader: Reader) -> bytes:
        """The masked schema of ``plan`` on ``reader`` as an encapsulated IPC message."""
        bound = plan.bound
        if bound is not None and bound[0] is reader:
            return bound[1]
        schema = self._masked_schema(reader.output_schema(plan.columns), plan.rules)
        message: bytes = schema.serialize().to_pybytes()
        plan.bound = (reader, message)
        return message

    def lookup(self, caller: Principal, req: LookupRequest) -> LookupResult:
        request_id_valid(req.request_id)
        terms = self._terms(req.licence)
        party = self._party(caller)
        check_holder(terms, party)
        check_mode(terms, AccessMode.LOOKUP)
        plan = self._lookup_plan(terms, req.columns)
        columns = plan.columns
        reader = self._reader(terms)
        key = reader.parse_key(dict(req.key))
        # A source held in memory is masked once per rule set (as bulk reads do) and
        # the row encoded from that view; otherwise the row is read and masked here.
        held = reader.lookup_derived_message(key, columns, plan.tag, plan.build or _as_is)
        if held is not None:
            message, rows = held
        else:
            row = mask_batch(reader.lookup(key, columns), plan.rules, plan.key)
            message, rows = row.serialize().to_pybytes(), row.num_rows
        # An IPC stream is the schema message, the batch message and the end marker:
        # the schema's is built once per plan.
        ipc = b"".join((self._schema_ipc(plan, reader), message, _IPC_EOS))
        found = rows > 0
        call = CallSpec(
            party,
            req.request_id,
            AccessMode.LOOKUP,
            fingerprint("lookup", req.licence, sorted(req.key), list(columns)),
        )
        amount = Quantity(calls=1, rows=rows, bytes=ipc_body_size(message))
        outcome = plan.outcome_found if found else plan.outcome_missing
        done = self.meter.once(terms, call, amount, outcome)
        if isinstance(done, Replay):
            return LookupResult(done.outcome == "FOUND", b"", done.receipt)
        return LookupResult(found, ipc, done)

    # -- verify-only ----------------------------------------------------------------------

    def verify(self, caller: Principal, req: VerifyRequest) -> VerifyResult:
        request_id_valid(req.request_id)
        terms = self._terms(req.licence)
        party = self._party(caller)
        check_holder(terms, party)
        check_mode(terms, AccessMode.VERIFY)
        claim = dict(req.claim)
        check_fields(terms, claimed=claim)
        reader = self._reader(terms)
        key = reader.parse_key({k: v for k, v in claim.items() if k in reader.key_columns})
        names = list(claim)
        row = reader.lookup(key, names)
        if row.num_rows == 0:
            verdict = "UNKNOWN"
        else:
            values = row.to_pylist()[0]
            schema = reader.output_schema(names)
            verdict = "VALID"
            for name, text in claim.items():
                try:
                    claimed = parse_literal(text, schema.field(name).type)
                except (ValueError, TypeError):
                    verdict = "INVALID"
                    break
                if claimed != values[name]:
                    verdict = "INVALID"
                    break
        call = CallSpec(
            party, req.request_id, AccessMode.VERIFY, fingerprint("verify", req.licence, claim)
        )
        amount = Quantity(calls=1, rows=row.num_rows, bytes=0)
        outcome = Outcome(columns=(), masking=(), result=verdict)
        done = self.meter.once(terms, call, amount, outcome)
        if isinstance(done, Replay):
            return VerifyResult(done.outcome, done.receipt)
        return VerifyResult(verdict, done)

    # -- bulk read --------------------------------------------------------------------------

    def _batch_bounds(self, req: ReadRequest) -> tuple[int, int]:
        bad = []
        if req.max_batch_rows < 0:
            bad.append(FieldViolation("max_batch_rows", "must not be negative"))
        if not 0 <= req.max_batch_bytes <= MAX_BATCH_BYTES:
            bad.append(FieldViolation("max_batch_bytes", f"must be 0..{MAX_BATCH_BYTES}"))
        if req.row_limit < 0:
            bad.append(FieldViolation("row_limit", "must not be negative"))
        if bad:
            raise InvalidArgumentError(bad)
        rows = req.max_batch_rows or DEFAULT_BATCH_ROWS
        # A batch must also fit in one gRPC message of this node.
        ceiling = max(1, self.max_message_bytes - FRAME_OVERHEAD)
        return rows, min(req.max_batch_bytes or DEFAULT_BATCH_BYTES, ceiling)

    def read(self, caller: Principal, req: ReadRequest) -> Generator[Frame, None, None]:
        """The frames of a bulk read; see the module docstring for what is metered."""
        request_id_valid(req.request_id)
        batch_rows, batch_bytes = self._batch_bounds(req)
        terms = self._terms(req.licence)
        party = self._party(caller)
        check_holder(terms, party)
        check_mode(terms, AccessMode.BULK)
        columns = list(req.columns or terms.granted)
        check_fields(terms, columns=columns, filtered=[f.column for f in req.filters])
        reader = self._reader(terms)
        reader.check_filters(req.filters)
        rules = self._rules(terms, columns)
        schema = self._masked_schema(reader.output_schema(columns), rules)
        estimated = reader.estimated_rows(req.filters)
        call = CallSpec(
            party,
            req.request_id,
            AccessMode.BULK,
            fingerprint(
                "read",
                req.licence,
                columns,
                [(f.column, f.op.value, f.value, list(f.values)) for f in req.filters],
                req.max_batch_rows,
                req.max_batch_bytes,
                req.row_limit,
            ),
        )
        started = self.meter.start(terms, call, Quantity(calls=1), need_room=True)
        if isinstance(started, Replay):
            return _only(started.receipt)
        return self._stream(
            started, reader, req, columns, rules, schema, estimated, batch_rows, batch_bytes
        )

    def _stream(
        self,
        claim: Claim,
        reader: Reader,
        req: ReadRequest,
        columns: list[str],
        rules: dict[str, MaskingRule],
        schema: pa.Schema,
        estimated: int,
        batch_rows: int,
        batch_bytes: int,
    ) -> Generator[Frame, None, None]:
        state = _Stream(claim, Quantity(calls=1), Quantity(calls=1))
        outcome = Outcome(columns=tuple(columns), masking=tuple(rules.items()))
        key = self._mask_key(claim.terms)
        try:
            yield SchemaFrame(schema.serialize().to_pybytes(), tuple(rules.items()), estimated)
            batches = self._batches(
                state, reader, req, columns, rules, key, batch_rows, batch_bytes
            )
            for enc in batches:
                fitted = self._fit(state, enc)
                if fitted is None:
                    state.truncation = "QUOTA_EXHAUSTED"
                    break
                # Counted when handed to gRPC: gRPC asks for a frame only once the
                # previous send completed, so at most this one is in flight if the
                # stream breaks now, and no batch ever leaves unmetered.
                state.delivered = state.delivered + Quantity(0, fitted.rows, fitted.body_bytes)
                state.batches += 1
                yield memoryview(fitted.ipc)
                if fitted.rows < enc.rows:
                    state.truncation = "QUOTA_EXHAUSTED"
                    break
            if not state.truncation and state.cut_by_limit:
                state.truncation = "ROW_LIMIT"
            state.done = True
            receipt = self.meter.finish(
                claim,
                state.delivered,
                state.reserved,
                Outcome(outcome.columns, outcome.masking, truncation_reason=state.truncation),
            )
            yield receipt
        except GeneratorExit:
            self._end_early(state, outcome, "CLIENT_CANCELLED")
            raise
        except BaseException as exc:
            self._end_early(state, outcome, getattr(exc, "reason", "") or "FAILED")
            raise

    def _end_early(self, state: _Stream, outcome: Outcome, reason: str) -> None:
        if state.done:
            return
        state.done = True
        if state.batches == 0:
            self.meter.abandon(state.claim)
            return
        self.meter.finish(
            state.claim,
            state.delivered,
            state.reserved,
            Outcome(outcome.columns, outcome.masking, truncation_reason=reason),
        )

    def _batches(
        self,
        state: _Stream,
        reader: Reader,
        req: ReadRequest,
        columns: list[str],
        rules: dict[str, MaskingRule],
        key: bytes,
        batch_rows: int,
        batch_bytes: int,
    ) -> Iterator[EncodedBatch]:
        left = req.row_limit or -1
        masking = tuple(sorted((c, r) for c, r in rules.items() if r is not MaskingRule.NONE))
        # A source held in memory is masked once per rule set (and per licence for
        # HASH, whose key is the licence's) and then served by zero-copy slices.
        # Filters never name a masked column, so they select the same rows.
        tag = _masked_tag(masking, key)
        view = reader.derived(tag, lambda t: mask_table(t, dict(masking), key)) if masking else None
        if view is not None:
            reader, rules = view, {}
        for raw in reader.scan(columns, req.filters, batch_rows):
            if left == 0:
                state.cut_by_limit = raw.num_rows > 0
                return
            if 0 < left < raw.num_rows:
                raw = raw.slice(0, left)
                state.cut_by_limit = True
            masked = mask_batch(raw, rules, key) if rules else raw
            yield from encode_bounded(masked, batch_bytes)
            if left > 0:
                left -= raw.num_rows

    def _fit(self, state: _Stream, enc: EncodedBatch) -> EncodedBatch | None:
        """Reserve quota for ``enc``, shrinking it to what is left; None if nothing fits."""
        quota = state.claim.terms.quota
        if not quota.rows and not quota.bytes:
            return enc  # nothing to run out of: settled at the end to what was sent
        while True:
            want = Quantity(0, enc.rows, enc.body_bytes)
            result = self.meter.reserve(state.claim, want)
            if result.granted:
                state.reserved = state.reserved + want
                return enc
            rows = min(enc.rows, result.remaining.rows)
            if rows <= 0 or result.remaining.bytes <= 0:
                return None
            if enc.body_bytes > result.remaining.bytes:
                rows = min(rows, enc.rows * result.remaining.bytes // enc.body_bytes)
            candidate = encode_batch(enc.batch.slice(0, rows)) if rows > 0 else None
            while candidate is not None and candidate.body_bytes > result.remaining.bytes:
                rows = rows * 3 // 4
                candidate = encode_batch(enc.batch.slice(0, rows)) if rows > 0 else None
            if candidate is None:
                return None
            enc = candidate

    # -- sources ------------------------------------------------------------------------------

    def active_source(self, product_id: str, revision: int) -> SourceInfo | None:
        """The newest ACTIVE source of a revision (cached for ``SOURCE_CACHE_S``; one
        thread refreshes an expired entry while the others keep using it)."""
        now = time.monotonic()
        hit = self._active.get((product_id, revision))
        if hit is not None and now - hit[0] < SOURCE_CACHE_S:
            return hit[1]
        if hit is not None and not self._refreshing.acquire(blocking=False):
            return hit[1]
        try:
            return self._load_active(product_id, revision, now)
        finally:
            if hit is not None:
                self._refreshing.release()

    def _load_active(self, product_id: str, revision: int, now: float) -> SourceInfo | None:
        with Session(self._reads) as session:
            row = session.scalars(
                select(AccessSource)
                .where(
                    AccessSource.product_id == product_id,
                    AccessSource.revision == revision,
                    AccessSource.state == "ACTIVE",
                )
                .order_by(AccessSource.create_us.desc(), AccessSource.id.desc())
                .limit(1)
            ).first()
            info = _source_info(row, self.region) if row is not None else None
        self._active[(product_id, revision)] = (now, info)
        return info

    def register_source(
        self,
        caller: Principal,
        parent: str,
        product_revision: str,
        location: Location,
        key_columns: Sequence[str],
        request_id: str,
    ) -> SourceInfo:
        """Register (and record in the ledger) the source of a product revision."""
        request_id_valid(request_id)
        if parent != f"regions/{self.region}":
            raise InvalidArgumentError(
                [FieldViolation("parent", f"must be regions/{self.region}")], reason="INVALID_NAME"
            )
        found = cat.REVISION_NAME_RE.fullmatch(product_revision)
        if found is None:
            raise InvalidArgumentError(
                [FieldViolation("source.product_revision", "not a product revision name")],
                reason="INVALID_NAME",
            )
        if found.group(1) != self.region:
            raise FailedPreconditionError(
                f"{product_revision} is not of region {self.region}", reason="NOT_THIS_REGION"
            )
        product_id, revision = found.group(2), int(found.group(3))
        fp = fingerprint("source", product_revision, location, list(key_columns))
        with session_scope(self.engine) as session:
            first = session.scalars(
                select(AccessSource).where(
                    AccessSource.creator == caller.party_id, AccessSource.request_id == request_id
                )
            ).first()
            if first is not None:
                if first.request_fingerprint != fp:
                    raise InvalidArgumentError(
                        [FieldViolation("request_id", "already used for a different request")],
                        reason="REQUEST_ID_REUSED",
                    )
                info = _source_info(first, self.region)
                ledgered = first.ledger_index is not None
        if first is not None:
            if not ledgered:
                self._record_source(info)
            return info
        problems = validate_location(location, self.data_dir)
        if isinstance(location, FileLocation) and location.format is None:
            location = FileLocation(location.path, location.resolved_format, location.csv_delimiter)
        if problems:
            raise InvalidArgumentError(problems, reason="INVALID_SOURCE")
        with session_scope(self.engine) as session:
            product = session.get(CatalogProduct, product_id)
            rev = session.get(CatalogRevision, (product_id, revision))
            if product is None or rev is None:
                raise NotFoundError(product_revision, reason="REVISION_NOT_FOUND")
            if product.provider_party != caller.party_id:
                raise PermissionDeniedError(
                    f"{product_revision} is another provider's", reason="NOT_PRODUCT_OWNER"
                )
            descriptor = cat.from_json(cat.Descriptor, rev.descriptor)
        keys = tuple(key_columns) or tuple(descriptor.key_fields)
        if keys != tuple(descriptor.key_fields):
            raise InvalidArgumentError(
                [
                    FieldViolation(
                        "source.key_columns",
                        f"must equal the descriptor's key fields {list(descriptor.key_fields)}",
                    )
                ],
                reason="INVALID_SOURCE",
            )
        columns = [Column(f.name, f.type) for f in _field_infos(descriptor)]
        shape = inspect_source(location, self.data_dir, columns)
        check_covers(shape, columns)
        now_us = int(self.clock() * 1_000_000)
        info = SourceInfo(
            id="s" + uuid.uuid4().hex[:15],
            region=self.region,
            product_id=product_id,
            revision=revision,
            provider_party=caller.party_id,
            location=location,
            key_columns=keys,
            state="ACTIVE",
            arrow_schema=shape.schema.serialize().to_pybytes(),
            row_count=shape.row_count,
            create_us=now_us,
        )
        file_loc = location if isinstance(location, FileLocation) else None
        sql_loc = location if isinstance(location, SqlLocation) else None
        with session_scope(self.engine) as session:
            session.execute(
                update(AccessSource)
                .where(
                    AccessSource.product_id == product_id,
                    AccessSource.revision == revision,
                    AccessSource.state == "ACTIVE",
                )
                .values(state="SUPERSEDED")
            )
            session.add(
                AccessSource(
                    id=info.id,
                    product_id=product_id,
                    revision=revision,
                    provider_party=caller.party_id,
                    kind="FILE" if file_loc else "SQL",
                    file_path=file_loc.path if file_loc else "",
                    file_format=file_loc.resolved_format.value if file_loc else "",
                    csv_delimiter=file_loc.csv_delimiter if file_loc else ",",
                    sql_url=sql_loc.url if sql_loc else "",
                    sql_table=sql_loc.table if sql_loc else "",
                    sql_query=sql_loc.query if sql_loc else "",
                    key_columns=json.dumps(list(keys)),
                    state="ACTIVE",
                    arrow_schema=info.arrow_schema,
                    row_count=info.row_count,
                    creator=caller.party_id,
                    request_id=request_id,
                    request_fingerprint=fp,
                    create_us=now_us,
                )
            )
        self._active.pop((product_id, revision), None)
        self._record_source(info)
        return info

    def _record_source(self, info: SourceInfo) -> None:
        key = f"source/{info.name}"
        data = encode_record(
            self.region,
            info.provider,
            key,
            source_registered=record_pb2.SourceRegistered(source=source_message(info)),
        )
        appended = self.ledger.append(data, key)
        with session_scope(self.engine) as session:
            session.execute(
                update(AccessSource)
                .where(AccessSource.id == info.id, AccessSource.ledger_index.is_(None))
                .values(ledger_index=appended.index, ledger_leaf_hash=appended.leaf_hash)
            )

    def _may_see_source(self, caller: Principal, row: AccessSource) -> bool:
        return Role.OPERATOR in caller.roles or row.provider_party == caller.party_id

    def get_source(self, caller: Principal, name: str) -> SourceInfo:
        source_id = _parse_source_name(name, self.region)
        with Session(self._reads) as session:
            row = session.get(AccessSource, source_id)
            if row is None or not self._may_see_source(caller, row):
                raise NotFoundError(name, reason="SOURCE_NOT_FOUND")
            return _source_info(row, self.region)

    def list_sources(
        self,
        caller: Principal,
        parent: str,
        product_revision: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list[SourceInfo], str]:
        if parent != f"regions/{self.region}":
            raise InvalidArgumentError(
                [FieldViolation("parent", f"must be regions/{self.region}")], reason="INVALID_NAME"
            )
        if page_size < 0:
            raise InvalidArgumentError([FieldViolation("page_size", "must not be negative")])
        size = min(page_size or 50, 1000)
        stmt = select(AccessSource)
        if Role.OPERATOR not in caller.roles:
            stmt = stmt.where(AccessSource.provider_party == caller.party_id)
        if product_revision:
            rev = cat.REVISION_NAME_RE.fullmatch(product_revision)
            prod = cat.PRODUCT_NAME_RE.fullmatch(product_revision)
            if rev is not None:
                stmt = stmt.where(
                    AccessSource.product_id == rev.group(2),
                    AccessSource.revision == int(rev.group(3)),
                )
            elif prod is not None:
                stmt = stmt.where(AccessSource.product_id == prod.group(2))
            else:
                raise InvalidArgumentError(
                    [FieldViolation("product_revision", "not a product or revision name")],
                    reason="INVALID_NAME",
                )
        bound = fingerprint("sources", product_revision)[:16]
        if page_token:
            after = _source_token(page_token, bound)
            stmt = stmt.where(
                (AccessSource.create_us > after[0])
                | ((AccessSource.create_us == after[0]) & (AccessSource.id > after[1]))
            )
        stmt = stmt.order_by(AccessSource.create_us, AccessSource.id).limit(size + 1)
        with session_scope(self.engine) as session:
            rows = list(session.scalars(stmt))
            infos = [_source_info(r, self.region) for r in rows[:size]]
        token = ""
        if len(rows) > size:
            last = infos[-1]
            token = f"{bound}:{last.create_us}:{last.id}"
        return infos, token

    def close(self) -> None:
        self.meter.close()
        if self._reads is not self.engine:
            self._reads.dispose()


def mask_table(table: pa.Table, rules: Mapping[str, MaskingRule], key: bytes) -> pa.Table:
    """``table`` with the columns named in ``rules`` masked (schema unchanged)."""
    columns = [
        mask_array(rules[name], table.column(name), key) if name in rules else table.column(name)
        for name in table.schema.names
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)


def _only(receipt: Receipt) -> Generator[Frame, None, None]:
    yield receipt


def _parse_source_name(name: str, region: str) -> str:
    parts = name.split("/")
    if len(parts) != 4 or parts[:3] != ["regions", region, "sources"] or not parts[3]:
        raise InvalidArgumentError(
            [FieldViolation("name", f"{name!r} is not regions/{region}/sources/{{source}}")],
            reason="INVALID_NAME",
        )
    return parts[3]


def _source_token(token: str, bound: str) -> tuple[int, str]:
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != bound or not parts[1].isdigit():
        raise InvalidArgumentError(
            [FieldViolation("page_token", "not a token of this request")],
            reason="INVALID_PAGE_TOKEN",
        )
    return int(parts[1]), parts[2]

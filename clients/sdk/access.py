"""Access client: read, look up and verify data under a licence; keep and check receipts.

Every data call returns the provider region's signed receipt. A receipt can be
checked later with nothing but the region's verifier key: first its signature
(over the exact body bytes, context ``bashu.exchange/usage-receipt/v1``), then an
inclusion proof of its ledger entry against a signed checkpoint::

    client = connect("127.0.0.1:50051", consumer_key, region="sc")
    table = client.access.read("regions/sc/licences/l-1", columns=["city", "score"])
    hit = client.access.lookup("regions/sc/licences/l-1", {"id_no": "51010519900101123X"})
    ok = client.access.verify("regions/sc/licences/l-1", {"id_no": "…", "name": "张三"})

    vkey = client.ledger.public_key()                 # pin it out of band in real use
    proof = client.access.prove_receipt(hit.receipt, vkey)    # online: fetch + check
    verify_receipt_offline(hit.receipt, proof, vkey)          # offline, any time later

A retried call with the same ``request_id`` is never metered twice: the node
answers with the first call's receipt (for a read: a stream of just the receipt).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from bashu.access.v1 import access_pb2, access_pb2_grpc
from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import ledger_pb2
from google.protobuf.message import DecodeError

from clients.sdk.channel import ErrorTranslating
from clients.sdk.errors import VerificationError
from clients.sdk.ledger import InclusionProof, LedgerClient, verify_inclusion_offline
from ledger.errors import LedgerError
from ledger.note import Verifier

__all__ = [
    "RECEIPT_CONTEXT",
    "AccessClient",
    "Filter",
    "LookupResult",
    "ReadResult",
    "Receipt",
    "VerifyResult",
    "cancel",
    "verify_receipt_offline",
    "verify_receipt_signature",
    "write_table",
]

RECEIPT_CONTEXT = b"bashu.exchange/usage-receipt/v1"
_OPS = {
    "=": "EQ",
    "==": "EQ",
    "!=": "NE",
    "<>": "NE",
    "<": "LT",
    "<=": "LE",
    ">": "GT",
    ">=": "GE",
    "in": "IN",
    "is null": "IS_NULL",
    "is not null": "IS_NOT_NULL",
}


@dataclass(frozen=True)
class Filter:
    """One row condition: ``Filter("city", "=", "成都")``, ``Filter("score", "in", ["1", "2"])``."""

    column: str
    op: str
    value: str | Sequence[str] = ""

    def message(self) -> access_pb2.RowFilter:
        op = _OPS.get(self.op.lower(), self.op.upper())
        msg = access_pb2.RowFilter(column=self.column, operator=f"FILTER_OPERATOR_{op}")
        if op == "IN":
            values = [self.value] if isinstance(self.value, str) else list(self.value)
            msg.values.extend(str(v) for v in values)
        elif isinstance(self.value, str):
            msg.value = self.value
        return msg


@dataclass(frozen=True)
class Receipt:
    """A usage receipt as the node signed it, with its body parsed for convenience.

    ``body`` and ``signature`` are authoritative; the other fields are read from the
    body (check :func:`verify_receipt_signature` before trusting them).
    """

    body: bytes
    signature: bytes
    key_name: str
    key_id: str
    signer_region: str
    usage_record: str
    request_id: str
    licence: str
    entry_origin: str
    entry_index: int | None
    leaf_hash: bytes
    calls: int
    rows: int
    bytes: int
    amount_fen: int
    currency_code: str
    truncated: bool
    truncation_reason: str

    @classmethod
    def from_message(cls, msg: access_pb2.UsageReceipt) -> Receipt:
        try:
            body = access_pb2.UsageReceiptBody.FromString(msg.body)
        except DecodeError as exc:
            raise VerificationError(f"receipt body does not parse: {exc}") from exc
        return cls(
            body=bytes(msg.body),
            signature=bytes(msg.signature.signature),
            key_name=msg.signature.key_name,
            key_id=msg.signature.key_id,
            signer_region=msg.signature.signer_region,
            usage_record=body.usage_record,
            request_id=body.request_id,
            licence=body.licence,
            entry_origin=body.entry.origin,
            entry_index=body.entry.index if body.HasField("entry") else None,
            leaf_hash=bytes(body.entry.leaf_hash),
            calls=body.quantity.calls,
            rows=body.quantity.rows,
            bytes=body.quantity.bytes,
            amount_fen=body.amount.amount_fen,
            currency_code=body.amount.currency_code,
            truncated=body.truncated,
            truncation_reason=body.truncation_reason,
        )


@dataclass(frozen=True)
class ReadResult:
    table: pa.Table
    receipt: Receipt
    masking: dict[str, str]  # column -> masking rule name


@dataclass(frozen=True)
class LookupResult:
    found: bool
    table: pa.Table | None  # None on a replay (a retry gets the receipt only)
    receipt: Receipt


@dataclass(frozen=True)
class VerifyResult:
    verdict: str  # VALID, INVALID or UNKNOWN
    receipt: Receipt

    @property
    def valid(self) -> bool:
        return self.verdict == "VALID"


def verify_receipt_signature(receipt: Receipt, vkey: str) -> None:
    """Check the receipt's Ed25519 signature with the provider region's verifier key."""
    try:
        verifier = Verifier.from_vkey(vkey)
    except LedgerError as exc:
        raise VerificationError(f"bad verifier key: {exc}") from exc
    if verifier.name != receipt.key_name or verifier.key_id.hex() != receipt.key_id:
        raise VerificationError(
            f"receipt is signed by {receipt.key_name}+{receipt.key_id}, not by this key"
        )
    if not verifier.verify(RECEIPT_CONTEXT + b"\x00" + receipt.body, receipt.signature):
        raise VerificationError("receipt signature does not verify")


def verify_receipt_offline(receipt: Receipt, proof: InclusionProof, vkey: str) -> None:
    """Check a receipt without the node: its signature, and that its ledger entry is
    included in the log the (signed) checkpoint of ``proof`` commits to."""
    verify_receipt_signature(receipt, vkey)
    if receipt.entry_index is None:
        raise VerificationError("the receipt cites no ledger entry (record was rejected)")
    if proof.index != receipt.entry_index or proof.leaf_hash != receipt.leaf_hash:
        raise VerificationError("the proof is for another entry than the receipt's")
    verify_inclusion_offline(
        vkey, receipt.leaf_hash, receipt.entry_index, proof.hashes, proof.checkpoint_note
    )


def _table_from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def write_table(table: pa.Table, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``table`` as Parquet or CSV (by ``fmt`` or the file extension)."""
    out = Path(path)
    kind = (fmt or out.suffix.lstrip(".") or "parquet").lower()
    if kind == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    elif kind == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, out)
    else:
        raise ValueError(f"unknown format {kind!r} (parquet or csv)")
    return out


class AccessClient:
    """The AccessService of one node, with typed results and receipt checks."""

    def __init__(
        self,
        stub: access_pb2_grpc.AccessServiceStub,
        ledger: LedgerClient,
        region: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        self._stub = ErrorTranslating(stub, timeout)
        self._stream_stub = ErrorTranslating(stub, None)
        self._ledger = ledger
        self._region = region or ""
        self.last_receipt: Receipt | None = None

    @property
    def raw(self) -> Any:
        """The generated stub (typed errors, default deadline) for anything not wrapped."""
        return self._stub

    @property
    def region(self) -> str:
        """The node's region (asked once from the node when not given to ``connect``)."""
        if not self._region:
            resp = self._ledger._stub.GetPublicKey(ledger_pb2.GetPublicKeyRequest())
            self._region = str(resp.region)
        return self._region

    def _parent(self, name: str = "") -> str:
        parts = name.split("/")
        if len(parts) >= 2 and parts[0] == "regions" and parts[1]:
            return f"regions/{parts[1]}"
        return f"regions/{self.region}"

    # -- data calls ---------------------------------------------------------------------

    def stream(
        self,
        licence: str,
        *,
        columns: Sequence[str] = (),
        filters: Sequence[Filter] = (),
        max_batch_rows: int = 0,
        max_batch_bytes: int = 0,
        row_limit: int = 0,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[access_pb2.ReadDataResponse]:
        """The raw frames of a bulk read (schema, batches, receipt); ``cancel()``-able."""
        it: Iterator[access_pb2.ReadDataResponse] = self._stream_stub.ReadData(
            access_pb2.ReadDataRequest(
                licence=licence,
                columns=list(columns),
                filters=[f.message() for f in filters],
                max_batch_rows=max_batch_rows,
                max_batch_bytes=max_batch_bytes,
                row_limit=row_limit,
                request_id=request_id or uuid.uuid4().hex,
            ),
            timeout=timeout,
        )
        return it

    def read_result(
        self,
        licence: str,
        *,
        columns: Sequence[str] = (),
        filters: Sequence[Filter] = (),
        max_batch_rows: int = 0,
        max_batch_bytes: int = 0,
        row_limit: int = 0,
        request_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        timeout: float | None = None,
    ) -> ReadResult:
        """A bulk read as a table with its receipt; ``progress(rows, estimated_rows)``
        is called after every batch (estimated -1 when unknown)."""
        schema: pa.Schema | None = None
        masking: dict[str, str] = {}
        batches: list[pa.RecordBatch] = []
        estimated = -1
        rows = 0
        receipt: Receipt | None = None
        for frame in self.stream(
            licence,
            columns=columns,
            filters=filters,
            max_batch_rows=max_batch_rows,
            max_batch_bytes=max_batch_bytes,
            row_limit=row_limit,
            request_id=request_id,
            timeout=timeout,
        ):
            kind = frame.WhichOneof("frame")
            if kind == "schema":
                schema = pa.ipc.read_schema(pa.py_buffer(frame.schema.arrow_schema))
                estimated = frame.schema.estimated_rows
                masking = {
                    m.field: common_pb2.MaskingRule.Name(m.rule).removeprefix("MASKING_RULE_")
                    for m in frame.schema.masking
                }
                if progress is not None:
                    progress(0, estimated)
            elif kind == "record_batch":
                if schema is None:
                    raise VerificationError("a record batch arrived before the schema")
                batch = pa.ipc.read_record_batch(pa.py_buffer(frame.record_batch), schema)
                batches.append(batch)
                rows += batch.num_rows
                if progress is not None:
                    progress(rows, estimated)
            elif kind == "receipt":
                receipt = Receipt.from_message(frame.receipt)
        if receipt is None:
            raise VerificationError("the stream ended without a receipt")
        if schema is None:  # a retry: the first call's receipt only
            return ReadResult(pa.table({}), receipt, {})
        return ReadResult(pa.Table.from_batches(batches, schema=schema), receipt, masking)

    def read(
        self,
        licence: str,
        *,
        columns: Sequence[str] = (),
        filters: Sequence[Filter] = (),
        row_limit: int = 0,
        request_id: str | None = None,
        path: str | Path | None = None,
        fmt: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> pa.Table:
        """Read data under ``licence`` as a ``pyarrow.Table`` (optionally also written
        to ``path`` as Parquet or CSV). The receipt is ``last_receipt``."""
        result = self.read_result(
            licence,
            columns=columns,
            filters=filters,
            row_limit=row_limit,
            request_id=request_id,
            progress=progress,
        )
        self.last_receipt = result.receipt
        if path is not None:
            write_table(result.table, path, fmt)
        return result.table

    def lookup(
        self,
        licence: str,
        key: Mapping[str, str],
        *,
        columns: Sequence[str] = (),
        request_id: str | None = None,
    ) -> LookupResult:
        resp = self._stub.LookupRecord(
            access_pb2.LookupRecordRequest(
                licence=licence,
                key={k: str(v) for k, v in key.items()},
                columns=list(columns),
                request_id=request_id or uuid.uuid4().hex,
            )
        )
        table = _table_from_ipc(resp.arrow_ipc) if resp.arrow_ipc else None
        return LookupResult(bool(resp.found), table, Receipt.from_message(resp.receipt))

    def verify(
        self, licence: str, claim: Mapping[str, str], *, request_id: str | None = None
    ) -> VerifyResult:
        resp = self._stub.VerifyClaim(
            access_pb2.VerifyClaimRequest(
                licence=licence,
                claim={k: str(v) for k, v in claim.items()},
                request_id=request_id or uuid.uuid4().hex,
            )
        )
        verdict = access_pb2.ClaimVerdict.Name(resp.verdict).removeprefix("CLAIM_VERDICT_")
        return VerifyResult(verdict, Receipt.from_message(resp.receipt))

    # -- receipts -----------------------------------------------------------------------

    def receipt(self, request_id: str, region: str | None = None) -> Receipt:
        """The receipt of an earlier call of this party, by its request_id."""
        parent = f"regions/{region}" if region else self._parent()
        resp = self._stub.GetUsageReceipt(
            access_pb2.GetUsageReceiptRequest(parent=parent, request_id=request_id)
        )
        return Receipt.from_message(resp.receipt)

    def receipts(self, **filters: Any) -> Iterator[access_pb2.UsageRecord]:
        """This party's usage records (consumers: their calls), oldest first."""
        return self.usage_records(**filters)

    def prove_receipt(self, receipt: Receipt, vkey: str, tree_size: int = 0) -> InclusionProof:
        """Fetch an inclusion proof of the receipt's entry and check it (and the
        receipt's signature); keep the proof to re-check offline later."""
        verify_receipt_signature(receipt, vkey)
        if receipt.entry_index is None:
            raise VerificationError("the receipt cites no ledger entry (record was rejected)")
        proof = self._ledger.prove_inclusion(vkey, receipt.entry_index, tree_size)
        if proof.leaf_hash != receipt.leaf_hash:
            raise VerificationError("the ledger entry is not the one the receipt cites")
        verify_receipt_offline(receipt, proof, vkey)
        return proof

    # -- usage (providers, finance, consumers) --------------------------------------------

    @staticmethod
    def _filter(
        licence: str = "",
        product: str = "",
        consumer_party: str = "",
        period: str = "",
        rejected: bool = False,
    ) -> access_pb2.UsageFilter:
        f = access_pb2.UsageFilter(
            licence=licence, product=product, consumer_party=consumer_party, period=period
        )
        if rejected:
            f.statuses.extend(
                [access_pb2.USAGE_RECORD_STATUS_RECORDED, access_pb2.USAGE_RECORD_STATUS_REJECTED]
            )
        return f

    def usage_records(
        self, page_size: int = 200, **filters: Any
    ) -> Iterator[access_pb2.UsageRecord]:
        token = ""
        while True:
            resp = self._stub.ListUsageRecords(
                access_pb2.ListUsageRecordsRequest(
                    parent=self._parent(str(filters.get("licence", ""))),
                    filter=self._filter(**filters),
                    page_size=page_size,
                    page_token=token,
                )
            )
            yield from resp.usage_records
            token = resp.next_page_token
            if not token:
                return

    def usage_record(self, name: str) -> access_pb2.UsageRecord:
        resp = self._stub.GetUsageRecord(access_pb2.GetUsageRecordRequest(name=name))
        record: access_pb2.UsageRecord = resp.usage_record
        return record

    def summarize(
        self, grouping: str = "PRODUCT", **filters: Any
    ) -> tuple[list[access_pb2.UsageSummaryRow], access_pb2.UsageSummaryRow]:
        """Usage totals grouped by LICENCE, PRODUCT, CONSUMER or DAY (all pages)."""
        rows: list[access_pb2.UsageSummaryRow] = []
        token = ""
        while True:
            resp = self._stub.SummarizeUsage(
                access_pb2.SummarizeUsageRequest(
                    parent=self._parent(str(filters.get("licence", ""))),
                    filter=self._filter(**filters),
                    grouping=f"USAGE_GROUPING_{grouping.upper()}",
                    page_size=1000,
                    page_token=token,
                )
            )
            rows.extend(resp.rows)
            token = resp.next_page_token
            if not token:
                return rows, resp.total

    # -- sources (providers) ------------------------------------------------------------

    def register_source(
        self,
        product_revision: str,
        *,
        path: str | None = None,
        fmt: str | None = None,
        csv_delimiter: str = "",
        sql_url: str | None = None,
        table: str = "",
        query: str = "",
        key_columns: Sequence[str] = (),
        request_id: str | None = None,
    ) -> access_pb2.Source:
        source = access_pb2.Source(product_revision=product_revision, key_columns=list(key_columns))
        if path is not None:
            source.file.CopyFrom(
                access_pb2.FileSource(
                    path=path,
                    format=f"FILE_FORMAT_{fmt.upper()}" if fmt else "FILE_FORMAT_UNSPECIFIED",
                    csv_delimiter=csv_delimiter,
                )
            )
        elif sql_url is not None:
            source.sql.CopyFrom(access_pb2.SqlSource(url=sql_url, table=table, query=query))
        resp = self._stub.RegisterSource(
            access_pb2.RegisterSourceRequest(
                parent=self._parent(product_revision),
                source=source,
                request_id=request_id or uuid.uuid4().hex,
            )
        )
        registered: access_pb2.Source = resp.source
        return registered

    def sources(self, product_revision: str = "") -> Iterator[access_pb2.Source]:
        token = ""
        while True:
            resp = self._stub.ListSources(
                access_pb2.ListSourcesRequest(
                    parent=self._parent(product_revision),
                    product_revision=product_revision,
                    page_size=200,
                    page_token=token,
                )
            )
            yield from resp.sources
            token = resp.next_page_token
            if not token:
                return


def cancel(stream: Iterator[Any]) -> None:
    """Cancel a stream returned by :meth:`AccessClient.stream`."""
    stop = getattr(stream, "cancel", None)
    if stop is not None:
        stop()

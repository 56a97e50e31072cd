"""The lookup fast path and what it caches must change nothing a consumer or the ledger
can see: rows come from a masked view of the source yet equal the masking reference,
the licence's state still applies on the very next call, usage records built from
templates are the canonical encoding, and IPC sizes are read correctly."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pytest
from bashu.access.v1 import access_pb2

from clients.sdk.errors import BashuRpcError
from ledger.errors import StorageError
from ledger.log import Log
from ledger.sequencer import AppendResult
from services.dataplane import MASKING_METADATA
from services.masking import MaskingRule, mask_value
from services.records import decode_record
from services.sources import ipc_body_size
from tests.access.conftest import Market, id_number, people, start_market

RULES = {"id_no": MaskingRule.ID_NUMBER, "name": MaskingRule.NAME, "phone": MaskingRule.PHONE}


@pytest.mark.parametrize(
    "batch",
    [
        pa.record_batch({"a": pa.array([], pa.string())}),
        pa.record_batch({"a": ["x", None, "zzz"], "b": [1, 2, None]}),
        pa.record_batch({"a": [f"v{i}" * (i % 7) for i in range(5000)]}).slice(1234, 17),
        pa.record_batch({"d": pa.array([1.5] * 3), "e": pa.array([b"\x00\x01"] * 3)}),
    ],
)
def test_ipc_body_size_reads_the_message_header(batch: pa.RecordBatch) -> None:
    message = batch.serialize()
    assert ipc_body_size(message) == pa.ipc.read_message(message).body.size
    assert ipc_body_size(message.to_pybytes()) == pa.ipc.read_message(message).body.size


def test_lookups_equal_the_masking_reference_and_state_applies_on_the_next_call(
    market: Market,
) -> None:
    source = people(200).to_pylist()
    lic = market.licence()
    access = market.client("consumer").access
    for i in (0, 1, 57, 199):
        got = access.lookup(lic, {"id_no": id_number(i)})
        assert got.found
        assert got.table is not None
        assert got.receipt.rows == 1
        expected = {k: mask_value(RULES.get(k, MaskingRule.NONE), v) for k, v in source[i].items()}
        assert got.table.to_pylist() == [expected]
        for name, rule in RULES.items():
            field = got.table.schema.field(name)
            assert (field.metadata or {}).get(MASKING_METADATA) == rule.value.encode()
    narrow = access.lookup(lic, {"id_no": id_number(3)}, columns=["city", "phone"])
    assert narrow.table is not None
    assert narrow.table.to_pylist() == [
        {"city": source[3]["city"], "phone": mask_value(MaskingRule.PHONE, source[3]["phone"])}
    ]
    missing = access.lookup(lic, {"id_no": "510105199001019999"})
    assert not missing.found
    assert missing.table is not None
    assert missing.table.num_rows == 0
    assert missing.receipt.rows == 0

    # Terms, plans and masked views are cached; the licence's state is not.
    market.change_licence(lic, "suspend")
    market.baseline()
    with pytest.raises(BashuRpcError) as err:
        access.lookup(lic, {"id_no": id_number(5)})
    assert err.value.reason == "LICENCE_SUSPENDED"
    market.assert_nothing_recorded()
    market.change_licence(lic, "resume")
    assert access.lookup(lic, {"id_no": id_number(5)}).found
    market.change_licence(lic, "revoke")
    market.baseline()
    with pytest.raises(BashuRpcError) as err:
        access.lookup(lic, {"id_no": id_number(6)})
    assert err.value.reason == "LICENCE_REVOKED"
    market.assert_nothing_recorded()


def test_usage_records_are_stored_and_ledgered_in_canonical_form(market: Market) -> None:
    lic = market.licence()
    access = market.client("consumer").access
    start = market.ledger_size()
    receipts = [access.lookup(lic, {"id_no": id_number(i)}).receipt for i in range(3)]
    receipts.append(access.verify(lic, {"id_no": id_number(4), "city": "成都"}).receipt)
    entries = market.node.ledger.entries(start, market.ledger_size() - start)
    usage = [e for e in entries if decode_record(e.data).WhichOneof("payload") == "usage_recorded"]
    assert len(usage) == 4
    stored = dict(
        market.sql("SELECT request_id, record FROM access_usage WHERE state = 'RECORDED'")
    )
    for entry, receipt in zip(usage, receipts, strict=True):
        ledger_record = decode_record(entry.data)
        assert ledger_record.SerializeToString(deterministic=True) == entry.data
        record = ledger_record.usage_recorded.usage_record
        assert record.SerializeToString(deterministic=True) == bytes(stored[record.id])
        assert receipt.entry_index == entry.index
        body = access_pb2.UsageReceiptBody.FromString(receipt.body)
        assert body.SerializeToString(deterministic=True) == receipt.body
        assert body.usage_record == record.name
        assert body.request_id == record.id
        assert body.quantity == record.quantity
        assert body.amount == record.amount
        assert body.time == record.time
        assert record.HasField("time")
        assert record.status == access_pb2.USAGE_RECORD_STATUS_RECORDED
        assert record.period == record.time.ToDatetime().strftime("%Y-%m")
        assert record.subject == lic
        assert record.consumer_party == market.party("consumer")
    assert [decode_record(e.data).usage_recorded.usage_record.quantity.rows for e in usage] == [
        1,
        1,
        1,
        1,
    ]


class RefusingLog(Log):
    """A ledger that refuses every append while ``refusing`` is set."""

    refusing = threading.Event()

    def append(self, data: bytes, idempotency_key: str) -> AppendResult:
        if self.refusing.is_set():
            raise StorageError("refused by the test")
        return super().append(data, idempotency_key)

    def append_many(self, items: Iterable[tuple[bytes, str]]) -> list[AppendResult]:
        if self.refusing.is_set():
            raise StorageError("refused by the test")
        return super().append_many(items)


def test_a_refused_append_rolls_a_lookup_back_and_keeps_a_read_as_rejected(
    tmp_path: Path, db_url: str
) -> None:
    market = start_market(tmp_path, db_url, ledger_factory=lambda e, s, o, k: RefusingLog(e, s, o))
    try:
        lic = market.licence()
        access = market.client("consumer").access
        assert access.lookup(lic, {"id_no": id_number(1)}).found
        RefusingLog.refusing.set()
        market.baseline()
        # Nothing left the node: the claim, the reservation and the entry roll back
        # together (they are one transaction).
        with pytest.raises(BashuRpcError):
            access.lookup(lic, {"id_no": id_number(2)})
        market.assert_nothing_recorded()
        # Data did leave: the record is kept, REJECTED with the reason, not appended.
        size = market.ledger_size()
        result = access.read_result(lic, max_batch_rows=64)
        assert result.table.num_rows == 200
        assert market.ledger_size() == size
        rows = market.sql(
            "SELECT state, rejection_reason, qty_rows FROM access_usage WHERE mode = 'BULK'"
        )
        assert [tuple(r) for r in rows] == [("REJECTED", "LEDGER_APPEND_FAILED", 200)]
        RefusingLog.refusing.clear()
        again = access.lookup(lic, {"id_no": id_number(2)})
        assert again.found
        assert again.receipt.entry_index == market.ledger_size() - 1
    finally:
        RefusingLog.refusing.clear()
        for c in market.clients_:
            c.close()
        market.node.stop(grace=1.0)

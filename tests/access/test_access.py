"""Metered access on a real node through the SDK: reads, lookups, verifies, receipts,
and every enforcement rule refusing with its own reason while recording nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from bashu.access.v1 import access_pb2

from clients.sdk.access import Filter, Receipt, verify_receipt_offline
from clients.sdk.errors import BashuRpcError, VerificationError
from services.records import decode_record
from tests.access.conftest import CITIES, PRODUCT_ID, Market, id_number, people


def test_read_lookup_verify_with_receipts_that_verify_offline(market: Market) -> None:
    lic = market.licence()
    consumer = market.client("consumer")
    vkey = consumer.ledger.public_key()
    progress: list[tuple[int, int]] = []
    result = consumer.access.read_result(
        lic, max_batch_rows=64, progress=lambda done, total: progress.append((done, total))
    )
    table, receipt = result.table, result.receipt
    assert table.num_rows == 200
    assert table.column_names == ["id_no", "name", "phone", "city", "born", "score"]
    assert progress[-1] == (200, 200)
    source = people(200)
    assert table.column("city").to_pylist() == source.column("city").to_pylist()
    first = table.slice(0, 1).to_pylist()[0]
    assert first["id_no"] == id_number(0)[:6] + "*" * 11 + id_number(0)[-1]
    assert first["phone"] == "138****0000"
    assert first["name"] == "王**"
    assert result.masking == {
        "id_no": "ID_NUMBER",
        "name": "NAME",
        "phone": "PHONE",
        "city": "NONE",
        "born": "NONE",
        "score": "NONE",
    }
    # The tariff is 0.015 yuan per row: 200 rows = 3 yuan = 300 fen.
    assert (receipt.calls, receipt.rows, receipt.amount_fen) == (1, 200, 300)
    assert not receipt.truncated
    proof = consumer.access.prove_receipt(receipt, vkey)
    verify_receipt_offline(receipt, proof, vkey)
    # Corrupted twins fail: another body, another entry.
    forged = Receipt(**{**receipt.__dict__, "body": receipt.body + b"\x00"})
    with pytest.raises(VerificationError):
        verify_receipt_offline(forged, proof, vkey)
    moved = Receipt(**{**receipt.__dict__, "entry_index": (receipt.entry_index or 0) + 1})
    with pytest.raises(VerificationError):
        verify_receipt_offline(moved, proof, vkey)
    # The ledger entry is the usage record the receipt describes.
    assert receipt.entry_index is not None
    entry = consumer.ledger.get_entry(receipt.entry_index)
    record = decode_record(entry.data).usage_recorded.usage_record
    assert (record.quantity.rows, record.amount.amount_fen, record.subject) == (200, 300, lic)
    assert record.type == "exchange.bashu.usage.v1.read"
    assert record.spec_version == "1.0"
    assert record.consumer_party == market.party("consumer")
    assert record.purpose.scenario_code == "FIN-CREDIT-01"

    hit = consumer.access.lookup(lic, {"id_no": id_number(7)}, columns=["id_no", "city"])
    assert hit.found
    assert hit.table is not None
    assert hit.table.to_pylist() == [
        {"id_no": id_number(7)[:6] + "*" * 11 + id_number(7)[-1], "city": CITIES[7 % 4]}
    ]
    assert (hit.receipt.rows, hit.receipt.amount_fen) == (1, 2)  # 1.5 fen rounds half-up
    miss = consumer.access.lookup(lic, {"id_no": "510105000000000000"})
    assert not miss.found
    assert (miss.receipt.calls, miss.receipt.rows) == (1, 0)

    name_7 = people(200).column("name")[7].as_py()
    assert consumer.access.verify(lic, {"id_no": id_number(7), "name": name_7}).verdict == "VALID"
    assert consumer.access.verify(lic, {"id_no": id_number(7), "name": "假名"}).verdict == "INVALID"
    assert consumer.access.verify(lic, {"id_no": "510105000000000000"}).verdict == "UNKNOWN"

    # Receipts can be fetched again, byte for byte.
    again = consumer.access.receipt(hit.receipt.request_id)
    assert again.body == hit.receipt.body
    assert again.signature == hit.receipt.signature
    records = list(consumer.access.receipts())
    assert len(records) == 6
    assert all(r.ledger_entry.index >= 0 for r in records)
    provider = market.client("provider")
    rows, total = provider.access.summarize("LICENCE")
    assert [r.key for r in rows] == [lic]
    assert (total.record_count, total.quantity.calls, total.quantity.rows) == (6, 6, 203)
    assert total.amount.amount_fen == 300 + 2 + 0 + 2 + 2 + 0
    assert market.quota_used(lic)[:2] == (6, 203)


def test_filters_columns_and_row_limit(market: Market) -> None:
    lic = market.licence()
    access = market.client("consumer").access
    table = access.read(lic, columns=["city", "score"], filters=[Filter("city", "=", "成都")])
    assert table.num_rows == 50
    assert set(table.column("city").to_pylist()) == {"成都"}
    table = access.read(
        lic, filters=[Filter("score", "in", ["1", "2"]), Filter("born", ">=", "1990-01-01")]
    )
    assert all(s in (1, 2) for s in table.column("score").to_pylist())
    limited = access.read_result(lic, row_limit=30, max_batch_rows=16)
    assert limited.table.num_rows == 30
    assert limited.receipt.truncation_reason == "ROW_LIMIT"
    assert limited.receipt.rows == 30
    for bad in (Filter("score", "=", "x"), Filter("born", "<", "not-a-date")):
        with pytest.raises(BashuRpcError) as err:
            access.read(lic, filters=[bad])
        assert err.value.reason == "INVALID_FILTER"


Refusal = Callable[[Market], Callable[[], Any]]


def _refusals() -> dict[str, tuple[grpc.StatusCode, Refusal]]:
    def unknown(m: Market) -> Callable[[], Any]:
        return lambda: m.client("consumer").access.lookup(
            "regions/sc/licences/nope", {"id_no": "1"}
        )

    def not_holder(m: Market) -> Callable[[], Any]:
        lic = m.licence()
        return lambda: m.client("consumer2").access.read(lic)

    def wrong_mode(m: Market) -> Callable[[], Any]:
        lic = m.licence(modes=("LOOKUP",))
        return lambda: m.client("consumer").access.read(lic)

    def field_not_granted(m: Market) -> Callable[[], Any]:
        lic = m.licence(fields=("id_no", "city"))
        return lambda: m.client("consumer").access.read(lic, columns=["score"])

    def filter_on_masked(m: Market) -> Callable[[], Any]:
        lic = m.licence()
        return lambda: m.client("consumer").access.read(lic, filters=[Filter("phone", "=", "1")])

    def claim_not_granted(m: Market) -> Callable[[], Any]:
        lic = m.licence(fields=("id_no", "city"))
        return lambda: m.client("consumer").access.verify(lic, {"id_no": id_number(1), "name": "x"})

    def quota(m: Market) -> Callable[[], Any]:
        lic = m.licence(quota=(1, 0, 0))
        m.client("consumer").access.lookup(lic, {"id_no": id_number(1)})
        return lambda: m.client("consumer").access.lookup(lic, {"id_no": id_number(2)})

    def row_quota(m: Market) -> Callable[[], Any]:
        lic = m.licence(quota=(0, 1, 0))
        m.client("consumer").access.lookup(lic, {"id_no": id_number(1)})
        return lambda: m.client("consumer").access.read(lic)

    def suspended(m: Market) -> Callable[[], Any]:
        lic = m.licence()
        m.change_licence(lic, "suspend")
        return lambda: m.client("consumer").access.verify(lic, {"id_no": id_number(1)})

    def revoked(m: Market) -> Callable[[], Any]:
        lic = m.licence()
        m.change_licence(lic, "revoke")
        return lambda: m.client("consumer").access.lookup(lic, {"id_no": id_number(1)})

    def expired(m: Market) -> Callable[[], Any]:
        lic = m.licence()
        m.sql("UPDATE licences SET valid_until_us = 1000 WHERE id = :id", id=lic.rsplit("/", 1)[1])
        return lambda: m.client("consumer").access.read(lic)

    def not_yet_valid(m: Market) -> Callable[[], Any]:
        lic = m.licence()
        later = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=9)).timestamp() * 1e6)
        m.sql(
            "UPDATE licences SET valid_from_us = :t WHERE id = :id",
            t=later,
            id=lic.rsplit("/", 1)[1],
        )
        return lambda: m.client("consumer").access.read(lic)

    def product_suspended(m: Market) -> Callable[[], Any]:
        lic = m.licence()
        m.client("operator").catalog.suspend_product(PRODUCT_ID, reason="audit")
        return lambda: m.client("consumer").access.lookup(lic, {"id_no": id_number(1)})

    def no_source(m: Market) -> Callable[[], Any]:
        m.add_product("no-source")
        lic = m.licence(product="no-source")
        return lambda: m.client("consumer").access.read(lic)

    def bad_key(m: Market) -> Callable[[], Any]:
        lic = m.licence()
        return lambda: m.client("consumer").access.lookup(lic, {"city": "成都"})

    c = grpc.StatusCode
    f, p, n, r, i = (
        c.FAILED_PRECONDITION,
        c.PERMISSION_DENIED,
        c.NOT_FOUND,
        c.RESOURCE_EXHAUSTED,
        c.INVALID_ARGUMENT,
    )
    return {
        "LICENCE_NOT_FOUND": (n, unknown),
        "NOT_LICENCE_HOLDER": (p, not_holder),
        "ACCESS_MODE_NOT_GRANTED": (p, wrong_mode),
        "FIELD_NOT_GRANTED": (p, field_not_granted),
        "FIELD_NOT_GRANTED/filter": (p, filter_on_masked),
        "FIELD_NOT_GRANTED/claim": (p, claim_not_granted),
        "QUOTA_EXHAUSTED": (r, quota),
        "QUOTA_EXHAUSTED/rows": (r, row_quota),
        "LICENCE_SUSPENDED": (f, suspended),
        "LICENCE_REVOKED": (f, revoked),
        "LICENCE_EXPIRED": (f, expired),
        "LICENCE_NOT_YET_VALID": (f, not_yet_valid),
        "PRODUCT_SUSPENDED": (f, product_suspended),
        "SOURCE_NOT_REGISTERED": (f, no_source),
        "INVALID_KEY": (i, bad_key),
    }


REFUSALS = _refusals()


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_each_rule_refuses_with_its_reason_and_records_nothing(market: Market, case: str) -> None:
    code, setup = REFUSALS[case]
    call = setup(market)
    market.baseline()
    with pytest.raises(BashuRpcError) as err:
        call()
    assert err.value.code == code
    assert err.value.reason == case.split("/")[0]
    if case.startswith("QUOTA"):
        assert set(err.value.metadata) >= {"dimension", "limit", "used"}
    market.assert_nothing_recorded()


def test_no_unmasked_sensitive_value_leaves_the_node(market: Market) -> None:
    source = people(200)
    secrets = [
        v.encode() for name in ("id_no", "phone", "name") for v in source.column(name).to_pylist()
    ]
    lic = market.licence()
    access = market.client("consumer").access
    sent = b"".join(f.SerializeToString() for f in access.stream(lic, max_batch_rows=50))
    sent += access.raw.LookupRecord(
        access_pb2.LookupRecordRequest(licence=lic, key={"id_no": id_number(9)}, request_id="l-9")
    ).SerializeToString()
    assert not [s for s in secrets if s in sent]
    # Granted in clear (and approved), the same field does travel.
    clear = market.licence(unmasked=("phone",))
    table = access.read(clear, columns=["phone"])
    assert table.column("phone").to_pylist() == source.column("phone").to_pylist()

"""One market across three regions (sc, cq, sg) on loopback: search, licences, data.

sc provides two products: ``people`` (sensitive personal information, so the policy
holds requests for the provider's approval; it has a Parquet source) and ``stats``
(no personal information: granted at once, and usable outside the country with an
approval). cq's and sg's consumers reach them only through their own home nodes.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pyarrow.parquet as pq
import pytest
from bashu.access.v1 import access_pb2
from bashu.catalog.v1 import catalog_pb2
from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import record_pb2
from bashu.licensing.v1 import licensing_pb2
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import text

import clients
from clients.sdk.access import verify_receipt_offline
from clients.sdk.client import Client
from clients.sdk.errors import BashuRpcError as SdkError
from ledger.note import Signer
from services.config import ORIGIN_PREFIX, PeerConfig
from services.db import make_engine
from tests.access.conftest import FIELDS, people
from tests.federation.conftest import Region, configure, prepare_region

pytestmark = pytest.mark.timeout(180)


def descriptor(provider: str, *, personal: bool) -> catalog_pb2.ProductDescriptor:
    fields = FIELDS if personal else [f for f in FIELDS if f[2] in ("PUBLIC", "INTERNAL")]
    return catalog_pb2.ProductDescriptor(
        title=common_pb2.LocalizedText(zh="人口" if personal else "统计", en="people"),
        description=common_pb2.LocalizedText(zh="测试", en="test"),
        provider=provider,
        region="sc",
        category=common_pb2.CATEGORY_NATURAL_PERSON,
        source_class=common_pb2.SOURCE_CLASS_PUBLIC,
        data_grade=common_pb2.DATA_GRADE_GENERAL,
        personal_info_class=(
            common_pb2.PERSONAL_INFO_CLASS_SENSITIVE
            if personal
            else common_pb2.PERSONAL_INFO_CLASS_NONE
        ),
        fields=[
            catalog_pb2.FieldSpec(
                name=name,
                type=f"FIELD_TYPE_{typ}",
                element_code=f"DE01.{i:03d}",
                sensitivity=f"FIELD_SENSITIVITY_{sens}",
                description=common_pb2.LocalizedText(zh=name),
                default_masking=f"MASKING_RULE_{mask}",
            )
            for i, (name, typ, sens, mask) in enumerate(fields)
        ],
        key_fields=["id_no"] if personal else ["city"],
        access_modes=[
            common_pb2.ACCESS_MODE_BULK,
            common_pb2.ACCESS_MODE_LOOKUP,
            common_pb2.ACCESS_MODE_VERIFY,
        ],
        allowed_purpose_classes=[common_pb2.PURPOSE_CLASS_COMMERCIAL],
        allowed_consumer_regions=["sc", "cq", "sg"],
        cross_border_allowed=True,
        update_frequency=catalog_pb2.UPDATE_FREQUENCY_MONTHLY,
        standard_version="sc-de/2025.1",
    )


@dataclass
class Trio:
    regions: dict[str, Region]
    clients_: list[Client]

    def client(self, region: str, role: str) -> Client:
        r = self.regions[region]
        c = clients.connect(r.address, r.keys[role], region=region)
        self.clients_.append(c)
        return c

    def sql(self, region: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = make_engine(self.regions[region].db_url)
        try:
            with engine.begin() as conn:
                return [tuple(r) for r in conn.execute(text(statement), params).all()]
        finally:
            engine.dispose()

    def party(self, region: str, role: str) -> str:
        key = self.regions[region].keys[role]
        rows = self.sql(region, "SELECT id FROM parties WHERE name = :n", n=f"party-{role}")
        assert rows, key
        return f"regions/{region}/parties/{rows[0][0]}"


@pytest.fixture
def market(trio: dict[str, Region]) -> Iterator[Trio]:
    t = Trio(trio, [])
    sc = trio["sc"]
    pq.write_table(people(40), sc.data_dir / "people.parquet")
    provider = t.client("sc", "provider")
    me = t.party("sc", "provider")
    made = provider.catalog.create_product(descriptor(me, personal=True), product_id="people")
    provider.catalog.create_tariff("people", unit="PER_ROW", unit_price="0.015")
    provider.access.register_source(
        str(made.revision.name), path="people.parquet", key_columns=["id_no"]
    )
    provider.catalog.create_product(descriptor(me, personal=False), product_id="stats")
    try:
        yield t
    finally:
        for c in t.clients_:
            c.close()


def request(client: Client, product: str, **kw: Any) -> licensing_pb2.CreateLicenceRequestResponse:
    return client.licensing.request_licence(
        product,
        provider_region="sc",
        purpose_class=kw.pop("purpose_class", "COMMERCIAL"),
        scenario_code="FIN-CREDIT-01",
        access_modes=("BULK", "LOOKUP", "VERIFY"),
        **kw,
    )


def deliver(region: Region) -> None:
    region.fed.deliverer.deliver_once(force=True)


# --- search ------------------------------------------------------------------------------


def test_search_on_a_home_node_includes_the_peers_products(market: Trio) -> None:
    consumer = market.client("cq", "consumer")
    found = consumer.catalog.search_products()
    assert not found.degraded
    names = sorted(p.name for p in found.products)
    assert names == ["regions/sc/products/people", "regions/sc/products/stats"]
    states = {s.region: s.state for s in found.peer_statuses}
    assert states == {r: catalog_pb2.PEER_SEARCH_STATE_OK for r in ("cq", "sc", "sg")}
    # Paging across regions: one product per page, then done.
    first = consumer.catalog.search_products(page_size=1)
    assert len(first.products) == 1
    assert first.next_page_token
    second = consumer.catalog.search_products(page_size=1, page_token=first.next_page_token)
    assert [p.name for p in [*first.products, *second.products]] == [p.name for p in found.products]
    assert not second.next_page_token


def test_a_dead_peer_degrades_the_search_and_does_not_hang_it(market: Trio) -> None:
    market.regions["sc"].stop()
    consumer = market.client("cq", "consumer")
    started = time.monotonic()
    found = consumer.catalog.search_products()
    elapsed = time.monotonic() - started
    assert found.degraded
    assert list(found.products) == []
    status = {s.region: s for s in found.peer_statuses}
    assert status["sc"].state in (
        catalog_pb2.PEER_SEARCH_STATE_UNREACHABLE,
        catalog_pb2.PEER_SEARCH_STATE_TIMEOUT,
    )
    assert status["sg"].state == catalog_pb2.PEER_SEARCH_STATE_OK
    # Bounded by the peer deadline (2 s by default), far from a hang.
    assert elapsed < 10, elapsed
    # The failed region is asked again from its cursor on the next page.
    assert found.next_page_token
    market.regions["sc"].start()
    # cq's channel reconnects with gRPC's backoff (at most 5 s): ask until it has.
    for _ in range(40):
        again = consumer.catalog.search_products(page_token=found.next_page_token)
        if not again.degraded:
            break
        time.sleep(0.25)
    assert not again.degraded
    assert len(again.products) == 2


# --- licences ----------------------------------------------------------------------------


def test_cross_region_licence_granted_held_and_denied(market: Trio) -> None:
    cq, sc = market.regions["cq"], market.regions["sc"]
    consumer = market.client("cq", "consumer")
    me = market.party("cq", "consumer")

    granted = request(consumer, "stats")
    assert granted.licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_GRANTED
    assert granted.licence.name.startswith("regions/sc/licences/")
    assert granted.licence.terms.consumer_party == me
    # Both nodes keep it: sc as the licence, cq as its copy.
    assert consumer.licensing.get_licence(granted.licence.name).name == granted.licence.name
    sc_rows = market.sql("sc", "SELECT consumer_party FROM licences")
    assert (me,) in sc_rows

    denied = request(consumer, "stats", purpose_class="PUBLIC_WELFARE")
    assert denied.licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_DENIED
    codes = {r.code for r in denied.licence_request.decision.reasons}
    assert "PURPOSE_NOT_ALLOWED" in codes
    assert not denied.licence.name

    held = request(consumer, "people")
    assert held.licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_HELD
    name = held.licence_request.name
    provider = market.client("sc", "provider")
    approved = provider.licensing.approve(name)
    assert approved.licence.name
    # The approval reaches the home node through the outbox.
    assert consumer.licensing.get_request(name).state == licensing_pb2.LICENCE_REQUEST_STATE_HELD
    deliver(sc)
    assert consumer.licensing.get_request(name).state == licensing_pb2.LICENCE_REQUEST_STATE_GRANTED
    copy = consumer.licensing.get_licence(approved.licence.name)
    assert copy.state == licensing_pb2.LICENCE_STATE_ACTIVE
    # A revocation too; a redelivery changes nothing more.
    provider.licensing.revoke(approved.licence.name, "test")
    deliver(sc)
    copy = consumer.licensing.get_licence(approved.licence.name)
    assert copy.state == licensing_pb2.LICENCE_STATE_REVOKED
    inbox = market.sql(
        cq.name, "SELECT count(*) FROM federation_inbox WHERE kind = :k", k="LICENCE_NOTICE"
    )
    assert inbox == [(2,)]

    # A retried request returns the first decision, no second request on sc.
    rid = uuid.uuid4().hex
    one = request(consumer, "stats", request_id=rid)
    two = request(consumer, "stats", request_id=rid)
    assert one.licence_request.name == two.licence_request.name
    # Another region's party cannot be vouched for by cq (checked on sc).
    others = market.sql("sc", "SELECT count(*) FROM licence_requests WHERE home_region = 'cq'")
    assert others == [(4,)]


def test_cross_border_needs_an_approval_reference(market: Trio) -> None:
    consumer = market.client("sg", "consumer")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    approval = licensing_pb2.CrossBorder(
        destination_country="SG",
        approval_kind=common_pb2.APPROVAL_KIND_SECURITY_ASSESSMENT,
    )
    approval.approval_expire_time.FromDatetime(until + dt.timedelta(days=30))
    refused = request(consumer, "stats", cross_border=approval, valid_until=until)
    assert refused.licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_DENIED
    assert "CROSS_BORDER_APPROVAL_MISSING" in {
        r.code for r in refused.licence_request.decision.reasons
    }
    approval.approval_reference = "CAC-2026-0042"
    granted = request(consumer, "stats", cross_border=approval, valid_until=until)
    assert granted.licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_GRANTED
    assert granted.licence.terms.cross_border.approval_reference == "CAC-2026-0042"


def test_a_consumer_abroad_cannot_leave_out_the_cross_border_terms(market: Trio) -> None:
    """sc knows sg's consumers are in Singapore (peers[].country): a request without
    cross-border terms is decided as one without approval, and terms naming another
    destination are refused before any decision."""
    consumer = market.client("sg", "consumer")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    silent = request(consumer, "stats", valid_until=until)
    assert silent.licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_DENIED
    assert "CROSS_BORDER_APPROVAL_MISSING" in {
        r.code for r in silent.licence_request.decision.reasons
    }
    assert silent.licence_request.terms.cross_border.destination_country == "SG"
    elsewhere = licensing_pb2.CrossBorder(
        destination_country="HK",
        approval_kind=common_pb2.APPROVAL_KIND_SECURITY_ASSESSMENT,
        approval_reference="CAC-2026-0042",
    )
    elsewhere.approval_expire_time.FromDatetime(until + dt.timedelta(days=30))
    with pytest.raises(SdkError) as refused:
        request(consumer, "stats", cross_border=elsewhere, valid_until=until)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in refused.value.field_violations] == [
        "licence_request.terms.cross_border.destination_country"
    ]


# --- data ----------------------------------------------------------------------------------


def _licence_for_people(market: Trio) -> str:
    consumer = market.client("cq", "consumer")
    held = request(consumer, "people")
    approved = market.client("sc", "provider").licensing.approve(held.licence_request.name)
    deliver(market.regions["sc"])
    return str(approved.licence.name)


def test_cross_region_read_lookup_verify_recorded_on_both_sides(market: Trio) -> None:
    sc, cq = market.regions["sc"], market.regions["cq"]
    licence = _licence_for_people(market)
    consumer = market.client("cq", "consumer")
    me = market.party("cq", "consumer")

    rid = uuid.uuid4().hex
    result = consumer.access.read_result(licence, request_id=rid)
    assert result.table.num_rows == 40
    assert result.masking["phone"] == "PHONE"
    receipt = result.receipt
    assert receipt.signer_region == "sc"
    assert receipt.rows == 40
    assert receipt.entry_index is not None
    # Verifiable offline with sc's key and a proof from sc's ledger.
    proof = market.client("sc", "operator").ledger.prove_inclusion(sc.vkey, receipt.entry_index)
    verify_receipt_offline(receipt, proof, sc.vkey)

    looked = consumer.access.lookup(licence, {"id_no": people(1).column("id_no")[0].as_py()})
    assert looked.found
    verdict = consumer.access.verify(
        licence, {"id_no": people(1).column("id_no")[0].as_py(), "city": "成都"}
    )
    assert verdict.verdict == "VALID"

    # The provider recorded the uses; the home node a consumption entry per use.
    usage = market.sql(
        "sc",
        "SELECT request_id, consumer_region, ledger_index, ledger_leaf_hash FROM access_usage "
        "WHERE consumer_party = :p AND state = 'RECORDED' ORDER BY time_us",
        p=me,
    )
    assert len(usage) == 3
    assert {u[1] for u in usage} == {"cq"}
    rows = market.sql(
        "cq",
        "SELECT usage_record_id, provider_entry_index, provider_leaf_hash, ledger_index, mode, "
        "qty_rows, amount_fen FROM market_consumption ORDER BY usage_time_us",
    )
    assert [r[4] for r in rows] == ["BULK", "LOOKUP", "VERIFY"]
    for u, c in zip(usage, rows, strict=True):
        assert c[0] == f"{me}/{u[0]}"
        assert (c[1], bytes(c[2])) == (u[2], bytes(u[3]))
    assert rows[0][5] == 40
    assert rows[0][6] == 60
    # The consumption entry in cq's ledger cites sc's entry.
    entry = cq.running().ledger.get_entry(int(rows[0][3]))
    record = record_pb2.LedgerRecord.FromString(entry.data)
    cited = record.consumption_recorded.provider_entry
    assert (cited.origin, cited.index, cited.leaf_hash) == (
        "bashu.exchange/log/sc",
        receipt.entry_index,
        receipt.leaf_hash,
    )
    # The usage record on sc names cq as the relaying region.
    sc_record = consumer_usage_record(sc, int(usage[0][2]))
    assert sc_record.relay_region == "cq"
    assert sc_record.consumer_region == "cq"

    # Exactly once across both nodes: a retry returns the first receipt.
    sizes = (sc.running().ledger.size(), cq.running().ledger.size())
    again = consumer.access.read_result(licence, request_id=rid)
    assert again.receipt.body == receipt.body
    assert (sc.running().ledger.size(), cq.running().ledger.size()) == sizes
    assert market.sql("cq", "SELECT count(*) FROM market_consumption") == [(3,)]
    # The home node hands out the provider's receipt again from its record.
    kept = consumer.access.receipt(rid, region="sc")
    assert kept.body == receipt.body
    assert kept.signature == receipt.signature


def consumer_usage_record(region: Region, index: int) -> access_pb2.UsageRecord:
    entry = region.running().ledger.get_entry(index)
    return record_pb2.LedgerRecord.FromString(entry.data).usage_recorded.usage_record


def test_relaying_needs_a_licence_brokered_by_the_home_node(market: Trio) -> None:
    licence = _licence_for_people(market)
    # sg's consumer holds no copy of cq's consumer's licence: sg refuses to relay.
    other = market.client("sg", "consumer")
    with pytest.raises(SdkError) as caught:
        other.access.lookup(licence, {"id_no": "x"})
    assert caught.value.reason == "LICENCE_NOT_FOUND"


def test_a_slow_peer_times_out_and_is_reported(
    tmp_path: Path, region_db_urls: dict[str, str]
) -> None:
    """A peer that accepts the call but does not answer costs the deadline, no more."""
    release = threading.Event()

    def hang(request: bytes, context: grpc.ServicerContext) -> bytes:
        release.wait(30)
        return b""

    slow = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    slow.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "bashu.federation.v1.FederationService",
                {"SearchCatalog": grpc.unary_unary_rpc_method_handler(hang)},
            )
        ]
    )
    port = slow.add_insecure_port("127.0.0.1:0")
    slow.start()
    cq = prepare_region("cq", tmp_path / "cq", region_db_urls["cq"])
    fake = PeerConfig("sg", f"127.0.0.1:{port}", Signer.generate(ORIGIN_PREFIX + "sg").vkey())
    configure(cq, [cq], extra_peers=(fake,))
    cq.start()
    try:
        with clients.connect(cq.address, cq.keys["consumer"], region="cq") as client:
            timeout = Duration()
            timeout.FromMilliseconds(300)
            started = time.monotonic()
            found = client.catalog.stub.SearchProducts(
                catalog_pb2.SearchProductsRequest(peer_timeout=timeout)
            )
            elapsed = time.monotonic() - started
        assert found.degraded
        status = {s.region: s for s in found.peer_statuses}
        assert status["sg"].state == catalog_pb2.PEER_SEARCH_STATE_TIMEOUT
        assert status["cq"].state == catalog_pb2.PEER_SEARCH_STATE_OK
        assert elapsed < 5, elapsed  # the peer would hang for 30 s
    finally:
        release.set()
        cq.stop()
        slow.stop(0)


def test_a_relayed_read_the_consumer_abandons_is_still_recorded_on_both_sides(
    market: Trio,
) -> None:
    licence = _licence_for_people(market)
    consumer = market.client("cq", "consumer")
    me = market.party("cq", "consumer")
    rid = uuid.uuid4().hex
    stream = consumer.access.stream(licence, max_batch_rows=5, request_id=rid)
    for frame in stream:
        if frame.WhichOneof("frame") == "record_batch":
            break
    stream.cancel()  # type: ignore[attr-defined]
    # The home node fetches the provider's receipt of what it delivered, by itself.
    deadline = time.monotonic() + 30
    rows: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        rows = market.sql(
            "cq",
            "SELECT qty_rows, provider_entry_index FROM market_consumption "
            "WHERE usage_record_id = :u",
            u=f"{me}/{rid}",
        )
        if rows:
            break
        time.sleep(0.1)
    assert rows, "the abandoned read was never recorded on the home node"
    usage = market.sql(
        "sc",
        "SELECT qty_rows, ledger_index FROM access_usage WHERE request_id = :r AND state = "
        "'RECORDED'",
        r=rid,
    )
    assert rows == usage

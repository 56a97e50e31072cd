"""``bashu product`` and ``bashu licence`` as users run them: real processes, a real node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bashu.licensing.v1 import licensing_pb2
from google.protobuf import json_format

from tests.catalog.market import Market, descriptor, personal_descriptor, unique

BASHU = str(Path(sys.executable).with_name("bashu"))


def bashu(market: Market, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COLUMNS": "250",
        "BASHU_NODE": market.node.address,
        "BASHU_API_KEY": market.keys[who],
    }
    return subprocess.run(
        [BASHU, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def one_line_error(res: subprocess.CompletedProcess[str], reason: str) -> None:
    assert res.returncode == 1, res.stdout + res.stderr
    assert reason in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_provider_lists_consumer_finds_and_obtains_a_verified_licence(
    market: Market, tmp_path: Path
) -> None:
    tag, product_id = unique("cli"), unique()
    spec = tmp_path / "product.json"
    spec.write_text(json_format.MessageToJson(descriptor(market, keywords=[tag])), encoding="utf-8")
    res = bashu(
        market, "provider", "product", "create", "--descriptor", str(spec), "--id", product_id
    )
    assert res.returncode == 0, res.stderr
    assert f"listed regions/sc/products/{product_id} revision 1" in res.stdout
    res = bashu(
        market, "provider", "product", "tariff", "publish", product_id,
        "--unit", "per-row", "--price", "0.0150", "--purpose-price", "public-welfare=0",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert f"published regions/sc/products/{product_id}/tariffs/1" in res.stdout

    listing = bashu(market, "consumer", "product", "list", "--text", tag)
    assert listing.returncode == 0, listing.stderr
    assert product_id in listing.stdout
    assert "transport" in listing.stdout
    found = json.loads(
        bashu(market, "consumer", "product", "search", "--text", tag, "--json").stdout
    )
    assert [p["name"] for p in found] == [f"regions/sc/products/{product_id}"]

    saved = tmp_path / "bus.licence"
    res = bashu(
        market, "consumer", "licence", "request", product_id,
        "--purpose-class", "commercial", "--scenario", "FIN-CREDIT-01", "--mode", "bulk",
        "--rows", "1000", "--days", "30", "--save", str(saved),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "granted" in res.stdout
    ok = bashu(market, "consumer", "licence", "verify", str(saved), "--key", market.vkey)
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout
    assert f"regions/sc/products/{product_id}/tariffs/1" in ok.stdout
    # Flip one byte of the signed document inside the saved licence.
    data = bytearray(saved.read_bytes())
    signed = licensing_pb2.Licence.FromString(bytes(data)).document
    data[data.find(signed) + len(signed) // 2] ^= 0x01
    saved.write_bytes(bytes(data))
    one_line_error(
        bashu(market, "consumer", "licence", "verify", str(saved), "--key", market.vkey), "invalid"
    )
    mine = json.loads(bashu(market, "consumer", "licence", "list", "--json").stdout)
    assert any(lic["terms"]["product"].endswith(product_id) for lic in mine)


def test_held_request_is_approved_from_the_cli(market: Market) -> None:
    cat = market.client("provider").catalog
    product = cat.create_product(personal_descriptor(market), product_id=unique()).product.name
    res = bashu(
        market, "consumer", "licence", "request", product, "--purpose-class", "research",
        "--scenario", "SCI-01", "--mode", "bulk", "--days", "10", "--justification", "study",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "held" in res.stdout
    assert "PERSONAL_INFO_NEEDS_APPROVAL" in res.stdout
    request = next(w for w in res.stdout.split() if w.startswith("regions/sc/licenceRequests/"))
    request = request.rstrip(":")
    pending = bashu(
        market, "provider", "licence", "requests", "--state", "held", "--product", product
    )
    assert request in pending.stdout
    approved = bashu(market, "provider", "licence", "approve", request, "--comment", "ok")
    assert approved.returncode == 0, approved.stderr
    assert "granted" in approved.stdout
    again = bashu(market, "provider", "licence", "approve", request)
    one_line_error(again, "LICENCE_REQUEST_ALREADY_DECIDED")


def test_bad_input_is_one_clear_line(market: Market, tmp_path: Path) -> None:
    before = market.snapshot()
    bad = tmp_path / "bad.json"
    bad.write_text(json_format.MessageToJson(descriptor(market, fields=[])), encoding="utf-8")
    one_line_error(
        bashu(market, "provider", "product", "create", "--descriptor", str(bad)),
        "INVALID_DESCRIPTOR",
    )
    usage = bashu(market, "provider", "product", "tariff", "publish", "x1y", "--unit", "bogus")
    assert usage.returncode == 2
    assert "per-call" in usage.stderr
    one_line_error(
        bashu(market, "consumer", "product", "suspend", "regions/sc/products/x1y", "--reason", "r"),
        "ROLE_NOT_ALLOWED",
    )
    assert market.snapshot() == before
    rules = bashu(market, "consumer", "licence", "rules")
    assert rules.returncode == 0, rules.stderr
    assert "crossborder.approval" in rules.stdout
    assert "sc-policy/1" in rules.stdout

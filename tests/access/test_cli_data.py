"""``bashu data …`` and ``bashu usage …`` against a real node (in process)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from clients.cli import cli
from clients.cli._common import run_cli
from tests.access.conftest import Market, id_number


def _bashu(
    capsys: pytest.CaptureFixture[str], market: Market, role: str, *args: str
) -> tuple[int, str, str]:
    code = run_cli(
        cli, [*args[:2], "--node", market.address, "--api-key", market.keys[role], *args[2:]]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


def test_data_and_usage_commands(market: Market, capsys: pytest.CaptureFixture[str]) -> None:
    lic = market.licence()
    out_file = market.data_dir / "out.parquet"
    code, _, err = _bashu(
        capsys,
        market,
        "consumer",
        "data",
        "read",
        lic,
        "--where",
        "city = 成都",
        "--column",
        "city",
        "--column",
        "score",
        "--out",
        str(out_file),
        "--request-id",
        "cli-1",
    )
    assert code == 0, err
    assert pq.read_table(out_file).num_rows == 50
    assert "receipt cli-1: 1 call, 50 rows" in err

    code, out, err = _bashu(
        capsys, market, "consumer", "data", "lookup", lic, f"id_no={id_number(4)}", "--json"
    )
    assert code == 0, err
    assert json.loads(out)[0]["city"] == "成都"

    code, out, _ = _bashu(
        capsys, market, "consumer", "data", "verify", lic, f"id_no={id_number(4)}", "name=nobody"
    )
    assert (code, out.strip()) == (2, "INVALID")

    code, out, err = _bashu(capsys, market, "consumer", "data", "receipt", "cli-1", "--verify")
    assert code == 0, err
    assert "verified" in out

    code, out, err = _bashu(
        capsys, market, "provider", "usage", "summary", "--by", "licence", "--json"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["rows"][0]["key"] == lic
    assert summary["total"]["recordCount"] == "3"

    code, out, err = _bashu(capsys, market, "provider", "usage", "list")
    assert code == 0, err
    assert "lookup" in out

    code, _, err = _bashu(capsys, market, "consumer2", "data", "read", lic)
    assert code == 1
    assert "NOT_LICENCE_HOLDER" in err
    assert "Traceback" not in err

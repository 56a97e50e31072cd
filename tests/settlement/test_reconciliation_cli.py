"""``bashu reconcile …`` against two real nodes: a run with its result table, list,
show, discrepancies as CSV and JSON, and one-line errors on bad input."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.cli import cli
from clients.cli._common import run_cli
from tests.settlement.reconcile_world import PERIOD, World, duo_db_urls, start_world, uses


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    urls = duo_db_urls(db_url)
    w = start_world(tmp_path, next(urls))
    try:
        yield w
    finally:
        for region in w.regions.values():
            region.stop()
        w.close()
        urls.close()


def _bashu(
    capsys: pytest.CaptureFixture[str], world: World, *args: str, role: str = "finance"
) -> tuple[int, str, str]:
    sc = world.regions["sc"]
    code = run_cli(cli, [args[0], "--node", sc.address, "--api-key", sc.keys[role], *args[1:]])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_reconcile_commands(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for u in uses(8, "sc", "cq") + uses(4, "cq", "sc"):
        world.record_both(u)
    changed = uses(1, "sc", "cq", seed="changed-")[0]
    world.record_consumption(
        changed, world.record_usage(changed), amount_fen=changed.amount_fen + 1
    )

    code, out, err = _bashu(
        capsys, world, "reconcile", "--period", PERIOD, "--counterparty", "cq", "--request-id", "r1"
    )
    assert code == 0, err
    assert "Reconciliation" in out
    assert "differences found" in out
    # One per tier: the sc>cq totals, its product-day, the record.
    assert "First 3 discrepancies" in out
    name = next(w for w in out.split() if "/reconciliationReports/" in w)

    # Within a tolerance of 1 fen the same data passes.
    code, out, err = _bashu(
        capsys, world, "reconcile", "--period", PERIOD, "--counterparty", "cq",
        "--amount-tolerance", "1",
    )  # fmt: skip
    assert code == 0, err
    assert "no differences beyond tolerance" in out

    code, out, _ = _bashu(capsys, world, "reconcile", "list", "--period", PERIOD)
    assert code == 0
    assert name.rsplit("/", 1)[-1] in out
    code, out, _ = _bashu(capsys, world, "reconcile", "show", name)
    assert code == 0
    assert "records" in out

    target = tmp_path / "d.csv"
    code, _, err = _bashu(
        capsys, world, "reconcile", "discrepancies", name, "--tier", "record",
        "--format", "csv", "--out", str(target),
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(target.read_text(encoding="utf-8").splitlines()))
    assert [(r["key"], r["status"], r["fields"]) for r in rows] == [
        (changed.record_id, "mismatched", "amount")
    ]
    assert int(rows[0]["their fen"]) - int(rows[0]["our fen"]) == 1
    code, out, _ = _bashu(
        capsys, world, "reconcile", "discrepancies", name, "--status", "mismatched",
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    assert {d["tier"] for d in json.loads(out)} == {"statement-totals", "product-day", "record"}


@pytest.mark.parametrize(
    "args",
    [
        ("reconcile", "--period", "2026-13", "--counterparty", "cq"),
        ("reconcile", "--period", PERIOD, "--counterparty", "Not A Region"),
        ("reconcile", "--period", PERIOD),
        ("reconcile", "--period", PERIOD, "--counterparty", "sg"),
        ("reconcile", "--period", "2099-01", "--counterparty", "cq"),
        ("reconcile", "show", f"regions/sc/periods/{PERIOD}/reconciliationReports/{'0' * 32}"),
        ("reconcile", "show", "not-a-report"),
        ("reconcile", "discrepancies", "x", "--status", "bogus"),
        ("reconcile", "list", "--period", "yesterday"),
    ],
)
def test_bad_input_is_one_line(
    world: World, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    code, _, err = _bashu(capsys, world, *args)
    assert code != 0
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines, "no error printed"
    assert "Traceback" not in err
    # click's usage errors add a "Usage:"/"Try" preamble; the error itself is one line.
    assert len([ln for ln in lines if ln.lower().startswith("error")]) == 1

"""``bashu settle …`` and ``bashu dispute …`` against two real nodes (in process)."""

from __future__ import annotations

import re

import pytest

from clients.cli import cli
from clients.cli._common import run_cli
from tests.settlement.test_service_support import (
    Federation,
    oct_,
    pair,
    region_db_urls,
    seed_use,
)

__all__ = ["pair", "region_db_urls"]


def bashu(
    capsys: pytest.CaptureFixture[str], fed: Federation, region: str, role: str, *args: str
) -> tuple[int, str, str]:
    r = fed[region]
    argv = [*args[:2], "--node", r.address, "--api-key", r.keys[role], *args[2:]]
    code = run_cli(cli, argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_settle_commands(pair: Federation, capsys: pytest.CaptureFixture[str]) -> None:
    seed_use(pair["sc"], pair["cq"], at=oct_(3), amount_fen=123456)
    seed_use(pair["cq"], pair["sc"], at=oct_(4), amount_fen=456)
    for region in ("sc", "cq"):
        code, out, err = bashu(capsys, pair, region, "finance", "settle", "close", "2026-10")
        assert code == 0, err
        assert "closing" in out
        code, out, err = bashu(
            capsys, pair, region, "finance", "settle", "close", "2026-10", "--now"
        )
        assert code == 0, err
        assert "2026-10: closed" in out

    code, out, err = bashu(
        capsys, pair, "sc", "finance", "settle", "statement", "2026-10", "--counterparty", "cq"
    )
    assert code == 0, err
    assert "1,234.56" in out
    assert "net: cq pays sc 1,230.00 CNY" in out
    digest = re.search(r"content digest: ([0-9a-f]{64})", out)
    assert digest is not None

    code, out, err = bashu(
        capsys, pair, "sc", "finance", "settle", "sign", "2026-10",
        "--counterparty", "cq", "--digest", digest.group(1),
    )  # fmt: skip
    assert code == 0, err
    assert "partially-signed" in out
    pair.deliver()
    code, out, err = bashu(
        capsys, pair, "cq", "finance", "settle", "statement", "2026-10", "--counterparty", "sc",
        "--key", f"sc={pair['sc'].vkey}", "--key", f"cq={pair['cq'].vkey}",
    )  # fmt: skip
    assert code == 0, err
    assert "state: signed" in out
    assert "signatures verified: cq, sc" in out

    code, out, err = bashu(capsys, pair, "sc", "finance", "settle", "net", "2026-10")
    assert code == 0, err
    assert "1. Net obligation of each statement" in out
    assert "payer\\payee" in out
    assert "cq → sc: 1,230.00" in out
    assert "conserved: yes" in out

    code, out, err = bashu(capsys, pair, "sc", "finance", "settle", "periods")
    assert code == 0, err
    assert "2026-10" in out

    # Bad input: one line on stderr, non-zero exit, no traceback.
    for args in (
        ("settle", "close", "2026-13-x"),
        ("settle", "sign", "2026-10", "--counterparty", "cq", "--digest", "abc"),
        ("settle", "sign", "2026-10", "--counterparty", "cq", "--digest", "00" * 32),
        ("settle", "statement", "2026-10", "--counterparty", "zz"),
        ("settle", "net", "2026-12"),
    ):
        code, out, err = bashu(capsys, pair, "sc", "finance", *args)
        assert code != 0, args
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) <= 4, err
        assert err.strip(), args


def test_dispute_commands(pair: Federation, capsys: pytest.CaptureFixture[str]) -> None:
    use = seed_use(pair["sc"], pair["cq"], at=oct_(3), amount_fen=5000)
    for region in ("sc", "cq"):
        pair.client(region).settlement.close_now("2026-10")
    code, out, err = bashu(
        capsys, pair, "cq", "finance", "dispute", "raise", "2026-10",
        "--provider", "sc", "--consumer", "cq", "--amount", "2000",
        "--reason-code", "QUANTITY_MISMATCH", "--description", "fewer rows arrived",
        "--entry", f"sc:{use.provider_index}:{use.provider_leaf.hex()}",
    )  # fmt: skip
    assert code == 0, err
    name = re.search(r"dispute (regions/cq/disputes/\w+)", out)
    assert name is not None
    dispute = name.group(1)
    assert "raised" in out
    pair.deliver()

    evidence = pair["cq"].data_dir / "rows.csv"
    evidence.write_text("row,seen\n1,yes\n", encoding="utf-8")
    code, out, err = bashu(
        capsys, pair, "cq", "finance", "dispute", "evidence", dispute,
        "--file", str(evidence), "--description", "our row log",
    )  # fmt: skip
    assert code == 0, err
    assert "evidence-added" in out
    pair.deliver()
    code, out, err = bashu(
        capsys, pair, "sc", "finance", "dispute", "respond", dispute,
        "--response", "agreed in part", "--concede", "1000",
    )  # fmt: skip
    assert code == 0, err
    assert "responded" in out
    code, out, err = bashu(
        capsys, pair, "sc", "operator", "dispute", "decide", dispute,
        "--outcome", "upheld", "--rationale", "rows were missing",
    )  # fmt: skip
    assert code == 0, err
    assert "decided" in out
    assert "-20.00 CNY in period 2026-11" in out
    pair.deliver()

    code, out, err = bashu(capsys, pair, "cq", "finance", "dispute", "show", dispute)
    assert code == 0, err
    assert "decision: upheld, awarded 20.00 CNY" in out
    code, out, err = bashu(capsys, pair, "cq", "finance", "dispute", "list", "--state", "decided")
    assert code == 0, err
    assert dispute in out

    for role, args in (
        ("finance", ("dispute", "raise", "2026-10", "--provider", "sc", "--consumer", "cq",
                     "--amount", "0", "--reason-code", "X", "--description", "d")),
        ("finance", ("dispute", "raise", "2026-10", "--provider", "sc", "--consumer", "cq",
                     "--amount", "5", "--reason-code", "bad code", "--description", "d")),
        ("finance", ("dispute", "evidence", dispute, "--entry", "sc:1:zz")),
        ("finance", ("dispute", "show", "regions/cq/disputes/nope")),
        ("finance", ("dispute", "decide", dispute, "--outcome", "rejected", "--rationale", "r")),
    ):  # fmt: skip
        code, out, err = bashu(capsys, pair, "cq", role, *args)
        assert code != 0, args
        assert "Traceback" not in err
        assert err.strip(), args

"""The demo's synthetic data: well-formed identifiers, deterministic by seed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from clients.cli.demo_data import (
    generate,
    id_number,
    is_valid_id_number,
    is_valid_uscc,
    organisation_code,
    uscc,
)

# Published examples: the GB 32100-2015 sample code and the GB 11643-1999 sample number.
KNOWN_USCC = "91350100M000100Y43"
KNOWN_ID = "11010519491231002X"


def test_known_identifiers_check_out() -> None:
    assert is_valid_uscc(KNOWN_USCC)
    assert is_valid_id_number(KNOWN_ID)
    assert id_number("110105", date(1949, 12, 31), 2) == KNOWN_ID
    assert uscc("350100", "M000100Y") == KNOWN_USCC


@pytest.mark.parametrize("position", range(18))
def test_a_changed_character_breaks_a_credit_code(position: int) -> None:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    original = KNOWN_USCC[position]
    for replacement in chars:
        if replacement == original:
            continue
        twin = KNOWN_USCC[:position] + replacement + KNOWN_USCC[position + 1 :]
        # Mod 31 over distinct weights catches every single substitution.
        assert not is_valid_uscc(twin), twin


@pytest.mark.parametrize("position", range(18))
def test_a_changed_digit_breaks_an_identity_number(position: int) -> None:
    original = KNOWN_ID[position]
    for replacement in "0123456789X":
        if replacement == original or (replacement == "X" and position != 17):
            continue
        twin = KNOWN_ID[:position] + replacement + KNOWN_ID[position + 1 :]
        assert not is_valid_id_number(twin), twin


def test_organisation_codes_use_x_for_ten() -> None:
    codes = {organisation_code(f"{i:08d}")[-1] for i in range(200)}
    assert "X" in codes
    assert codes <= set("0123456789X")
    with pytest.raises(ValueError, match="8 characters"):
        organisation_code("123")


def test_generated_tables_are_plausible() -> None:
    data = generate(seed=1, enterprises=300)
    codes = data.enterprises["uscc"].to_pylist()
    assert len(set(codes)) == len(codes) == 300
    assert all(is_valid_uscc(c) and c.startswith("9151") for c in codes)
    assert all(is_valid_id_number(i) for i in data.enterprises["legal_rep_id_no"].to_pylist())
    assert all(is_valid_uscc(c) and c[2:4] == "50" for c in data.licences["uscc"].to_pylist())
    beds = data.beds.to_pylist()
    assert all(b["beds_available"] == b["beds_total"] - b["beds_occupied"] >= 0 for b in beds)
    assert len(set(data.parcels["parcel_id"].to_pylist())) == data.parcels.num_rows
    assert data.traffic.num_rows == 10 * 2 * 24


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = (
        generate(seed=5, enterprises=200),
        generate(seed=5, enterprises=200),
        generate(seed=6, enterprises=200),
    )
    for name in ("enterprises", "traffic", "licences", "beds", "parcels"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.enterprises.equals(c.enterprises)


def test_spans_are_read_back_from_a_log_mixed_with_other_lines(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    from clients.cli.demo_trace import _spans

    log = tmp_path / "node.log"
    with log.open("w", encoding="utf-8") as out:
        out.write("bashu node sc listening on 127.0.0.1:1\nINFO something { not json\n")
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner"):
            pass
        provider.shutdown()
        out.write("bashu node sc stopped\n")
    spans = list(_spans(log))
    assert [s["name"] for s in spans] == ["inner", "outer"]
    assert spans[0]["context"]["trace_id"] == spans[1]["context"]["trace_id"]

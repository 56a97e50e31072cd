"""node.toml: the settlement cadence and the peers' countries, and the errors that
name the bad field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.config import load_config, render_config
from services.errors import ConfigError
from services.settlement.periods import CadenceKind

BASE = render_config("sc", "127.0.0.1:0", "sqlite:///node.db", "region.key")


def test_default_settlement_is_calendar_months_with_five_days_grace(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, ""))
    cadence = config.settlement.build_cadence()
    assert cadence.kind is CadenceKind.MONTH
    assert cadence.period_of(datetime(2026, 11, 28, tzinfo=UTC)).id == "2026-11"
    assert config.settlement.grace_window == timedelta(days=5)


def test_fixed_cadence_from_config(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            '\n[settlement]\ncadence = "fixed"\nperiod_length_s = 3600\n'
            'anchor = "2026-11-28T00:30:00Z"\ngrace_window_s = 0\n',
        )
    )
    span = config.settlement.build_cadence().period_of(datetime(2026, 11, 28, 13, 45, tzinfo=UTC))
    assert (span.start, span.end) == (
        datetime(2026, 11, 28, 13, 30, tzinfo=UTC),
        datetime(2026, 11, 28, 14, 30, tzinfo=UTC),
    )
    assert config.settlement.grace_window == timedelta(0)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('\n[settlement]\ncadence = "daily"\n', "settlement.cadence"),
        (
            '\n[settlement]\ncadence = "fixed"\nperiod_length_s = 60\n'
            'anchor = "2026-11-28T00:00:00Z"\n',
            "settlement",
        ),
        (
            '\n[settlement]\ncadence = "fixed"\nperiod_length_s = 3600\nanchor = "noon"\n',
            "settlement.anchor",
        ),
        (
            '\n[settlement]\ncadence = "fixed"\nperiod_length_s = 3600\n'
            'anchor = "2026-11-28T00:00:00"\n',
            "settlement.anchor",
        ),
        (
            '\n[settlement]\ncadence = "month"\nanchor = "2026-11-28T00:00:00Z"\n',
            "settlement.cadence",
        ),
        ("\n[settlement]\ngrace_window_s = -1\n", "settlement.grace_window_s"),
        ('\n[settlement]\ngrace_window_s = "5d"\n', "settlement.grace_window_s"),
        ("\n[settlement]\nperiod = 1\n", "settlement.period"),
    ],
)
def test_bad_settlement_settings_name_their_field(tmp_path: Path, extra: str, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, extra))
    assert err.value.field == field


def test_peer_country(tmp_path: Path) -> None:
    from ledger.note import Signer

    vkey = Signer.generate("bashu.exchange/log/sg").vkey()
    peer = f'\n[[peers]]\nregion = "sg"\naddress = "127.0.0.1:1"\nverifier_key = "{vkey}"\n'
    assert load_config(_write(tmp_path, peer)).peers[0].country == "CN"
    config = load_config(_write(tmp_path, peer + 'country = "SG"\n'))
    assert config.peers[0].country == "SG"
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, peer + 'country = "Singapore"\n'))
    assert err.value.field == "peers[0].country"


def _write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return path


def test_a_fresh_config_names_the_metering_process_setting(tmp_path: Path) -> None:
    cfg = tmp_path / "node.toml"
    cfg.write_text(BASE)
    assert "metering_process = true" in BASE
    assert load_config(cfg).limits.metering_process is True
    cfg.write_text(BASE.replace("metering_process = true", "metering_process = 1"))
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.field == "limits.metering_process"

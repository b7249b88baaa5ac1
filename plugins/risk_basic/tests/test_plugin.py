"""Registration through the installed entry point, and every Params class through bot YAML."""

from __future__ import annotations

import enum
import re
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from genesis_core import ConfigError, Plugins, load_config, load_plugins
from genesis_risk_basic import POLICIES
from genesis_risk_basic.guards import (
    ConfidenceBandsOverride,
    ConfidenceBandsParams,
    CooldownOverride,
    CooldownParams,
    CorrelationGuardParams,
    DrawdownGuardParams,
    ExposureCapOverride,
    ExposureCapParams,
    KillSwitchParams,
    MaxDailyLossParams,
    MaxOpenPositionsParams,
    TradingWindowParams,
    VolatilityFilterOverride,
    VolatilityFilterParams,
)
from genesis_risk_basic.sizing import (
    ConfidenceScaledOverride,
    ConfidenceScaledParams,
    FixedFractionOverride,
    FixedFractionParams,
    KellyParams,
    RiskPerTradeOverride,
    RiskPerTradeParams,
    VolatilityTargetOverride,
    VolatilityTargetParams,
)
from genesis_risk_basic.stops import StopMode, StopsOverride, StopsParams


NAMES = {
    "kill_switch", "max_daily_loss", "drawdown_guard", "max_open_positions", "exposure_cap",
    "cooldown", "trading_window", "confidence_bands", "volatility_filter", "correlation_guard",
    "fixed_fraction", "confidence_scaled", "risk_per_trade", "volatility_target", "kelly",
    "stops",
}
D = Decimal


def samples(tmp: Path) -> dict[str, object]:
    """One Params object per policy with every field away from its default."""
    return {
        "kill_switch": KillSwitchParams(engaged=True, flag_file=tmp / "halt",
                                        max_consecutive_losses=4, max_realised_loss=D("250.5")),
        "max_daily_loss": MaxDailyLossParams(max_loss_pct=D("0.03"), reset_hour=7),
        "drawdown_guard": DrawdownGuardParams(start_pct=D("0.02"), halt_pct=D("0.2"),
                                              min_scale=D("0.5"), amount_decimals=6),
        "max_open_positions": MaxOpenPositionsParams(max_positions=5),
        "exposure_cap": ExposureCapParams(
            max_symbol_pct=None, max_symbol_notional=D("1000"), max_total_pct=D("0.9"),
            max_total_notional=D("5000"), amount_decimals=4,
            per_symbol={"BTCUSD": ExposureCapOverride(max_symbol_pct=D("0.3"))}),
        "cooldown": CooldownParams(minutes=15, after_stop_minutes=240,
                                   per_symbol={"ETHUSD": CooldownOverride(minutes=1)}),
        "trading_window": TradingWindowParams(timezone="Europe/Stockholm",
                                              weekdays=["mon", "fri"],
                                              sessions=["08:00-12:00", "22:00-02:00"]),
        "confidence_bands": ConfidenceBandsParams(
            auto_above=0.85, confirm_from=0.7,
            per_symbol={"ETHUSD": ConfidenceBandsOverride(auto_above=0.9)}),
        "volatility_filter": VolatilityFilterParams(
            max_atr_pct=3.5, max_return_std=0.02, lookback=60, min_returns=30,
            per_symbol={"BTCUSD": VolatilityFilterOverride(max_atr_pct=6.0)}),
        "correlation_guard": CorrelationGuardParams(max_correlation=0.7, lookback=40,
                                                    min_observations=25),
        "fixed_fraction": FixedFractionParams(
            fraction=D("0.10"), amount_decimals=5,
            per_symbol={"BTCUSD": FixedFractionOverride(fraction=D("0.02"))}),
        "confidence_scaled": ConfidenceScaledParams(
            min_fraction=D("0.04"), max_fraction=D("0.12"), low=0.65, high=0.95,
            amount_decimals=6, per_symbol={"BTCUSD": ConfidenceScaledOverride(high=0.9)}),
        "risk_per_trade": RiskPerTradeParams(
            risk_fraction=D("0.01"), max_fraction=D("2"), amount_decimals=3,
            per_symbol={"ETHUSD": RiskPerTradeOverride(risk_fraction=D("0.005"))}),
        "volatility_target": VolatilityTargetParams(
            target_fraction=D("0.005"), max_fraction=D("0.5"), amount_decimals=2,
            per_symbol={"ETHUSD": VolatilityTargetOverride(max_fraction=D("0.25"))}),
        "kelly": KellyParams(kelly_multiplier=D("0.5"), min_trades=30, lookback_trades=200,
                             fallback_fraction=D("0.01"), max_fraction=D("0.2"),
                             amount_decimals=4),
        "stops": StopsParams(
            mode=StopMode.ATR, strong_pct=D("0.02"), medium_pct=D("0.04"), weak_pct=D("0.06"),
            atr_multiple=D("1.5"), take_profit_ratio=D("3"), trailing_pct=D("0.01"),
            trailing_atr_multiple=D("2"), keep_strategy_stops=True,
            per_symbol={"BTCUSD": StopsOverride(mode=StopMode.PERCENT, weak_pct=D("0.07"))}),
    }


def _plain(instance: Any, field: Any, value: Any) -> Any:
    if isinstance(value, Decimal | Path):
        return str(value)
    return value.value if isinstance(value, enum.Enum) else value


def bot_yaml(risk: list[dict[str, Any]]) -> str:
    head = textwrap.dedent("""\
        name: risk-test
        mode: paper
        markets: [{symbol: BTCUSD, timeframes: [1h]}, {symbol: ETHUSD, timeframes: [1h]}]
        data_source: {plugin: replay, params: {files: []}}
        executor: {plugin: paper}
        strategies: [{plugin: ema_rsi}]
        """)
    return head + yaml.safe_dump({"risk": risk}, sort_keys=False)


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins()


def test_the_entry_point_registers_every_policy(plugins: Plugins) -> None:
    assert NAMES == {p.name for p in POLICIES}
    registered = {e.name: e for e in plugins.registry if e.kind == "risk_policy"}
    assert NAMES <= set(registered)
    for name in NAMES:
        assert ("risk_basic", "genesis-risk-basic") == (
            registered[name].origin.plugin, registered[name].origin.distribution)
        assert registered[name].cls.summary()


def test_every_params_class_round_trips_through_bot_yaml(plugins: Plugins,
                                                         tmp_path: Path) -> None:
    expected = samples(tmp_path)
    assert NAMES == set(expected)
    risk = [{"plugin": name, "params": attrs.asdict(params, value_serializer=_plain)}
            for name, params in expected.items()]
    path = tmp_path / "bot.yaml"
    path.write_text(bot_yaml(risk))
    config = load_config(path, plugins)
    assert list(expected.values()) == [ref.params for ref in config.risk]
    for name, params in expected.items():
        assert params != type(params)(), f"{name} sample equals the defaults"


def test_empty_params_give_the_documented_defaults(plugins: Plugins, tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(bot_yaml([{"plugin": name} for name in sorted(NAMES)]))
    config = load_config(path, plugins)
    assert [plugins.registry.get("risk_policy", ref.plugin).cls.Params() for ref in
            config.risk] == [ref.params for ref in config.risk]


def test_the_paper_demo_params_still_work(plugins: Plugins) -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "paper-demo.yaml"
    config = load_config(example, plugins)
    assert ["kill_switch", "max_open_positions", "fixed_fraction"] == [
        ref.plugin for ref in config.risk]
    assert D("0.10") == config.risk[2].params.fraction


@pytest.mark.parametrize(("risk", "error"), [
    ({"plugin": "fixed_fraction", "params": {"per_symbol": {"BTCUSD": {"fraktion": 0.1}}}},
     "risk[0].params.per_symbol.BTCUSD.fraktion: unknown key"),
    ({"plugin": "fixed_fraction", "params": {"per_symbol": {"BTCUSD": {"fraction": 2}}}},
     "risk[0].params.per_symbol.BTCUSD.fraction: must be in (0, 1], got 2"),
    ({"plugin": "exposure_cap", "params": {"per_symbol": {"BTCUSD": {"max_total_pct": 0.3}}}},
     "risk[0].params.per_symbol.BTCUSD.max_total_pct: unknown key"),
    ({"plugin": "confidence_bands", "params": {"per_symbol": {"ETHUSD": {"auto_above": 0.5}}}},
     "risk[0].params.per_symbol: invalid for ETHUSD: 'auto_above' must be >= confirm_from "
     "(0.6), got 0.5"),
    ({"plugin": "confidence_bands", "params": {"auto_above": "0.9"}},
     "risk[0].params.auto_above: expected a finite number, got '0.9'"),
    ({"plugin": "trading_window", "params": {"timezone": "Mars/Olympus"}},
     "risk[0].params.timezone: must be an IANA time zone such as UTC or Europe/Stockholm, "
     "got 'Mars/Olympus'"),
    ({"plugin": "trading_window", "params": {"weekdays": ["monday"]}},
     "risk[0].params.weekdays[0]: expected one of mon, tue, wed, thu, fri, sat, sun, "
     "got 'monday'"),
    ({"plugin": "stops", "params": {"mode": "fixed"}},
     "risk[0].params.mode: expected one of percent, atr, got 'fixed'"),
    ({"plugin": "drawdown_guard", "params": {"start_pct": 0.3}},
     "risk[0].params.halt_pct: must be > start_pct (0.3), got 0.15"),
])
def test_bad_params_are_located_errors(plugins: Plugins, tmp_path: Path, risk: dict[str, Any],
                                       error: str) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(bot_yaml([risk]))
    with pytest.raises(ConfigError) as caught:
        load_config(path, plugins)
    located = re.compile(rf" \({re.escape(str(path))}:\d+\)$")
    assert all(located.search(e) for e in caught.value.errors), caught.value.errors
    assert [error] == [located.sub("", e) for e in caught.value.errors]


def test_the_readme_example_is_a_valid_risk_chain(plugins: Plugins, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b.split("\n", 1)[1] for b in readme.split("```")[1:]
                 if b.startswith("yaml\nrisk:"))
    path = tmp_path / "bot.yaml"
    path.write_text(bot_yaml([]).replace("risk: []\n", block))
    config = load_config(path, plugins)
    names = [ref.plugin for ref in config.risk]
    assert 12 == len(names)
    assert names.index("stops") < names.index("risk_per_trade") < names.index("exposure_cap")
    assert D("0.30") == config.risk[-1].params.for_symbol("BTCUSD").max_symbol_pct
    assert tmp_path / "genesis.halt" == config.risk[0].params.flag_file

"""The core indicator set as registered components: batch compute equals the streaming twin."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genesis_core import Candles, load_plugins

from .conftest import SHARED_DATA


@pytest.fixture(scope="module")
def registry():
    return load_plugins(entry_points=False).registry


@pytest.fixture(scope="module")
def candles() -> Candles:
    return Candles.from_csv(SHARED_DATA / "bitfinex_BTCUSD_1h.csv", symbol="BTCUSD",
                            timeframe="1h")


def test_every_core_indicator_is_registered_by_the_default_plugin(registry) -> None:
    names = registry.names("indicator")
    assert 21 == len(names)
    assert {"sma", "ema", "rsi", "atr", "adx", "bbands", "macd", "fvg", "regime"} <= set(names)
    origin = registry.get("indicator", "ema").origin
    assert ("genesis_core.default_plugins.indicators", "genesis-core") == (
        origin.plugin, origin.distribution)


def test_components_stream_exactly_what_they_compute(registry, candles) -> None:
    """Every registered indicator: the streaming adapter reproduces the batch output bit for bit."""
    for name in registry.names("indicator"):
        component = registry.get("indicator", name).cls
        indicator = component(component.Params())
        batch = indicator.compute(candles)
        assert set(component.outputs) == set(batch)
        state = indicator.stream()
        for i in range(len(candles)):
            live = state.update(candles.candle(i))
            for output, values in batch.items():
                expected, got = values[i], live[output]
                assert (math.isnan(expected) and math.isnan(got)) or expected == got, (
                    f"{name}.{output} bar {i}: batch {expected} stream {got}")


def test_warmup_is_the_nan_prefix(registry, candles) -> None:
    ema = registry.get("indicator", "ema").cls
    indicator = ema(ema.Params(period=10))
    assert 9 == indicator.warmup()
    values = indicator.compute(candles)["value"]
    assert np.isnan(values[:9]).all()
    assert np.isfinite(values[9])


def test_source_param_selects_the_column(registry, candles) -> None:
    sma = registry.get("indicator", "sma").cls
    on_high = sma(sma.Params(period=3, source="high")).compute(candles)["value"]
    assert pytest.approx(candles.high[:3].mean(), rel=1e-12) == on_high[2]

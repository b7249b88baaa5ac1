"""The ema_rsi strategy on real candles: signals, rules, and the core's strategy checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genesis_core import Candles, ConfigError, SignalSide
from genesis_core.testing import check_strategy
from genesis_strategy_ema_rsi import EmaRsiParams, EmaRsiStrategy


DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture(scope="module")
def candles() -> Candles:
    return Candles.from_csv(DATA / "bitfinex_BTCUSD_1h.csv", symbol="BTCUSD", timeframe="1h")


def test_signals_on_real_candles_follow_the_documented_rules(candles) -> None:
    strategy = EmaRsiStrategy(EmaRsiParams())
    signals = strategy.generate(candles)
    assert len(signals) > 5
    scores = strategy.scores(candles)
    index = {candles.close_time(i): i for i in range(len(candles))}
    for signal in signals:
        i = index[signal.timestamp]
        buy = signal.side is SignalSide.BUY
        assert np.sign(scores["fast"][i] - scores["slow"][i]) == (1 if buy else -1)
        assert np.sign(scores["fast"][i - 1] - scores["slow"][i - 1]) != (1 if buy else -1)
        assert signal.confidence >= 0.5
        stop_pct = abs(signal.price - signal.stop_loss) / signal.price * 100
        assert stop_pct == pytest.approx(8 - 5 * signal.confidence, rel=1e-12)
        distance = abs(signal.take_profit - signal.price)
        assert distance == pytest.approx(2 * abs(signal.price - signal.stop_loss), rel=1e-12)
        assert (signal.stop_loss < signal.price) == buy
        assert signal.price == candles.close[i]


def test_passes_the_core_strategy_checks(candles) -> None:
    check_strategy(lambda: EmaRsiStrategy(EmaRsiParams(fast=9, slow=21)), candles,
                   live_start=300)


def test_atr_stop_mode(candles) -> None:
    strategy = EmaRsiStrategy(EmaRsiParams(stop_mode="atr", atr_stop_multiple=1.5))
    scores = strategy.scores(candles)
    index = {candles.close_time(i): i for i in range(len(candles))}
    for signal in strategy.generate(candles):
        atr = scores["atr_pct"][index[signal.timestamp]] / 100 * signal.price
        assert abs(signal.price - signal.stop_loss) == pytest.approx(1.5 * atr, rel=1e-12)


def test_a_strategy_that_peeks_is_caught(candles) -> None:
    """The look-ahead check can fail: a copy that reads the next bar is refused."""

    class Peeking(EmaRsiStrategy):
        def scores(self, c: Candles):
            s = super().scores(c)
            s["direction"] = np.append(s["direction"][1:], s["direction"][-1:])
            return s

    with pytest.raises(AssertionError, match=r"live \(bar by bar\) gave"):
        check_strategy(lambda: Peeking(EmaRsiParams()), candles, live_start=300)


def test_a_latest_that_disagrees_with_generate_is_caught(candles) -> None:
    """A fast live path (``latest``) must give what ``generate`` stamps at the last close."""

    class Forgetful(EmaRsiStrategy):
        def latest(self, c: Candles):
            return []

    with pytest.raises(AssertionError, match=r"latest\(\) at bar \d+ gave 0 signal"):
        check_strategy(lambda: Forgetful(EmaRsiParams()), candles, live_start=300)


def test_invalid_params_are_refused() -> None:
    with pytest.raises(ValueError, match="'slow' must be greater than fast"):
        EmaRsiParams(fast=30, slow=20)
    assert ConfigError  # params errors surface through config check with the YAML line

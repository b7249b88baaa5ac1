"""The fvg strategy: gap rules on real candles, no back-dating, the core's strategy checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesis_core import Candles, SignalSide
from genesis_core.testing import check_strategy
from genesis_strategy_fvg import FvgParams, FvgStrategy


DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture(scope="module")
def candles() -> Candles:
    return Candles.from_csv(DATA / "bitfinex_BTCUSD_1h.csv", symbol="BTCUSD", timeframe="1h")


def test_entries_retrace_into_a_gap_that_existed_before(candles) -> None:
    strategy = FvgStrategy(FvgParams())
    signals = strategy.generate(candles)
    assert len(signals) > 5
    index = {candles.close_time(i): i for i in range(len(candles))}
    for signal in signals:
        t = index[signal.timestamp]
        bounds = signal.reason.split(" FVG ")[1].split(" ")[0]
        buy = signal.side is SignalSide.BUY
        j = _gap_bar(candles, t, buy, *map(float, bounds.split("-")))
        assert 0 < t - j <= FvgParams().max_age  # known (third bar closed) before the entry
        if buy:
            bottom, top = candles.high[j - 2], candles.low[j]
            assert top > bottom
            assert candles.low[t] <= top
            assert candles.close[t] >= bottom
            assert signal.stop_loss < bottom
        else:
            bottom, top = candles.high[j], candles.low[j - 2]
            assert top > bottom
            assert candles.high[t] >= bottom
            assert signal.stop_loss > top


def _gap_bar(candles: Candles, t: int, buy: bool, bottom: float, top: float) -> int:
    for j in range(t - 1, 1, -1):
        lo, hi = (candles.high[j - 2], candles.low[j]) if buy else (candles.high[j],
                                                                   candles.low[j - 2])
        if f"{lo:g}-{hi:g}" == f"{bottom:g}-{top:g}":
            return j
    raise AssertionError(f"no gap {bottom}-{top} before bar {t}")


def test_passes_the_core_strategy_checks(candles) -> None:
    check_strategy(lambda: FvgStrategy(FvgParams(trend_period=20)), candles, live_start=100)


def test_a_gap_is_never_back_dated() -> None:
    """Three bars make a bullish gap; nothing can be signalled before the third has closed."""
    base = [(i * 60_000, 100.0, 100.5, 99.5, 100.0, 1.0) for i in range(60)]
    gap = [(60 * 60_000, 100.0, 101.0, 99.9, 100.9, 1.0),
           (61 * 60_000, 101.0, 104.0, 100.9, 103.9, 1.0),
           (62 * 60_000, 104.0, 106.0, 103.0, 105.0, 1.0),
           (63 * 60_000, 105.0, 105.5, 102.0, 104.0, 1.0)]   # retrace into 101-103
    candles = Candles.from_rows(base + gap, symbol="X", timeframe="1m")
    signals = FvgStrategy(FvgParams(trend_period=10, min_confidence=0)).generate(candles)
    assert [candles.close_time(63)] == [s.timestamp for s in signals]
    assert "FVG 101-103" in signals[0].reason
    assert FvgStrategy(FvgParams(trend_period=10, min_confidence=0)).generate(candles[:63]) == []

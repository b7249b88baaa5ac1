"""The typed API: signals in, validation, result fields."""

from __future__ import annotations

import numpy as np
import pytest

from genesis_core import Signal
from genesis_core.backtest import REASONS, Bars, Costs, Orders, simulate
from genesis_core.default_plugins.paper import PaperParams


def test_strategy_signals_run_end_to_end(btc_1h) -> None:
    strategy_mod = pytest.importorskip("genesis_strategy_ema_rsi")
    candles = btc_1h[20000:26000]
    strategy = strategy_mod.EmaRsiStrategy(strategy_mod.EmaRsiParams())
    signals = strategy.generate(candles)
    assert len(signals) > 20
    result = simulate(candles, signals, costs=Costs.from_paper(PaperParams()))
    bars = Bars.from_candles(candles)
    orders = Orders.from_signals(bars, signals)
    i = np.flatnonzero(orders.direction[:, 0])
    assert len(i) == len(signals)
    for sig, row in zip(signals, i, strict=True):  # each signal sits on the bar it closes
        assert bars.close_times()[row] == sig.timestamp
        assert orders.stop_loss[row, 0] == sig.stop_loss
        assert orders.confidence[row, 0] == sig.confidence
    t = result.trades
    assert len(t) > 10
    assert set(t.reason_names()) <= set(REASONS)
    assert "stop" in t.reason_names()
    assert np.isfinite(t.confidence).all()  # every entry came from a signal
    assert (t.entry_bar == t.signal_bar + 1).all()  # market entries: the next bar's open
    np.testing.assert_array_equal(t.entry_price, candles.open[t.entry_bar])  # no slippage
    assert result.reconciliation_error() < 1e-9
    assert (result.exposure >= 0).all()
    np.testing.assert_allclose(result.equity[result.exposure == 0],
                               result.cash[result.exposure == 0], rtol=1e-12)
    records = t.records()
    assert records[0]["symbol"] == "BTCUSDT"
    assert records[0]["net_pnl"] == pytest.approx(t.net_pnl[0])


def test_bad_inputs_are_refused(btc_1h) -> None:
    candles = btc_1h[:100]
    bars = Bars.from_candles(candles)
    with pytest.raises(ValueError, match="direction must hold only"):
        Orders.from_arrays(bars, np.full(100, 2))
    with pytest.raises(ValueError, match="matches neither 100 bars"):
        Orders.from_arrays(bars, np.zeros(50))
    with pytest.raises(ValueError, match="one value per bar"):
        Orders.from_arrays(bars, np.zeros((1, 1)))
    with pytest.raises(ValueError, match="need an entry_price"):
        Orders.from_arrays(bars, np.ones(100), entry_type="limit")
    with pytest.raises(ValueError, match="size_type"):
        simulate(bars, np.zeros(100, np.int8), size_type="lots")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_opposite"):
        simulate(bars, np.zeros(100, np.int8), on_opposite="flip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="taker_fee_bps"):
        Costs(taker_fee_bps=-1)
    late = Signal.make(symbol="BTCUSDT", timeframe="1h", side="BUY", confidence=0.7,
                       timestamp=int(candles.timestamp[5]) + 1, price=1.0, strategy="x")
    with pytest.raises(ValueError, match="does not close a bar"):
        Orders.from_signals(bars, [late])


def test_hold_signals_and_no_orders(btc_1h) -> None:
    candles = btc_1h[:200]
    result = simulate(candles, [], initial_cash=500.0)
    assert len(result.trades) == 0
    assert (result.equity == 500.0).all()
    m = result.metrics()
    assert m.equity.total_return == 0.0
    assert m.trades.trades == 0

"""The parallel grid runs the same kernel as simulate(): per-combination figures agree."""

from __future__ import annotations

import numpy as np
import pytest

from genesis_core.backtest import Bars, Costs, Orders, ema_cross_directions, grid, simulate

from .conftest import ema_cross


def test_grid_matches_simulate_per_combination(btc_1h) -> None:
    candles = btc_1h[40000:46000]
    bars = Bars.from_candles(candles)
    dirs, pairs = ema_cross_directions(candles.close, [5, 9, 12], [21, 26, 50])
    assert len(pairs) == 9
    for row, (f, s) in zip(dirs, pairs, strict=True):
        np.testing.assert_array_equal(row, ema_cross(candles.close, f, s))
    costs = Costs(taker_fee_bps=10, slippage_bps=2)
    sl = np.linspace(1.0, 3.0, len(pairs))
    g = grid(bars, dirs, costs=costs, size=0.8, stop_loss_pct=sl, take_profit_pct=4.0)
    for c in range(len(pairs)):
        r = simulate(bars, Orders.from_arrays(bars, dirs[c], size=0.8), costs=costs,
                     stop_loss_pct=float(sl[c]), take_profit_pct=4.0)
        m = r.metrics()
        assert g.final_equity[c] == r.final_equity
        assert g.trades[c] == len(r.trades)
        assert g.win_rate[c] == pytest.approx(m.trades.win_rate)
        assert g.profit_factor[c] == pytest.approx(m.trades.profit_factor)
        assert g.max_drawdown[c] == pytest.approx(m.equity.max_drawdown)
        assert g.max_drawdown_duration[c] == m.equity.max_drawdown_duration
        assert g.sharpe[c] == pytest.approx(m.equity.sharpe, rel=1e-6)
        assert g.fees[c] == pytest.approx(r.fees)
    assert 0 <= g.best() < len(pairs)

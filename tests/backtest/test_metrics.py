"""Metrics against values computed by hand on tiny equity curves and trade lists."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genesis_core.backtest import Bars, Orders, simulate
from genesis_core.backtest.metrics import (
    calibration,
    compute,
    equity_stats,
    periods_per_year,
    trade_stats,
    var_cvar,
)

from .conftest import ema_cross


def test_equity_metrics_by_hand() -> None:
    # E_0 = 100, then 110, 99, 121, 121: returns +10 %, -10 %, +2/9, 0
    m = equity_stats([110.0, 99.0, 121.0, 121.0], 100.0, periods=4, exposure=[1, 1, 0, 0])
    mean = (0.1 - 0.1 + 2 / 9 + 0.0) / 4  # = 1/18
    std = math.sqrt(((0.1 - mean) ** 2 + (-0.1 - mean) ** 2 + (2 / 9 - mean) ** 2
                     + mean ** 2) / 3)
    assert m.total_return == pytest.approx(0.21)
    assert m.annual_return == pytest.approx(0.21)  # 4 bars at 4 bars per year = 1 year
    assert m.sharpe == pytest.approx(mean / std * 2)
    assert m.sharpe == pytest.approx(10 / math.sqrt(154))  # (1/18) / sqrt(154/8100) * 2
    assert m.sortino == pytest.approx((1 / 18) / 0.05 * 2)  # downside dev sqrt(0.01/4)
    assert m.max_drawdown == pytest.approx(0.1)
    assert m.max_drawdown_duration == 1
    assert m.calmar == pytest.approx(2.1)
    assert m.recovery_factor == pytest.approx(21 / 11)
    assert m.ulcer_index == pytest.approx(5.0)  # sqrt(mean([0, 10², 0, 0]))
    assert m.gain_to_pain == pytest.approx((2 / 9) / 0.1)
    assert (m.var_95, m.cvar_95) == pytest.approx((0.1, 0.1))
    assert m.exposure_time == 0.5
    assert m.volatility == pytest.approx(std * 2)


def test_drawdown_duration_counts_bars_below_the_high() -> None:
    m = equity_stats([100, 90, 95, 99, 101, 100], 100.0, periods=365)
    assert m.max_drawdown_duration == 3  # 90, 95, 99 below the 100 high
    m = equity_stats([105, 90, 95], 100.0, periods=365)
    assert m.max_drawdown_duration == 2  # never recovered: counts to the end
    assert m.max_drawdown == pytest.approx(1 - 90 / 105)


def test_var_cvar_historical() -> None:
    r = [-0.05, -0.04, -0.03, -0.02, -0.01] + [0.01] * 15  # 20 returns
    assert var_cvar(r, 0.95) == pytest.approx((0.05, 0.05))  # tail: the worst 1
    assert var_cvar(r, 0.90) == pytest.approx((0.04, 0.045))  # tail: the worst 2
    assert var_cvar(r, 0.80) == pytest.approx((0.02, 0.035))  # tail: the worst 4


def test_trade_metrics_by_hand() -> None:
    s = trade_stats([10.0, -5.0, 20.0, -5.0, 0.0], fees=[1, 1, 1, 1, 1],
                    bars_held=[1, 2, 3, 4, 5])
    assert (s.trades, s.wins, s.losses) == (5, 2, 3)  # a zero PnL trade is not a win
    assert s.win_rate == 0.4
    assert s.gross_profit == 30.0
    assert s.gross_loss == 10.0
    assert s.profit_factor == 3.0
    assert s.expectancy == 4.0
    assert s.avg_win == 15.0
    assert s.avg_loss == pytest.approx(-10 / 3)
    assert s.payoff_ratio == pytest.approx(4.5)
    assert s.kelly == pytest.approx(0.4 - 0.6 / 4.5)
    assert s.fees == 5.0
    assert s.avg_bars_held == 3.0
    only_wins = trade_stats([1.0, 2.0])
    assert only_wins.profit_factor == math.inf
    assert only_wins.kelly == 1.0
    assert math.isnan(trade_stats([]).win_rate)


def test_confidence_calibration_buckets() -> None:
    conf = [0.55, 0.65, 0.95, 1.0, np.nan, 0.3]
    pnl = [1.0, -1.0, 2.0, 3.0, 5.0, -2.0]
    buckets = calibration(conf, pnl)
    assert [b.trades for b in buckets] == [1, 1, 1, 0, 0, 2]
    assert [b.win_rate for b in buckets[:3]] == [0.0, 1.0, 0.0]
    assert buckets[-1].win_rate == 1.0
    assert buckets[-1].mean_confidence == pytest.approx(0.975)
    assert buckets[-1].avg_net_pnl == 2.5
    assert math.isnan(buckets[3].win_rate)


def test_compute_on_a_run(btc_1h, eth_1h) -> None:
    first = int(np.searchsorted(btc_1h.timestamp, eth_1h.timestamp[0]))
    bars = Bars.from_candles([btc_1h[first:first + 3000], eth_1h[:3000]])
    direction = np.column_stack([ema_cross(bars.close[:, j], 9, 30) for j in range(2)])
    conf = np.random.default_rng(0).random(direction.shape)
    result = simulate(bars, Orders.from_arrays(bars, direction, size=0.4, confidence=conf),
                      stop_loss_pct=2.0)
    m = result.metrics()
    assert m.periods_per_year == periods_per_year("1h") == pytest.approx(8766)
    assert m.trades.trades == len(result.trades)
    assert sum(s.trades for s in m.per_symbol.values()) == m.trades.trades
    assert sum(s.net_profit for s in m.per_symbol.values()) == pytest.approx(
        m.trades.net_profit)
    assert m.trades.net_profit == pytest.approx(result.final_equity - 10_000.0, rel=1e-9)
    assert sum(b.trades for b in m.calibration) == m.trades.trades
    assert m.equity.total_return == pytest.approx(result.final_equity / 10_000.0 - 1)
    assert 0 < m.equity.exposure_time < 1
    flat = m.as_dict()
    assert {"sharpe", "sortino", "profit_factor", "kelly", "cvar_99"} <= set(flat)
    assert compute(result, periods=365).periods_per_year == 365

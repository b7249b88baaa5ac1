"""Audit of genesis_core.backtest.metrics against the formulas of docs/backtesting.md.

Every expected value here is recomputed with plain Python (math, sorted lists, loops) from the
documented formula, without the module's helpers, on small hand-made equity curves and trade
lists, and compared to 1e-12 relative. The edge cases (no trades, one trade, all wins, all
losses, zero volatility, equity at or below zero, 1-2 bar runs, JSON output) follow.
"""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import attrs
import numpy as np
import pytest

from genesis_core.backtest import Bars, Orders, simulate
from genesis_core.backtest.metrics import (
    DEFAULT_BUCKETS,
    calibration,
    compute,
    equity_stats,
    periods_per_year,
    trade_stats,
    var_cvar,
)
from genesis_core.backtest.report import to_json


REL = 1e-12


def close(actual: float, expected: float) -> bool:
    """Equal to 1e-12 relative; NaN matches NaN, ±inf matches itself, 0 must be exact."""
    actual, expected = float(actual), float(expected)
    if math.isnan(expected):
        return math.isnan(actual)
    if math.isinf(expected) or expected == 0.0:
        return actual == expected
    return abs(actual - expected) <= REL * abs(expected)


def assert_fields(stats: Any, expected: dict[str, float]) -> None:
    got = attrs.asdict(stats)
    bad = {k: (got[k], v) for k, v in expected.items() if not close(got[k], v)}
    assert not bad, bad


# --------------------------------------------------------------------------- by hand


def mean(x: list[float]) -> float:
    return math.fsum(x) / len(x)


def tail_k(n: int, level: str) -> int:
    """k = ceil(n · (1 − level)) in exact decimal arithmetic (level given as text)."""
    return max(1, math.ceil(n * (1 - Fraction(level))))


def hand_equity(equity: list[float], initial: float, periods: float, *,
                risk_free: float = 0.0, exposure: list[float] | None = None) -> dict[str, float]:
    """Every EquityStats field from the docs' formulas, for a curve that stays above zero."""
    e = [initial, *equity]
    n = len(equity)
    r = [e[i] / e[i - 1] - 1.0 for i in range(1, n + 1)]
    rf = (1.0 + risk_free) ** (1.0 / periods) - 1.0
    ex = [x - rf for x in r]
    m = mean(r)
    std = math.sqrt(math.fsum((x - m) ** 2 for x in r) / (n - 1)) if n > 1 else math.nan
    down = math.sqrt(math.fsum(min(x, 0.0) ** 2 for x in ex) / n)
    annual = (e[-1] / e[0]) ** (periods / n) - 1.0
    peak, dd, money, run, longest = e[0], [], 0.0, 0, 0
    for x in e[1:]:
        peak = max(peak, x)
        dd.append(1.0 - x / peak)
        money = max(money, peak - x)
        run = run + 1 if x < peak else 0
        longest = max(longest, run)
    max_dd = max(dd)
    ordered = sorted(r)
    tails = {}
    for name, level in (("95", "0.95"), ("99", "0.99")):
        k = tail_k(n, level)
        tails[f"var_{name}"] = -ordered[k - 1]
        tails[f"cvar_{name}"] = -mean(ordered[:k])
    out = {
        "total_return": e[-1] / e[0] - 1.0,
        "annual_return": annual,
        "volatility": std * math.sqrt(periods),
        "sharpe": mean(ex) / std * math.sqrt(periods),
        "sortino": mean(ex) / down * math.sqrt(periods),
        "calmar": annual / max_dd,
        "max_drawdown": max_dd,
        "max_drawdown_duration": longest,
        "recovery_factor": (e[-1] - e[0]) / money,
        "ulcer_index": math.sqrt(math.fsum((100.0 * d) ** 2 for d in dd) / n),
        "gain_to_pain": math.fsum(r) / abs(math.fsum(x for x in r if x < 0)),
        **tails,
    }
    if exposure is not None:
        out["exposure_time"] = sum(1 for x in exposure if x != 0 and x == x) / n
    return out


def hand_trades(p: list[float], fees: list[float], held: list[int]) -> dict[str, float]:
    wins = [x for x in p if x > 0]
    losses = [x for x in p if x <= 0]
    w = len(wins) / len(p)
    avg_win, avg_loss = mean(wins), mean(losses)
    payoff = avg_win / abs(avg_loss)
    return {
        "trades": len(p), "wins": len(wins), "losses": len(losses), "win_rate": w,
        "net_profit": math.fsum(p), "gross_profit": math.fsum(wins),
        "gross_loss": abs(math.fsum(losses)),
        "profit_factor": math.fsum(wins) / abs(math.fsum(losses)),
        "expectancy": mean(p), "avg_win": avg_win, "avg_loss": avg_loss,
        "payoff_ratio": payoff, "kelly": w - (1.0 - w) / payoff,
        "fees": math.fsum(fees), "avg_bars_held": mean([float(h) for h in held]),
    }


# A choppy curve with two drawdowns (the second one longer), 12 bars, 12 bars per year.
CURVE = [104.0, 98.0, 101.0, 95.0, 99.0, 107.0, 103.0, 110.0, 108.0, 106.5, 109.0, 115.0]
# exposure = gross / equity: 0 flat, negative with negative equity, NaN at 0/0, inf at x/0
EXPOSURE = [0.0, 0.5, -2.0, math.nan, math.inf, 1.0, 0.0, 0.25, 0.0, 3.0, 1e-300, 0.0]
PNL = [12.5, -4.0, 0.0, 7.25, -10.5, 3.0, -1.25, 20.0]
FEES = [0.5, 0.25, 0.1, 0.3, 0.6, 0.2, 0.1, 0.4]
HELD = [3, 1, 0, 5, 2, 7, 1, 4]
SYMBOL = [0, 0, 1, 1, 1, 0, 1, 0]  # both symbols win and lose


# --------------------------------------------------------------------------- formulas


def test_hand_curve_is_what_it_claims() -> None:
    # guards against a silent change of the fixture: two drawdowns, 4 and 3 bars long
    h = hand_equity(CURVE, 100.0, 12)
    assert h["max_drawdown_duration"] == 4  # 98, 101, 95, 99 below the 104 high
    assert h["max_drawdown"] == pytest.approx(1 - 95 / 104)


@pytest.mark.parametrize("risk_free", [0.0, 0.03, -0.01])
@pytest.mark.parametrize("periods", [12.0, 365.0, periods_per_year("1h")])
def test_every_equity_metric_matches_the_formula(periods: float, risk_free: float) -> None:
    got = equity_stats(CURVE, 100.0, periods, exposure=EXPOSURE, risk_free=risk_free)
    want = hand_equity(CURVE, 100.0, periods, risk_free=risk_free, exposure=EXPOSURE)
    assert set(want) == set(attrs.asdict(got))  # every field is checked
    assert_fields(got, want)
    assert got.exposure_time == 7 / 12  # 0.5, -2, inf, 1, 0.25, 3, 1e-300


def test_long_random_curve_matches_the_formula() -> None:
    # 500 bars: VaR/CVaR tails of 25 and 5 returns, many drawdowns
    rng = np.random.default_rng(7)
    curve = (1000.0 * np.cumprod(1.0 + rng.normal(0.0005, 0.02, 500))).tolist()
    got = equity_stats(curve, 1000.0, 8766.0, risk_free=0.02)
    assert_fields(got, hand_equity(curve, 1000.0, 8766.0, risk_free=0.02))
    e = [1000.0, *curve]
    r = sorted(e[i] / e[i - 1] - 1.0 for i in range(1, 501))
    assert got.var_95 == -r[24]
    assert got.var_99 == -r[4]


def test_var_cvar_historical_quantile_and_tail_mean() -> None:
    r = [0.03, -0.05, 0.01, -0.02, 0.0, -0.07, 0.02, -0.01, 0.04, -0.03,
         0.05, -0.04, 0.06, 0.01, -0.06, 0.02, 0.0, 0.03, -0.02, 0.01]  # n = 20
    x = sorted(r)
    for level, k in (("0.95", 1), ("0.9", 2), ("0.8", 4), ("0.75", 5), ("0.7", 6),
                     ("0.99", 1), ("0.5", 10)):
        assert tail_k(20, level) == k
        var, cvar = var_cvar(r, float(level))
        assert close(var, -x[k - 1]), level
        assert close(cvar, -mean(x[:k])), level
        assert cvar >= var
    # n·(1 − level) not whole: 21 returns at 90 % → ceil(2.1) = 3 worst
    var, cvar = var_cvar([*r, 0.0], 0.9)
    assert close(var, 0.05)
    assert close(cvar, (0.07 + 0.06 + 0.05) / 3)
    # a tail of gains gives a negative VaR; zeros give 0.0, not -0.0
    assert var_cvar([0.01, 0.02], 0.95) == (-0.01, -0.01)
    v, c = var_cvar([0.0, 0.0, 0.1], 0.95)
    assert math.copysign(1.0, v) == 1.0
    assert math.copysign(1.0, c) == 1.0
    assert all(math.isnan(z) for z in var_cvar([], 0.95))
    assert all(math.isnan(z) for z in var_cvar([0.1, math.nan], 0.95))
    with pytest.raises(ValueError, match="level"):
        var_cvar(r, 95)


def test_sortino_uses_all_returns_not_only_the_negative_ones() -> None:
    # returns +10 %, -10 %, +2/9, 0: downside deviation sqrt(0.01 / 4), not over 1 return
    m = equity_stats([110.0, 99.0, 121.0, 121.0], 100.0, 4)
    r = [0.1, 99 / 110 - 1, 121 / 99 - 1, 0.0]
    assert close(m.sortino, mean(r) / math.sqrt((99 / 110 - 1) ** 2 / 4) * 2)


def test_ulcer_index_is_on_percentage_drawdowns() -> None:
    m = equity_stats([100.0, 80.0, 100.0, 90.0], 100.0, 4)
    assert close(m.ulcer_index, math.sqrt((0 + 20.0 ** 2 + 0 + 10.0 ** 2) / 4))


def test_every_trade_metric_matches_the_formula() -> None:
    got = trade_stats(PNL, fees=FEES, bars_held=HELD)
    want = hand_trades(PNL, FEES, HELD)
    assert set(want) == set(attrs.asdict(got))
    assert_fields(got, want)
    assert (got.wins, got.losses) == (4, 4)  # the 0.0 trade is a loss


def test_calibration_buckets_by_hand() -> None:
    conf = [0.05, 0.49999, 0.5, 0.55, 0.6, 0.69, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0,
            math.nan, 1.01, -0.1]
    pnl = [1.0, -2.0, 3.0, -0.5, 0.0, 2.5, -1.0, 4.0, -3.0, 0.25, 1.5, -0.75, 9.0, 9.0, 9.0]
    got = calibration(conf, pnl)
    edges = DEFAULT_BUCKETS
    assert [(b.low, b.high) for b in got] == list(itertools.pairwise(edges))
    for j, b in enumerate(got):
        last = j == len(got) - 1
        idx = [i for i, c in enumerate(conf)
               if edges[j] <= c and (c <= edges[j + 1] if last else c < edges[j + 1])]
        assert b.trades == len(idx)
        assert close(b.win_rate, sum(pnl[i] > 0 for i in idx) / len(idx))
        assert close(b.mean_confidence, mean([conf[i] for i in idx]))
        assert close(b.avg_net_pnl, mean([pnl[i] for i in idx]))
    assert [b.trades for b in got] == [2, 2, 2, 1, 2, 3]  # NaN, 1.01 and -0.1 left out
    custom = calibration([0.2, 0.4, 0.9], [1.0, -1.0, 1.0], edges=(0.0, 0.3, 1.0))
    assert [b.trades for b in custom] == [1, 2]
    with pytest.raises(ValueError, match="increase"):
        calibration([0.5], [1.0], edges=(0.0, 0.7, 0.6, 1.0))
    with pytest.raises(ValueError, match="confidences"):
        calibration([0.5, 0.6], [1.0])


def fake_result(**overrides: Any) -> SimpleNamespace:
    # symbol: 0 BTC, 1 ETH, 2 SOL (no trade); trades in exit order
    trades = SimpleNamespace(
        net_pnl=np.array(PNL), fees=np.array(FEES),
        entry_bar=np.array([0, 1, 2, 2, 3, 3, 6, 7]),
        exit_bar=np.array([0, 1, 2, 2, 3, 3, 6, 7]) + np.array(HELD),
        symbol=np.array(SYMBOL),
        confidence=np.array([0.95, 0.55, math.nan, 0.7, 0.3, 0.85, 0.62, 1.0]))
    base = {"timeframe": "1h", "symbols": ("BTC", "ETH", "SOL"), "trades": trades,
            "equity": np.array(CURVE), "initial_cash": 100.0, "exposure": np.array(EXPOSURE)}
    return SimpleNamespace(**{**base, **overrides})


def test_compute_and_the_per_symbol_breakdown_by_hand() -> None:
    m = compute(fake_result(), risk_free=0.01)
    p = periods_per_year("1h")
    assert close(p, 365.25 * 24)
    assert_fields(m.equity, hand_equity(CURVE, 100.0, p, risk_free=0.01, exposure=EXPOSURE))
    assert_fields(m.trades, hand_trades(PNL, FEES, HELD))
    for j, name in enumerate(("BTC", "ETH")):
        pick = [i for i, s in enumerate(SYMBOL) if s == j]
        assert len(pick) > 1
        assert_fields(m.per_symbol[name], hand_trades([PNL[i] for i in pick],
                                                      [FEES[i] for i in pick],
                                                      [HELD[i] for i in pick]))
    empty = m.per_symbol["SOL"]
    assert (empty.trades, empty.net_profit, empty.fees) == (0, 0.0, 0.0)
    assert math.isnan(empty.win_rate)
    assert math.isnan(empty.profit_factor)
    assert [b.trades for b in m.calibration] == [1, 1, 1, 1, 1, 2]
    assert m.as_dict() == {**attrs.asdict(m.equity), **attrs.asdict(m.trades)}
    with pytest.raises(ValueError, match="periods"):
        compute(fake_result(timeframe=""))


# --------------------------------------------------------------------------- edge cases


def test_no_trades() -> None:
    s = trade_stats([], fees=[], bars_held=[])
    assert (s.trades, s.wins, s.losses) == (0, 0, 0)
    assert (s.net_profit, s.gross_profit, s.gross_loss, s.fees) == (0.0, 0.0, 0.0, 0.0)
    assert math.copysign(1.0, s.gross_loss) == 1.0  # not -0.0
    for name in ("win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss",
                 "payoff_ratio", "kelly", "avg_bars_held"):
        assert math.isnan(getattr(s, name)), name
    assert all(b.trades == 0 and math.isnan(b.win_rate) for b in calibration([], []))


def test_one_trade() -> None:
    win = trade_stats([5.0], fees=[0.5], bars_held=[3])
    assert (win.win_rate, win.profit_factor, win.expectancy, win.kelly) == (1.0, math.inf,
                                                                            5.0, 1.0)
    assert math.isnan(win.avg_loss)
    assert math.isnan(win.payoff_ratio)
    assert win.avg_bars_held == 3.0
    loss = trade_stats([-5.0])
    assert (loss.win_rate, loss.profit_factor, loss.gross_loss, loss.kelly) == (
        0.0, 0.0, 5.0, -math.inf)
    assert math.isnan(loss.avg_win)
    assert math.isnan(loss.payoff_ratio)
    flat = trade_stats([0.0])
    assert (flat.wins, flat.losses, flat.gross_loss) == (0, 1, 0.0)
    assert math.isnan(flat.profit_factor)
    assert math.isnan(flat.kelly)


def test_all_wins_and_all_losses() -> None:
    wins = trade_stats([1.0, 2.0, 4.5])
    assert (wins.profit_factor, wins.kelly, wins.gross_loss) == (math.inf, 1.0, 0.0)
    assert close(wins.avg_win, 7.5 / 3)
    assert math.isnan(wins.payoff_ratio)
    losses = trade_stats([-1.0, -2.0])
    assert (losses.profit_factor, losses.kelly, losses.avg_loss) == (0.0, -math.inf, -1.5)
    assert math.isnan(losses.payoff_ratio)
    # the only loss is a 0: payoff +inf, Kelly = W − (1 − W)/inf = W
    zero_loss = trade_stats([2.0, 0.0, 4.0])
    assert (zero_loss.payoff_ratio, zero_loss.profit_factor) == (math.inf, math.inf)
    assert close(zero_loss.kelly, 2 / 3)


def identical_returns_curve(initial: float, first: float, n: int) -> list[float]:
    """E_1..E_n whose every float return E_i / E_{i-1} - 1 is the same number."""
    target = first / initial - 1.0
    e = [initial, first]
    while len(e) <= n:
        guess = e[-1] * (1.0 + target)
        near = [guess + k * float(np.spacing(guess)) for k in (0, -1, 1, -2, 2, -3, 3)]
        e.append(next(c for c in near if c / e[-1] - 1.0 == target))
    return e[1:]


def test_zero_volatility() -> None:
    flat = equity_stats([100.0] * 5, 100.0, 365)
    assert (flat.volatility, flat.max_drawdown, flat.ulcer_index, flat.var_95) == (
        0.0, 0.0, 0.0, 0.0)
    for name in ("sharpe", "sortino", "calmar", "recovery_factor", "gain_to_pain"):
        assert math.isnan(getattr(flat, name)), name  # 0 / 0
    # with a risk-free rate the excess return is negative: −inf, not NaN
    assert equity_stats([100.0] * 5, 100.0, 365, risk_free=0.05).sharpe == -math.inf
    # 9 identical +24 % returns: numpy's std is ~1e-17 here (its mean is 1 ulp off), which
    # made the Sharpe ~1e17; the volatility of identical returns is exactly 0
    curve = identical_returns_curve(100.0, 124.0, 9)
    e = np.array([100.0, *curve])
    r = e[1:] / e[:-1] - 1.0
    assert np.all(r == r[0])
    assert np.std(r, ddof=1) != 0.0
    up = equity_stats(curve, 100.0, 365)
    assert (up.volatility, up.sharpe, up.sortino, up.calmar) == (0.0, math.inf, math.inf,
                                                                 math.inf)
    down = equity_stats(identical_returns_curve(100.0, 90.0, 3), 100.0, 365)
    assert (down.volatility, down.sharpe) == (0.0, -math.inf)
    assert close(down.sortino, -math.sqrt(365))  # mean / sqrt(mean(r²)) = −1 for r < 0


def test_runs_of_one_and_two_bars() -> None:
    one = equity_stats([110.0], 100.0, 4)
    assert math.isnan(one.volatility)
    assert math.isnan(one.sharpe)
    assert close(one.total_return, 110 / 100 - 1)
    assert close(one.annual_return, (110 / 100) ** 4 - 1)
    assert (one.sortino, one.max_drawdown, one.max_drawdown_duration) == (math.inf, 0.0, 0)
    assert close(one.var_99, -(110 / 100 - 1))
    assert close(one.cvar_95, -(110 / 100 - 1))
    loss = equity_stats([90.0], 100.0, 4)
    assert close(loss.sortino, -2.0)
    assert loss.max_drawdown_duration == 1
    assert close(loss.max_drawdown, 0.1)
    assert close(loss.ulcer_index, 10.0)
    two = equity_stats([90.0, 99.0], 100.0, 4)
    assert_fields(two, hand_equity([90.0, 99.0], 100.0, 4))
    # a short run on 1-minute bars: the annualised growth overflows to +inf, no warning
    fast = equity_stats([110.0, 121.0], 100.0, periods_per_year("1m"))
    assert (fast.annual_return, fast.calmar) == (math.inf, math.inf)
    assert equity_stats([90.0, 81.0], 100.0, periods_per_year("1m")).annual_return == -1.0


def test_equity_touching_zero_and_going_negative() -> None:
    # ends at zero: both returns are defined, −50 % and −100 %
    end = equity_stats([50.0, 0.0], 100.0, 4, exposure=[1.0, math.inf])
    assert_fields(end, {
        "total_return": -1.0, "annual_return": -1.0,
        "volatility": math.sqrt(0.125) * 2,  # std of (−0.5, −1) with ddof=1
        "sharpe": -0.75 / math.sqrt(0.125) * 2, "sortino": -0.75 / math.sqrt(1.25 / 2) * 2,
        "calmar": -1.0, "max_drawdown": 1.0, "max_drawdown_duration": 2,
        "recovery_factor": -1.0, "ulcer_index": math.sqrt((50.0 ** 2 + 100.0 ** 2) / 2),
        "gain_to_pain": -1.0, "var_95": 1.0, "cvar_95": 1.0, "var_99": 1.0, "cvar_99": 1.0,
        "exposure_time": 1.0})
    # after zero the returns are undefined: return figures NaN, level figures stay
    for curve in ([50.0, 0.0, 0.0], [50.0, 0.0, 10.0], [50.0, -10.0, -20.0]):
        m = equity_stats(curve, 100.0, 4)
        for name in ("volatility", "sharpe", "sortino", "gain_to_pain", "var_95", "cvar_95",
                     "var_99", "cvar_99"):
            assert math.isnan(getattr(m, name)), (curve, name)
        assert close(m.total_return, curve[-1] / 100 - 1)
        assert close(m.max_drawdown, 1 - min(curve) / 100)
        assert m.max_drawdown_duration == 3
        assert close(m.recovery_factor, (curve[-1] - 100) / (100 - min(curve)))
        assert close(m.ulcer_index, math.sqrt(sum((100 * (1 - x / 100)) ** 2
                                                  for x in curve) / 3))
    assert equity_stats([50.0, -10.0, -20.0], 100.0, 4).annual_return == -1.0
    assert close(equity_stats([50.0, 0.0, 10.0], 100.0, 4).annual_return, 0.1 ** (4 / 3) - 1)
    with pytest.raises(ValueError, match="initial"):
        equity_stats([1.0], 0.0, 4)
    with pytest.raises(ValueError, match="exposure"):
        equity_stats([1.0, 2.0], 1.0, 4, exposure=[1.0])
    with pytest.raises(ValueError, match="empty"):
        equity_stats([], 1.0, 4)


def one_symbol_bars(open_: list[float], close_: list[float]) -> Bars:
    n = len(close_)
    o = np.array(open_, dtype=np.float64).reshape(n, 1)
    c = np.array(close_, dtype=np.float64).reshape(n, 1)
    return Bars(timestamp=np.arange(n, dtype=np.int64) * 3_600_000, open=o,
                high=np.ascontiguousarray(np.maximum(o, c)),
                low=np.ascontiguousarray(np.minimum(o, c)), close=c,
                volume=np.full((n, 1), 1e9), symbols=("X",), timeframe="1h")


def json_round_trip(result: Any) -> dict[str, Any]:
    text = json.dumps(to_json(result, result.metrics(), {"bot": "audit"}), allow_nan=False)
    assert "NaN" not in text
    assert "Infinity" not in text
    return json.loads(text)


def test_a_short_squeezed_below_zero_stays_valid_json() -> None:
    # all-in short at 100, the price quadruples: the equity goes negative with the position
    bars = one_symbol_bars([100, 100, 140, 240, 390, 400], [100, 100, 150, 250, 400, 400])
    d = np.zeros(6, np.int8)
    d[0] = -1
    result = simulate(bars, Orders.from_arrays(bars, d, size=1.0), initial_cash=1000.0)
    assert result.equity[-1] < 0
    assert result.exposure[-1] < 0
    m = result.metrics()
    # a position is open from bar 1 on, though gross / equity is negative at the end
    assert m.equity.exposure_time == 5 / 6
    assert math.isnan(m.equity.sharpe)
    assert m.equity.annual_return == -1.0
    assert close(m.equity.max_drawdown, 1 - result.equity.min() / 1000.0)
    assert m.trades.kelly == -math.inf
    doc = json_round_trip(result)
    assert doc["metrics"]["equity"]["sharpe"] is None
    assert doc["metrics"]["trades"]["kelly"] is None
    assert doc["metrics"]["equity"]["exposure_time"] == 5 / 6


def test_no_trade_and_one_bar_runs_stay_valid_json() -> None:
    bars = one_symbol_bars([100, 101, 102], [101, 102, 103])
    idle = simulate(bars, Orders.from_arrays(bars, np.zeros(3, np.int8)))
    doc = json_round_trip(idle)
    assert doc["metrics"]["trades"]["trades"] == 0
    assert doc["metrics"]["trades"]["win_rate"] is None
    assert doc["metrics"]["equity"]["sharpe"] is None  # flat equity: 0 / 0
    assert doc["metrics"]["equity"]["exposure_time"] == 0.0
    assert all(b["win_rate"] is None for b in doc["calibration"])
    one = one_symbol_bars([100], [101])
    doc = json_round_trip(simulate(one, Orders.from_arrays(one, np.ones(1, np.int8))))
    assert doc["metrics"]["equity"]["volatility"] is None
    assert doc["run"]["bars"] == 1
    # an all-winning run: profit factor +inf becomes null, Kelly 1.0 stays
    up = one_symbol_bars([100, 100, 110, 120], [100, 105, 115, 125])
    d = np.array([1, 0, 0, 0], np.int8)
    won = simulate(up, Orders.from_arrays(up, d, size=0.5), initial_cash=1000.0)
    doc = json_round_trip(won)
    assert doc["metrics"]["trades"]["wins"] == 1
    assert doc["metrics"]["trades"]["profit_factor"] is None
    assert doc["metrics"]["trades"]["kelly"] == 1.0

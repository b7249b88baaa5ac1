"""Performance metrics of a backtest; every formula is written out in docs/backtesting.md.

Conventions: the equity curve is ``E_0`` (the initial cash, before the first bar) followed by
the equity at each bar's close ``E_1..E_n``; per-bar returns are ``r_i = E_i / E_{i-1} - 1``
(n of them; undefined, NaN, after the equity has reached zero or below, and so are the
figures computed from the returns). Trade figures use each trade's **net** PnL (after fees
and funding); trades still open at the end (reason ``end``) count, marked at the last close.
A ratio whose denominator is zero is NaN when its numerator is zero (or NaN) too, else ±inf
(the profit factor of a run without a losing trade is +inf). NaN and ±inf become ``null``
in the JSON report (:func:`genesis_core.backtest.report.jsonable`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from genesis_core.models import timeframe_ms


YEAR_MS = 365.25 * 86_400_000  # crypto trades every day
DEFAULT_BUCKETS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def periods_per_year(timeframe: str) -> float:
    """Bars per year for a timeframe (24/7 markets): ``1h`` → 8766."""
    return YEAR_MS / timeframe_ms(timeframe)


def _ratio(num: float, den: float) -> float:
    """``num / den`` for a denominator that is a magnitude (>= 0): NaN if either is NaN or
    both are infinite, ±inf (the numerator's sign) over zero, NaN for 0/0."""
    if math.isnan(num) or math.isnan(den) or (math.isinf(num) and math.isinf(den)):
        return math.nan
    if den == 0:
        return math.nan if num == 0 else math.copysign(math.inf, num)
    return num / den


def _sample_std(x: NDArray[np.float64]) -> float:
    """``std(x, ddof=1)``; exactly 0 when every value is the same (numpy's two-pass result
    can be ~1e-17 there, which would turn a zero-volatility Sharpe into 1e16); NaN for
    fewer than two values."""
    if x.size < 2:
        return math.nan
    if np.all(x == x[0]):
        return 0.0
    return float(np.std(x, ddof=1))


# --------------------------------------------------------------------------- equity curve


@attrs.frozen
class EquityStats:
    total_return: float
    annual_return: float
    volatility: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    max_drawdown_duration: int
    recovery_factor: float
    ulcer_index: float
    gain_to_pain: float
    var_95: float
    cvar_95: float
    var_99: float
    cvar_99: float
    exposure_time: float


def returns(equity: ArrayLike, initial: float) -> NDArray[np.float64]:
    """Per-bar returns ``E_i / E_{i-1} - 1``; NaN where ``E_{i-1} <= 0`` (a return on no
    capital, or on a negative one, has no meaning)."""
    e = np.concatenate([[float(initial)], np.asarray(equity, dtype=np.float64)])
    prev = e[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = e[1:] / prev - 1.0
    r[~(prev > 0)] = math.nan
    return r


def drawdowns(equity: ArrayLike, initial: float) -> tuple[NDArray[np.float64], int, float]:
    """Per-bar drawdown ``1 - E_i / max(E_0..E_i)`` (E_1..E_n), the longest run of
    consecutive bars below the previous high (the maximum drawdown duration, in bars), and
    the largest drawdown in money ``max(peak_i - E_i)``."""
    e = np.concatenate([[float(initial)], np.asarray(equity, dtype=np.float64)])
    peak = np.maximum.accumulate(e)
    dd = 1.0 - e / peak
    at_peak = np.flatnonzero(e >= peak)
    # bars since the last high, at each bar; its maximum is the longest drawdown
    last_high = at_peak[np.searchsorted(at_peak, np.arange(e.size), side="right") - 1]
    duration = int(np.max(np.arange(e.size) - last_high)) if e.size else 0
    return dd[1:], duration, float(np.max(peak - e))


def var_cvar(r: ArrayLike, level: float) -> tuple[float, float]:
    """Historical VaR and CVaR at ``level`` (0.95 …) as loss fractions (positive = a loss).

    With the n returns sorted ascending, the tail is the ``k = ceil(n·(1-level))`` worst;
    VaR is minus the k-th worst return (the empirical quantile without interpolation) and
    CVaR minus the mean of the k worst. Negative when even the tail is a gain; NaN for no
    returns or when any return is NaN.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"var_cvar: level must be between 0 and 1, got {level}")
    x = np.sort(np.asarray(r, dtype=np.float64))
    if x.size == 0 or np.isnan(x).any():
        return math.nan, math.nan
    # round: 20 · (1 - 0.95) is 1.0000000000000009 in floating point, and the tail is 1 return
    # (numpy's quantile(..., method="inverted_cdf") takes 2 there)
    k = max(1, math.ceil(round(x.size * (1.0 - level), 9)))
    # 0.0 - x: a zero return gives a VaR of 0.0, not -0.0
    return 0.0 - float(x[k - 1]), 0.0 - float(np.mean(x[:k]))


def equity_stats(equity: ArrayLike, initial: float, periods: float, *,
                 exposure: ArrayLike | None = None, risk_free: float = 0.0) -> EquityStats:
    """Equity-curve metrics. ``periods``: bars per year; ``risk_free``: annual rate;
    ``exposure``: one value per bar, non-zero where a position is open at the close."""
    e = np.asarray(equity, dtype=np.float64)
    n = e.size
    if n == 0:
        raise ValueError("metrics: empty equity curve")
    if not initial > 0:
        raise ValueError(f"metrics: the initial equity must be positive, got {initial}")
    if not (periods > 0 and math.isfinite(periods)):
        raise ValueError(f"metrics: periods (bars per year) must be positive, got {periods}")
    r = returns(e, initial)
    rf = (1.0 + risk_free) ** (1.0 / periods) - 1.0
    excess = r - rf
    mean_excess = float(np.mean(excess))
    growth = float(e[-1]) / initial
    total = growth - 1.0
    annual = _annualised(growth, periods / n)
    std = _sample_std(r)
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    dd, duration, dd_money = drawdowns(e, initial)
    max_dd = float(np.max(dd))
    losses = 0.0 - float(np.sum(r[r < 0]))
    var95, cvar95 = var_cvar(r, 0.95)
    var99, cvar99 = var_cvar(r, 0.99)
    if exposure is None:
        expo = math.nan
    else:
        x = np.asarray(exposure, dtype=np.float64)
        if x.shape != e.shape:
            raise ValueError(f"metrics: exposure has shape {x.shape}, the equity {e.shape}")
        # exposure is gross / equity: negative when the equity is, NaN (no position) at 0/0
        expo = float(np.mean(np.abs(x) > 0))
    return EquityStats(
        total_return=float(total),
        annual_return=float(annual),
        volatility=std * math.sqrt(periods),
        sharpe=_ratio(mean_excess, std) * math.sqrt(periods),
        sortino=_ratio(mean_excess, downside) * math.sqrt(periods),
        calmar=_ratio(float(annual), max_dd),
        max_drawdown=max_dd,
        max_drawdown_duration=duration,
        recovery_factor=_ratio(float(e[-1] - initial), dd_money),
        ulcer_index=math.sqrt(float(np.mean((100.0 * dd) ** 2))),
        gain_to_pain=_ratio(float(np.sum(r)), losses),
        var_95=var95, cvar_95=cvar95, var_99=var99, cvar_99=cvar99,
        exposure_time=expo,
    )


def _annualised(growth: float, exponent: float) -> float:
    """``growth ** exponent - 1``: -1 (all lost) when the run ends at or below zero (a
    negative number has no real root), +inf when a short run's compounding overflows."""
    if not growth > 0:
        return -1.0
    try:
        return math.pow(growth, exponent) - 1.0
    except OverflowError:
        return math.inf


# --------------------------------------------------------------------------- trades


@attrs.frozen
class TradeStats:
    trades: int
    wins: int
    losses: int
    win_rate: float
    net_profit: float
    gross_profit: float
    gross_loss: float
    profit_factor: float
    expectancy: float
    avg_win: float
    avg_loss: float
    payoff_ratio: float
    kelly: float
    fees: float
    avg_bars_held: float


def trade_stats(net_pnl: ArrayLike, *, fees: ArrayLike | None = None,
                bars_held: ArrayLike | None = None) -> TradeStats:
    """Trade metrics from per-trade net PnL (a win is a trade with net PnL > 0)."""
    p = np.asarray(net_pnl, dtype=np.float64)
    n = p.size
    win = p[p > 0]
    loss = p[p <= 0]
    gross_profit = float(np.sum(win))
    gross_loss = 0.0 - float(np.sum(loss))  # 0.0, not -0.0, without losses
    avg_win = float(np.mean(win)) if win.size else math.nan
    avg_loss = float(np.mean(loss)) if loss.size else math.nan
    w = win.size / n if n else math.nan
    payoff = _ratio(avg_win, -avg_loss) if win.size and loss.size else math.nan
    if n and not loss.size:
        kelly = 1.0
    elif n and not win.size:
        kelly = -math.inf if gross_loss > 0 else math.nan
    else:
        kelly = w - (1.0 - w) / payoff if n and payoff > 0 else math.nan
    return TradeStats(
        trades=n, wins=int(win.size), losses=int(loss.size), win_rate=w,
        net_profit=float(np.sum(p)), gross_profit=gross_profit, gross_loss=gross_loss,
        profit_factor=_ratio(gross_profit, gross_loss) if n else math.nan,
        expectancy=float(np.mean(p)) if n else math.nan,
        avg_win=avg_win, avg_loss=avg_loss, payoff_ratio=payoff, kelly=kelly,
        fees=float(np.sum(fees)) if fees is not None else math.nan,
        avg_bars_held=float(np.mean(bars_held)) if bars_held is not None and n else math.nan)


# --------------------------------------------------------------------------- calibration


@attrs.frozen
class CalibrationBucket:
    low: float
    high: float
    trades: int
    win_rate: float
    mean_confidence: float
    avg_net_pnl: float


def calibration(confidence: ArrayLike, net_pnl: ArrayLike,
                edges: Sequence[float] = DEFAULT_BUCKETS) -> list[CalibrationBucket]:
    """Win rate per entry-confidence bucket ``[low, high)`` (the last bucket includes 1.0).

    A calibrated strategy's win rate rises with confidence (and, if confidence is meant as a
    probability, is close to the bucket's mean confidence). Trades without a confidence (NaN)
    and confidences outside ``[edges[0], edges[-1]]`` are left out.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    pnl = np.asarray(net_pnl, dtype=np.float64)
    if conf.shape != pnl.shape:
        raise ValueError(f"calibration: {conf.shape} confidences for {pnl.shape} trades")
    if len(edges) < 2 or any(not lo < hi for lo, hi in pairwise(edges)):
        raise ValueError(f"calibration: bucket edges must increase, got {list(edges)}")
    out = []
    for k, (lo, hi) in enumerate(pairwise(edges)):
        last = k == len(edges) - 2
        mask = (conf >= lo) & ((conf <= hi) if last else (conf < hi))
        m = int(np.count_nonzero(mask))
        out.append(CalibrationBucket(
            low=float(lo), high=float(hi), trades=m,
            win_rate=float(np.mean(pnl[mask] > 0)) if m else math.nan,
            mean_confidence=float(np.mean(conf[mask])) if m else math.nan,
            avg_net_pnl=float(np.mean(pnl[mask])) if m else math.nan))
    return out


# --------------------------------------------------------------------------- all together


@attrs.frozen
class Metrics:
    equity: EquityStats
    trades: TradeStats
    per_symbol: dict[str, TradeStats]
    calibration: list[CalibrationBucket]
    periods_per_year: float

    def as_dict(self) -> dict[str, Any]:
        """Flat ``{name: value}`` of the portfolio-level figures (for tables and JSON)."""
        return {**attrs.asdict(self.equity), **attrs.asdict(self.trades)}


def compute(result: Any, *, periods: float | None = None, risk_free: float = 0.0,
            buckets: Sequence[float] = DEFAULT_BUCKETS) -> Metrics:
    """All metrics of a :class:`~genesis_core.backtest.BacktestResult`.

    ``periods`` (bars per year) defaults to the result's timeframe, 24/7.
    """
    if periods is None:
        if not result.timeframe:
            raise ValueError("metrics: pass periods= (bars per year) for data without timeframe")
        periods = periods_per_year(result.timeframe)
    t = result.trades
    net = t.net_pnl
    held = t.exit_bar - t.entry_bar
    per_symbol = {
        name: trade_stats(net[t.symbol == j], fees=t.fees[t.symbol == j],
                          bars_held=held[t.symbol == j])
        for j, name in enumerate(result.symbols)}
    return Metrics(
        equity=equity_stats(result.equity, result.initial_cash, periods,
                            exposure=result.exposure, risk_free=risk_free),
        trades=trade_stats(net, fees=t.fees, bars_held=held),
        per_symbol=per_symbol,
        calibration=calibration(t.confidence, net, buckets),
        periods_per_year=float(periods))

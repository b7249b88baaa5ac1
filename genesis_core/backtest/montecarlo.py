"""Monte Carlo resampling of a backtest's trade sequence: how lucky was the order of trades?

:func:`monte_carlo` compounds per-trade returns on equity in ``runs`` reordered sequences
(``shuffle``: a random permutation, same trades; ``bootstrap``: drawn with replacement) and
reports the distributions of the final return and of the maximum drawdown. The runs are
compiled with numba and spread over all cores; every run draws from its own slice of one
splitmix64 stream, so a seed gives the same numbers whatever the thread count.
:func:`trade_returns` turns a :class:`~genesis_core.backtest.BacktestResult` into returns.
Formulas: ``docs/research.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from genesis_core.errors import ConfigError, GenesisError


Method = Literal["bootstrap", "shuffle"]
METHODS = ("bootstrap", "shuffle")
PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
THRESHOLDS = (0.1, 0.2, 0.3, 0.5)

# splitmix64 (Steele, Lea & Flood 2014): state += GOLDEN; output = mix(state). Being a counter,
# it jumps ahead for free: draw k of run r is mix(seed + (r·n + k + 1)·GOLDEN), exactly the
# number a serial generator would produce, so the parallel split changes nothing.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31, _S32 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(32)
_BLOCK = 64  # runs per scratch buffer (the shuffle's working copy of the returns)
prange = range  # numba.prange once compiled (see _compiled); numba needs the global name


def _runs_kernel(r: Any, runs: int, shuffle: bool, seed: Any, final: Any, maxdd: Any) -> None:
    """Compound ``runs`` resampled sequences of ``r``; write each run's final return and
    maximum drawdown. Compiled by :func:`_compiled`; all RNG arithmetic is uint64."""
    n = r.size
    nblocks = (runs + _BLOCK - 1) // _BLOCK
    for b in prange(nblocks):
        buf = np.empty(n)
        for run in range(b * _BLOCK, min(runs, (b + 1) * _BLOCK)):
            state = seed + np.uint64(run) * np.uint64(n) * _GOLDEN
            if shuffle:
                buf[:] = r
            e = peak = 1.0
            dd = 0.0
            for i in range(n):
                state += _GOLDEN
                z = state
                z = (z ^ (z >> _S30)) * _M1
                z = (z ^ (z >> _S27)) * _M2
                z = z ^ (z >> _S31)
                # the top 32 bits scaled to [0, m): bias below m / 2^32, negligible here
                if shuffle:  # Fisher-Yates, position i final once drawn
                    j = i + np.int64(((z >> _S32) * np.uint64(n - i)) >> _S32)
                    v = buf[j]
                    buf[j] = buf[i]
                    buf[i] = v
                else:
                    v = r[np.int64(((z >> _S32) * np.uint64(n)) >> _S32)]
                e *= max(1.0 + v, 0.0)  # a loss beyond 100 % is ruin: equity stays at 0
                # branch-free: a mispredicted "new peak?" branch cost 3x this division
                peak = max(peak, e)
                dd = max(dd, 1.0 - e / peak)
            final[run] = e - 1.0
            maxdd[run] = dd


@cache
def _compiled() -> Any:
    # numba is imported on the first run, not when genesis_core.backtest is imported
    import numba

    globals()["prange"] = numba.prange
    return numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")(_runs_kernel)


def path_stats(returns: ArrayLike) -> tuple[float, float]:
    """Final return and maximum drawdown of compounding ``returns`` in their given order.

    Equity starts at 1 and is multiplied by ``max(1 + r_k, 0)`` per trade; the drawdown is
    ``1 − E_k / max(E_0..E_k)``. The same arithmetic as each Monte Carlo run.
    """
    g = np.maximum(1.0 + np.asarray(returns, dtype=np.float64), 0.0)
    path = np.concatenate([[1.0], np.cumprod(g)])
    peak = np.maximum.accumulate(path)
    return float(path[-1] - 1.0), float(np.max(1.0 - path / peak))


def trade_returns(result: Any) -> NDArray[np.float64]:
    """Per-trade fractional returns on equity of a :class:`~genesis_core.backtest.BacktestResult`.

    Trade j (in exit order) returns ``net_pnl_j / (initial cash + Σ_{k<j} net_pnl_k)``: its net
    PnL over the closed-trade equity before it. For one position at a time that is the equity
    the trade was opened with, and ``Π(1 + r_j) − 1`` equals the backtest's total return
    exactly (reconciliation). Overlapping positions (several symbols) are approximated.
    """
    net = np.asarray(result.trades.net_pnl, dtype=np.float64)
    before = float(result.initial_cash) + np.concatenate([[0.0], np.cumsum(net)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, net / before, -1.0)


@attrs.frozen(eq=False)
class MonteCarloResult:
    """Distributions over the runs. Returns and drawdowns are fractions (0.1 = 10 %)."""

    method: str
    runs: int
    trades: int
    seed: int
    initial: float
    final_return: NDArray[np.float64]  # per run: E_n / E_0 − 1
    max_drawdown: NDArray[np.float64]  # per run: max_k (1 − E_k / peak_k)
    observed_return: float  # the trades in their actual order
    observed_drawdown: float
    percentiles: tuple[float, ...]
    seconds: float

    @property
    def final_equity(self) -> NDArray[np.float64]:
        return self.initial * (1.0 + self.final_return)

    @property
    def return_percentiles(self) -> dict[float, float]:
        """Percentiles of the final return (numpy's linear interpolation)."""
        return dict(zip(self.percentiles, map(float, np.percentile(self.final_return,
                                                                   self.percentiles)),
                        strict=True))

    @property
    def drawdown_percentiles(self) -> dict[float, float]:
        """Percentiles of the maximum drawdown (the high ones are the bad tail)."""
        return dict(zip(self.percentiles, map(float, np.percentile(self.max_drawdown,
                                                                   self.percentiles)),
                        strict=True))

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.final_return))

    @property
    def prob_loss(self) -> float:
        """Fraction of runs ending below the initial equity."""
        return float(np.mean(self.final_return < 0.0))

    def prob_drawdown_above(self, threshold: float) -> float:
        """Fraction of runs whose maximum drawdown exceeds ``threshold`` (a fraction)."""
        return float(np.mean(self.max_drawdown > threshold))

    def table(self, thresholds: Sequence[float] = THRESHOLDS) -> str:
        """Percentiles, the observed order, loss and drawdown probabilities as text."""

        def pct(x: float) -> str:
            return f"{100.0 * x:.2f} %"

        rets, dds = self.return_percentiles, self.drawdown_percentiles
        rows = [[f"p{p:g}", pct(rets[p]), pct(dds[p])] for p in self.percentiles]
        rows.append(["observed", pct(self.observed_return), pct(self.observed_drawdown)])
        head = ["", "final return", "max drawdown"]
        width = [max(len(line[k]) for line in [head, *rows]) for k in range(3)]
        lines = [f"Monte Carlo: {self.runs} {self.method} runs of {self.trades} trades "
                 f"(seed {self.seed}, {self.seconds:.2f} s)"]
        lines += ["  ".join(c.rjust(w) for c, w in zip(line, width, strict=True))
                  for line in [head, *rows]]
        lines.append(f"mean final return {pct(self.mean_return)}, "
                     f"P(loss) {pct(self.prob_loss)}")
        lines += [f"P(max drawdown > {100 * t:g} %) {pct(self.prob_drawdown_above(t))}"
                  for t in thresholds]
        return "\n".join(lines)


def _check(runs: int, method: str, initial: float, percentiles: Sequence[float]) -> None:
    errors = []
    if isinstance(runs, bool) or not isinstance(runs, int) or runs <= 0:
        errors.append(f"monte_carlo.runs: must be a positive integer, got {runs!r}")
    if method not in METHODS:
        errors.append(f"monte_carlo.method: expected one of {', '.join(METHODS)}, "
                      f"got {method!r}")
    if not (math.isfinite(initial) and initial > 0):
        errors.append(f"monte_carlo.initial: must be a positive number, got {initial!r}")
    if not percentiles or not all(0 <= p <= 100 for p in percentiles):
        errors.append(f"monte_carlo.percentiles: must be numbers in [0, 100], "
                      f"got {list(percentiles)!r}")
    if errors:
        raise ConfigError(errors)


def monte_carlo(
    trade_returns: ArrayLike,
    *,
    runs: int = 10_000,
    method: Method = "bootstrap",
    initial: float = 1.0,
    seed: int = 0,
    percentiles: Sequence[float] = PERCENTILES,
) -> MonteCarloResult:
    """Resample the trade sequence ``runs`` times and compound each resampled sequence.

    Args:
        trade_returns: per-trade fractional returns on equity (0.02 = +2 %), in trade order;
            :func:`trade_returns` computes them from a backtest result.
        method: ``shuffle`` permutes the trades (the final return is the same in every run,
            only the path and its drawdown change); ``bootstrap`` draws ``n`` trades with
            replacement (both the final return and the path vary).
        initial: starting equity, only for :attr:`MonteCarloResult.final_equity`.
        seed: the same seed gives the same runs, whatever the number of threads.
    """
    _check(runs, method, initial, percentiles)
    r = np.ascontiguousarray(trade_returns, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise GenesisError("monte_carlo: no trades to resample")
    if not np.isfinite(r).all():
        raise GenesisError("monte_carlo: trade returns must be finite numbers")
    if r.size >= 2**32:
        raise GenesisError("monte_carlo: at most 2^32 - 1 trades")
    final = np.empty(runs)
    maxdd = np.empty(runs)
    t0 = time.perf_counter()
    _compiled()(r, runs, method == "shuffle", np.uint64(int(seed) % 2**64), final, maxdd)
    seconds = time.perf_counter() - t0
    observed_return, observed_drawdown = path_stats(r)
    return MonteCarloResult(
        method=method, runs=runs, trades=int(r.size), seed=int(seed), initial=float(initial),
        final_return=final, max_drawdown=maxdd, observed_return=observed_return,
        observed_drawdown=observed_drawdown,
        percentiles=tuple(float(p) for p in percentiles), seconds=seconds)

"""Blocked-window kernels (SMA, WMA, variance family, Donchian) and the chunked ATR/TRANGE:
block boundaries, short runs and NaN restarts at every offset, batch == streaming bit for bit,
and no drift at the end of a long series."""

from __future__ import annotations

import math

import numpy as np
import pytest

import genesis_core.indicators as gi
from genesis_core.indicators import streaming as st


def walk(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 2e-3, n)))


def candles(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = walk(n, seed)
    return c * (1 + np.abs(rng.normal(0, 1e-3, n))), c * (1 - np.abs(rng.normal(0, 1e-3, n))), c


def with_nans(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OHLC-ish columns with NaN runs of different lengths, some adjacent, at many offsets."""
    rng = np.random.default_rng(seed + 1000)
    h, lo, c = candles(n, seed)
    for col in (c, h, lo):
        col[rng.choice(n, n // 40, replace=False)] = np.nan
    c[[0, 1, n // 2, n // 2 + 1, n - 1]] = np.nan
    return h, lo, c


def stream(factory, *cols):
    s = factory()
    return [s.update(*row) for row in zip(*(c.tolist() for c in cols), strict=True)]


def column(rows, j):
    return np.array([r[j] if isinstance(r, tuple) else r for r in rows])


@pytest.mark.parametrize("p", [1, 2, 3, 7, 20])
def test_blocked_kernels_match_reference_and_stream(p, ref, close_enough, identical):
    h, lo, c = with_nans(1500, p)
    seg = ref.by_segments
    close_enough(gi.sma(c, p), seg(lambda x: ref.sma(x, p), c))
    close_enough(gi.wma(c, p), seg(lambda x: ref.wma(x, p), c))
    close_enough(gi.stddev(c, p), seg(lambda x: ref.mean_std(x, p)[1], c), scale=1e-3)
    close_enough(gi.zscore(c, p), seg(lambda x: ref.zscore(x, p), c), scale=1.0)
    for o, w in zip(gi.donchian(h, lo, p), seg(lambda *a: ref.donchian(*a, p), h, lo,
                                                outputs=3), strict=True):
        close_enough(o, w, rel=0.0)
    close_enough(gi.atr(h, lo, c, p), seg(lambda *a: ref.atr(*a, p), h, lo, c))
    close_enough(gi.true_range(h, lo, c), seg(ref.trange, h, lo, c))
    for o, w in zip(gi.stoch(h, lo, c, p + 1, 3, 2),
                    seg(lambda *a: ref.stoch(*a, p + 1, 3, 2), h, lo, c, outputs=2),
                    strict=True):
        close_enough(o, w, scale=100.0)
    cases = [
        (gi.sma(c, p), lambda: st.SMAStream(p), (c,)),
        (gi.wma(c, p), lambda: st.WMAStream(p), (c,)),
        (gi.stddev(c, p, 1.5), lambda: st.StdDevStream(p, 1.5), (c,)),
        (gi.zscore(c, p), lambda: st.ZScoreStream(p), (c,)),
        (gi.ema_zscore(c, 3, p), lambda: st.EMAZScoreStream(3, p), (c,)),
        (gi.bbands(c, p, 2.0, 1.0), lambda: st.BBandsStream(p, 2.0, 1.0), (c,)),
        (gi.donchian(h, lo, p), lambda: st.DonchianStream(p), (h, lo)),
        (gi.atr(h, lo, c, p), lambda: st.ATRStream(p), (h, lo, c)),
        (gi.true_range(h, lo, c), st.TrueRangeStream, (h, lo, c)),
        (gi.stoch(h, lo, c, p + 1, 3, 2), lambda: st.StochStream(p + 1, 3, 2), (h, lo, c)),
    ]
    for batch, factory, cols in cases:
        outs = batch if isinstance(batch, tuple) else (batch,)
        rows = stream(factory, *cols)
        for j, want in enumerate(outs):
            identical(want, column(rows, j))


def test_atr_recovers_from_nans_inside_long_steady_chunks(ref, close_enough):
    """The steady-state ATR loop runs NaN-free chunks bare; a NaN high, low or close anywhere
    in a chunk (also its first and last bar) must restart exactly as the reference does."""
    n = 5000
    h, lo, c = candles(n, 11)
    h[[600, 1535]] = np.nan
    lo[[1023, 2048]] = np.nan
    c[[1536, 2047, 3000, 3001, n - 2]] = np.nan
    close_enough(gi.atr(h, lo, c, 14), ref.by_segments(lambda *a: ref.atr(*a, 14), h, lo, c))


def test_no_drift_at_the_end_of_a_long_series():
    """Every window is summed fresh, so the end of a long series is as exact as its start."""
    x = walk(3_000_000, 5)
    p = 20
    sma, wma, std = gi.sma(x, p), gi.wma(x, p), gi.stddev(x, p)
    w = np.arange(1, p + 1)
    for i in range(x.size - 50, x.size):
        win = x[i - p + 1 : i + 1].tolist()
        m = math.fsum(win) / p
        assert abs(sma[i] - m) <= 1e-13 * m
        wm = math.fsum(float(a) * b for a, b in zip(w, win, strict=True)) / (p * (p + 1) / 2)
        assert abs(wma[i] - wm) <= 1e-13 * wm
        sd = math.sqrt(math.fsum((v - m) ** 2 for v in win) / p)
        assert abs(std[i] - sd) <= 1e-9 * sd

"""Edge cases: constant prices, a huge bar, NaN restarts, timestamp gaps, short and long series."""

from __future__ import annotations

import math

import numpy as np
import pytest

import genesis_core.indicators as gi


def ohlc(close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return close + 1.0, close - 1.0, close


def test_constant_prices():
    c = np.full(300, 123.25)
    h, lo, _ = ohlc(c)
    assert np.all(gi.sma(c, 20)[19:] == 123.25)
    assert np.all(gi.ema(c, 20)[19:] == 123.25)
    assert np.all(gi.stddev(c, 20)[19:] == 0.0)  # exactly zero, not rounding noise
    assert np.all(gi.zscore(c, 20)[19:] == 0.0)
    b = gi.bbands(c, 20)
    assert np.all(b.upper[19:] == 123.25)
    assert np.all(b.percent_b[19:] == 0.5)
    assert np.all(b.bandwidth[19:] == 0.0)
    assert np.all(gi.rsi(c, 14)[14:] == 0.0)  # TA-Lib's value when nothing moves
    assert np.all(gi.atr(h, lo, c, 14)[14:] == 2.0)
    flat = gi.adx(c, c, c, 14)
    assert np.all(flat.adx[27:] == 0.0)
    assert np.all(flat.plus_di[14:] == 0.0)
    assert np.all(gi.stoch(c, c, c).slowk[8:] == 0.0)
    assert np.all(gi.stochrsi(c).fastk[20:] == 0.0)
    assert np.all(gi.macd(c).hist[33:] == 0.0)
    assert np.all(gi.regime(h, lo, c)[99:] == 0.0)
    assert not gi.fvg(h, lo).direction.any()
    assert np.all(np.isnan(gi.swings(h, lo).high))


def test_single_huge_bar_does_not_leave_residue(close_enough, ref):
    c = np.full(5000, 100.0) + np.sin(np.arange(5000)) * 1e-3
    c[1000] = 1e12
    for p in (5, 20):
        # After the spike leaves the window the running sums must not carry its rounding.
        close_enough(gi.sma(c, p), ref.sma(c.tolist(), p))
        close_enough(gi.wma(c, p), ref.wma(c.tolist(), p))
        close_enough(gi.stddev(c, p), ref.mean_std(c.tolist(), p)[1])
        close_enough(gi.zscore(c, p), ref.zscore(c.tolist(), p), scale=1.0)
    flat = np.full(200, 7.0)
    flat[50] = 1e15
    assert np.all(gi.stddev(flat, 10)[60:] == 0.0)
    assert np.all(gi.sma(flat, 10)[60:] == 7.0)


def test_long_series_has_no_drift():
    """Running sums over 2M bars stay within 1e-9 of an exactly rounded window sum."""
    rng = np.random.default_rng(7)
    x = 100.0 * np.exp(np.cumsum(rng.normal(0, 2e-3, 2_000_000)))
    p = 50
    sma, wma, std = gi.sma(x, p), gi.wma(x, p), gi.stddev(x, p)
    weights = np.arange(1, p + 1)
    for i in rng.integers(p, x.size, 300):
        w = x[i - p + 1 : i + 1].tolist()
        m = math.fsum(w) / p
        assert abs(sma[i] - m) <= 1e-12 * m
        wm = math.fsum(float(a) * b for a, b in zip(weights, w, strict=True)) / (p * (p + 1) / 2)
        assert abs(wma[i] - wm) <= 1e-12 * wm
        sd = math.sqrt(math.fsum((v - m) ** 2 for v in w) / p)
        assert abs(std[i] - sd) <= 1e-9 * sd


def test_nan_restarts_each_indicator(load, ref, close_enough):
    d = load("binance_BTCUSDT_1h.csv", 30_000, 32_000)
    c, h, lo, v, ts = d["close"], d["high"], d["low"], d["volume"], d["ts"]
    c[[0, 500, 501, 1200]] = np.nan
    h[[900]] = np.nan
    v[[1500]] = np.nan
    seg = ref.by_segments
    close_enough(gi.sma(c, 20), seg(lambda x: ref.sma(x, 20), c))
    close_enough(gi.ema(c, 20), seg(lambda x: ref.ema(x, 20), c))
    close_enough(gi.wma(c, 20), seg(lambda x: ref.wma(x, 20), c))
    close_enough(gi.stddev(c, 20), seg(lambda x: ref.mean_std(x, 20)[1], c))
    close_enough(gi.rsi(c, 14), seg(lambda x: ref.rsi(x, 14), c), scale=100.0)
    close_enough(gi.atr(h, lo, c, 14), seg(lambda *a: ref.atr(*a, 14), h, lo, c))
    for o, w in zip(gi.adx(h, lo, c), seg(lambda *a: ref.adx(*a, 14), h, lo, c, outputs=3),
                    strict=True):
        close_enough(o, w, scale=100.0)
    scale = 1e-3 * float(np.nanmean(c))
    for o, w in zip(gi.macd(c), seg(lambda x: ref.macd(x, 12, 26, 9), c, outputs=3),
                    strict=True):
        close_enough(o, w, scale=scale)
    for o, w in zip(gi.stoch(h, lo, c), seg(lambda *a: ref.stoch(*a, 5, 3, 3), h, lo, c,
                                             outputs=2), strict=True):
        close_enough(o, w, scale=100.0)
    for o, w in zip(gi.stochrsi(c), seg(lambda x: ref.stochrsi(x, 14, 5, 3), c, outputs=2),
                    strict=True):
        close_enough(o, w, scale=100.0)
    close_enough(gi.obv(c, v), seg(ref.obv, c, v), scale=float(np.nansum(v)))
    close_enough(gi.vwap(h, lo, c, v, 24), seg(lambda *a: ref.vwap(*a, 24), h, lo, c, v))
    close_enough(gi.session_vwap(ts, h, lo, c, v), seg(ref.session_vwap, ts, h, lo, c, v))
    for o, w in zip(gi.donchian(h, lo, 20), seg(lambda *a: ref.donchian(*a, 20), h, lo,
                                                 outputs=3), strict=True):
        close_enough(o, w, rel=0.0)
    for o, w in zip(gi.swings(h, lo, 2, 2), seg(lambda *a: ref.swings(*a, 2, 2), h, lo,
                                                 outputs=2), strict=True):
        close_enough(o, w, rel=0.0)
    # NaN bars themselves are NaN everywhere, the next bar restarts the warm-up.
    assert np.isnan(gi.ema(c, 3)[[500, 501, 502, 503]]).all()
    assert not np.isnan(gi.ema(c, 3)[504])


def test_session_vwap_resets_across_missing_bars():
    day = 86_400_000
    ts = np.array([0, 3_600_000, day - 60_000, day + 5 * 3_600_000, 3 * day + 1], np.int64)
    h = np.array([11.0, 12.0, 13.0, 14.0, 15.0])
    lo = h - 2.0
    c = h - 1.0
    v = np.array([1.0, 3.0, 0.0, 2.0, 5.0])
    out = gi.session_vwap(ts, h, lo, c, v)
    np.testing.assert_allclose(out, [10.0, (10 + 33) / 4, (10 + 33) / 4, 13.0, 14.0], rtol=1e-15)
    shifted = gi.session_vwap(ts, h, lo, c, v, offset_ms=2 * 3_600_000)
    # With sessions starting at 02:00, 00:00 and 01:00 share one session; 23:59 opens the next
    # one with zero volume so far (NaN).
    assert shifted[1] == out[1]
    assert np.isnan(shifted[2])


def test_vwap_zero_volume_window_is_nan():
    c = np.arange(10.0) + 100
    v = np.array([1.0, 1, 0, 0, 0, 1, 1, 1, 1, 1])
    out = gi.vwap(c, c, c, v, 3)
    assert np.isnan(out[4])
    assert not np.isnan(out[[3, 5]]).any()


def test_swings_are_stamped_on_confirmation_bar():
    h = np.array([1.0, 2.0, 5.0, 3.0, 2.0, 1.0, 1.5])
    lo = h - 0.5
    sh = gi.swings(h, lo, left=2, right=2).high
    assert np.isnan(sh[2])  # the pivot bar itself cannot know yet
    assert sh[4] == 5.0
    assert np.isnan(sh).sum() == h.size - 1
    # Truncating the series never changes earlier outputs (no look-ahead).
    for cut in range(1, h.size):
        part = gi.swings(h[:cut], lo[:cut], 2, 2).high
        np.testing.assert_array_equal(part, sh[:cut])


def test_fvg_is_stamped_on_third_bar_and_mitigated_causally():
    h = np.array([10.0, 12.0, 15.0, 14.0, 13.5, 11.5, 9.0])
    lo = np.array([9.0, 10.0, 12.0, 12.5, 11.8, 10.5, 8.0])
    f = gi.fvg(h, lo)
    assert f.direction.tolist() == [0, 0, 1, 1, 0, -1, -1]
    assert (f.bottom[2], f.top[2], f.size[2]) == (10.0, 12.0, 2.0)
    assert (f.bottom[5], f.top[5]) == (11.5, 12.5)
    g = gi.fvg_gaps(h, lo)
    assert g.index.tolist() == [2, 3, 5, 6]
    # Gap 2 [10, 12]: bar 4 dips to 11.8 (touched), bar 6 to 8 (filled).
    # Gap 3 [12, 12.5]: bar 4 touches and fills it at once. Bearish gaps 5 and 6: untouched.
    assert g.touched.tolist() == [4, 4, -1, -1]
    assert g.filled.tolist() == [6, 4, -1, -1]
    for cut in range(1, h.size):
        part = gi.fvg(h[:cut], lo[:cut])
        np.testing.assert_array_equal(part.direction, f.direction[:cut])


@pytest.mark.parametrize("n", [0, 1, 2, 13])
def test_too_short_series_is_all_nan(n):
    x = np.linspace(1, 2, n)
    for out in (gi.sma(x, 14), gi.ema(x, 14), gi.rsi(x, 14), gi.atr(x, x, x, 14),
                gi.stddev(x, 14), *gi.adx(x, x, x, 14), *gi.macd(x), *gi.stoch(x, x, x, 14),
                *gi.stochrsi(x), *gi.bbands(x, 14), gi.vwap(x, x, x, x, 14),
                *gi.donchian(x, x, 14), gi.regime(x, x, x), *gi.swings(x, x, 7, 7)):
        assert out.shape == (n,)
        assert np.isnan(out).all()

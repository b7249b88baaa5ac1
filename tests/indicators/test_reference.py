"""Batch kernels against the plain-Python references on real candles."""

from __future__ import annotations

import numpy as np
import pytest

import genesis_core.indicators as gi


def lists(d: dict[str, np.ndarray], *names: str) -> list[list[float]]:
    return [d[n].tolist() for n in names]


@pytest.mark.parametrize("period", [1, 2, 20, 200])
def test_sma(ref_data, ref, close_enough, period):
    close_enough(gi.sma(ref_data["close"], period), ref.sma(ref_data["close"].tolist(), period))


@pytest.mark.parametrize("period", [1, 2, 20, 200])
def test_ema(ref_data, ref, close_enough, period):
    close_enough(gi.ema(ref_data["close"], period), ref.ema(ref_data["close"].tolist(), period))


@pytest.mark.parametrize("period", [1, 2, 20, 100])
def test_wma(ref_data, ref, close_enough, period):
    close_enough(gi.wma(ref_data["close"], period), ref.wma(ref_data["close"].tolist(), period))


@pytest.mark.parametrize("period", [2, 5, 20, 100])
def test_stddev_and_zscore(ref_data, ref, close_enough, period):
    x = ref_data["close"]
    _, std = ref.mean_std(x.tolist(), period)
    close_enough(gi.stddev(x, period), std)
    close_enough(gi.stddev(x, period, nbdev=2.5), [2.5 * s for s in std])
    close_enough(gi.zscore(x, period), ref.zscore(x.tolist(), period), scale=1.0)


@pytest.mark.parametrize(("pe", "ps"), [(20, 20), (50, 20), (10, 30)])
def test_ema_zscore(ref_data, ref, close_enough, pe, ps):
    x = ref_data["close"].tolist()
    e = ref.ema(x, pe)
    _, std = ref.mean_std(x, ps)
    want = [
        np.nan if np.isnan(a) or np.isnan(s) else (0.0 if s == 0 else (v - a) / s)
        for v, a, s in zip(x, e, std, strict=True)
    ]
    close_enough(gi.ema_zscore(ref_data["close"], pe, ps), want, scale=1.0)


@pytest.mark.parametrize(("period", "ku", "kd"), [(20, 2.0, 2.0), (5, 1.5, 3.0)])
def test_bbands(ref_data, ref, close_enough, period, ku, kd):
    ours = gi.bbands(ref_data["close"], period, ku, kd)
    want = ref.bbands(ref_data["close"].tolist(), period, ku, kd)
    for field, o, w in zip(ours._fields, ours, want, strict=True):
        scale = 1.0 if field == "percent_b" else 0.0
        close_enough(o, w, scale=scale)


@pytest.mark.parametrize("period", [1, 2, 14, 50])
def test_rsi(ref_data, ref, close_enough, period):
    close_enough(gi.rsi(ref_data["close"], period), ref.rsi(ref_data["close"].tolist(), period),
                 scale=100.0)


def test_true_range(ref_data, ref, close_enough):
    h, lo, c = lists(ref_data, "high", "low", "close")
    close_enough(gi.true_range(h, lo, c), ref.trange(h, lo, c))


@pytest.mark.parametrize("period", [1, 2, 14, 50])
def test_atr(ref_data, ref, close_enough, period):
    h, lo, c = lists(ref_data, "high", "low", "close")
    close_enough(gi.atr(h, lo, c, period), ref.atr(h, lo, c, period))


@pytest.mark.parametrize("period", [2, 14, 30])
def test_adx(ref_data, ref, close_enough, period):
    h, lo, c = lists(ref_data, "high", "low", "close")
    for o, w in zip(gi.adx(h, lo, c, period), ref.adx(h, lo, c, period), strict=True):
        close_enough(o, w, scale=100.0)


@pytest.mark.parametrize(("fast", "slow", "sig"), [(12, 26, 9), (5, 35, 5), (3, 4, 1)])
def test_macd(ref_data, ref, close_enough, fast, slow, sig):
    x = ref_data["close"]
    scale = 1e-3 * float(np.mean(np.abs(x)))  # a difference of two price-level EMAs
    for o, w in zip(gi.macd(x, fast, slow, sig), ref.macd(x.tolist(), fast, slow, sig),
                    strict=True):
        close_enough(o, w, scale=scale)


@pytest.mark.parametrize(("fk", "sk", "sd"), [(5, 3, 3), (14, 1, 1), (9, 4, 2)])
def test_stoch(ref_data, ref, close_enough, fk, sk, sd):
    h, lo, c = lists(ref_data, "high", "low", "close")
    for o, w in zip(gi.stoch(h, lo, c, fk, sk, sd), ref.stoch(h, lo, c, fk, sk, sd),
                    strict=True):
        close_enough(o, w, scale=100.0)


@pytest.mark.parametrize(("p", "fk", "fd"), [(14, 5, 3), (14, 14, 3), (7, 3, 1)])
def test_stochrsi(ref_data, ref, close_enough, p, fk, fd):
    x = ref_data["close"]
    for o, w in zip(gi.stochrsi(x, p, fk, fd), ref.stochrsi(x.tolist(), p, fk, fd), strict=True):
        close_enough(o, w, scale=100.0)


def test_obv(ref_data, ref, close_enough):
    c, v = lists(ref_data, "close", "volume")
    close_enough(gi.obv(c, v), ref.obv(c, v), scale=float(np.sum(v)))


@pytest.mark.parametrize("period", [1, 20, 96])
def test_vwap(ref_data, ref, close_enough, period):
    h, lo, c, v = lists(ref_data, "high", "low", "close", "volume")
    close_enough(gi.vwap(h, lo, c, v, period), ref.vwap(h, lo, c, v, period))


def test_session_vwap(ref_data, ref, close_enough):
    h, lo, c, v = lists(ref_data, "high", "low", "close", "volume")
    ts = ref_data["ts"]
    close_enough(gi.session_vwap(ts, h, lo, c, v), ref.session_vwap(ts.tolist(), h, lo, c, v))


@pytest.mark.parametrize("period", [1, 20, 55])
def test_donchian(ref_data, ref, close_enough, period):
    h, lo = lists(ref_data, "high", "low")
    for o, w in zip(gi.donchian(h, lo, period), ref.donchian(h, lo, period), strict=True):
        close_enough(o, w, rel=0.0)


@pytest.mark.parametrize(("left", "right"), [(2, 2), (5, 3), (0, 1), (1, 0)])
def test_swings(ref_data, ref, close_enough, left, right):
    h, lo = lists(ref_data, "high", "low")
    for o, w in zip(gi.swings(h, lo, left, right), ref.swings(h, lo, left, right), strict=True):
        close_enough(o, w, rel=0.0)


def test_regime(ref_data, ref, close_enough):
    h, lo, c = lists(ref_data, "high", "low", "close")
    a = ref.adx(h, lo, c, 14)[0]
    e = ref.ema(c, 50)
    want = []
    for i in range(len(c)):
        if i < 1 or np.isnan(a[i]) or np.isnan(e[i]) or np.isnan(e[i - 1]):
            want.append(np.nan)
        elif a[i] >= 25 and e[i] > e[i - 1]:
            want.append(1.0)
        elif a[i] >= 25 and e[i] < e[i - 1]:
            want.append(-1.0)
        else:
            want.append(0.0)
    ours = gi.regime(h, lo, c, 14, 50, 1, 25.0)
    # A slope or ADX within rounding of the threshold could flip; real data has none here.
    close_enough(ours, want, rel=0.0)
    assert set(np.unique(ours[~np.isnan(ours)])) <= {-1.0, 0.0, 1.0}


def test_fvg_and_gaps(ref_data, ref, close_enough):
    h, lo = lists(ref_data, "high", "low")
    d, top, bot, size = gi.fvg(h, lo)
    wd, wt, wb, ws = ref.fvg(h, lo)
    assert d.dtype == np.int8
    assert d.tolist() == wd
    for o, w in ((top, wt), (bot, wb), (size, ws)):
        close_enough(o, w, rel=0.0)
    gaps = gi.fvg_gaps(h, lo)
    rows = list(zip(gaps.index.tolist(), gaps.direction.tolist(), gaps.top.tolist(),
                    gaps.bottom.tolist(), gaps.touched.tolist(), gaps.filled.tolist(),
                    strict=True))
    assert rows == ref.fvg_gaps(h, lo)
    assert len(rows) > 10

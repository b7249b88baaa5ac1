"""Agreement with TA-Lib where it defines the indicator (skipped when ta-lib is absent)."""

from __future__ import annotations

import numpy as np
import pytest

import genesis_core.indicators as gi


talib = pytest.importorskip("talib", reason="TA-Lib comparison needs the optional ta-lib")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", params=["binance_BTCUSDT_1h.csv", "binance_ETHUSDT_5m.csv"])
def d(request, load):
    return load(request.param, 0, 30_000)


def test_moving_averages(d, close_enough):
    c = d["close"]
    for p in (2, 14, 50):
        close_enough(gi.sma(c, p), talib.SMA(c, p))
        close_enough(gi.ema(c, p), talib.EMA(c, p))
        close_enough(gi.wma(c, p), talib.WMA(c, p))


def test_rsi_atr_trange_obv(d, close_enough):
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    close_enough(gi.rsi(c, 14), talib.RSI(c, 14), scale=100.0)
    close_enough(gi.true_range(h, lo, c), talib.TRANGE(h, lo, c))
    close_enough(gi.atr(h, lo, c, 14), talib.ATR(h, lo, c, 14))
    close_enough(gi.obv(c, v), talib.OBV(c, v), scale=float(np.sum(v)))


def test_adx_and_di(d, close_enough):
    h, lo, c = d["high"], d["low"], d["close"]
    for p in (5, 14):
        r = gi.adx(h, lo, c, p)
        close_enough(r.adx, talib.ADX(h, lo, c, p), scale=100.0)
        close_enough(r.plus_di, talib.PLUS_DI(h, lo, c, p), scale=100.0)
        close_enough(r.minus_di, talib.MINUS_DI(h, lo, c, p), scale=100.0)


def test_stddev_and_bbands(d, close_enough):
    c = d["close"]
    price = float(np.mean(c))
    # TA-Lib computes E[x^2] - E[x]^2, which loses ~eps * price^2 / std: compare at price scale.
    close_enough(gi.stddev(c, 20), talib.STDDEV(c, 20, 1.0), scale=price)
    ours = gi.bbands(c, 20, 2.0, 2.0)
    for o, t in zip(ours[:3], talib.BBANDS(c, 20, 2.0, 2.0), strict=True):
        close_enough(o, t, scale=price)


def test_macd(d, close_enough):
    c = d["close"]
    scale = 1e-3 * float(np.mean(c))
    for args in ((12, 26, 9), (5, 35, 5)):
        for o, t in zip(gi.macd(c, *args), talib.MACD(c, *args), strict=True):
            close_enough(o, t, scale=scale)


def test_stochastics(d, close_enough):
    h, lo, c = d["high"], d["low"], d["close"]
    for o, t in zip(gi.stoch(h, lo, c, 14, 3, 3), talib.STOCH(h, lo, c, 14, 3, 0, 3, 0),
                    strict=True):
        close_enough(o, t, scale=100.0)
    for o, t in zip(gi.stochrsi(c, 14, 5, 3), talib.STOCHRSI(c, 14, 5, 3, 0), strict=True):
        close_enough(o, t, scale=100.0)


def test_donchian_is_max_min(d, close_enough):
    dc = gi.donchian(d["high"], d["low"], 20)
    close_enough(dc.upper, talib.MAX(d["high"], 20), rel=0.0)
    close_enough(dc.lower, talib.MIN(d["low"], 20), rel=0.0)

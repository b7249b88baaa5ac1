"""Streaming twins reproduce the batch output bit for bit, bar by bar."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import genesis_core.indicators as gi
from genesis_core.indicators import streaming as st


Case = tuple[Callable[..., object], Callable[[], object], tuple[str, ...]]

# name -> (batch call on columns, stream factory, update columns)
CASES: dict[str, Case] = {
    "sma": (lambda c: gi.sma(c, 20), lambda: st.SMAStream(20), ("close",)),
    "ema": (lambda c: gi.ema(c, 20), lambda: st.EMAStream(20), ("close",)),
    "wma": (lambda c: gi.wma(c, 30), lambda: st.WMAStream(30), ("close",)),
    "stddev": (lambda c: gi.stddev(c, 20, 2.0), lambda: st.StdDevStream(20, 2.0), ("close",)),
    "zscore": (lambda c: gi.zscore(c, 50), lambda: st.ZScoreStream(50), ("close",)),
    "ema_z": (lambda c: gi.ema_zscore(c, 20, 40), lambda: st.EMAZScoreStream(20, 40),
              ("close",)),
    "bbands": (lambda c: gi.bbands(c, 20, 2.0, 1.5), lambda: st.BBandsStream(20, 2.0, 1.5),
               ("close",)),
    "rsi": (lambda c: gi.rsi(c, 14), lambda: st.RSIStream(14), ("close",)),
    "trange": (gi.true_range, st.TrueRangeStream, ("high", "low", "close")),
    "atr": (lambda h, lo, c: gi.atr(h, lo, c, 14), lambda: st.ATRStream(14),
            ("high", "low", "close")),
    "adx": (lambda h, lo, c: gi.adx(h, lo, c, 14), lambda: st.ADXStream(14),
            ("high", "low", "close")),
    "macd": (lambda c: gi.macd(c, 12, 26, 9), lambda: st.MACDStream(12, 26, 9), ("close",)),
    "stoch": (lambda h, lo, c: gi.stoch(h, lo, c, 14, 3, 3), lambda: st.StochStream(14, 3, 3),
              ("high", "low", "close")),
    "stochrsi": (lambda c: gi.stochrsi(c, 14, 14, 3), lambda: st.StochRSIStream(14, 14, 3),
                 ("close",)),
    "obv": (gi.obv, st.OBVStream, ("close", "volume")),
    "vwap": (lambda h, lo, c, v: gi.vwap(h, lo, c, v, 48), lambda: st.VWAPStream(48),
             ("high", "low", "close", "volume")),
    "session_vwap": (gi.session_vwap, st.SessionVWAPStream,
                     ("ts", "high", "low", "close", "volume")),
    "donchian": (lambda h, lo: gi.donchian(h, lo, 20), lambda: st.DonchianStream(20),
                 ("high", "low")),
    "swings": (lambda h, lo: gi.swings(h, lo, 3, 2), lambda: st.SwingStream(3, 2),
               ("high", "low")),
    "regime": (lambda h, lo, c: gi.regime(h, lo, c, 14, 50, 3, 20.0),
               lambda: st.RegimeStream(14, 50, 3, 20.0), ("high", "low", "close")),
    "fvg": (gi.fvg, st.FVGStream, ("high", "low")),
}

DATASETS = {
    "bitfinex_1h": ("bitfinex_BTCUSD_1h.csv", 0, None),
    "binance_5m_20k": ("binance_BTCUSDT_5m.csv", 30_000, 50_000),
}


@pytest.fixture(scope="module", params=[*DATASETS, "with_nans"])
def data(request, load):
    if request.param == "with_nans":
        d = load("binance_ETHUSDT_1h.csv")
        # NaN bars in different columns, including two in a row and one near the start.
        d["close"][[3, 700, 701, 2500]] = np.nan
        d["high"][[1500, 4000]] = np.nan
        d["volume"][[900]] = np.nan
        return d
    return load(*DATASETS[request.param])


def run_stream(factory: Callable[[], object], cols: list[np.ndarray]) -> list[object]:
    s = factory()
    return [s.update(*row) for row in zip(*(c.tolist() for c in cols), strict=True)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_stream_matches_batch(name, data, identical):
    batch_fn, factory, cols = CASES[name]
    columns = [data[c] for c in cols]
    batch = batch_fn(*columns)
    outs = batch if isinstance(batch, tuple) else (batch,)
    got = run_stream(factory, columns)
    rows = [g if isinstance(g, tuple) else (g,) for g in got]
    for j, want in enumerate(outs):
        identical(np.asarray(want), np.array([r[j] for r in rows], dtype=np.asarray(want).dtype))


def test_fvg_stream_gaps_match_batch(data, identical):
    s = st.FVGStream()
    for h, lo in zip(data["high"].tolist(), data["low"].tolist(), strict=True):
        s.update(h, lo)
    got, want = s.gaps(), gi.fvg_gaps(data["high"], data["low"])
    for a, b in zip(got, want, strict=True):
        identical(b, a)


def test_fvg_stream_mitigation_is_causal(load):
    """Mid-stream, a gap's touched/filled index is the batch answer if it has happened yet."""
    d = load("bitfinex_BTCUSD_1h.csv")
    final = gi.fvg_gaps(d["high"], d["low"])
    s = st.FVGStream()
    cut = 400
    for h, lo in zip(d["high"][:cut].tolist(), d["low"][:cut].tolist(), strict=True):
        s.update(h, lo)
    part = s.gaps()
    k = part.index.size
    for now, full in ((part.touched, final.touched[:k]), (part.filled, final.filled[:k])):
        expect = np.where((full >= 0) & (full < cut), full, -1)
        np.testing.assert_array_equal(now, expect)


def test_stream_returns_plain_floats():
    s = st.EMAStream(3)
    out = [s.update(v) for v in (1, 2, 3, 4)]
    assert all(isinstance(v, float) for v in out)
    assert np.isnan(out[1])
    assert out[2] == 2.0

"""Fixtures for the indicator tests: real candles and plain-Python reference indicators.

The references are deliberately naive (lists, loops, direct sums over each window) so that
they are obviously correct; they follow TA-Lib's definitions of seeding and warm-up.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest


DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NAN = math.nan
L = list[float]


@cache
def _load(name: str) -> dict[str, np.ndarray]:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"shared data file {path} not present")
    with path.open() as f:
        rows = list(csv.reader(f))
    cols = list(zip(*rows[1:], strict=True))
    out = {k: np.array(c, dtype=np.float64) for k, c in zip(rows[0], cols, strict=True)}
    out["ts"] = np.array(cols[0], dtype=np.int64)
    return out


def candles(name: str, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
    """Columns ts (int64), open, high, low, close, volume of a shared CSV, sliced."""
    return {k: v[start:stop].copy() for k, v in _load(name).items()}


@pytest.fixture(scope="session")
def load() -> Callable[..., dict[str, np.ndarray]]:
    return candles


# Real-data sets the reference tests run on (kept to a few thousand bars: the references are
# plain Python).
REF_SETS = {
    "bitfinex_1h": ("bitfinex_BTCUSD_1h.csv", 0, None),
    "binance_1h_3k": ("binance_BTCUSDT_1h.csv", 20_000, 23_000),
    "binance_eth_5m_3k": ("binance_ETHUSDT_5m.csv", 14_000, 17_000),
}


@pytest.fixture(params=sorted(REF_SETS))
def ref_data(request: pytest.FixtureRequest) -> dict[str, np.ndarray]:
    name, start, stop = REF_SETS[request.param]
    return candles(name, start, stop)


def assert_close(ours: np.ndarray, ref: Sequence[float], rel: float = 1e-9, scale: float = 0.0):
    """Same NaN positions; elsewhere |ours - ref| <= rel * max(|ref|, scale).

    ``scale`` is the magnitude the result is computed from (e.g. the price level for an
    output that is a difference of prices, 100 for 0..100 oscillators)."""
    ref_a = np.array(ref, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    assert ours.shape == ref_a.shape
    nan_o, nan_r = np.isnan(ours), np.isnan(ref_a)
    bad = np.flatnonzero(nan_o != nan_r)
    assert bad.size == 0, f"NaN mismatch at {bad[:10]}: ours {ours[bad[:5]]} ref {ref_a[bad[:5]]}"
    m = ~nan_r
    tol = rel * np.maximum(np.abs(ref_a[m]), scale)
    err = np.abs(ours[m] - ref_a[m])
    worst = int(np.argmax(err - tol)) if m.any() else 0
    assert np.all(err <= tol), (
        f"max excess at {np.flatnonzero(m)[worst]}: ours {ours[m][worst]!r} ref {ref_a[m][worst]!r}"
    )


@pytest.fixture(scope="session")
def close_enough() -> Callable[..., None]:
    return assert_close


def assert_identical(a: np.ndarray, b: np.ndarray) -> None:
    """Bit-for-bit equality of float arrays (NaN == NaN, and the sign of zero counts)."""
    a = np.asarray(a)
    b = np.asarray(b, dtype=a.dtype)
    assert a.shape == b.shape
    diff = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b))))
    assert diff.size == 0, f"differ at {diff[:10]}: {a[diff[:5]]!r} vs {b[diff[:5]]!r}"
    if a.dtype.kind == "f":
        assert np.array_equal(np.signbit(a), np.signbit(b))


@pytest.fixture(scope="session")
def identical() -> Callable[[np.ndarray, np.ndarray], None]:
    return assert_identical


# --------------------------------------------------------------------------- references


def by_segments(fn: Callable[..., object], *cols: Sequence[float], outputs: int = 1) -> object:
    """Apply a reference to each NaN-free run of bars (the documented NaN-restart policy);
    bars with a NaN in any column get NaN outputs."""
    n = len(cols[0])
    outs = [[NAN] * n for _ in range(outputs)]
    bad = [any(math.isnan(c[i]) for c in cols) for i in range(n)]
    i = 0
    while i < n:
        if bad[i]:
            i += 1
            continue
        j = i
        while j < n and not bad[j]:
            j += 1
        res = fn(*(list(c[i:j]) for c in cols))
        for o, part in zip(outs, res if outputs > 1 else (res,), strict=True):
            o[i:j] = part
        i = j
    return outs if outputs > 1 else outs[0]


def r_sma(x: L, p: int) -> L:
    return [NAN if i < p - 1 else sum(x[i - p + 1 : i + 1]) / p for i in range(len(x))]


def r_ema(x: L, p: int, start: int = 0) -> L:
    """TA-Lib EMA; the seed is the mean of x[start : start+p]."""
    out = [NAN] * len(x)
    if len(x) < start + p:
        return out
    k = 2.0 / (p + 1)
    prev = sum(x[start : start + p]) / p
    out[start + p - 1] = prev
    for i in range(start + p, len(x)):
        prev = prev + k * (x[i] - prev)
        out[i] = prev
    return out


def r_wma(x: L, p: int) -> L:
    div = p * (p + 1) / 2
    return [
        NAN if i < p - 1 else sum((j + 1) * v for j, v in enumerate(x[i - p + 1 : i + 1])) / div
        for i in range(len(x))
    ]


def r_mean_std(x: L, p: int) -> tuple[L, L]:
    mean, std = [NAN] * len(x), [NAN] * len(x)
    for i in range(p - 1, len(x)):
        w = x[i - p + 1 : i + 1]
        m = sum(w) / p
        mean[i] = m
        std[i] = math.sqrt(sum((v - m) ** 2 for v in w) / p)
    return mean, std


def r_zscore(x: L, p: int) -> L:
    mean, std = r_mean_std(x, p)
    return [
        NAN if math.isnan(s) else (0.0 if s == 0 else (v - m) / s)
        for v, m, s in zip(x, mean, std, strict=True)
    ]


def r_bbands(x: L, p: int, ku: float, kd: float) -> tuple[L, ...]:
    mean, std = r_mean_std(x, p)
    up = [m + ku * s for m, s in zip(mean, std, strict=True)]
    lo = [m - kd * s for m, s in zip(mean, std, strict=True)]
    pb = [
        NAN if math.isnan(u) else ((v - d) / (u - d) if u > d else 0.5)
        for v, u, d in zip(x, up, lo, strict=True)
    ]
    bw = [(u - d) / m if m != 0 else NAN for u, d, m in zip(up, lo, mean, strict=True)]
    return up, mean, lo, pb, bw


def r_rsi(x: L, p: int) -> L:
    out = [NAN] * len(x)
    if len(x) <= p:
        return out
    gains = [max(x[i] - x[i - 1], 0.0) for i in range(1, len(x))]
    losses = [max(x[i - 1] - x[i], 0.0) for i in range(1, len(x))]
    g, lo = sum(gains[:p]) / p, sum(losses[:p]) / p
    for i in range(p, len(x)):
        if i > p:
            g = (g * (p - 1) + gains[i - 1]) / p
            lo = (lo * (p - 1) + losses[i - 1]) / p
        out[i] = 0.0 if g + lo == 0 else 100.0 * g / (g + lo)
    return out


def r_trange(h: L, lo: L, c: L) -> L:
    return [NAN] + [
        max(h[i], c[i - 1]) - min(lo[i], c[i - 1]) for i in range(1, len(c))
    ]


def r_atr(h: L, lo: L, c: L, p: int) -> L:
    tr = r_trange(h, lo, c)
    out = [NAN] * len(c)
    if len(c) <= p:
        return out
    a = sum(tr[1 : p + 1]) / p
    out[p] = a
    for i in range(p + 1, len(c)):
        a = (a * (p - 1) + tr[i]) / p
        out[i] = a
    return out


def r_adx(h: L, lo: L, c: L, p: int) -> tuple[L, L, L]:
    n = len(c)
    adx, pdi, mdi = [NAN] * n, [NAN] * n, [NAN] * n
    tr = r_trange(h, lo, c)
    pdm, mdm = [0.0] * n, [0.0] * n
    for i in range(1, n):
        up, down = h[i] - h[i - 1], lo[i - 1] - lo[i]
        if down > 0 and up < down:
            mdm[i] = down
        elif up > 0 and up > down:
            pdm[i] = up
    sp, sm, st = sum(pdm[1:p]), sum(mdm[1:p]), sum(tr[1:p])
    dxs: list[float] = []
    prev_adx = NAN
    for i in range(p, n):
        sp = sp - sp / p + pdm[i]
        sm = sm - sm / p + mdm[i]
        st = st - st / p + tr[i]
        pdi[i] = 100 * sp / st if st != 0 else 0.0
        mdi[i] = 100 * sm / st if st != 0 else 0.0
        tot = pdi[i] + mdi[i]
        dx = 100 * abs(pdi[i] - mdi[i]) / tot if st != 0 and tot != 0 else None
        if i < 2 * p - 1:
            dxs.append(dx or 0.0)
        elif i == 2 * p - 1:
            dxs.append(dx or 0.0)
            prev_adx = sum(dxs) / p
            adx[i] = prev_adx
        else:
            if dx is not None:
                prev_adx = (prev_adx * (p - 1) + dx) / p
            adx[i] = prev_adx
    return adx, pdi, mdi


def r_macd(x: L, fast: int, slow: int, sig: int) -> tuple[L, L, L]:
    n = len(x)
    es = r_ema(x, slow)
    ef = r_ema(x, fast, start=slow - fast)  # TA-Lib starts both EMAs at bar slow-1
    m = [NAN if math.isnan(a) else a - b for a, b in zip(ef, es, strict=True)]
    sig_l = [NAN] * n
    if n >= slow + sig - 1:
        sig_l[slow - 1 :] = r_ema(m[slow - 1 :], sig)
    lb = slow + sig - 2
    out_m = [NAN if i < lb else m[i] for i in range(n)]
    hist = [a - b for a, b in zip(out_m, sig_l, strict=True)]
    return out_m, sig_l, hist


def _fast_k(c: float, hh: float, ll: float) -> float:
    return 0.0 if hh == ll else (c - ll) / ((hh - ll) / 100.0)


def r_stoch(h: L, lo: L, c: L, fk: int, sk: int, sd: int) -> tuple[L, L]:
    n = len(c)
    fast = [NAN] * n
    for i in range(fk - 1, n):
        fast[i] = _fast_k(c[i], max(h[i - fk + 1 : i + 1]), min(lo[i - fk + 1 : i + 1]))
    slow_k = [NAN] * n
    for i in range(fk + sk - 2, n):
        slow_k[i] = sum(fast[i - sk + 1 : i + 1]) / sk
    slow_d = [NAN] * n
    for i in range(fk + sk + sd - 3, n):
        slow_d[i] = sum(slow_k[i - sd + 1 : i + 1]) / sd
    lb = fk + sk + sd - 3
    return [NAN if i < lb else v for i, v in enumerate(slow_k)], slow_d


def r_stochrsi(x: L, p: int, fk: int, fd: int) -> tuple[L, L]:
    r = r_rsi(x, p)
    n = len(x)
    fast = [NAN] * n
    for i in range(p + fk - 1, n):
        w = r[i - fk + 1 : i + 1]
        # A window narrower than 1e-9 RSI points is flat (documented deviation from TA-Lib).
        fast[i] = 0.0 if max(w) - min(w) <= 1e-9 else _fast_k(r[i], max(w), min(w))
    fast_d = [NAN] * n
    for i in range(p + fk + fd - 2, n):
        fast_d[i] = sum(fast[i - fd + 1 : i + 1]) / fd
    lb = p + fk + fd - 2
    return [NAN if i < lb else v for i, v in enumerate(fast)], fast_d


def r_obv(c: L, v: L) -> L:
    out = [v[0]]
    for i in range(1, len(c)):
        step = v[i] if c[i] > c[i - 1] else (-v[i] if c[i] < c[i - 1] else 0.0)
        out.append(out[-1] + step)
    return out


def r_vwap(h: L, lo: L, c: L, v: L, p: int) -> L:
    tp = [(a + b + d) / 3.0 for a, b, d in zip(h, lo, c, strict=True)]
    out = [NAN] * len(c)
    for i in range(p - 1, len(c)):
        sv = sum(v[i - p + 1 : i + 1])
        spv = sum(tp[j] * v[j] for j in range(i - p + 1, i + 1))
        out[i] = spv / sv if sv > 0 else NAN
    return out


def r_session_vwap(ts: Sequence[int], h: L, lo: L, c: L, v: L, length: int = 86_400_000) -> L:
    out, spv, sv, day = [], 0.0, 0.0, None
    for t, a, b, d, w in zip(ts, h, lo, c, v, strict=True):
        if t // length != day:
            day, spv, sv = t // length, 0.0, 0.0
        spv += (a + b + d) / 3.0 * w
        sv += w
        out.append(spv / sv if sv > 0 else NAN)
    return out


def r_donchian(h: L, lo: L, p: int) -> tuple[L, L, L]:
    n = len(h)
    up = [NAN if i < p - 1 else max(h[i - p + 1 : i + 1]) for i in range(n)]
    dn = [NAN if i < p - 1 else min(lo[i - p + 1 : i + 1]) for i in range(n)]
    return up, dn, [(a + b) / 2 for a, b in zip(up, dn, strict=True)]


def r_swings(h: L, lo: L, left: int, right: int) -> tuple[L, L]:
    n = len(h)
    sh, sl = [NAN] * n, [NAN] * n
    for j in range(left, n - right):
        others = [*range(j - left, j), *range(j + 1, j + right + 1)]
        if all(h[j] > h[k] for k in others):
            sh[j + right] = h[j]  # known only at the confirmation bar
        if all(lo[j] < lo[k] for k in others):
            sl[j + right] = lo[j]
    return sh, sl


def r_fvg(h: L, lo: L) -> tuple[list[int], L, L, L]:
    n = len(h)
    d, top, bot, size = [0] * n, [NAN] * n, [NAN] * n, [NAN] * n
    for t in range(2, n):
        if lo[t] > h[t - 2]:
            d[t], top[t], bot[t] = 1, lo[t], h[t - 2]
        elif h[t] < lo[t - 2]:
            d[t], top[t], bot[t] = -1, lo[t - 2], h[t]
        if d[t]:
            size[t] = top[t] - bot[t]
    return d, top, bot, size


def r_fvg_gaps(h: L, lo: L) -> list[tuple[int, int, float, float, int, int]]:
    """(index, dir, top, bottom, touched, filled) by scanning forward from each gap."""
    d, top, bot, _ = r_fvg(h, lo)
    rows = []
    for t in range(len(h)):
        if not d[t]:
            continue
        touched = filled = -1
        for j in range(t + 1, len(h)):
            if d[t] > 0:
                enter, close = lo[j] < top[t], lo[j] <= bot[t]
            else:
                enter, close = h[j] > bot[t], h[j] >= top[t]
            if enter and touched < 0:
                touched = j
            if close:
                filled = j
                break
        rows.append((t, d[t], top[t], bot[t], touched, filled))
    return rows


@pytest.fixture(scope="session")
def ref() -> SimpleNamespace:
    """The reference implementations, plus ``by_segments`` for the NaN-restart policy."""
    return SimpleNamespace(
        by_segments=by_segments,
        sma=r_sma,
        ema=r_ema,
        wma=r_wma,
        mean_std=r_mean_std,
        zscore=r_zscore,
        bbands=r_bbands,
        rsi=r_rsi,
        trange=r_trange,
        atr=r_atr,
        adx=r_adx,
        macd=r_macd,
        stoch=r_stoch,
        stochrsi=r_stochrsi,
        obv=r_obv,
        vwap=r_vwap,
        session_vwap=r_session_vwap,
        donchian=r_donchian,
        swings=r_swings,
        fvg=r_fvg,
        fvg_gaps=r_fvg_gaps,
    )

"""Numba kernels behind ``genesis_core.indicators``.

Layout: every recurrence is a small ``*_step`` function compiled with ``inline='always'``. The
batch kernels (``*_nb``) loop over the bars calling the step, so their state lives in registers;
the streaming twins in ``streaming.py`` call the very same step from Python, one bar at a time.
Both paths therefore run identical float operations on identical values, which is what makes
them agree bit for bit.

Conventions shared by all kernels:

* inputs are contiguous float64 arrays; outputs are caller-provided buffers of the same length;
* a NaN in any input bar makes that bar's output NaN and restarts the indicator (warm-up and
  seeding) from the next bar, as if the series began there; ``n`` in the steps counts the bars
  of the current NaN-free segment;
* only the ``contract`` fast-math flag is on, so ``a*b + c`` may become one FMA; nothing is
  reassociated. ``error_model='numpy'`` turns x/0 into inf/NaN instead of an exception check.
"""

from __future__ import annotations

import numpy as np
from numba import njit


_OPTS = {"cache": True, "nogil": True, "fastmath": {"contract"}, "error_model": "numpy"}
kernel = njit(**_OPTS)
step = njit(inline="always", **_OPTS)

NAN = np.nan
# Running sums are re-summed from the window when their rounding-error bound exceeds about
# RESUM_C * eps (~1e-12) of the value: exact enough for 1e-9 over any length, and cheap.
RESUM_C = 4096.0


# --------------------------------------------------------------------------- helpers


@step
def ema_coefs(period):
    """EMA weights: new = prev*a + x*b with b = 2/(period+1)."""
    b = 2.0 / (period + 1.0)
    return 1.0 - b, b


@step
def wilder_coefs(period):
    """Wilder weights: new = prev*a + x*b with b = 1/period."""
    return (period - 1.0) / period, 1.0 / period


@step
def true_range(h, lo, pc):
    """TA-Lib's TRANGE: max(h-l, |pc-h|, |pc-l|)."""
    g = h - lo
    v = abs(pc - h)
    if v > g:
        g = v
    v = abs(pc - lo)
    if v > g:
        g = v
    return g


@step
def win_max(w, w0, p):
    m = w[w0]
    for j in range(w0 + 1, w0 + p):
        if w[j] > m:
            m = w[j]
    return m


@step
def win_min(w, w0, p):
    m = w[w0]
    for j in range(w0 + 1, w0 + p):
        if w[j] < m:
            m = w[j]
    return m


# --------------------------------------------------------------------------- SMA


@step
def sum_resum(w, w0, p):
    s = 0.0
    e = 0.0
    for j in range(w0, w0 + p):
        s += w[j]
        e += abs(w[j])
    return s, e


@step
def sma_step(x, x_old, n, s, e, r, p):
    """One SMA bar on scalars; ``x_old`` is the value leaving the window.

    Returns (n, s, e, r, resum): when ``resum`` is set the caller rebuilds (s, e) with
    ``sum_resum`` over the window ending at x and sets r = 0. Output: ``s / p`` once n >= p.
    Array access stays out of the per-bar step: an array argument to an inlined function costs
    an atomic reference-count update per call.
    """
    if x != x:
        return 0, 0.0, 0.0, 0, False
    n += 1
    if n <= p:
        return n, s, e, r, n == p
    s += x - x_old
    e += abs(x) + abs(x_old)
    r += 1
    return n, s, e, r, r * e > RESUM_C * abs(s)


@kernel
def sma_nb(x, p, out):
    n, r, s, e = 0, 0, 0.0, 0.0
    for i in range(x.size):
        x_old = x[i - p] if i >= p else 0.0
        n, s, e, r, resum = sma_step(x[i], x_old, n, s, e, r, p)
        if resum:
            s, e = sum_resum(x, i - p + 1, p)
            r = 0
        out[i] = s / p if n >= p else NAN


@kernel
def sma_bar(x, x_old, n, s, e, r, p, w, w0):
    """Streaming twin of one ``sma_nb`` iteration (w[w0:w0+p] = window ending at x)."""
    n, s, e, r, resum = sma_step(x, x_old, n, s, e, r, p)
    if resum:
        s, e = sum_resum(w, w0, p)
        r = 0
    return n, s, e, r, s / p if n >= p else NAN


# --------------------------------------------------------------------------- EMA


@step
def ema_step(x, n, acc, p, a, b):
    """One EMA bar, seeded with the SMA of the first p values. Returns (n, acc, ema)."""
    if x != x:
        return 0, 0.0, NAN
    n += 1
    if n < p:
        return n, acc + x, NAN
    acc = (acc + x) / p if n == p else acc * a + x * b
    return n, acc, acc


@kernel
def ema_nb(x, p, out):
    a, b = ema_coefs(p)
    n, acc = 0, 0.0
    for i in range(x.size):
        n, acc, out[i] = ema_step(x[i], n, acc, p, a, b)


# --------------------------------------------------------------------------- WMA


@step
def wma_resum(w, w0, p):
    s = 0.0
    ws = 0.0
    e = 0.0
    for j in range(p):
        v = w[w0 + j]
        s += v
        ws += (j + 1.0) * v
        e += abs(v)
    return s, ws, e


@step
def wma_step(x, x_old, n, s, ws, e, r, p):
    """One WMA bar (weights 1..p, newest heaviest) on scalars; resum protocol as ``sma_step``.

    Returns (n, s, ws, e, r, resum). Output: ``ws / (p*(p+1)/2)`` once n >= p."""
    if x != x:
        return 0, 0.0, 0.0, 0.0, 0, False
    n += 1
    if n <= p:
        return n, s, ws, e, r, n == p
    ws += p * x - s  # W_t = W_{t-1} - S_{t-1} + p*x_t
    s += x - x_old
    e += abs(x) + abs(x_old)
    r += 1
    # The weighted sum accumulates the plain sum's errors, hence r*r.
    return n, s, ws, e, r, r * r * e > RESUM_C * p * abs(s) or r > 4096


@step
def wma_out(n, ws, p):
    return ws / (p * (p + 1.0) * 0.5) if n >= p else NAN


@kernel
def wma_nb(x, p, out):
    n, r, s, ws, e = 0, 0, 0.0, 0.0, 0.0
    for i in range(x.size):
        x_old = x[i - p] if i >= p else 0.0
        n, s, ws, e, r, resum = wma_step(x[i], x_old, n, s, ws, e, r, p)
        if resum:
            s, ws, e = wma_resum(x, i - p + 1, p)
            r = 0
        out[i] = wma_out(n, ws, p)


@kernel
def wma_bar(x, x_old, n, s, ws, e, r, p, w, w0):
    """Streaming twin of one ``wma_nb`` iteration."""
    n, s, ws, e, r, resum = wma_step(x, x_old, n, s, ws, e, r, p)
    if resum:
        s, ws, e = wma_resum(w, w0, p)
        r = 0
    return n, s, ws, e, r, wma_out(n, ws, p)


# --------------------------------------------------------------------------- rolling variance


@step
def var_resum(w, w0, p):
    """Shifted sums about the newest value: a constant window gives exactly zero variance."""
    k = w[w0 + p - 1]
    s1 = 0.0
    s2 = 0.0
    e1 = 0.0
    for j in range(w0, w0 + p):
        d = w[j] - k
        s1 += d
        s2 += d * d
        e1 += abs(d)
    return k, s1, s2, e1


@step
def var_out(n, k, s1, s2, p):
    """(mean, variance) from the shifted sums; NaN before the window is full."""
    if n < p:
        return NAN, NAN
    m = s1 / p
    var = s2 / p - m * m
    return k + m, var if var > 0.0 else 0.0


@step
def var_step(x, x_old, n, k, s1, s2, e1, e2, r, p):
    """Population mean/variance of the last p values on scalars.

    Running shifted sums s1 = sum(x-k), s2 = sum((x-k)^2). ``resum`` asks the caller to rebuild
    them with ``var_resum`` when the window first fills, when the rounding-error bound
    r*(e2 + 2|m|e1)/p nears 1e-12 of the variance, or when the shift k drifted far from the
    mean (cancellation in s2/p - m^2). Returns (n, k, s1, s2, e1, e2, r, resum).
    """
    if x != x:
        return 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, False
    n += 1
    if n <= p:
        return n, k, s1, s2, e1, e2, r, n == p
    d = x - k
    do = x_old - k
    s1 += d - do
    s2 += d * d - do * do
    e1 += abs(d) + abs(do)
    e2 += d * d + do * do
    r += 1
    m = s1 / p
    var = s2 / p - m * m
    resum = r * (e2 + 2.0 * abs(m) * e1) > RESUM_C * p * var or m * m > (RESUM_C + 4.0 * p) * var
    return n, k, s1, s2, e1, e2, r, resum


@kernel
def var_bar(x, x_old, n, k, s1, s2, e1, e2, r, p, w, w0):
    """Streaming twin of the variance part of one ``stddev_nb``/``bbands_nb`` iteration.

    Returns (n, k, s1, s2, e1, e2, r, mean, var)."""
    n, k, s1, s2, e1, e2, r, resum = var_step(x, x_old, n, k, s1, s2, e1, e2, r, p)
    if resum:
        k, s1, s2, e1 = var_resum(w, w0, p)
        e2 = s2
        r = 0
    mean, var = var_out(n, k, s1, s2, p)
    return n, k, s1, s2, e1, e2, r, mean, var


@step
def bbands_tail(x, mean, var, nbu, nbd):
    """Bands from mean/var. Returns (upper, middle, lower, %B, bandwidth)."""
    if var != var:
        return NAN, NAN, NAN, NAN, NAN
    sd = np.sqrt(var)
    up = mean + nbu * sd
    lo = mean - nbd * sd
    width = up - lo
    pb = (x - lo) / width if width > 0.0 else 0.5
    bw = width / mean if mean != 0.0 else NAN
    return up, mean, lo, pb, bw


@step
def zscore_tail(x, mean, var):
    if var != var:
        return NAN
    if var > 0.0:
        return (x - mean) / np.sqrt(var)
    return 0.0


@kernel
def stddev_nb(x, p, nbdev, out):
    n, r, k, s1, s2, e1, e2 = 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(x.size):
        x_old = x[i - p] if i >= p else 0.0
        n, k, s1, s2, e1, e2, r, resum = var_step(x[i], x_old, n, k, s1, s2, e1, e2, r, p)
        if resum:
            k, s1, s2, e1 = var_resum(x, i - p + 1, p)
            e2 = s2
            r = 0
        _, var = var_out(n, k, s1, s2, p)
        out[i] = np.sqrt(var) * nbdev


@kernel
def zscore_nb(x, p, out):
    n, r, k, s1, s2, e1, e2 = 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(x.size):
        x_old = x[i - p] if i >= p else 0.0
        n, k, s1, s2, e1, e2, r, resum = var_step(x[i], x_old, n, k, s1, s2, e1, e2, r, p)
        if resum:
            k, s1, s2, e1 = var_resum(x, i - p + 1, p)
            e2 = s2
            r = 0
        mean, var = var_out(n, k, s1, s2, p)
        out[i] = zscore_tail(x[i], mean, var)


@kernel
def bbands_nb(x, p, nbu, nbd, up, mid, lo, pb, bw):
    n, r, k, s1, s2, e1, e2 = 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(x.size):
        x_old = x[i - p] if i >= p else 0.0
        n, k, s1, s2, e1, e2, r, resum = var_step(x[i], x_old, n, k, s1, s2, e1, e2, r, p)
        if resum:
            k, s1, s2, e1 = var_resum(x, i - p + 1, p)
            e2 = s2
            r = 0
        mean, var = var_out(n, k, s1, s2, p)
        up[i], mid[i], lo[i], pb[i], bw[i] = bbands_tail(x[i], mean, var, nbu, nbd)


@step
def ema_z_tail(x, ema, var):
    if ema != ema or var != var:
        return NAN
    if var > 0.0:
        return (x - ema) / np.sqrt(var)
    return 0.0


@kernel
def ema_z_nb(x, pe, ps, out):
    a, b = ema_coefs(pe)
    n1, acc = 0, 0.0
    n, r, k, s1, s2, e1, e2 = 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(x.size):
        n1, acc, ema = ema_step(x[i], n1, acc, pe, a, b)
        x_old = x[i - ps] if i >= ps else 0.0
        n, k, s1, s2, e1, e2, r, resum = var_step(x[i], x_old, n, k, s1, s2, e1, e2, r, ps)
        if resum:
            k, s1, s2, e1 = var_resum(x, i - ps + 1, ps)
            e2 = s2
            r = 0
        _, var = var_out(n, k, s1, s2, ps)
        out[i] = ema_z_tail(x[i], ema, var)


# --------------------------------------------------------------------------- RSI


@step
def rsi_step(x, n, prev, g, lo, p, a, b):
    """Wilder RSI (TA-Lib seeding: simple averages of the first p changes).

    Returns (n, prev, avg_gain, avg_loss, rsi)."""
    if x != x:
        return 0, 0.0, 0.0, 0.0, NAN
    if n == 0:
        return 1, x, 0.0, 0.0, NAN
    d = x - prev
    gain = d if d > 0.0 else 0.0
    loss = -d if d < 0.0 else 0.0
    if n < p:
        return n + 1, x, g + gain, lo + loss, NAN
    if n == p:
        g = (g + gain) / p
        lo = (lo + loss) / p
    else:
        g = g * a + gain * b
        lo = lo * a + loss * b
    t = g + lo
    out = 100.0 * (g / t) if t != 0.0 else 0.0
    return n + 1, x, g, lo, out


@kernel
def rsi_nb(x, p, out):
    a, b = wilder_coefs(p)
    n, prev, g, lo = 0, 0.0, 0.0, 0.0
    for i in range(x.size):
        n, prev, g, lo, out[i] = rsi_step(x[i], n, prev, g, lo, p, a, b)


# --------------------------------------------------------------------------- TRANGE / ATR


@step
def atr_step(h, lo, c, n, pc, acc, p, a, b):
    """Wilder ATR seeded with the mean of the first p true ranges (TA-Lib).

    Returns (n, prev_close, acc, tr, atr)."""
    if h != h or lo != lo or c != c:
        return 0, 0.0, 0.0, NAN, NAN
    if n == 0:
        return 1, c, 0.0, NAN, NAN
    tr = true_range(h, lo, pc)
    if n < p:
        return n + 1, c, acc + tr, tr, NAN
    acc = (acc + tr) / p if n == p else acc * a + tr * b
    return n + 1, c, acc, tr, acc


@kernel
def trange_nb(high, low, close, out):
    n, pc = 0, 0.0
    for i in range(close.size):
        # A huge period keeps ATR in its accumulate phase; only the TR is used.
        n, pc, _, out[i], _ = atr_step(high[i], low[i], close[i], n, pc, 0.0, 1 << 62, 0.0, 0.0)


@kernel
def atr_nb(high, low, close, p, out):
    a, b = wilder_coefs(p)
    n, pc, acc = 0, 0.0, 0.0
    for i in range(close.size):
        n, pc, acc, _, out[i] = atr_step(high[i], low[i], close[i], n, pc, acc, p, a, b)


# --------------------------------------------------------------------------- ADX / DI


@step
def adx_step(h, lo, c, n, ph, pl, pc, sp, sm, st, sdx, adx, p, a, b):
    """TA-Lib ADX/PLUS_DI/MINUS_DI. Directional movement and TR are summed over bars 1..p-1,
    then Wilder-smoothed as S*(p-1)/p + v; DX is averaged over bars p..2p-1 to seed ADX.

    Returns (n, ph, pl, pc, sp, sm, st, sdx, adx, out_adx, out_plus_di, out_minus_di)."""
    if h != h or lo != lo or c != c:
        return 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN, NAN, NAN
    if n == 0:
        return 1, h, lo, c, 0.0, 0.0, 0.0, 0.0, 0.0, NAN, NAN, NAN
    dp = h - ph
    dm = pl - lo
    vp = 0.0
    vm = 0.0
    if dm > 0.0 and dp < dm:
        vm = dm
    elif dp > 0.0 and dp > dm:
        vp = dp
    tr = true_range(h, lo, pc)
    if n < p:
        return n + 1, h, lo, c, sp + vp, sm + vm, st + tr, sdx, adx, NAN, NAN, NAN
    sp = sp * a + vp
    sm = sm * a + vm
    st = st * a + tr
    pdi = 0.0
    mdi = 0.0
    dx = NAN
    if st != 0.0:
        pdi = 100.0 * (sp / st)
        mdi = 100.0 * (sm / st)
        t = pdi + mdi
        if t != 0.0:
            dx = 100.0 * (abs(mdi - pdi) / t)
    out = NAN
    if n < 2 * p - 1:
        if dx == dx:
            sdx += dx
    elif n == 2 * p - 1:
        if dx == dx:
            sdx += dx
        adx = sdx / p
        out = adx
    else:
        if dx == dx:
            adx = adx * a + dx * b
        out = adx
    return n + 1, h, lo, c, sp, sm, st, sdx, adx, out, pdi, mdi


@kernel
def adx_nb(high, low, close, p, out_adx, out_pdi, out_mdi):
    a, b = wilder_coefs(p)
    n = 0
    ph, pl, pc, sp, sm, st, sdx, adx = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(close.size):
        n, ph, pl, pc, sp, sm, st, sdx, adx, out_adx[i], out_pdi[i], out_mdi[i] = adx_step(
            high[i], low[i], close[i], n, ph, pl, pc, sp, sm, st, sdx, adx, p, a, b
        )


# --------------------------------------------------------------------------- MACD


@step
def macd_step(x, n, ss, sf, es, ef, sg, eg, fast, slow, sig, cf, cs, cg):
    """TA-Lib MACD: both EMAs start at bar slow-1 (the fast one seeded with the SMA of the fast
    values ending there), signal = EMA of MACD seeded with its first ``sig`` values' SMA.

    ``cf``/``cs``/``cg`` are (a, b) coefficient pairs. Returns
    (n, ss, sf, es, ef, sg, eg, macd, signal, hist)."""
    if x != x:
        return 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN, NAN, NAN
    n += 1
    if n <= slow:
        ss += x
        if n > slow - fast:
            sf += x
        if n < slow:
            return n, ss, sf, es, ef, sg, eg, NAN, NAN, NAN
        es = ss / slow
        ef = sf / fast
    else:
        es = es * cs[0] + x * cs[1]
        ef = ef * cf[0] + x * cf[1]
    m = ef - es
    j = n - slow + 1  # MACD values so far
    if j < sig:
        return n, ss, sf, es, ef, sg + m, eg, NAN, NAN, NAN
    eg = (sg + m) / sig if j == sig else eg * cg[0] + m * cg[1]
    return n, ss, sf, es, ef, sg, eg, m, eg, m - eg


@kernel
def macd_nb(x, fast, slow, sig, out_m, out_s, out_h):
    cf = ema_coefs(fast)
    cs = ema_coefs(slow)
    cg = ema_coefs(sig)
    n, ss, sf, es, ef, sg, eg = 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(x.size):
        n, ss, sf, es, ef, sg, eg, out_m[i], out_s[i], out_h[i] = macd_step(
            x[i], n, ss, sf, es, ef, sg, eg, fast, slow, sig, cf, cs, cg
        )


# --------------------------------------------------------------------------- Stochastics


@step
def stoch_fast(c, hh, ll):
    """TA-Lib's fast %K: (c-LL)/((HH-LL)/100), 0 when HH == LL."""
    diff = (hh - ll) / 100.0
    return (c - ll) / diff if diff != 0.0 else 0.0


# RSI values that are equal in exact arithmetic differ in the last bits (e.g. over bars with no
# price change), which would make the stochastic of a flat RSI window jump between 0 and 100.
# A window narrower than this many RSI points counts as flat (TA-Lib compares with exact 0).
RSI_FLAT = 1e-9


@step
def stochrsi_fast(v, hh, ll):
    """Fast %K of an RSI value: TA-Lib's formula, 0 when the window is flat (see RSI_FLAT)."""
    diff = (hh - ll) / 100.0
    return (v - ll) / diff if hh - ll > RSI_FLAT else 0.0


@step
def ring_mean_at(r):
    """Mean of a small ring in slot order (same order in batch and streaming)."""
    t = 0.0
    for q in range(r.size):
        t += r[q]
    return t / r.size


@kernel
def stoch_nb(high, low, close, fk, sk, sd, out_k, out_d):
    """TA-Lib STOCH: slowK = SMA(fastK, sk), slowD = SMA(slowK, sd), both from the full lookback.

    Window extremes are tracked TA-Lib style (rescan only when the extreme leaves the window);
    the smoothing rings are summed in slot order, exactly as ``stoch_bar`` does."""
    rk = np.empty(sk)
    rd = np.empty(sd)
    n = 0
    hi_i, lo_i, hh, ll = -1, -1, 0.0, 0.0
    for i in range(close.size):
        out_k[i] = NAN
        out_d[i] = NAN
        if high[i] != high[i] or low[i] != low[i] or close[i] != close[i]:
            n = 0
            continue
        n += 1
        if n < fk:
            continue
        start = i - fk + 1
        if hi_i < start:
            hi_i, hh = start, high[start]
            for j in range(start + 1, i + 1):
                if high[j] >= hh:
                    hi_i, hh = j, high[j]
        elif high[i] >= hh:
            hi_i, hh = i, high[i]
        if lo_i < start:
            lo_i, ll = start, low[start]
            for j in range(start + 1, i + 1):
                if low[j] <= ll:
                    lo_i, ll = j, low[j]
        elif low[i] <= ll:
            lo_i, ll = i, low[i]
        j = n - fk  # fastK values before this one
        rk[j % sk] = stoch_fast(close[i], hh, ll)
        if j + 1 < sk:
            continue
        t = 0.0
        for q in range(sk):
            t += rk[q]
        slow_k = t / sk
        q = j + 1 - sk  # slowK values before this one
        rd[q % sd] = slow_k
        if q + 1 < sd:
            continue
        t = 0.0
        for q in range(sd):
            t += rd[q]
        out_k[i] = slow_k
        out_d[i] = t / sd


@kernel
def stoch_bar(hw, lw, w0, c, n, fk, rk, rd):
    """Streaming twin of one ``stoch_nb`` iteration (n >= fk; hw/lw hold the window)."""
    hh = hw[w0]
    ll = lw[w0]
    for j in range(w0 + 1, w0 + fk):
        hh = max(hh, hw[j])
        ll = min(ll, lw[j])
    j = n - fk
    rk[j % rk.size] = stoch_fast(c, hh, ll)
    if j + 1 < rk.size:
        return NAN, NAN
    slow_k = ring_mean_at(rk)
    q = j + 1 - rk.size
    rd[q % rd.size] = slow_k
    if q + 1 < rd.size:
        return NAN, NAN
    return slow_k, ring_mean_at(rd)


@kernel
def stochrsi_nb(x, p, fk, fd, out_k, out_d):
    """TA-Lib STOCHRSI: STOCHF(fk, fd) applied to RSI(p); rings as in ``stochrsi_bar``."""
    a, b = wilder_coefs(p)
    rr = np.empty(fk)
    rf = np.empty(fd)
    n, prev, g, lo = 0, 0.0, 0.0, 0.0
    for i in range(x.size):
        n, prev, g, lo, v = rsi_step(x[i], n, prev, g, lo, p, a, b)
        out_k[i] = NAN
        out_d[i] = NAN
        if v != v:
            continue
        m = n - p  # RSI values so far, including v
        rr[(m - 1) % fk] = v
        if m < fk:
            continue
        hh = rr[0]
        ll = rr[0]
        for j in range(1, fk):
            hh = max(hh, rr[j])
            ll = min(ll, rr[j])
        fast = stochrsi_fast(v, hh, ll)
        j = m - fk
        rf[j % fd] = fast
        if j + 1 < fd:
            continue
        t = 0.0
        for q in range(fd):
            t += rf[q]
        out_k[i] = fast
        out_d[i] = t / fd


@kernel
def stochrsi_bar(v, m, rr, rf):
    """Streaming twin of the STOCHF part of one ``stochrsi_nb`` iteration (v = valid RSI)."""
    fk = rr.size
    rr[(m - 1) % fk] = v
    if m < fk:
        return NAN, NAN
    hh = rr[0]
    ll = rr[0]
    for j in range(1, fk):
        hh = max(hh, rr[j])
        ll = min(ll, rr[j])
    fast = stochrsi_fast(v, hh, ll)
    j = m - fk
    rf[j % rf.size] = fast
    if j + 1 < rf.size:
        return NAN, NAN
    return fast, ring_mean_at(rf)


# --------------------------------------------------------------------------- OBV / VWAP


@step
def obv_step(c, v, n, pc, obv):
    """TA-Lib OBV: starts at the first bar's volume. Returns (n, prev_close, obv).

    Branch-free (random closes mispredict a branch half the time): obv + v*sign is exact,
    since v*(+1/-1/0) is exact and the FMA rounds once, like obv ± v."""
    if c != c or v != v:
        return 0, 0.0, NAN
    if n == 0:
        return 1, c, v
    sign = (1.0 if c > pc else 0.0) - (1.0 if c < pc else 0.0)
    return n + 1, c, obv + v * sign


@kernel
def obv_nb(close, volume, out):
    n, pc, obv = 0, 0.0, 0.0
    for i in range(close.size):
        n, pc, obv = obv_step(close[i], volume[i], n, pc, obv)
        out[i] = obv


@step
def typical(h, lo, c):
    return (h + lo + c) / 3.0


@step
def vwap_resum(hw, lw, cw, vw, w0, p):
    spv = 0.0
    sv = 0.0
    e = 0.0
    for j in range(w0, w0 + p):
        pv = typical(hw[j], lw[j], cw[j]) * vw[j]
        spv += pv
        sv += vw[j]
        e += abs(pv)
    return spv, sv, e


@step
def vwap_step(pv, v, pv_old, v_old, n, spv, sv, e, r, p):
    """Rolling p-bar VWAP on scalars (pv = typical price * volume); resum protocol as
    ``sma_step``. Returns (n, spv, sv, e, r, resum)."""
    if pv != pv or v != v:
        return 0, 0.0, 0.0, 0.0, 0, False
    n += 1
    if n <= p:
        return n, spv, sv, e, r, n == p
    spv += pv - pv_old
    sv += v - v_old
    e += abs(pv) + abs(pv_old)
    r += 1
    # Volumes are >= 0, so the volume sum only cancels when volume dries up: resum then too.
    return n, spv, sv, e, r, r * e > RESUM_C * abs(spv) or r > 4096


@step
def vwap_out(n, spv, sv, p):
    return spv / sv if n >= p and sv > 0.0 else NAN


@kernel
def vwap_nb(high, low, close, volume, p, out):
    n, r, spv, sv, e = 0, 0, 0.0, 0.0, 0.0
    for i in range(close.size):
        pv_old = 0.0
        v_old = 0.0
        if i >= p:
            pv_old = typical(high[i - p], low[i - p], close[i - p]) * volume[i - p]
            v_old = volume[i - p]
        pv = typical(high[i], low[i], close[i]) * volume[i]
        n, spv, sv, e, r, resum = vwap_step(pv, volume[i], pv_old, v_old, n, spv, sv, e, r, p)
        if resum:
            spv, sv, e = vwap_resum(high, low, close, volume, i - p + 1, p)
            r = 0
        out[i] = vwap_out(n, spv, sv, p)


@kernel
def vwap_bar(h, lo, c, v, ho, lo_old, co, vo, n, spv, sv, e, r, p, hw, lw, cw, vw, w0):
    """Streaming twin of one ``vwap_nb`` iteration (``*o``: the bar leaving the window)."""
    pv_old = typical(ho, lo_old, co) * vo
    pv = typical(h, lo, c) * v
    n, spv, sv, e, r, resum = vwap_step(pv, v, pv_old, vo, n, spv, sv, e, r, p)
    if resum:
        spv, sv, e = vwap_resum(hw, lw, cw, vw, w0, p)
        r = 0
    return n, spv, sv, e, r, vwap_out(n, spv, sv, p)


@step
def session_vwap_step(ts, h, lo, c, v, sess, spv, sv, length, offset):
    """Cumulative VWAP since the start of the bar's session floor((ts-offset)/length).

    Returns (session, spv, sv, vwap); a NaN bar restarts the sums (session -1 = none)."""
    if h != h or lo != lo or c != c or v != v:
        return np.int64(-(1 << 62)), 0.0, 0.0, NAN
    s = (ts - offset) // length
    if s != sess:
        spv = 0.0
        sv = 0.0
    spv += typical(h, lo, c) * v
    sv += v
    out = spv / sv if sv > 0.0 else NAN
    return s, spv, sv, out


@kernel
def session_vwap_nb(ts, high, low, close, volume, length, offset, out):
    sess = np.int64(-(1 << 62))
    spv, sv = 0.0, 0.0
    for i in range(close.size):
        sess, spv, sv, out[i] = session_vwap_step(
            ts[i], high[i], low[i], close[i], volume[i], sess, spv, sv, length, offset
        )


# --------------------------------------------------------------------------- Donchian


@step
def donchian_tail(hh, ll):
    return hh, ll, (hh + ll) * 0.5


@kernel
def donchian_nb(high, low, p, up, lo, mid):
    """Window extremes tracked TA-Lib style: rescan only when the extreme leaves the window."""
    n = 0
    hi_i, lo_i, hh, ll = -1, -1, 0.0, 0.0
    for i in range(high.size):
        n = 0 if high[i] != high[i] or low[i] != low[i] else n + 1
        if n < p:
            up[i] = NAN
            lo[i] = NAN
            mid[i] = NAN
            continue
        start = i - p + 1
        if hi_i < start:
            hi_i, hh = start, high[start]
            for j in range(start + 1, i + 1):
                if high[j] >= hh:
                    hi_i, hh = j, high[j]
        elif high[i] >= hh:
            hi_i, hh = i, high[i]
        if lo_i < start:
            lo_i, ll = start, low[start]
            for j in range(start + 1, i + 1):
                if low[j] <= ll:
                    lo_i, ll = j, low[j]
        elif low[i] <= ll:
            lo_i, ll = i, low[i]
        up[i], lo[i], mid[i] = donchian_tail(hh, ll)


# --------------------------------------------------------------------------- swings


@step
def is_pivot_high(w, w0, left, right):
    """w[w0+left] strictly above the ``left`` values before and ``right`` values after it."""
    c = w[w0 + left]
    for j in range(w0, w0 + left + right + 1):  # noqa: SIM110 (numba: no generators)
        if j != w0 + left and not c > w[j]:
            return False
    return True


@step
def is_pivot_low(w, w0, left, right):
    c = w[w0 + left]
    for j in range(w0, w0 + left + right + 1):  # noqa: SIM110 (numba: no generators)
        if j != w0 + left and not c < w[j]:
            return False
    return True


@kernel
def swings_nb(high, low, left, right, out_hi, out_lo):
    span = left + right + 1
    n = 0
    for i in range(high.size):
        n = 0 if high[i] != high[i] or low[i] != low[i] else n + 1
        out_hi[i] = NAN
        out_lo[i] = NAN
        if n < span:
            continue
        # Pivot c = i - right is stamped on its confirmation bar i, never on c itself.
        c = i - right
        ok_hi = True
        ok_lo = True
        for j in range(c - left, i + 1):
            if j != c:
                ok_hi = ok_hi and high[c] > high[j]
                ok_lo = ok_lo and low[c] < low[j]
        if ok_hi:
            out_hi[i] = high[c]
        if ok_lo:
            out_lo[i] = low[c]


# --------------------------------------------------------------------------- regime


@step
def regime_value(adx, ema, ema_past, threshold):
    """+1 trend up, -1 trend down, 0 range; NaN while any input is warming up."""
    if adx != adx or ema != ema or ema_past != ema_past:
        return NAN
    if adx >= threshold:
        slope = ema - ema_past
        if slope > 0.0:
            return 1.0
        if slope < 0.0:
            return -1.0
    return 0.0


@step
def regime_step(adx, ema, ema_past, run, lookback, threshold):
    """``run`` counts consecutive valid EMA values, so the slope never spans a NaN restart.

    Returns (run, regime)."""
    run = run + 1 if ema == ema else 0
    if run <= lookback:
        return run, NAN
    return run, regime_value(adx, ema, ema_past, threshold)


@kernel
def regime_nb(adx, ema, lookback, threshold, out):
    run = 0
    for i in range(adx.size):
        past = ema[i - lookback] if i >= lookback else NAN
        run, out[i] = regime_step(adx[i], ema[i], past, run, lookback, threshold)


# --------------------------------------------------------------------------- fair value gaps


@step
def fvg_value(h, lo, h2, l2):
    """Gap between bar t (h, lo) and bar t-2 (h2, l2). Returns (dir, top, bottom, size)."""
    if lo > h2:
        return 1, lo, h2, lo - h2
    if h < l2:
        return -1, l2, h, l2 - h
    return 0, NAN, NAN, NAN


@kernel
def fvg_nb(high, low, out_dir, out_top, out_bot, out_size):
    n = 0
    for i in range(high.size):
        if high[i] != high[i] or low[i] != low[i]:
            n = 0
        else:
            n += 1
        if n < 3:
            out_dir[i] = 0
            out_top[i] = NAN
            out_bot[i] = NAN
            out_size[i] = NAN
            continue
        out_dir[i], out_top[i], out_bot[i], out_size[i] = fvg_value(
            high[i], low[i], high[i - 2], low[i - 2]
        )


@step
def prefix_search(val, top, v, strict):
    """Stack positions [0, top) hold the prefix extremes of the bars after the query bar,
    nearest bar last; return the stack position of the first bar whose value passes v
    (val < v when strict else val <= v, on the sign-adjusted values), or -1."""
    lo_, hi_ = 0, top  # binary search for the last position that passes
    while lo_ < hi_:
        mid = (lo_ + hi_) // 2
        passes = val[mid] < v if strict else val[mid] <= v
        if passes:
            lo_ = mid + 1
        else:
            hi_ = mid
    return lo_ - 1


@kernel
def fvg_mitigation_nb(high, low, g_idx, g_dir, g_top, g_bot, touched, filled, stk_i, stk_v):
    """First later bar that entered / filled each gap, for all gaps in O((n + gaps) log n).

    Bars are swept right to left keeping, on a stack, the prefix minima of the lows (bullish
    gaps) or prefix maxima of the highs (bearish, stored negated) of the bars after the gap's
    bar; the first bar whose low drops below a level is always such a prefix minimum, found by
    binary search. Each answer depends only on bars up to it, so the result is causal (the
    streaming twin reproduces it bar by bar).
    """
    for side in range(2):
        top = 0
        g = g_idx.size - 1
        for j in range(high.size - 1, -1, -1):
            while g >= 0 and g_idx[g] == j:
                if (g_dir[g] > 0) == (side == 0):
                    # bull: touched low < top, filled low <= bottom; bear (negated highs):
                    # touched -high < -bottom, filled -high <= -top.
                    enter = g_top[g] if side == 0 else -g_bot[g]
                    close = g_bot[g] if side == 0 else -g_top[g]
                    k = prefix_search(stk_v, top, enter, True)
                    touched[g] = stk_i[k] if k >= 0 else -1
                    k = prefix_search(stk_v, top, close, False)
                    filled[g] = stk_i[k] if k >= 0 else -1
                g -= 1
            x = low[j] if side == 0 else -high[j]
            if x != x:
                continue  # a NaN bar never mitigates anything
            while top > 0 and stk_v[top - 1] >= x:
                top -= 1
            stk_i[top] = j
            stk_v[top] = x
            top += 1

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
from numba import uint64 as U


_OPTS = {"cache": True, "nogil": True, "fastmath": {"contract"}, "error_model": "numpy"}
kernel = njit(**_OPTS)
step = njit(inline="always", **_OPTS)

NAN = np.nan
# The rolling VWAP's running sums are re-summed from the window when their rounding-error bound
# exceeds about RESUM_C * eps (~1e-12) of the value (SMA, WMA and the variance use blocks).
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
def first_nan(x, a, b):
    """First index in [a, b) holding NaN, or b (off the hot path: takes an array)."""
    for i in range(a, b):
        if x[i] != x[i]:
            return i
    return b


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


# --------------------------------------------------------------------------- blocked windows
#
# SMA, WMA and the rolling variance keep no running sums. A NaN-free run is cut into blocks of
# p bars counted from its first bar; the window ending at index j of block m is the tail
# B[m-1][j+1:] of the previous block plus the head B[m][:j+1] of the current one (at j = p-1
# it is block m alone). Tail sums are computed backwards once per block (suffix sums, into a
# small buffer ``q`` with q[p] = 0), head sums forwards, so every output is a fresh sum of
# exactly the p values in its window: no drift over any length, no residue of a huge value
# that has left the window, no error bookkeeping and no per-bar branch. A NaN is noticed once
# per block (it turns the head sum into NaN) and restarts the run after it.
#
# Indices are uint64: numba then emits no negative-index wraparound checks, which would
# otherwise cost as much as the arithmetic.


@step
def div_exact(s, d, r):
    """``s / d`` given r = 1/d: the reciprocal product plus one FMA correction step. It agreed
    with the correctly rounded ``s / d`` on all of 1e8 test values (10 divisors), at a fraction
    of the cost of a division, whose throughput would otherwise bound these loops."""
    q = s * r
    return q + (s - q * d) * r


@step
def sma_head(x, head, tail, fp, r):
    """One bar: head sum += x; output = (tail + head) / p. Returns (head, sma)."""
    head += x
    return head, div_exact(tail + head, fp, r)


@kernel
def sma_nb(x, p, out):
    q = np.empty(p + 1)  # q[j]: sum of the previous block's values j..p-1
    q[p] = 0.0
    fp = float(p)
    r = 1.0 / fp
    up, n, one = U(p), U(x.size), U(1)
    seg = s = U(0)  # start of the NaN-free run, start of the block
    while s < n:
        m = min(up, n - s)
        head = 0.0
        if s == seg:  # first block of a run: warm-up
            for j in range(m):
                head, v = sma_head(x[s + j], head, q[j + one], fp, r)
                out[s + j] = v if j == up - one else NAN
        else:
            t = 0.0
            b0 = s - up
            for k in range(one, up):
                t += x[b0 + up - k]
                q[up - k] = t
            for j in range(m):
                head, out[s + j] = sma_head(x[s + j], head, q[j + one], fp, r)
        s += m
        if head != head:
            z = first_nan(x, s - m, s)
            if z < s:
                out[z] = NAN
                seg = s = z + one


@kernel
def sma_bar(x, n, head, p, q, w, w0):
    """Streaming twin of one ``sma_nb`` bar. ``n``: bars of the run before x; ``w[w0:w0+p]``:
    the p values before x. Returns (n, head, sma)."""
    if x != x:
        return 0, 0.0, NAN
    j = n % p
    if j == 0:
        head = 0.0
        if n > 0:
            t = 0.0
            for k in range(1, p):
                t += w[w0 + p - k]
                q[p - k] = t
    fp = float(p)
    head, v = sma_head(x, head, q[j + 1], fp, 1.0 / fp)
    return n + 1, head, v if n + 1 >= p else NAN


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
def wma_head(x, head, head_d, tail, fp):
    """One WMA bar. With weights 1..p over the window, the tail (previous block) part is
    q[j+1] = sum over t > j of (t-j)*B[t], a suffix sum of suffix sums (no cancellation). The
    head part, weights p-j..p on B[0..j], is (p+1)*H - D with H = sum(B[0..j]) and
    D = sum of the prefix sums H = sum((j+1-i)*B[i]): two add-only chains (an FMA chain on
    sum(i*B[i]) would cost 4 cycles a bar). D <= (j+1)*H, so for same-signed data the
    difference loses at most a factor (p+1)/(p-j) <= p+1 (about 2 on prices).
    Returns (H, D, weighted window sum); the caller divides by p(p+1)/2."""
    head += x
    head_d += head
    return head, head_d, tail + ((fp + 1.0) * head - head_d)


@kernel
def wma_nb(x, p, out):
    q = np.empty(p + 1)
    q[p] = 0.0
    fp = float(p)
    d = fp * (fp + 1.0) * 0.5
    r = 1.0 / d
    up, n, one = U(p), U(x.size), U(1)
    seg = s = U(0)
    while s < n:
        m = min(up, n - s)
        head = head_d = 0.0
        if s != seg:
            t1 = t2 = 0.0
            b0 = s - up
            for k in range(one, up):
                t1 += x[b0 + up - k]
                t2 += t1
                q[up - k] = t2
        for j in range(m):
            head, head_d, out[s + j] = wma_head(x[s + j], head, head_d, q[j + one], fp)
        for j in range(m):  # vectorised
            out[s + j] = div_exact(out[s + j], d, r)
        if s == seg:
            for j in range(min(m, up - one)):
                out[s + j] = NAN
        s += m
        if head != head:
            z = first_nan(x, s - m, s)
            if z < s:
                out[z] = NAN
                seg = s = z + one


@kernel
def wma_bar(x, n, head, head_d, p, q, w, w0):
    """Streaming twin of one ``wma_nb`` bar (arguments as ``sma_bar``).
    Returns (n, head, head_d, wma)."""
    if x != x:
        return 0, 0.0, 0.0, NAN
    j = n % p
    if j == 0:
        head = head_d = 0.0
        if n > 0:
            t1 = t2 = 0.0
            for k in range(1, p):
                t1 += w[w0 + p - k]
                t2 += t1
                q[p - k] = t2
    fp = float(p)
    d = fp * (fp + 1.0) * 0.5
    head, head_d, v = wma_head(x, head, head_d, q[j + 1], fp)
    return n + 1, head, head_d, div_exact(v, d, 1.0 / d) if n + 1 >= p else NAN


# --------------------------------------------------------------------------- rolling variance


@step
def var_head(x, c, h1, h2, t1, t2, r):
    """One bar of the blocked variance. Sums are shifted by c, the first value of the current
    block, which lies in every window ending in that block: a constant window gives exactly 0,
    and since no value is more than sqrt(p-1) std from the window mean, the shifted mean m
    satisfies m^2 <= (p-1)*var, so var = S2/p - m^2 loses at most a factor p to cancellation.
    (t1, t2) are the tail sums of the previous block. Returns (h1, h2, mean, var)."""
    d = x - c
    h1 += d
    h2 += d * d
    m = (t1 + h1) * r
    var = (t2 + h2) * r - m * m
    return h1, h2, c + m, var if var > 0.0 else 0.0


@step
def var_tail_sums(v, c, t1, t2):
    d = v - c
    t1 += d
    return t1, t2 + d * d


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


@step
def ema_z_tail(x, ema, var):
    if ema != ema or var != var:
        return NAN
    if var > 0.0:
        return (x - ema) / np.sqrt(var)
    return 0.0


VAR_STD, VAR_Z, VAR_BANDS, VAR_EMA_Z = 0, 1, 2, 3


@kernel
def var_nb(x, p, mode, nbu, nbd, o1, o2, o3, o4, o5):
    """Rolling mean/variance in blocks, finished per block by ``mode``:
    VAR_STD o1 = sqrt(var)*nbu; VAR_Z o1 = z-score; VAR_BANDS o1..o5 = bands;
    VAR_EMA_Z o1 = EMA-Z, with o1 holding the EMA on entry. Unused buffers may repeat o1."""
    # Two tail-sum buffers of p+1: the previous block's, read by this block's bars, and this
    # block's (shifted by the next block's first value), built backwards in the same loop, so
    # the 4-cycle FMA chains of both overlap (fusing was slower for sma_nb/wma_nb).
    q1 = np.empty(2 * p + 2)
    q2 = np.empty(2 * p + 2)
    q1[p] = q2[p] = q1[2 * p + 1] = q2[2 * p + 1] = 0.0
    bm = np.empty(p)  # the block's means and variances, finished by the mode's tail loop
    bv = np.empty(p)
    r = 1.0 / p
    up, n, one = U(p), U(x.size), U(1)
    cur = U(0)
    seg = s = U(0)
    while s < n:
        m = min(up, n - s)
        nxt = up + one - cur
        c = x[s]
        h1 = h2 = 0.0
        if m == up:
            cn = x[s + up] if s + up < n else 0.0
            t1 = t2 = 0.0
            for j in range(up):
                h1, h2, bm[j], bv[j] = var_head(x[s + j], c, h1, h2, q1[cur + j + one],
                                                q2[cur + j + one], r)
                b = up - one - j
                t1, t2 = var_tail_sums(x[s + b], cn, t1, t2)
                q1[nxt + b] = t1
                q2[nxt + b] = t2
        else:
            for j in range(m):
                h1, h2, bm[j], bv[j] = var_head(x[s + j], c, h1, h2, q1[cur + j + one],
                                                q2[cur + j + one], r)
        if s == seg:
            for j in range(min(m, up - one)):
                bm[j] = bv[j] = NAN
        cur = nxt
        good = m
        if h1 != h1:
            good = first_nan(x, s, s + m) - s
        if mode == VAR_STD:
            for j in range(good):
                o1[s + j] = np.sqrt(bv[j]) * nbu
        elif mode == VAR_Z:
            for j in range(good):
                o1[s + j] = zscore_tail(x[s + j], bm[j], bv[j])
        elif mode == VAR_BANDS:
            for j in range(good):
                i = s + j
                o1[i], o2[i], o3[i], o4[i], o5[i] = bbands_tail(x[i], bm[j], bv[j], nbu, nbd)
        else:
            for j in range(good):
                o1[s + j] = ema_z_tail(x[s + j], o1[s + j], bv[j])
        if good < m:
            z = s + good
            o1[z] = o2[z] = o3[z] = o4[z] = o5[z] = NAN
            seg = s = z + one
        else:
            s += m


@kernel
def var_bar(x, n, c, h1, h2, p, q1, q2, w, w0):
    """Streaming twin of the variance part of one ``var_nb`` bar (arguments as ``sma_bar``).
    Returns (n, c, h1, h2, mean, var)."""
    if x != x:
        return 0, 0.0, 0.0, 0.0, NAN, NAN
    j = n % p
    if j == 0:
        c = x
        h1 = h2 = 0.0
        if n > 0:
            t1 = t2 = 0.0
            for k in range(1, p):
                t1, t2 = var_tail_sums(w[w0 + p - k], c, t1, t2)
                q1[p - k] = t1
                q2[p - k] = t2
    h1, h2, mean, var = var_head(x, c, h1, h2, q1[j + 1], q2[j + 1], 1.0 / p)
    if n + 1 < p:
        return n + 1, c, h1, h2, NAN, NAN
    return n + 1, c, h1, h2, mean, var


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


@step
def bad3(h, lo, c):
    """Whether a bar has a NaN (branch-free, so loops over it vectorise)."""
    return (h != h) | (lo != lo) | (c != c)


@kernel
def trange_nb(high, low, close, out):
    """Branch-free and vectorised; NaN where the bar or the one before it has a NaN (the bar
    after a NaN starts a new run, which has no previous close), as ``atr_step`` does."""
    n = U(close.size)
    if n > 0:
        out[0] = NAN
    for i in range(U(1), n):
        o = U(i - 1)
        bad = bad3(high[i], low[i], close[i]) | bad3(high[o], low[o], close[o])
        tr = true_range(high[i], low[i], close[o])
        out[i] = NAN if bad else tr


# Bars per chunk of the ATR loop: in steady state a chunk runs the bare recurrence, assuming no
# NaN, and is redone bar by bar with ``atr_step`` if one turns up.
ATR_CHUNK = 512


@kernel
def atr_nb(high, low, close, p, out):
    a, b = wilder_coefs(p)
    n, pc, acc = 0, 0.0, 0.0
    size, one = U(close.size), U(1)
    i = U(0)
    while i < size:
        e = min(i + U(ATR_CHUNK), size)
        if n > p:
            # Steady state, as atr_step with n > p: TR from the previous close, Wilder update,
            # a 4-cycle FMA chain with the loads and TR off it. A NaN high or low makes acc NaN;
            # TR's max() would drop a NaN close, so the closes are summed alongside.
            acc0 = acc
            chk = 0.0
            for j in range(i, e):
                acc = acc * a + true_range(high[j], low[j], close[j - one]) * b
                out[j] = acc
                chk += close[j]
            if acc == acc and chk == chk:
                n += np.int64(e - i)
                pc = close[e - one]
                i = e
                continue
            acc = acc0  # a NaN (or inf - inf) in the chunk: redo it bar by bar
        for j in range(i, e):
            n, pc, acc, _, out[j] = atr_step(high[j], low[j], close[j], n, pc, acc, p, a, b)
        i = e


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

    Exactly the steps of ``stoch_bar``: window extremes by a direct scan of the fk bars (fk is
    small; no data-dependent branches), smoothing rings filled at slot (count % size) and
    summed in slot order; the slots are counters here instead of a modulo per bar."""
    rk = np.empty(sk)
    rd = np.empty(sd)
    n = 0
    ik = jd = 0  # next slot of rk, rd
    nk = 0  # fastK values of the run so far
    ufk, one = U(fk), U(1)
    for i in range(U(close.size)):
        out_k[i] = NAN
        out_d[i] = NAN
        if bad3(high[i], low[i], close[i]):
            n = 0
            continue
        n += 1
        if n < fk:
            continue
        if n == fk:
            ik = jd = nk = 0
        w0 = i + one - ufk
        hh = high[w0]
        ll = low[w0]
        for j in range(w0 + one, i + one):
            hh = max(hh, high[j])
            ll = min(ll, low[j])
        rk[ik] = stoch_fast(close[i], hh, ll)
        ik = ik + 1 if ik + 1 < sk else 0
        nk += 1
        if nk < sk:
            continue
        t = 0.0
        for q in range(sk):
            t += rk[q]
        slow_k = t / sk
        rd[jd] = slow_k
        jd = jd + 1 if jd + 1 < sd else 0
        if nk - sk + 1 < sd:
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


@step
def donchian_head(h, lw, hh, ll, th, tl):
    """One bar: running extremes of the block so far, combined with the previous block's tail
    extremes (th, tl), which win ties. Returns (hh, ll, upper, lower)."""
    hh = h if h > hh else hh
    ll = lw if lw < ll else ll
    return hh, ll, hh if hh > th else th, ll if ll < tl else tl


@kernel
def donchian_nb(high, low, p, up, lo, mid):
    """Window max/min in blocks (van Herk / Gil-Werman), laid out like ``sma_nb``/``var_nb``:
    the extreme of the previous block's values j+1..p-1 against the running extreme of the
    current block's values 0..j; each block's tail extremes are built backwards in the same
    loop for the next block (four independent max/min chains). No data-dependent branches.
    Ties keep the oldest value, as ``win_max``/``win_min`` do (this matters for the sign of
    zero only). Comparisons skip NaN, so NaN bars are found through a running sum."""
    qh = np.empty(2 * p + 2)  # qh[j]: max of a block's highs j..p-1; two buffers as in var_nb
    ql = np.empty(2 * p + 2)
    qh[p] = qh[2 * p + 1] = -np.inf
    ql[p] = ql[2 * p + 1] = np.inf
    up_, n, one = U(p), U(high.size), U(1)
    cur = U(0)
    seg = s = U(0)
    while s < n:
        m = min(up_, n - s)
        nxt = up_ + one - cur
        hh, ll, chk = -np.inf, np.inf, 0.0
        if m == up_:
            th, tl = -np.inf, np.inf
            for j in range(up_):
                h = high[s + j]
                lw = low[s + j]
                chk += h + lw
                hh, ll, a, b = donchian_head(h, lw, hh, ll, qh[cur + j + one], ql[cur + j + one])
                up[s + j], lo[s + j], mid[s + j] = donchian_tail(a, b)
                k = up_ - one - j
                v = high[s + k]
                th = th if th > v else v  # max, the older value on ties
                qh[nxt + k] = th
                v = low[s + k]
                tl = tl if tl < v else v
                ql[nxt + k] = tl
        else:
            for j in range(m):
                h = high[s + j]
                lw = low[s + j]
                chk += h + lw
                hh, ll, a, b = donchian_head(h, lw, hh, ll, qh[cur + j + one], ql[cur + j + one])
                up[s + j], lo[s + j], mid[s + j] = donchian_tail(a, b)
        if s == seg:
            for j in range(min(m, up_ - one)):
                up[s + j] = lo[s + j] = mid[s + j] = NAN
        cur = nxt
        s += m
        if chk != chk:
            z = min(first_nan(high, s - m, s), first_nan(low, s - m, s))
            if z < s:
                up[z] = lo[z] = mid[z] = NAN
                seg = s = z + one


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

"""Numba kernels behind ``genesis_core.backtest``: the per-bar portfolio simulator and the grid.

One kernel (``run_nb``) walks the bars once. Every bar, for every symbol, in this order:

A. **At the open**: a protective stop or take-profit the bar *opened through* fills at the open;
   then a pending signal exit (or the closing half of a reversal) fills at the open.
B. **Entries**: a pending market entry fills at the open; a pending limit/stop entry fills when
   the bar reaches it (at the open if it opened through it), like the paper executor.
C. **Intrabar exits** from high/low, stop-loss first when both levels are inside the range.
D. **At the close**: marks, short funding, equity, cash, exposure and the running statistics.
E. **Signals** of this bar's close are turned into pending orders for the next bar.

State lives in small float64 arrays (``pos``, ``pend``, ``acc``) so a run can pause after D
(``pause``), hand control to Python for a risk hook, and resume at E of the same bar. Everything
is float64; prices and amounts are exact binary values, not Decimal (this is research code).

Conventions of ``genesis_core.indicators`` apply: caller-provided buffers, ``contract`` fast
math only (nothing reassociated), ``error_model='numpy'``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


_OPTS = {"cache": True, "nogil": True, "fastmath": {"contract"}, "error_model": "numpy"}
# The simulation kernels allocate nothing, so they are compiled without numba's reference
# counting (``_nrt=False``): with it, every call of a helper that takes arrays (inlined or
# not) increfs and decrefs each array with atomic operations, which tripled the cost of a
# fill (450 → 150 ns per reversal at 1M bars). The grid kernels, which allocate, keep it.
_SIM_OPTS = {**_OPTS, "_nrt": False}
kernel = njit(**_SIM_OPTS)
step = njit(inline="always", **_SIM_OPTS)

NAN = np.nan

# pos[s, :] -- the open position of symbol s
P_AMT, P_PRICE, P_BAR, P_FEE, P_FUND, P_SL, P_TP, P_CONF, P_ACTIVE, P_LAST, P_RES, P_SIGBAR = (
    range(12))
NPOS = 12
# pend[s, :] -- the pending entry / exit of symbol s
Q_DIR, Q_TYPE, Q_PRICE, Q_SIZE, Q_SL, Q_TP, Q_CONF, Q_BAR, Q_EXIT = range(9)
NPEND = 9
# acc[:] -- portfolio scalars and running statistics
(A_CASH, A_PEAK, A_MAXDD, A_SUMR, A_SUMR2, A_NTR, A_WINS, A_GWIN, A_GLOSS, A_FEES, A_FUND,
 A_PREV, A_NRET, A_SKIPPED, A_RESERVED, A_INMKT, A_OVERFLOW, A_DDSTART, A_MAXDDLEN) = range(19)
NACC = 19
# tr[k, :] -- one closed (or, with reason END, still open) trade
(T_SYM, T_SIDE, T_EBAR, T_XBAR, T_EPRICE, T_XPRICE, T_AMT, T_EFEE, T_XFEE, T_FUND, T_PNL,
 T_REASON, T_CONF, T_SIGBAR) = range(14)
NTR = 14
# cfg[:] -- run parameters
(C_TAKER, C_MAKER, C_SLIP, C_VSLIP, C_IMPACT, C_MAXSLIP, C_FUNDING, C_SIZETYPE, C_REVERSE,
 C_ENTRYBAR, C_TTL, C_SLFRAC, C_TPFRAC) = range(13)
NCFG = 13

REASON_SIGNAL, REASON_STOP, REASON_TAKE, REASON_END = 0, 1, 2, 3
ENTRY_MARKET, ENTRY_LIMIT, ENTRY_STOP = 0, 1, 2
SIZE_EQUITY, SIZE_AMOUNT, SIZE_VALUE = 0, 1, 2


@step
def row(a, t):
    """Row of a per-bar array: arrays with one row broadcast over all bars."""
    return t if a.shape[0] > 1 else 0


@step
def col(a, s):
    return s if a.shape[1] > 1 else 0


@step
def slip_frac(amount, vol, sigma, cfg):
    """Adverse price move of a taker fill, as a fraction of the price (see docs)."""
    s = cfg[C_SLIP]
    vslip = cfg[C_VSLIP]
    impact = cfg[C_IMPACT]
    if vslip > 0.0 or impact > 0.0:
        if vol > 0.0:
            f = amount / vol
            s += vslip * f + impact * sigma * math.sqrt(f)
        else:
            s = cfg[C_MAXSLIP]
    return min(s, cfg[C_MAXSLIP])


@step
def record(tr, acc, s, side, ebar, xbar, eprice, xprice, q, efee, xfee, fund, pnl, reason,
           conf, sigbar):
    k = int(acc[A_NTR])
    acc[A_NTR] = k + 1
    net = pnl - efee - xfee - fund
    if net > 0.0:
        acc[A_WINS] += 1.0
        acc[A_GWIN] += net
    else:
        acc[A_GLOSS] -= net
    if k < tr.shape[0]:
        tr[k, T_SYM] = s
        tr[k, T_SIDE] = side
        tr[k, T_EBAR] = ebar
        tr[k, T_XBAR] = xbar
        tr[k, T_EPRICE] = eprice
        tr[k, T_XPRICE] = xprice
        tr[k, T_AMT] = q
        tr[k, T_EFEE] = efee
        tr[k, T_XFEE] = xfee
        tr[k, T_FUND] = fund
        tr[k, T_PNL] = pnl
        tr[k, T_REASON] = reason
        tr[k, T_CONF] = conf
        tr[k, T_SIGBAR] = sigbar
    elif tr.shape[0] > 0:
        acc[A_OVERFLOW] = 1.0


@step
def close_pos(s, t, raw, taker, reason, vol, sigma, pos, acc, tr, cfg):
    """Close the whole position of symbol s at ``raw`` (before slippage)."""
    amt = pos[s, P_AMT]
    q = abs(amt)
    side = 1.0 if amt > 0.0 else -1.0
    if taker:
        px = raw * (1.0 - side * slip_frac(q, vol, sigma, cfg))
        fee = q * px * cfg[C_TAKER]
    else:
        px = raw
        fee = q * px * cfg[C_MAKER]
    acc[A_CASH] += amt * px - fee
    acc[A_FEES] += fee
    acc[A_RESERVED] -= pos[s, P_RES]
    pnl = amt * (px - pos[s, P_PRICE])
    record(tr, acc, s, side, pos[s, P_BAR], t, pos[s, P_PRICE], px, q, pos[s, P_FEE], fee,
           pos[s, P_FUND], pnl, reason, pos[s, P_CONF], pos[s, P_SIGBAR])
    pos[s, P_AMT] = 0.0
    pos[s, P_RES] = 0.0


@step
def open_pos(s, t, raw, taker, eq, vol, sigma, pend, pos, acc, cfg):
    """Open the pending entry of symbol s at ``raw``; returns False when it cannot be sized."""
    side = pend[s, Q_DIR]
    fee_rate = cfg[C_TAKER] if taker else cfg[C_MAKER]
    size = pend[s, Q_SIZE]
    kind = cfg[C_SIZETYPE]
    px = raw
    for it in range(2):  # once at the fixed slippage, once at the size-dependent slippage
        if kind == SIZE_EQUITY:
            q = size * eq / (px * (1.0 + fee_rate))
        elif kind == SIZE_AMOUNT:
            q = size
        else:
            q = size / (px * (1.0 + fee_rate))
        if side > 0.0:
            avail = acc[A_CASH] - acc[A_RESERVED]
            q = min(q, avail / (px * (1.0 + fee_rate)))
        if not taker or it == 1:
            break
        px = raw * (1.0 + side * slip_frac(q, vol, sigma, cfg))
    if not (q > 0.0):  # also NaN
        acc[A_SKIPPED] += 1.0
        return False
    fee = q * px * fee_rate
    amt = side * q
    acc[A_CASH] -= amt * px + fee
    acc[A_FEES] += fee
    pos[s, P_AMT] = amt
    pos[s, P_PRICE] = px
    pos[s, P_BAR] = t
    pos[s, P_FEE] = fee
    pos[s, P_FUND] = 0.0
    pos[s, P_SL] = pend[s, Q_SL]
    pos[s, P_TP] = pend[s, Q_TP]
    pos[s, P_CONF] = pend[s, Q_CONF]
    pos[s, P_SIGBAR] = pend[s, Q_BAR]
    pos[s, P_ACTIVE] = t if cfg[C_ENTRYBAR] != 0.0 else t + 1
    if side < 0.0:
        pos[s, P_RES] = q * px
        acc[A_RESERVED] += q * px
    else:
        pos[s, P_RES] = 0.0
    return True


@step
def entry_follows(d, x, amt, reverse):
    """Whether signal direction d at a close (with exit flag x) leads to a new entry."""
    if d == 0:
        return False
    cur = 0.0
    if amt > 0.0:
        cur = 1.0
    elif amt < 0.0:
        cur = -1.0
    if x != 0:
        cur = 0.0
    if cur == 0.0:
        return True
    return cur != d and reverse


@step
def try_entry(t, s, o, h, lo, v, sig, eq, pend, pos, acc, cfg):
    """Fill the pending entry of symbol s on bar t if it triggers; returns the bar's sizing
    equity (computed on the first fill of the bar, NaN until then)."""
    qd = pend[s, Q_DIR]
    op = o[t, s]
    kind = pend[s, Q_TYPE]
    ttl = cfg[C_TTL]
    if kind != ENTRY_MARKET and ttl > 0.0 and t - pend[s, Q_BAR] > ttl:
        pend[s, Q_DIR] = 0.0
        return eq
    fill = NAN
    taker = True
    if kind == ENTRY_MARKET:
        fill = op
    elif kind == ENTRY_LIMIT:
        lim = pend[s, Q_PRICE]
        if (op - lim) * qd <= 0.0:
            fill = op
        elif (lo[t, s] if qd > 0.0 else h[t, s]) * qd <= lim * qd:
            fill = lim
            taker = False
    else:
        trig = pend[s, Q_PRICE]
        if (op - trig) * qd >= 0.0:
            fill = op
        elif (h[t, s] if qd > 0.0 else lo[t, s]) * qd >= trig * qd:
            fill = trig
    if fill != fill:
        return eq
    if eq != eq:  # equity at this bar's open (last close where a symbol has no bar)
        eq = acc[A_CASH]
        for k in range(o.shape[1]):
            if pos[k, P_AMT] != 0.0:
                mk = o[t, k]
                eq += pos[k, P_AMT] * (mk if mk == mk else pos[k, P_LAST])
    open_pos(s, t, fill, taker, eq, v[t, s], sig[row(sig, t), col(sig, s)], pend, pos, acc,
             cfg)
    pend[s, Q_DIR] = 0.0
    return eq


@step
def register(t, s, c, d, ex, size, sl, tp, ep, et, conf, cfg, pos, pend):
    """Turn the signal / exit flag of symbol s at bar t's close into pending orders."""
    reverse = cfg[C_REVERSE] != 0.0
    cl = c[t, s]
    if cl != cl:
        return
    x = ex[row(ex, t), col(ex, s)]
    dd_ = d[t, s]
    amt = pos[s, P_AMT]
    if x != 0:
        pend[s, Q_DIR] = 0.0
        if amt != 0.0:
            pend[s, Q_EXIT] = 1.0
    if dd_ == 0:
        return
    if not entry_follows(dd_, x, amt, reverse):
        if amt != 0.0 and (amt > 0.0) != (dd_ > 0):  # opposite, close only
            pend[s, Q_EXIT] = 1.0
            pend[s, Q_DIR] = 0.0
        return
    if amt != 0.0:
        pend[s, Q_EXIT] = 1.0  # reversal: close first
    side = 1.0 if dd_ > 0 else -1.0
    rs = row(size, t)
    pend[s, Q_DIR] = side
    pend[s, Q_TYPE] = et[row(et, t), col(et, s)]
    pend[s, Q_PRICE] = ep[row(ep, t), col(ep, s)]
    pend[s, Q_SIZE] = size[rs, col(size, s)]
    stop = sl[row(sl, t), col(sl, s)]
    if stop != stop and cfg[C_SLFRAC] > 0.0:
        stop = cl * (1.0 - side * cfg[C_SLFRAC])
    take = tp[row(tp, t), col(tp, s)]
    if take != take and cfg[C_TPFRAC] > 0.0:
        take = cl * (1.0 + side * cfg[C_TPFRAC])
    pend[s, Q_SL] = stop
    pend[s, Q_TP] = take
    pend[s, Q_CONF] = conf[row(conf, t), col(conf, s)]
    pend[s, Q_BAR] = t


@step
def bar_stats(t, equity, gross, peak, maxdd, sumr, sumr2, nret, prev, inmkt, ddstart,
              maxddlen):
    """D: update the running statistics with bar t's closing equity."""
    if gross > 0.0:
        inmkt += 1.0
    r = equity / prev - 1.0
    sumr += r
    sumr2 += r * r
    nret += 1.0
    if equity >= peak:
        peak = equity
        ddstart = t
    else:
        maxdd = max(maxdd, 1.0 - equity / peak)
        maxddlen = max(maxddlen, t - ddstart)
    return peak, maxdd, sumr, sumr2, nret, equity, inmkt, ddstart, maxddlen


@step
def store_stats(acc, peak, maxdd, sumr, sumr2, nret, prev, inmkt, ddstart, maxddlen):
    acc[A_PEAK], acc[A_MAXDD], acc[A_SUMR], acc[A_SUMR2] = peak, maxdd, sumr, sumr2
    acc[A_NRET], acc[A_PREV], acc[A_INMKT] = nret, prev, inmkt
    acc[A_DDSTART], acc[A_MAXDDLEN] = ddstart, maxddlen


@kernel
def run_nb(o, h, lo, c, v, sig, d, ex, size, sl, tp, ep, et, conf, cfg, pos, pend, acc, tr,
           eq_out, cash_out, expo_out, start, resume, pause):
    """Simulate bars ``start..n-1``. Returns n when done, or the bar it paused after (D).

    The order/fill logic runs only on "busy" bars: a signal or exit flag, a pending order, or
    a live stop-loss / take-profit inside the bar's range (a gap through one is inside it
    too); every other bar only marks the portfolio (D).
    """
    n, ns = o.shape
    reverse = cfg[C_REVERSE] != 0.0
    keep = eq_out.shape[0] > 0
    funding = cfg[C_FUNDING]
    exr, exc = ex.shape[0] > 1, ex.shape[1] > 1
    sgr, sgc = sig.shape[0] > 1, sig.shape[1] > 1
    # running statistics live in registers during the loop, in acc between calls
    peak, maxdd, sumr, sumr2 = acc[A_PEAK], acc[A_MAXDD], acc[A_SUMR], acc[A_SUMR2]
    nret, prev, inmkt = acc[A_NRET], acc[A_PREV], acc[A_INMKT]
    ddstart, maxddlen = acc[A_DDSTART], acc[A_MAXDDLEN]
    for t in range(start, n):
        resumed = resume and t == start
        busy = resumed
        if not resumed:
            for s in range(ns):
                if o[t, s] != o[t, s]:
                    continue
                if (d[t, s] != 0 or ex[t if exr else 0, s if exc else 0] != 0
                        or pend[s, Q_DIR] != 0.0 or pend[s, Q_EXIT] != 0.0):
                    busy = True
                    break
                amt = pos[s, P_AMT]
                if amt != 0.0 and t >= pos[s, P_ACTIVE]:
                    if amt > 0.0:
                        if lo[t, s] <= pos[s, P_SL] or h[t, s] >= pos[s, P_TP]:
                            busy = True
                            break
                    elif h[t, s] >= pos[s, P_SL] or lo[t, s] <= pos[s, P_TP]:
                        busy = True
                        break
        if busy and not resumed:
            # A. protective levels gapped through at the open, then pending signal exits
            for s in range(ns):
                op = o[t, s]
                if op != op:
                    continue
                sg = sig[t if sgr else 0, s if sgc else 0]
                amt = pos[s, P_AMT]
                if amt != 0.0 and t >= pos[s, P_ACTIVE]:
                    side = 1.0 if amt > 0.0 else -1.0
                    stop = pos[s, P_SL]
                    take = pos[s, P_TP]
                    if stop == stop and (op - stop) * side <= 0.0:
                        close_pos(s, t, op, True, REASON_STOP, v[t, s], sg, pos, acc, tr, cfg)
                    elif take == take and (op - take) * side >= 0.0:
                        close_pos(s, t, op, True, REASON_TAKE, v[t, s], sg, pos, acc, tr, cfg)
                if pend[s, Q_EXIT] != 0.0:
                    pend[s, Q_EXIT] = 0.0
                    if pos[s, P_AMT] != 0.0:
                        close_pos(s, t, op, True, REASON_SIGNAL, v[t, s], sg, pos, acc, tr,
                                  cfg)
            # B + C. entries, then intrabar exits (stop-loss first when both are in range)
            eq = NAN
            for s in range(ns):
                op = o[t, s]
                if op != op:
                    continue
                sg = sig[t if sgr else 0, s if sgc else 0]
                if pend[s, Q_DIR] != 0.0 and pos[s, P_AMT] == 0.0:
                    eq = try_entry(t, s, o, h, lo, v, sig, eq, pend, pos, acc, cfg)
                amt = pos[s, P_AMT]
                if amt != 0.0 and t >= pos[s, P_ACTIVE]:
                    stop = pos[s, P_SL]
                    take = pos[s, P_TP]
                    if amt > 0.0:
                        if lo[t, s] <= stop:
                            close_pos(s, t, min(op, stop), True, REASON_STOP, v[t, s], sg,
                                      pos, acc, tr, cfg)
                        elif h[t, s] >= take:
                            close_pos(s, t, max(op, take), op >= take, REASON_TAKE, v[t, s],
                                      sg, pos, acc, tr, cfg)
                    elif h[t, s] >= stop:
                        close_pos(s, t, max(op, stop), True, REASON_STOP, v[t, s], sg, pos,
                                  acc, tr, cfg)
                    elif lo[t, s] <= take:
                        close_pos(s, t, min(op, take), op <= take, REASON_TAKE, v[t, s], sg,
                                  pos, acc, tr, cfg)
        if not resumed:
            # D. marks, short funding, equity and statistics at the close
            equity = acc[A_CASH]
            gross = 0.0
            for s in range(ns):
                cl = c[t, s]
                if cl == cl:
                    pos[s, P_LAST] = cl
                amt = pos[s, P_AMT]
                if amt != 0.0:
                    mk = pos[s, P_LAST]
                    if amt < 0.0 and funding != 0.0 and cl == cl:
                        f = -amt * mk * funding
                        pos[s, P_FUND] += f
                        acc[A_FUND] += f
                        acc[A_CASH] -= f
                        equity -= f
                    equity += amt * mk
                    gross += abs(amt) * mk
            (peak, maxdd, sumr, sumr2, nret, prev, inmkt, ddstart, maxddlen) = bar_stats(
                t, equity, gross, peak, maxdd, sumr, sumr2, nret, prev, inmkt, ddstart,
                maxddlen)
            if keep:
                eq_out[t] = equity
                cash_out[t] = acc[A_CASH]
                expo_out[t] = gross / equity
            if pause and busy:
                for s in range(ns):
                    if c[t, s] == c[t, s] and entry_follows(
                            d[t, s], ex[t if exr else 0, s if exc else 0], pos[s, P_AMT],
                            reverse):
                        store_stats(acc, peak, maxdd, sumr, sumr2, nret, prev, inmkt,
                                    ddstart, maxddlen)
                        return t
        if busy:
            # E. this close's signals become pending orders for the next bar
            for s in range(ns):
                if d[t, s] != 0 or ex[t if exr else 0, s if exc else 0] != 0:
                    register(t, s, c, d, ex, size, sl, tp, ep, et, conf, cfg, pos, pend)
    store_stats(acc, peak, maxdd, sumr, sumr2, nret, prev, inmkt, ddstart, maxddlen)
    # end of data: open positions are reported as END trades marked at the last close, no fee
    for s in range(ns):
        amt = pos[s, P_AMT]
        if amt != 0.0:
            mk = pos[s, P_LAST]
            record(tr, acc, s, 1.0 if amt > 0.0 else -1.0, pos[s, P_BAR], n - 1,
                   pos[s, P_PRICE], mk, abs(amt), pos[s, P_FEE], 0.0, pos[s, P_FUND],
                   amt * (mk - pos[s, P_PRICE]), REASON_END, pos[s, P_CONF],
                   pos[s, P_SIGBAR])
    return n


@kernel
def init_state(pos, pend, acc, cash):
    pos[:, :] = 0.0
    pos[:, P_SL] = NAN
    pos[:, P_TP] = NAN
    pos[:, P_LAST] = NAN
    pend[:, :] = 0.0
    acc[:] = 0.0
    acc[A_CASH] = cash
    acc[A_PEAK] = cash
    acc[A_PREV] = cash
    acc[A_DDSTART] = -1.0


# --------------------------------------------------------------------------- grid


@kernel
def cross_nb(fast, slow, warm, out):
    """+1 / -1 on bars where sign(fast - slow) turns positive / negative, else 0."""
    prev = 0.0
    for i in range(fast.size):
        diff = fast[i] - slow[i]
        cur = 0.0
        if diff > 0.0:
            cur = 1.0
        elif diff < 0.0:
            cur = -1.0
        out[i] = 0
        if i >= warm and diff == diff and prev == prev and cur != prev and cur != 0.0:
            out[i] = np.int8(cur)
        prev = cur if diff == diff else NAN


@njit(parallel=True, **_OPTS)
def grid_nb(o, h, lo, c, v, sig, dirs, ex, size, sl, tp, ep, et, conf, cfgs, cash, stats):
    """Run every row of ``dirs`` (one combination each) through ``run_nb``, in parallel.

    ``cfgs`` has one row of run parameters per combination; ``stats[k]`` receives the final
    ``acc`` of combination k followed by its final equity. No per-bar output is kept.
    """
    n = o.shape[0]
    ncomb = dirs.shape[0]
    empty = np.empty(0)
    no_trades = np.empty((0, NTR))
    for k in prange(ncomb):
        pos = np.empty((1, NPOS))
        pend = np.empty((1, NPEND))
        acc = np.empty(NACC)
        init_state(pos, pend, acc, cash)
        d = dirs[k].reshape((n, 1))
        run_nb(o, h, lo, c, v, sig, d, ex, size, sl, tp, ep, et, conf, cfgs[k], pos, pend,
               acc, no_trades, empty, empty, empty, 0, False, False)
        stats[k, :NACC] = acc
        stats[k, NACC] = acc[A_PREV]


@njit(parallel=True, **_OPTS)
def cross_grid_nb(fast_tab, slow_tab, fi, si, warm, out):
    """EMA-cross directions for each combination (rows of fast_tab / slow_tab by index)."""
    for k in prange(fi.size):
        cross_nb(fast_tab[fi[k]], slow_tab[si[k]], warm[k], out[k])

"""Streaming twins of the batch indicators: one ``update`` per closed bar.

Each class calls the same numba step function as the batch kernel (see ``_kernels``), with the
state held on the instance, so ``update`` returns bit-for-bit the value the batch function
gives at that bar, including warm-up NaNs and the NaN-restart policy. Windowed indicators keep
a double-written ring (each value stored at ``i`` and ``i + size``) so the window is always one
contiguous slice, summed in the same order as the batch kernel reads the input array.

Multi-output ``update`` methods return plain tuples in the field order of the batch result
(e.g. ``MACDStream.update`` -> (macd, signal, hist)).
"""

from __future__ import annotations

import heapq

import numpy as np

from genesis_core.indicators import DAY_MS, FVGGaps, _period, _real
from genesis_core.indicators import _kernels as k


__all__ = [
    "ADXStream",
    "ATRStream",
    "BBandsStream",
    "DonchianStream",
    "EMAStream",
    "EMAZScoreStream",
    "FVGStream",
    "MACDStream",
    "OBVStream",
    "RSIStream",
    "RegimeStream",
    "SMAStream",
    "SessionVWAPStream",
    "StdDevStream",
    "StochRSIStream",
    "StochStream",
    "SwingStream",
    "TrueRangeStream",
    "VWAPStream",
    "WMAStream",
    "ZScoreStream",
]

NAN = float("nan")


class _Window:
    """Last ``size`` values; after ``push`` the window is ``buf[w0 : w0 + size]``."""

    __slots__ = ("buf", "pos", "size")

    def __init__(self, size: int, fill: float = 0.0) -> None:
        self.size = size
        self.buf = np.full(2 * size, fill)
        self.pos = 0

    def push(self, x: float) -> tuple[float, int]:
        """Store x; return (value stored ``size`` pushes ago, start of the window)."""
        p = self.pos
        buf = self.buf
        old = float(buf[p])
        buf[p] = x
        buf[p + self.size] = x
        self.pos = p + 1 if p + 1 < self.size else 0
        return old, p + 1


# --------------------------------------------------------------------------- averages


class SMAStream:
    """Twin of ``sma``: ``update(x) -> float``."""

    def __init__(self, period: int) -> None:
        self.p = _period("period", period)
        self.win = _Window(self.p)
        self.q = np.zeros(self.p + 1)  # tail sums of the previous block (see _kernels)
        self.n, self.head = 0, 0.0

    def update(self, x: float) -> float:
        x = float(x)
        self.n, self.head, out = k.sma_bar(
            x, self.n, self.head, self.p, self.q, self.win.buf, self.win.pos
        )
        self.win.push(x)
        return out


class EMAStream:
    """Twin of ``ema``: ``update(x) -> float``."""

    def __init__(self, period: int) -> None:
        self.p = _period("period", period)
        self.a, self.b = k.ema_coefs(self.p)
        self.n, self.acc = 0, 0.0

    def update(self, x: float) -> float:
        self.n, self.acc, out = k.ema_step(float(x), self.n, self.acc, self.p, self.a, self.b)
        return out


class WMAStream:
    """Twin of ``wma``: ``update(x) -> float``."""

    def __init__(self, period: int) -> None:
        self.p = _period("period", period)
        self.win = _Window(self.p)
        self.q = np.zeros(self.p + 1)
        self.n, self.head, self.head_d = 0, 0.0, 0.0

    def update(self, x: float) -> float:
        x = float(x)
        self.n, self.head, self.head_d, out = k.wma_bar(
            x, self.n, self.head, self.head_d, self.p, self.q, self.win.buf, self.win.pos
        )
        self.win.push(x)
        return out


# --------------------------------------------------------------------------- volatility


class _VarStream:
    def __init__(self, period: int) -> None:
        self.p = _period("period", period)
        self.win = _Window(self.p)
        self.q1 = np.zeros(self.p + 1)
        self.q2 = np.zeros(self.p + 1)
        self.n, self.c, self.h1, self.h2 = 0, 0.0, 0.0, 0.0

    def _step(self, x: float) -> tuple[float, float]:
        self.n, self.c, self.h1, self.h2, mean, var = k.var_bar(
            x, self.n, self.c, self.h1, self.h2, self.p, self.q1, self.q2, self.win.buf,
            self.win.pos,
        )
        self.win.push(x)
        return mean, var


class StdDevStream(_VarStream):
    """Twin of ``stddev``: ``update(x) -> float``."""

    def __init__(self, period: int = 5, nbdev: float = 1.0) -> None:
        super().__init__(period)
        self.nbdev = _real("nbdev", nbdev)

    def update(self, x: float) -> float:
        _, var = self._step(float(x))
        return float(np.sqrt(var) * self.nbdev)


class ZScoreStream(_VarStream):
    """Twin of ``zscore``: ``update(x) -> float``."""

    def update(self, x: float) -> float:
        x = float(x)
        mean, var = self._step(x)
        return k.zscore_tail(x, mean, var)


class BBandsStream(_VarStream):
    """Twin of ``bbands``: ``update(x) -> (upper, middle, lower, percent_b, bandwidth)``."""

    def __init__(self, period: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0) -> None:
        super().__init__(period)
        self.nbu = _real("nbdev_up", nbdev_up)
        self.nbd = _real("nbdev_dn", nbdev_dn)

    def update(self, x: float) -> tuple[float, float, float, float, float]:
        x = float(x)
        mean, var = self._step(x)
        return k.bbands_tail(x, mean, var, self.nbu, self.nbd)


class EMAZScoreStream:
    """Twin of ``ema_zscore``: ``update(x) -> float``."""

    def __init__(self, ema_period: int, std_period: int | None = None) -> None:
        pe = _period("ema_period", ema_period)
        self.ema = EMAStream(pe)
        self.var = _VarStream(pe if std_period is None else _period("std_period", std_period))

    def update(self, x: float) -> float:
        x = float(x)
        e = self.ema.update(x)
        _, var = self.var._step(x)
        return k.ema_z_tail(x, e, var)


class TrueRangeStream:
    """Twin of ``true_range``: ``update(high, low, close) -> float``."""

    def __init__(self) -> None:
        self.n, self.pc = 0, 0.0

    def update(self, high: float, low: float, close: float) -> float:
        self.n, self.pc, _, tr, _ = k.atr_step(
            float(high), float(low), float(close), self.n, self.pc, 0.0, 1 << 62, 0.0, 0.0
        )
        return tr


class ATRStream:
    """Twin of ``atr``: ``update(high, low, close) -> float``."""

    def __init__(self, period: int = 14) -> None:
        self.p = _period("period", period)
        self.a, self.b = k.wilder_coefs(self.p)
        self.n, self.pc, self.acc = 0, 0.0, 0.0

    def update(self, high: float, low: float, close: float) -> float:
        self.n, self.pc, self.acc, _, out = k.atr_step(
            float(high), float(low), float(close), self.n, self.pc, self.acc, self.p, self.a,
            self.b,
        )
        return out


class ADXStream:
    """Twin of ``adx``: ``update(high, low, close) -> (adx, plus_di, minus_di)``."""

    def __init__(self, period: int = 14) -> None:
        self.p = _period("period", period)
        self.a, self.b = k.wilder_coefs(self.p)
        self.state = (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        *state, adx, pdi, mdi = k.adx_step(
            float(high), float(low), float(close), *self.state, self.p, self.a, self.b
        )
        self.state = tuple(state)
        return adx, pdi, mdi


# --------------------------------------------------------------------------- momentum


class RSIStream:
    """Twin of ``rsi``: ``update(x) -> float``."""

    def __init__(self, period: int = 14) -> None:
        self.p = _period("period", period)
        self.a, self.b = k.wilder_coefs(self.p)
        self.n, self.prev, self.g, self.lo = 0, 0.0, 0.0, 0.0

    def update(self, x: float) -> float:
        self.n, self.prev, self.g, self.lo, out = k.rsi_step(
            float(x), self.n, self.prev, self.g, self.lo, self.p, self.a, self.b
        )
        return out


class MACDStream:
    """Twin of ``macd``: ``update(x) -> (macd, signal, hist)``."""

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.f = _period("fast", fast)
        self.s = _period("slow", slow)
        self.g = _period("signal", signal)
        if self.f >= self.s:
            raise ValueError(f"fast must be < slow, got fast={self.f}, slow={self.s}")
        self.coefs = (k.ema_coefs(self.f), k.ema_coefs(self.s), k.ema_coefs(self.g))
        self.state = (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def update(self, x: float) -> tuple[float, float, float]:
        *state, m, sig, hist = k.macd_step(
            float(x), *self.state, self.f, self.s, self.g, *self.coefs
        )
        self.state = tuple(state)
        return m, sig, hist


class StochStream:
    """Twin of ``stoch``: ``update(high, low, close) -> (slowk, slowd)``."""

    def __init__(self, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3):
        self.fk = _period("fastk_period", fastk_period)
        self.rk = np.empty(_period("slowk_period", slowk_period))
        self.rd = np.empty(_period("slowd_period", slowd_period))
        self.hw = _Window(self.fk)
        self.lw = _Window(self.fk)
        self.n = 0

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        h, lo, c = float(high), float(low), float(close)
        _, w0 = self.hw.push(h)
        self.lw.push(lo)
        if h != h or lo != lo or c != c:
            self.n = 0
            return NAN, NAN
        self.n += 1
        if self.n < self.fk:
            return NAN, NAN
        return k.stoch_bar(self.hw.buf, self.lw.buf, w0, c, self.n, self.fk, self.rk, self.rd)


class StochRSIStream:
    """Twin of ``stochrsi``: ``update(x) -> (fastk, fastd)``."""

    def __init__(self, period: int = 14, fastk_period: int = 5, fastd_period: int = 3) -> None:
        self.rsi = RSIStream(period)
        self.rr = np.empty(_period("fastk_period", fastk_period))
        self.rf = np.empty(_period("fastd_period", fastd_period))

    def update(self, x: float) -> tuple[float, float]:
        v = self.rsi.update(x)
        if v != v:
            return NAN, NAN
        return k.stochrsi_bar(v, self.rsi.n - self.rsi.p, self.rr, self.rf)


# --------------------------------------------------------------------------- volume


class OBVStream:
    """Twin of ``obv``: ``update(close, volume) -> float``."""

    def __init__(self) -> None:
        self.n, self.pc, self.obv = 0, 0.0, 0.0

    def update(self, close: float, volume: float) -> float:
        self.n, self.pc, self.obv = k.obv_step(
            float(close), float(volume), self.n, self.pc, self.obv
        )
        return self.obv


class VWAPStream:
    """Twin of ``vwap`` (rolling): ``update(high, low, close, volume) -> float``."""

    def __init__(self, period: int) -> None:
        self.p = _period("period", period)
        self.wins = [_Window(self.p) for _ in range(4)]
        self.n, self.r, self.spv, self.sv, self.e = 0, 0, 0.0, 0.0, 0.0

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        bar = (float(high), float(low), float(close), float(volume))
        pushed = [w.push(x) for w, x in zip(self.wins, bar, strict=True)]
        (ho, w0), (lo_old, _), (co, _), (vo, _) = pushed
        hw, lw, cw, vw = self.wins
        self.n, self.spv, self.sv, self.e, self.r, out = k.vwap_bar(
            *bar, ho, lo_old, co, vo, self.n, self.spv, self.sv, self.e, self.r, self.p,
            hw.buf, lw.buf, cw.buf, vw.buf, w0,
        )
        return out


class SessionVWAPStream:
    """Twin of ``session_vwap``: ``update(timestamp_ms, high, low, close, volume) -> float``."""

    def __init__(self, session_ms: int = DAY_MS, offset_ms: int = 0) -> None:
        self.length = _period("session_ms", session_ms)
        self.offset = _period("offset_ms", offset_ms, minimum=0)
        self.sess, self.spv, self.sv = -(1 << 62), 0.0, 0.0

    def update(
        self, timestamp_ms: int, high: float, low: float, close: float, volume: float
    ) -> float:
        self.sess, self.spv, self.sv, out = k.session_vwap_step(
            int(timestamp_ms), float(high), float(low), float(close), float(volume),
            self.sess, self.spv, self.sv, self.length, self.offset,
        )
        return out


# --------------------------------------------------------------------------- structure


class DonchianStream:
    """Twin of ``donchian``: ``update(high, low) -> (upper, lower, middle)``."""

    def __init__(self, period: int = 20) -> None:
        self.p = _period("period", period)
        self.hw = _Window(self.p)
        self.lw = _Window(self.p)
        self.n = 0

    def update(self, high: float, low: float) -> tuple[float, float, float]:
        h, lo = float(high), float(low)
        _, w0 = self.hw.push(h)
        self.lw.push(lo)
        self.n = 0 if h != h or lo != lo else self.n + 1
        if self.n < self.p:
            return NAN, NAN, NAN
        return k.donchian_tail(
            k.win_max(self.hw.buf, w0, self.p), k.win_min(self.lw.buf, w0, self.p)
        )


class SwingStream:
    """Twin of ``swings``: ``update(high, low) -> (swing_high, swing_low)``.

    A non-NaN value is the level of the pivot ``right`` bars back, confirmed by this bar.
    """

    def __init__(self, left: int = 2, right: int = 2) -> None:
        self.left = _period("left", left, minimum=0)
        self.right = _period("right", right, minimum=0)
        if self.left + self.right == 0:
            raise ValueError("left + right must be >= 1")
        self.span = self.left + self.right + 1
        self.hw = _Window(self.span)
        self.lw = _Window(self.span)
        self.n = 0

    def update(self, high: float, low: float) -> tuple[float, float]:
        h, lo = float(high), float(low)
        _, w0 = self.hw.push(h)
        self.lw.push(lo)
        self.n = 0 if h != h or lo != lo else self.n + 1
        if self.n < self.span:
            return NAN, NAN
        sh = sl = NAN
        if k.is_pivot_high(self.hw.buf, w0, self.left, self.right):
            sh = float(self.hw.buf[w0 + self.left])
        if k.is_pivot_low(self.lw.buf, w0, self.left, self.right):
            sl = float(self.lw.buf[w0 + self.left])
        return sh, sl


class RegimeStream:
    """Twin of ``regime``: ``update(high, low, close) -> float`` (+1/-1/0, NaN in warm-up)."""

    def __init__(
        self,
        adx_period: int = 14,
        ema_period: int = 50,
        slope_lookback: int = 1,
        threshold: float = 25.0,
    ) -> None:
        self.adx = ADXStream(_period("adx_period", adx_period))
        self.ema = EMAStream(_period("ema_period", ema_period))
        self.lb = _period("slope_lookback", slope_lookback)
        self.thr = _real("threshold", threshold)
        self.past = _Window(self.lb, fill=NAN)
        self.run = 0

    def update(self, high: float, low: float, close: float) -> float:
        a, _, _ = self.adx.update(high, low, close)
        e = self.ema.update(close)
        past, _ = self.past.push(e)
        self.run, out = k.regime_step(a, e, past, self.run, self.lb, self.thr)
        return out


class FVGStream:
    """Twin of ``fvg`` and ``fvg_gaps``: ``update(high, low) -> (direction, top, bottom, size)``.

    ``gaps()`` returns the gaps seen so far with the same causal mitigation as ``fvg_gaps``
    (-1 where not yet touched/filled). Open gaps sit in heaps ordered by the level the next
    event needs, so an update costs O(log gaps) rather than a scan of every open gap.
    """

    def __init__(self) -> None:
        self.n = 0
        self.i = -1
        self.prev1 = self.prev2 = (NAN, NAN)
        self.rows: list[list[float]] = []  # [index, dir, top, bottom, size, touched, filled]
        # Bullish: untouched by -top (touched when low < top), touched by -bottom (filled when
        # low <= bottom). Bearish: untouched by bottom (high > bottom), touched by top.
        self.bull_new: list[tuple[float, int]] = []
        self.bull_hit: list[tuple[float, int]] = []
        self.bear_new: list[tuple[float, int]] = []
        self.bear_hit: list[tuple[float, int]] = []

    def _mitigate(self, h: float, lo: float) -> None:
        rows, i = self.rows, self.i
        while self.bull_new and lo < -self.bull_new[0][0]:
            g = heapq.heappop(self.bull_new)[1]
            rows[g][5] = i
            heapq.heappush(self.bull_hit, (-rows[g][3], g))
        while self.bull_hit and lo <= -self.bull_hit[0][0]:
            rows[heapq.heappop(self.bull_hit)[1]][6] = i
        while self.bear_new and h > self.bear_new[0][0]:
            g = heapq.heappop(self.bear_new)[1]
            rows[g][5] = i
            heapq.heappush(self.bear_hit, (rows[g][2], g))
        while self.bear_hit and h >= self.bear_hit[0][0]:
            rows[heapq.heappop(self.bear_hit)[1]][6] = i

    def update(self, high: float, low: float) -> tuple[int, float, float, float]:
        h, lo = float(high), float(low)
        self.i += 1
        # Gaps made before this bar are checked first; a new gap only from the next bar on.
        self._mitigate(h, lo)
        self.n = 0 if h != h or lo != lo else self.n + 1
        h2, l2 = self.prev2
        self.prev2, self.prev1 = self.prev1, (h, lo)
        if self.n < 3:
            return 0, NAN, NAN, NAN
        d, top, bot, size = k.fvg_value(h, lo, h2, l2)
        if d:
            g = len(self.rows)
            self.rows.append([self.i, d, top, bot, size, -1, -1])
            if d > 0:
                heapq.heappush(self.bull_new, (-top, g))
            else:
                heapq.heappush(self.bear_new, (bot, g))
        return d, top, bot, size

    def gaps(self) -> FVGGaps:
        rows = np.array(self.rows, dtype=np.float64).reshape(-1, 7)
        return FVGGaps(
            index=rows[:, 0].astype(np.int64),
            direction=rows[:, 1].astype(np.int8),
            top=rows[:, 2].copy(),
            bottom=rows[:, 3].copy(),
            size=rows[:, 4].copy(),
            touched=rows[:, 5].astype(np.int64),
            filled=rows[:, 6].astype(np.int64),
        )

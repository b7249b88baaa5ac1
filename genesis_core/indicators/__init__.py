"""Technical indicators over float64 numpy arrays, compiled with numba.

Every function returns arrays as long as its inputs, with a NaN prefix as long as TA-Lib's
lookback where TA-Lib has the indicator. Common rules (see ``docs/indicators.md``):

* Inputs: 1-D, float64-convertible, equal lengths. Non-contiguous or non-float64 inputs are
  copied once; pass contiguous float64 arrays to avoid that.
* ``out=``: optional preallocated float64 buffers (one array, or a tuple for multi-output
  indicators) that must not overlap the inputs; they are filled and returned.
* NaN policy: a NaN in any input bar makes that bar's outputs NaN and restarts the indicator
  from the next bar, as if the series began there (full warm-up again).
* A series shorter than the warm-up gives all-NaN output; a bad period raises ``ValueError``.
* Numba is imported on first call, not on import; streaming twins live in
  ``genesis_core.indicators.streaming``.
"""

from __future__ import annotations

import math
import operator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray


__all__ = [
    "ADXResult",
    "BBandsResult",
    "DonchianResult",
    "FVGGaps",
    "FVGResult",
    "MACDResult",
    "StochRSIResult",
    "StochResult",
    "SwingResult",
    "adx",
    "atr",
    "bbands",
    "donchian",
    "ema",
    "ema_zscore",
    "fvg",
    "fvg_gaps",
    "macd",
    "obv",
    "regime",
    "rsi",
    "session_vwap",
    "sma",
    "stddev",
    "stoch",
    "stochrsi",
    "swings",
    "true_range",
    "vwap",
    "wma",
    "zscore",
]

Array = NDArray[np.float64]
Out = Array | None
OutTuple = tuple[Array, ...] | None
DAY_MS = 86_400_000


class ADXResult(NamedTuple):
    adx: Array
    plus_di: Array
    minus_di: Array


class BBandsResult(NamedTuple):
    upper: Array
    middle: Array
    lower: Array
    percent_b: Array
    bandwidth: Array


class MACDResult(NamedTuple):
    macd: Array
    signal: Array
    hist: Array


class StochResult(NamedTuple):
    slowk: Array
    slowd: Array


class StochRSIResult(NamedTuple):
    fastk: Array
    fastd: Array


class DonchianResult(NamedTuple):
    upper: Array
    lower: Array
    middle: Array


class SwingResult(NamedTuple):
    high: Array
    low: Array


class FVGResult(NamedTuple):
    direction: NDArray[np.int8]
    top: Array
    bottom: Array
    size: Array


class FVGGaps(NamedTuple):
    """One row per gap, in bar order. ``touched``/``filled`` are bar indices or -1."""

    index: NDArray[np.int64]
    direction: NDArray[np.int8]
    top: Array
    bottom: Array
    size: Array
    touched: NDArray[np.int64]
    filled: NDArray[np.int64]


# --------------------------------------------------------------------------- validation


def _k() -> Any:
    # Deferred so that importing this package does not import numba.
    from genesis_core.indicators import _kernels

    return _kernels


def _series(name: str, value: ArrayLike) -> Array:
    try:
        arr = np.ascontiguousarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be convertible to float64 ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _inputs(**named: ArrayLike) -> list[Array]:
    arrays = [_series(name, value) for name, value in named.items()]
    lengths = {name: a.size for name, a in zip(named, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs must have equal lengths, got {lengths}")
    return arrays


def _period(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        p = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if p < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {p}")
    return p


def _real(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def _buffer(name: str, buf: np.ndarray, n: int, inputs: list[Array], dtype: type) -> None:
    if not isinstance(buf, np.ndarray) or buf.dtype != dtype or buf.ndim != 1:
        raise ValueError(f"{name} must be a 1-D {np.dtype(dtype).name} numpy array")
    if buf.size != n:
        raise ValueError(f"{name} must have length {n}, got {buf.size}")
    if not buf.flags.c_contiguous or not buf.flags.writeable:
        raise ValueError(f"{name} must be C-contiguous and writeable")
    if any(np.may_share_memory(buf, a) for a in inputs):
        raise ValueError(f"{name} must not overlap the input arrays")


def _outs(
    out: Array | tuple[np.ndarray, ...] | None,
    n: int,
    inputs: list[Array],
    count: int,
    dtypes: tuple[type, ...] | None = None,
) -> list[np.ndarray]:
    """Validate caller buffers (or allocate) for ``count`` outputs of length n."""
    dtypes = dtypes or (np.float64,) * count
    if out is None:
        return [np.empty(n, dtype=d) for d in dtypes]
    bufs = [out] if isinstance(out, np.ndarray) else list(out)
    if len(bufs) != count:
        raise ValueError(f"out must hold {count} array(s), got {len(bufs)}")
    for j, (b, d) in enumerate(zip(bufs, dtypes, strict=True)):
        _buffer("out" if count == 1 else f"out[{j}]", b, n, inputs, d)
    for j in range(count):
        for b in bufs[j + 1 :]:
            if np.may_share_memory(bufs[j], b):
                raise ValueError("out arrays must not overlap each other")
    return bufs


def _nan(bufs: list[np.ndarray]) -> None:
    for b in bufs:
        b.fill(np.nan)


# --------------------------------------------------------------------------- moving averages


def sma(x: ArrayLike, period: int, *, out: Out = None) -> Array:
    """Simple moving average: mean of the last ``period`` values.

    Matches TA-Lib's SMA (lookback period-1). Every window is summed fresh from two partial
    sums (blocks of ``period`` bars), so long series do not drift.

    Args:
        x: Input series.
        period: Window length (>= 1).
        out: Optional float64 output buffer.

    Returns:
        SMA; the first ``period - 1`` values are NaN.
    """
    (xs,) = _inputs(x=x)
    p = _period("period", period)
    (o,) = _outs(out, xs.size, [xs], 1)
    if p > xs.size:
        _nan([o])
    else:
        _k().sma_nb(xs, p, o)
    return o


def ema(x: ArrayLike, period: int, *, out: Out = None) -> Array:
    """Exponential moving average, ``ema = prev*(1-k) + x*k`` with ``k = 2/(period+1)``.

    Seeded with the SMA of the first ``period`` values; matches TA-Lib's EMA (seeding and
    lookback period-1).

    Returns:
        EMA; the first ``period - 1`` values are NaN.
    """
    (xs,) = _inputs(x=x)
    p = _period("period", period)
    (o,) = _outs(out, xs.size, [xs], 1)
    if p > xs.size:
        _nan([o])
    else:
        _k().ema_nb(xs, p, o)
    return o


def wma(x: ArrayLike, period: int, *, out: Out = None) -> Array:
    """Linearly weighted moving average, weights 1..period (newest heaviest), divided by
    period*(period+1)/2. Matches TA-Lib's WMA (lookback period-1).

    Returns:
        WMA; the first ``period - 1`` values are NaN.
    """
    (xs,) = _inputs(x=x)
    p = _period("period", period)
    (o,) = _outs(out, xs.size, [xs], 1)
    if p > xs.size:
        _nan([o])
    else:
        _k().wma_nb(xs, p, o)
    return o


# --------------------------------------------------------------------------- volatility


def stddev(x: ArrayLike, period: int = 5, nbdev: float = 1.0, *, out: Out = None) -> Array:
    """Rolling population standard deviation ``sqrt(mean((x - mean)^2)) * nbdev``.

    Matches TA-Lib's STDDEV (lookback period-1) up to TA-Lib's own rounding: TA-Lib uses
    E[x^2]-E[x]^2 and returns 0 below a variance of 1e-8; this kernel sums each window fresh,
    shifted by a value inside it (accurate to ~1e-13 relative), and returns 0 only for a truly
    constant window.

    Returns:
        Standard deviation; the first ``period - 1`` values are NaN.
    """
    (xs,) = _inputs(x=x)
    p = _period("period", period)
    nb = _real("nbdev", nbdev)
    (o,) = _outs(out, xs.size, [xs], 1)
    if p > xs.size:
        _nan([o])
    else:
        k = _k()
        k.var_nb(xs, p, k.VAR_STD, nb, 0.0, o, o, o, o, o)
    return o


def zscore(x: ArrayLike, period: int, *, out: Out = None) -> Array:
    """Rolling z-score ``(x - mean) / std`` over the last ``period`` values (including x),
    population std; 0 when the window is constant.

    Returns:
        Z-score; the first ``period - 1`` values are NaN.
    """
    (xs,) = _inputs(x=x)
    p = _period("period", period)
    (o,) = _outs(out, xs.size, [xs], 1)
    if p > xs.size:
        _nan([o])
    else:
        k = _k()
        k.var_nb(xs, p, k.VAR_Z, 0.0, 0.0, o, o, o, o, o)
    return o


def ema_zscore(
    x: ArrayLike, ema_period: int, std_period: int | None = None, *, out: Out = None
) -> Array:
    """EMA-Z regime gauge ``(x - EMA(x, ema_period)) / stddev(x, std_period)``.

    How many (population) standard deviations price sits from its EMA; 0 when the std window
    is constant. ``std_period`` defaults to ``ema_period``.

    Returns:
        EMA-Z; the first ``max(ema_period, std_period) - 1`` values are NaN.
    """
    (xs,) = _inputs(x=x)
    pe = _period("ema_period", ema_period)
    ps = pe if std_period is None else _period("std_period", std_period)
    (o,) = _outs(out, xs.size, [xs], 1)
    if max(pe, ps) > xs.size:
        _nan([o])
    else:
        k = _k()
        k.ema_nb(xs, pe, o)  # the EMA goes into o, which the z-score pass then overwrites
        k.var_nb(xs, ps, k.VAR_EMA_Z, 0.0, 0.0, o, o, o, o, o)
    return o


def bbands(
    x: ArrayLike,
    period: int = 20,
    nbdev_up: float = 2.0,
    nbdev_dn: float = 2.0,
    *,
    out: OutTuple = None,
) -> BBandsResult:
    """Bollinger Bands: middle = SMA, upper/lower = middle ± nbdev * population std.

    Matches TA-Lib's BBANDS with matype=SMA (lookback period-1; TA-Lib's default period is 5).
    Also returns %B = (x - lower)/(upper - lower) (0.5 when the bands coincide) and
    bandwidth = (upper - lower)/middle (NaN when middle is 0).

    Returns:
        BBandsResult(upper, middle, lower, percent_b, bandwidth); first ``period - 1`` NaN.
    """
    (xs,) = _inputs(x=x)
    p = _period("period", period)
    nbu = _real("nbdev_up", nbdev_up)
    nbd = _real("nbdev_dn", nbdev_dn)
    bufs = _outs(out, xs.size, [xs], 5)
    if p > xs.size:
        _nan(bufs)
    else:
        k = _k()
        k.var_nb(xs, p, k.VAR_BANDS, nbu, nbd, *bufs)
    return BBandsResult(*bufs)


def true_range(high: ArrayLike, low: ArrayLike, close: ArrayLike, *, out: Out = None) -> Array:
    """True range ``max(high - low, |prev_close - high|, |prev_close - low|)``.

    Matches TA-Lib's TRANGE (lookback 1).

    Returns:
        True range; the first value is NaN.
    """
    h, lo, c = _inputs(high=high, low=low, close=close)
    (o,) = _outs(out, c.size, [h, lo, c], 1)
    _k().trange_nb(h, lo, c, o)
    return o


def atr(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14, *, out: Out = None
) -> Array:
    """Average true range with Wilder smoothing ``atr = prev*(p-1)/p + tr/p``.

    Seeded with the mean of the first ``period`` true ranges (bars 1..period); matches TA-Lib's
    ATR (lookback period).

    Returns:
        ATR; the first ``period`` values are NaN.
    """
    h, lo, c = _inputs(high=high, low=low, close=close)
    p = _period("period", period)
    (o,) = _outs(out, c.size, [h, lo, c], 1)
    if p >= c.size:
        _nan([o])
    else:
        _k().atr_nb(h, lo, c, p, o)
    return o


def adx(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    period: int = 14,
    *,
    out: OutTuple = None,
) -> ADXResult:
    """Average directional index with +DI and -DI (Wilder).

    +DM/-DM and TR are summed over bars 1..period-1 and then smoothed as S*(p-1)/p + v;
    DI = 100*DM/TR (0 when TR is 0); DX = 100*|+DI - -DI|/(+DI + -DI); ADX is seeded with the
    mean DX of bars period..2*period-1 and then Wilder-smoothed. Matches TA-Lib's ADX,
    PLUS_DI and MINUS_DI (lookbacks 2*period-1 and period).

    Returns:
        ADXResult(adx, plus_di, minus_di); NaN prefixes 2*period-1 (adx) and period (DI).
    """
    h, lo, c = _inputs(high=high, low=low, close=close)
    p = _period("period", period)
    bufs = _outs(out, c.size, [h, lo, c], 3)
    if p >= c.size:
        _nan(bufs)
    else:
        _k().adx_nb(h, lo, c, p, *bufs)
    return ADXResult(*bufs)


# --------------------------------------------------------------------------- momentum


def rsi(x: ArrayLike, period: int = 14, *, out: Out = None) -> Array:
    """Relative strength index ``100 * avg_gain / (avg_gain + avg_loss)`` (Wilder).

    Averages are seeded with the simple means of the first ``period`` changes and then
    smoothed as ``avg*(p-1)/p + v/p``; matches TA-Lib's RSI (lookback period). A flat window
    (no gains, no losses) gives 0 like TA-Lib, but only when both are exactly zero.

    Returns:
        RSI; the first ``period`` values are NaN.
    """
    (xs,) = _inputs(x=x)
    p = _period("period", period)
    (o,) = _outs(out, xs.size, [xs], 1)
    if p >= xs.size:
        _nan([o])
    else:
        _k().rsi_nb(xs, p, o)
    return o


def macd(
    x: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9, *, out: OutTuple = None
) -> MACDResult:
    """MACD line EMA(fast) - EMA(slow), signal = EMA(macd, signal), hist = macd - signal.

    Matches TA-Lib's MACD: both EMAs start at bar slow-1 (the fast EMA is seeded with the SMA
    of the ``fast`` values ending there, not from bar 0), and all three outputs start at
    TA-Lib's lookback slow+signal-2.

    Returns:
        MACDResult(macd, signal, hist); the first ``slow + signal - 2`` values are NaN.
    """
    (xs,) = _inputs(x=x)
    f = _period("fast", fast)
    s = _period("slow", slow)
    g = _period("signal", signal)
    if f >= s:
        raise ValueError(f"fast must be < slow, got fast={f}, slow={s}")
    bufs = _outs(out, xs.size, [xs], 3)
    if s + g - 2 >= xs.size:
        _nan(bufs)
    else:
        _k().macd_nb(xs, f, s, g, *bufs)
    return MACDResult(*bufs)


def stoch(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    fastk_period: int = 5,
    slowk_period: int = 3,
    slowd_period: int = 3,
    *,
    out: OutTuple = None,
) -> StochResult:
    """Slow stochastic: fastK = 100*(close - LL)/(HH - LL) over ``fastk_period`` bars (0 when
    HH == LL), slowK = SMA(fastK, slowk_period), slowD = SMA(slowK, slowd_period).

    Matches TA-Lib's STOCH with SMA smoothing; both outputs start at TA-Lib's lookback
    fastk_period + slowk_period + slowd_period - 3.

    Returns:
        StochResult(slowk, slowd).
    """
    h, lo, c = _inputs(high=high, low=low, close=close)
    fk = _period("fastk_period", fastk_period)
    sk = _period("slowk_period", slowk_period)
    sd = _period("slowd_period", slowd_period)
    bufs = _outs(out, c.size, [h, lo, c], 2)
    if fk + sk + sd - 3 >= c.size:
        _nan(bufs)
    else:
        _k().stoch_nb(h, lo, c, fk, sk, sd, *bufs)
    return StochResult(*bufs)


def stochrsi(
    x: ArrayLike,
    period: int = 14,
    fastk_period: int = 5,
    fastd_period: int = 3,
    *,
    out: OutTuple = None,
) -> StochRSIResult:
    """Stochastic RSI: fast stochastic of RSI(period) over ``fastk_period`` RSI values,
    fastK = 100*(rsi - min)/(max - min) (0 when flat), fastD = SMA(fastK, fastd_period).

    Matches TA-Lib's STOCHRSI (fastd_matype=SMA); both outputs start at TA-Lib's lookback
    period + fastk_period + fastd_period - 2.

    Returns:
        StochRSIResult(fastk, fastd).
    """
    (xs,) = _inputs(x=x)
    p = _period("period", period)
    fk = _period("fastk_period", fastk_period)
    fd = _period("fastd_period", fastd_period)
    bufs = _outs(out, xs.size, [xs], 2)
    if p + fk + fd - 2 >= xs.size:
        _nan(bufs)
    else:
        _k().stochrsi_nb(xs, p, fk, fd, *bufs)
    return StochRSIResult(*bufs)


# --------------------------------------------------------------------------- volume


def obv(close: ArrayLike, volume: ArrayLike, *, out: Out = None) -> Array:
    """On-balance volume: starts at the first bar's volume, then adds the volume on an up
    close, subtracts it on a down close. Matches TA-Lib's OBV (lookback 0).

    Returns:
        OBV (no NaN prefix).
    """
    c, v = _inputs(close=close, volume=volume)
    (o,) = _outs(out, c.size, [c, v], 1)
    _k().obv_nb(c, v, o)
    return o


def vwap(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    period: int,
    *,
    out: Out = None,
) -> Array:
    """Rolling VWAP over the last ``period`` bars: sum(tp*v)/sum(v), tp = (h+l+c)/3.

    NaN where the window's volume is zero. Not in TA-Lib.

    Returns:
        VWAP; the first ``period - 1`` values are NaN.
    """
    h, lo, c, v = _inputs(high=high, low=low, close=close, volume=volume)
    p = _period("period", period)
    (o,) = _outs(out, c.size, [h, lo, c, v], 1)
    if p > c.size:
        _nan([o])
    else:
        _k().vwap_nb(h, lo, c, v, p, o)
    return o


def session_vwap(
    timestamp_ms: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    *,
    session_ms: int = DAY_MS,
    offset_ms: int = 0,
    out: Out = None,
) -> Array:
    """Session VWAP: cumulative sum(tp*v)/sum(v) since the bar's session began.

    A bar belongs to session ``(timestamp_ms - offset_ms) // session_ms`` (default: the UTC
    day of its open time), so missing bars never merge two sessions. NaN while the session's
    volume is zero. Not in TA-Lib.

    Returns:
        VWAP (no NaN prefix).
    """
    ts = np.ascontiguousarray(timestamp_ms)
    if ts.ndim != 1 or ts.dtype.kind not in "iu":
        raise ValueError("timestamp_ms must be a 1-D integer array of epoch milliseconds")
    ts = ts.astype(np.int64, copy=False)
    h, lo, c, v = _inputs(high=high, low=low, close=close, volume=volume)
    if ts.size != c.size:
        raise ValueError(f"timestamp_ms has length {ts.size}, prices have {c.size}")
    length = _period("session_ms", session_ms)
    offset = _period("offset_ms", offset_ms, minimum=0)
    (o,) = _outs(out, c.size, [h, lo, c, v], 1)
    _k().session_vwap_nb(ts, h, lo, c, v, length, offset, o)
    return o


# --------------------------------------------------------------------------- structure


def donchian(
    high: ArrayLike, low: ArrayLike, period: int = 20, *, out: OutTuple = None
) -> DonchianResult:
    """Donchian channel over the last ``period`` bars including the current one:
    upper = max(high), lower = min(low), middle = (upper + lower)/2.

    upper/lower match TA-Lib's MAX(high)/MIN(low) (lookback period-1). For breakout rules
    compare price with the previous bar's channel.

    Returns:
        DonchianResult(upper, lower, middle); first ``period - 1`` values NaN.
    """
    h, lo = _inputs(high=high, low=low)
    p = _period("period", period)
    bufs = _outs(out, h.size, [h, lo], 3)
    if p > h.size:
        _nan(bufs)
    else:
        _k().donchian_nb(h, lo, p, *bufs)
    return DonchianResult(*bufs)


def swings(
    high: ArrayLike, low: ArrayLike, left: int = 2, right: int = 2, *, out: OutTuple = None
) -> SwingResult:
    """Confirmed swing highs/lows (fractal pivots), stamped on the confirmation bar.

    Bar j is a swing high if high[j] is strictly greater than the ``left`` highs before it and
    the ``right`` highs after it (swing low: strictly lower lows). That is only known once bar
    j + right has closed, so the level high[j] is written at index j + right, never at j.

    Returns:
        SwingResult(high, low): the pivot level on confirmation bars, NaN elsewhere.
    """
    h, lo = _inputs(high=high, low=low)
    lft = _period("left", left, minimum=0)
    rgt = _period("right", right, minimum=0)
    if lft + rgt == 0:
        raise ValueError("left + right must be >= 1")
    bufs = _outs(out, h.size, [h, lo], 2)
    if lft + rgt >= h.size:
        _nan(bufs)
    else:
        _k().swings_nb(h, lo, lft, rgt, *bufs)
    return SwingResult(*bufs)


def regime(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    adx_period: int = 14,
    ema_period: int = 50,
    slope_lookback: int = 1,
    threshold: float = 25.0,
    *,
    out: Out = None,
) -> Array:
    """Trend regime from ADX and EMA slope.

    With slope = EMA(close, ema_period)[t] - EMA[t - slope_lookback]:
    +1 if ADX(adx_period) >= threshold and slope > 0; -1 if ADX >= threshold and slope < 0;
    0 otherwise (range). The slope never spans a NaN restart.

    Returns:
        Regime as float64 (+1/-1/0); NaN for the first
        ``max(2*adx_period - 1, ema_period - 1 + slope_lookback)`` bars.
    """
    h, lo, c = _inputs(high=high, low=low, close=close)
    pa = _period("adx_period", adx_period)
    pe = _period("ema_period", ema_period)
    lb = _period("slope_lookback", slope_lookback)
    thr = _real("threshold", threshold)
    (o,) = _outs(out, c.size, [h, lo, c], 1)
    if max(2 * pa - 1, pe - 1 + lb) >= c.size:
        _nan([o])
        return o
    k = _k()
    a = np.empty(c.size)
    e = np.empty(c.size)
    k.adx_nb(h, lo, c, pa, a, np.empty(c.size), np.empty(c.size))
    k.ema_nb(c, pe, e)
    k.regime_nb(a, e, lb, thr, o)
    return o


def fvg(high: ArrayLike, low: ArrayLike, *, out: OutTuple = None) -> FVGResult:
    """Fair value gaps, stamped on the bar that completes them (never back-dated).

    Bullish at bar t if low[t] > high[t-2]: bottom = high[t-2], top = low[t]. Bearish if
    high[t] < low[t-2]: top = low[t-2], bottom = high[t]. size = top - bottom.

    Args:
        out: Optional (int8 direction, float64 top, float64 bottom, float64 size) buffers.

    Returns:
        FVGResult(direction +1/-1/0, top, bottom, size); NaN levels on bars without a gap.
    """
    h, lo = _inputs(high=high, low=low)
    bufs = _outs(out, h.size, [h, lo], 4, (np.int8, np.float64, np.float64, np.float64))
    _k().fvg_nb(h, lo, *bufs)
    return FVGResult(*bufs)


def fvg_gaps(high: ArrayLike, low: ArrayLike) -> FVGGaps:
    """Every fair value gap with its causal mitigation.

    For a gap made at bar t, bars j > t are scanned in order: ``touched`` is the first j whose
    range entered the gap (bullish: low[j] < top; bearish: high[j] > bottom) and ``filled``
    the first j that closed it completely (bullish: low[j] <= bottom; bearish:
    high[j] >= top). -1 means not (yet) happened. A filled gap is touched at or before it.

    Returns:
        FVGGaps with one row per gap in bar order.
    """
    h, lo = _inputs(high=high, low=low)
    d, top, bot, size = fvg(h, lo)
    idx = np.flatnonzero(d).astype(np.int64)
    gaps = FVGGaps(
        index=idx,
        direction=d[idx],
        top=top[idx],
        bottom=bot[idx],
        size=size[idx],
        touched=np.full(idx.size, -1, dtype=np.int64),
        filled=np.full(idx.size, -1, dtype=np.int64),
    )
    stack_i = np.empty(h.size, dtype=np.int64)
    stack_v = np.empty(h.size)
    _k().fvg_mitigation_nb(
        h, lo, idx, gaps.direction, gaps.top, gaps.bottom, gaps.touched, gaps.filled,
        stack_i, stack_v,
    )
    return gaps

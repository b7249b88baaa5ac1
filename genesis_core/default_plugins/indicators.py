"""The core indicator set as components: every kernel of ``genesis_core.indicators`` with its
streaming twin, registered through ``register_indicators`` like any plugin's indicators.

Each component is declared by one row of ``SPECS``: the batch function, its streaming class
(constructed with the same params), the candle columns it reads and its output names. Single
-series indicators take a ``source`` param choosing the column (default ``close``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from genesis_core import indicators as ind
from genesis_core.config.schema import doc
from genesis_core.contracts import Indicator, IndicatorStream
from genesis_core.hookspecs import hookimpl
from genesis_core.indicators import streaming as st
from genesis_core.models import Candle, Candles


COLUMNS = ("open", "high", "low", "close", "volume")


def _period(default: int) -> Any:
    return doc("Bars in the window.", default=default)


def _source() -> Any:
    return doc("Candle column the indicator reads.", default="close",
               validator=attrs.validators.in_(COLUMNS))


@attrs.frozen
class SourcePeriod:
    period: int = _period(14)
    source: str = _source()


@attrs.frozen
class Period:
    period: int = _period(14)


@attrs.frozen
class NoParams:
    pass


@attrs.frozen
class StdDevParams:
    period: int = _period(5)
    nbdev: float = doc("Multiplier of the standard deviation.", default=1.0)
    source: str = _source()


@attrs.frozen
class EmaZParams:
    ema_period: int = doc("EMA period.", default=20)
    std_period: int | None = doc("Std window; defaults to ema_period.", default=None)
    source: str = _source()


@attrs.frozen
class BBandsParams:
    period: int = _period(20)
    nbdev_up: float = doc("Upper band in standard deviations.", default=2.0)
    nbdev_dn: float = doc("Lower band in standard deviations.", default=2.0)
    source: str = _source()


@attrs.frozen
class MacdParams:
    fast: int = doc("Fast EMA period.", default=12)
    slow: int = doc("Slow EMA period.", default=26)
    signal: int = doc("Signal EMA period.", default=9)
    source: str = _source()


@attrs.frozen
class StochParams:
    fastk_period: int = doc("%K window.", default=5)
    slowk_period: int = doc("%K smoothing.", default=3)
    slowd_period: int = doc("%D smoothing.", default=3)


@attrs.frozen
class StochRsiParams:
    period: int = _period(14)
    fastk_period: int = doc("%K window over RSI.", default=5)
    fastd_period: int = doc("%D smoothing.", default=3)
    source: str = _source()


@attrs.frozen
class DonchianParams:
    period: int = _period(20)


@attrs.frozen
class SwingParams:
    left: int = doc("Bars before that must be lower (highs) / higher (lows).", default=2)
    right: int = doc("Bars after; the swing is stamped on the confirming bar.", default=2)


@attrs.frozen
class RegimeParams:
    adx_period: int = doc("ADX period.", default=14)
    ema_period: int = doc("EMA period for the slope.", default=50)
    slope_lookback: int = doc("Bars over which the EMA slope is taken.", default=1)
    threshold: float = doc("ADX at or above which the market trends.", default=25.0)


@attrs.frozen
class SessionVwapParams:
    session_ms: int = doc("Session length in ms (default one UTC day).", default=86_400_000)
    offset_ms: int = doc("Session start offset from 00:00 UTC in ms.", default=0)


@attrs.frozen
class Spec:
    name: str
    summary: str
    batch: Callable[..., Any]
    stream: Callable[..., Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: type


SPECS = (
    Spec("sma", "Simple moving average.", ind.sma, st.SMAStream, ("source",), ("value",),
         SourcePeriod),
    Spec("ema", "Exponential moving average (SMA-seeded, as TA-Lib).", ind.ema, st.EMAStream,
         ("source",), ("value",), SourcePeriod),
    Spec("wma", "Linearly weighted moving average.", ind.wma, st.WMAStream, ("source",),
         ("value",), SourcePeriod),
    Spec("stddev", "Rolling population standard deviation.", ind.stddev, st.StdDevStream,
         ("source",), ("value",), StdDevParams),
    Spec("zscore", "Rolling z-score.", ind.zscore, st.ZScoreStream, ("source",), ("value",),
         SourcePeriod),
    Spec("ema_zscore", "(close - EMA) / rolling std: the EMA-Z regime.", ind.ema_zscore,
         st.EMAZScoreStream, ("source",), ("value",), EmaZParams),
    Spec("bbands", "Bollinger Bands with %B and bandwidth.", ind.bbands, st.BBandsStream,
         ("source",), ("upper", "middle", "lower", "percent_b", "bandwidth"), BBandsParams),
    Spec("true_range", "True range.", ind.true_range, st.TrueRangeStream,
         ("high", "low", "close"), ("value",), NoParams),
    Spec("atr", "Average true range (Wilder).", ind.atr, st.ATRStream, ("high", "low", "close"),
         ("value",), Period),
    Spec("adx", "ADX with +DI and -DI (Wilder).", ind.adx, st.ADXStream,
         ("high", "low", "close"), ("adx", "plus_di", "minus_di"), Period),
    Spec("rsi", "Relative strength index (Wilder).", ind.rsi, st.RSIStream, ("source",),
         ("value",), SourcePeriod),
    Spec("macd", "MACD line, signal and histogram.", ind.macd, st.MACDStream, ("source",),
         ("macd", "signal", "hist"), MacdParams),
    Spec("stoch", "Stochastic oscillator (slow %K, %D).", ind.stoch, st.StochStream,
         ("high", "low", "close"), ("slowk", "slowd"), StochParams),
    Spec("stochrsi", "Stochastic RSI.", ind.stochrsi, st.StochRSIStream, ("source",),
         ("fastk", "fastd"), StochRsiParams),
    Spec("obv", "On-balance volume.", ind.obv, st.OBVStream, ("close", "volume"), ("value",),
         NoParams),
    Spec("vwap", "Rolling volume-weighted average price.", ind.vwap, st.VWAPStream,
         ("high", "low", "close", "volume"), ("value",), Period),
    Spec("session_vwap", "VWAP reset every session (UTC day by default).", ind.session_vwap,
         st.SessionVWAPStream, ("timestamp", "high", "low", "close", "volume"), ("value",),
         SessionVwapParams),
    Spec("donchian", "Donchian channel.", ind.donchian, st.DonchianStream, ("high", "low"),
         ("upper", "lower", "middle"), DonchianParams),
    Spec("swings", "Swing highs and lows, stamped when confirmed.", ind.swings, st.SwingStream,
         ("high", "low"), ("high", "low"), SwingParams),
    Spec("regime", "Trend regime +1/-1/0 from ADX and EMA slope.", ind.regime, st.RegimeStream,
         ("high", "low", "close"), ("value",), RegimeParams),
    Spec("fvg", "Fair value gaps (direction, top, bottom, size), stamped on the third bar.",
         ind.fvg, st.FVGStream, ("high", "low"), ("direction", "top", "bottom", "size"),
         NoParams),
)


class _StreamAdapter:
    """Feeds a streaming twin from candles and names its outputs."""

    def __init__(self, spec: Spec, kwargs: dict[str, Any], columns: tuple[str, ...]) -> None:
        self._state = spec.stream(**kwargs)
        self._columns = columns
        self._outputs = spec.outputs

    def update(self, candle: Candle) -> Mapping[str, float]:
        result = self._state.update(*(getattr(candle, c) for c in self._columns))
        values = result if isinstance(result, tuple) else (result,)
        return {name: float(v) for name, v in zip(self._outputs, values, strict=True)}


class CoreIndicator(Indicator):
    """Base of the generated core indicator components."""

    spec: Spec

    def _call(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        kwargs = attrs.asdict(self.params)
        source = kwargs.pop("source", "close")
        columns = tuple(source if c == "source" else c for c in self.spec.inputs)
        return kwargs, columns

    def compute(self, candles: Candles) -> dict[str, np.ndarray]:
        kwargs, columns = self._call()
        result = self.spec.batch(*(getattr(candles, c) for c in columns), **kwargs)
        values = tuple(result) if isinstance(result, tuple) else (result,)
        return {name: np.asarray(v, dtype=np.float64)
                for name, v in zip(self.spec.outputs, values, strict=True)}

    def warmup(self) -> int:
        # The NaN prefix on a clean series: derived, so it can never disagree with the kernel.
        steps = np.arange(2_000, dtype=np.float64)
        close = 100 + np.sin(steps / 7) * 5 + steps * 0.01
        probe = Candles(steps.astype(np.int64) * 60_000, close, close + 1, close - 1, close,
                        np.full_like(close, 10.0))
        first = next(iter(self.compute(probe).values()))
        finite = np.flatnonzero(np.isfinite(first))
        return int(finite[0]) if finite.size else len(first)

    def stream(self) -> IndicatorStream:
        kwargs, columns = self._call()
        return _StreamAdapter(self.spec, kwargs, columns)


def _component(spec: Spec) -> type[Indicator]:
    return type(f"{spec.name.title().replace('_', '')}Indicator", (CoreIndicator,),
                {"name": spec.name, "Params": spec.params, "spec": spec,
                 "outputs": spec.outputs, "__doc__": spec.summary})


COMPONENTS = tuple(_component(spec) for spec in SPECS)


@hookimpl
def register_indicators(register):  # type: ignore[no-untyped-def]
    for component in COMPONENTS:
        register(component)

"""EMA cross entries scored by trend slope, RSI room and ATR volatility.

Rules (all parameters from YAML):

* **Entry bar**: the fast EMA crosses the slow EMA on bar *t* (its sign of ``fast - slow`` differs
  from bar *t-1*). Up-cross → BUY, down-cross → SELL. Nothing else produces a signal, so a trend
  is entered once, not on every bar.
* **Confidence** = weighted sum (weights normalised to 1) of three scores in [0, 1]:

  - *trend*: 1 if the fast EMA's slope over ``slope_bars`` agrees with the cross, else 0.5;
  - *momentum*: RSI room left in the trade's direction, ``(overbought - rsi) / (overbought -
    oversold)`` for a BUY (mirrored for a SELL), clipped to [0, 1];
  - *volatility*: ``1 - atr% / max_atr_pct``, clipped — calm markets score higher.

  Crosses with confidence below ``min_confidence`` are dropped.
* **Stop-loss**: ``percent`` mode puts it ``stop_max_pct - (stop_max_pct - stop_min_pct) *
  confidence`` percent away (the seeds' 3–8 %: the surer the signal, the tighter the stop);
  ``atr`` mode puts it ``atr_stop_multiple × ATR`` away. **Take-profit**: ``take_profit_ratio``
  times the stop distance on the other side (default 2×).

Every value at bar *t* uses bars ``0..t`` only.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from genesis_core import Candles, Signal, Strategy, doc


POSITIVE = attrs.validators.ge(1)
NON_NEGATIVE = attrs.validators.ge(0)


@attrs.frozen
class EmaRsiParams:
    fast: int = doc("Fast EMA period.", default=12, validator=POSITIVE)
    slow: int = doc("Slow EMA period (must exceed fast).", default=26, validator=POSITIVE)
    rsi_period: int = doc("RSI period (Wilder).", default=14, validator=POSITIVE)
    rsi_overbought: float = doc("RSI level above which a BUY has no room left.", default=70.0)
    rsi_oversold: float = doc("RSI level below which a SELL has no room left.", default=30.0)
    atr_period: int = doc("ATR period (Wilder).", default=14, validator=POSITIVE)
    max_atr_pct: float = doc("ATR as % of price at which the volatility score reaches 0.",
                             default=5.0, validator=NON_NEGATIVE)
    slope_bars: int = doc("Bars over which the fast EMA's slope is measured.", default=3,
                          validator=POSITIVE)
    weight_trend: float = doc("Weight of the trend score.", default=0.5,
                              validator=NON_NEGATIVE)
    weight_momentum: float = doc("Weight of the RSI score.", default=0.3,
                                 validator=NON_NEGATIVE)
    weight_volatility: float = doc("Weight of the ATR score.", default=0.2,
                                   validator=NON_NEGATIVE)
    min_confidence: float = doc("Crosses scoring below this are not signalled.", default=0.5,
                                validator=NON_NEGATIVE)
    stop_mode: str = doc("percent or atr.", default="percent",
                         validator=attrs.validators.in_(("percent", "atr")))
    stop_min_pct: float = doc("Tightest stop distance in %, for confidence 1.", default=3.0,
                              validator=NON_NEGATIVE)
    stop_max_pct: float = doc("Widest stop distance in %, for confidence 0.", default=8.0,
                              validator=NON_NEGATIVE)
    atr_stop_multiple: float = doc("Stop distance in ATRs (atr mode).", default=2.0,
                                   validator=NON_NEGATIVE)
    take_profit_ratio: float = doc("Take-profit distance as a multiple of the stop distance.",
                                   default=2.0, validator=NON_NEGATIVE)

    def __attrs_post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"'slow' must be greater than fast ({self.fast}), got {self.slow}")
        if self.rsi_oversold >= self.rsi_overbought:
            raise ValueError("'rsi_oversold' must be below rsi_overbought")
        if self.weight_trend + self.weight_momentum + self.weight_volatility <= 0:
            raise ValueError("'weight_trend' and the other weights must not all be 0")


class EmaRsiStrategy(Strategy):
    """EMA cross entries, scored by EMA slope, RSI room and ATR volatility."""

    name = "ema_rsi"
    Params = EmaRsiParams

    def warmup(self) -> int:
        p = self.params
        return max(p.slow, p.rsi_period + 1, p.atr_period + 1, p.fast + p.slope_bars)

    def scores(self, candles: Candles) -> dict[str, np.ndarray]:
        """Per-bar inputs of the decision (NaN during warm-up), exposed for inspection."""
        from genesis_core.indicators import atr, ema, rsi

        p = self.params
        fast = ema(candles.close, p.fast)
        slow = ema(candles.close, p.slow)
        direction = np.sign(fast - slow)
        slope = np.full(len(candles), np.nan)
        slope[p.slope_bars:] = fast[p.slope_bars:] - fast[:-p.slope_bars]
        rsi_values = rsi(candles.close, p.rsi_period)
        atr_pct = atr(candles.high, candles.low, candles.close, p.atr_period) / candles.close * 100
        span = p.rsi_overbought - p.rsi_oversold
        room_up = np.clip((p.rsi_overbought - rsi_values) / span, 0.0, 1.0)
        room_down = np.clip((rsi_values - p.rsi_oversold) / span, 0.0, 1.0)
        total = p.weight_trend + p.weight_momentum + p.weight_volatility
        trend = np.where(np.sign(slope) == direction, 1.0, 0.5)
        momentum = np.where(direction > 0, room_up, room_down)
        volatility = np.clip(1.0 - atr_pct / p.max_atr_pct, 0.0, 1.0) if p.max_atr_pct else (
            np.zeros(len(candles)))
        confidence = (p.weight_trend * trend + p.weight_momentum * momentum
                      + p.weight_volatility * volatility) / total
        return {"fast": fast, "slow": slow, "direction": direction, "slope": slope,
                "rsi": rsi_values, "atr_pct": atr_pct, "confidence": confidence}

    def generate(self, candles: Candles) -> list[Signal]:
        if len(candles) <= self.warmup():
            return []
        s = self.scores(candles)
        direction, confidence = s["direction"], s["confidence"]
        crossed = np.zeros(len(candles), dtype=bool)
        crossed[1:] = (direction[1:] != direction[:-1]) & (direction[1:] != 0)
        crossed[: self.warmup()] = False
        valid = crossed & np.isfinite(confidence) & (confidence >= self.params.min_confidence)
        return [self._signal(candles, int(i), s) for i in np.flatnonzero(valid)]

    def _signal(self, candles: Candles, i: int, s: dict[str, np.ndarray]) -> Signal:
        p = self.params
        close = float(candles.close[i])
        confidence = float(s["confidence"][i])
        buy = s["direction"][i] > 0
        if p.stop_mode == "atr":
            distance = p.atr_stop_multiple * float(s["atr_pct"][i]) / 100 * close
        else:
            distance = (p.stop_max_pct - (p.stop_max_pct - p.stop_min_pct) * confidence) / 100
            distance *= close
        sign = 1 if buy else -1
        stop = close - sign * distance
        target = close + sign * p.take_profit_ratio * distance
        reason = (f"EMA{p.fast} crossed {'above' if buy else 'below'} EMA{p.slow}, "
                  f"slope {'agrees' if math.copysign(1, s['slope'][i]) == sign else 'disagrees'}"
                  f", RSI {s['rsi'][i]:.1f}, ATR {s['atr_pct'][i]:.2f}% → {confidence:.2f}")
        return Signal.make(
            symbol=candles.symbol, timeframe=candles.timeframe, side="BUY" if buy else "SELL",
            confidence=confidence, timestamp=candles.close_time(i), price=close,
            strategy=self.name, reason=reason,
            stop_loss=stop if stop > 0 else None, take_profit=target if target > 0 else None)


"""Fair value gaps: enter on the retrace into an unfilled gap, with the trend.

Rules (all parameters from YAML):

* **Gap.** Three candles *t-2, t-1, t*. Bullish when ``low[t] > high[t-2]`` (bounds: bottom
  ``high[t-2]``, top ``low[t]``); bearish when ``high[t] < low[t-2]`` (top ``low[t-2]``, bottom
  ``high[t]``). The gap exists only once bar *t* has closed, so it is stamped on bar *t*; a
  popular public implementation stamps it on the middle bar, which needs the future bar *t*.
  Gaps smaller than ``min_gap_atr`` ATRs are ignored.
* **Life.** From bar *t+1* a gap is live until it is used, invalidated (a close beyond its far
  side: below the bottom of a bullish gap, above the top of a bearish one) or older than
  ``max_age`` bars.
* **Entry.** The first later bar that trades back into a live gap (low ≤ top for bullish,
  high ≥ bottom for bearish) and still closes on the right side of it, while the trend agrees:
  close above a rising EMA(``trend_period``) for bullish, below a falling one for bearish.
* **Confidence** = 0.5 × min(1, gap size / ATR ÷ ``full_size_atr``) + 0.5 × trend score, where the
  trend score is 1 when close and EMA slope both agree and 0.5 when only one does (entries need
  at least one).
* **Stop** ``stop_buffer_atr`` ATRs beyond the gap's far side; **take-profit**
  ``take_profit_ratio`` times the stop distance.
"""

from __future__ import annotations

import attrs
import numpy as np

from genesis_core import Candles, Signal, Strategy, doc, format_ts


POSITIVE = attrs.validators.ge(1)
NON_NEGATIVE = attrs.validators.ge(0)


@attrs.frozen
class FvgParams:
    trend_period: int = doc("EMA period defining the prevailing trend.", default=50,
                            validator=POSITIVE)
    atr_period: int = doc("ATR period (Wilder).", default=14, validator=POSITIVE)
    max_age: int = doc("Bars after which an unused gap expires.", default=20,
                       validator=POSITIVE)
    min_gap_atr: float = doc("Smallest gap traded, in ATRs.", default=0.1,
                             validator=NON_NEGATIVE)
    full_size_atr: float = doc("Gap size (in ATRs) that earns the full size score.",
                               default=1.0, validator=NON_NEGATIVE)
    min_confidence: float = doc("Entries scoring below this are not signalled.", default=0.5,
                                validator=NON_NEGATIVE)
    stop_buffer_atr: float = doc("Stop distance beyond the gap's far side, in ATRs.",
                                 default=0.25, validator=NON_NEGATIVE)
    take_profit_ratio: float = doc("Take-profit distance as a multiple of the stop distance.",
                                   default=2.0, validator=NON_NEGATIVE)


@attrs.define
class _Gap:
    bar: int
    bullish: bool
    bottom: float
    top: float
    atr: float


class FvgStrategy(Strategy):
    """Trade retraces into unfilled fair value gaps in the direction of the trend."""

    name = "fvg"
    Params = FvgParams

    def warmup(self) -> int:
        return max(self.params.trend_period + 1, self.params.atr_period + 1, 3)

    def generate(self, candles: Candles) -> list[Signal]:
        from genesis_core.indicators import atr, ema, fvg

        p = self.params
        n = len(candles)
        if n <= self.warmup():
            return []
        high, low, close = candles.high, candles.low, candles.close
        trend = ema(close, p.trend_period)
        atr_values = atr(high, low, close, p.atr_period)
        gaps = fvg(high, low)  # stamped on the gap's third bar by the core kernel
        big_enough = gaps.size >= p.min_gap_atr * atr_values
        signals: list[Signal] = []
        live: list[_Gap] = []
        for t in range(2, n):
            live = [g for g in live if t - g.bar <= p.max_age]
            if live:
                signals += self._entries(candles, t, live, trend, atr_values)
            if gaps.direction[t] and big_enough[t] and t >= self.warmup():
                live.append(_Gap(t, bool(gaps.direction[t] > 0), float(gaps.bottom[t]),
                                 float(gaps.top[t]), float(atr_values[t])))  # from bar t+1
        return signals

    def _entries(self, candles: Candles, t: int, live: list[_Gap], trend: np.ndarray,
                 atr_values: np.ndarray) -> list[Signal]:
        high, low, close = candles.high[t], candles.low[t], candles.close[t]
        rising = trend[t] > trend[t - 1]
        found: list[Signal] = []
        for gap in list(live):
            if (close < gap.bottom) if gap.bullish else (close > gap.top):
                live.remove(gap)  # invalidated: price closed through the gap
                continue
            touched = low <= gap.top if gap.bullish else high >= gap.bottom
            if not touched:
                continue
            agree_close = close > trend[t] if gap.bullish else close < trend[t]
            agree_slope = rising if gap.bullish else not rising
            if not (agree_close or agree_slope):
                continue
            live.remove(gap)  # a gap is traded at most once
            signal = self._signal(candles, t, gap, 1.0 if agree_close and agree_slope else 0.5,
                                  float(atr_values[t]))
            if signal is not None:
                found.append(signal)
        return found

    def _signal(self, candles: Candles, t: int, gap: _Gap, trend_score: float,
                atr_t: float) -> Signal | None:
        p = self.params
        size_atr = (gap.top - gap.bottom) / gap.atr
        size_score = min(1.0, size_atr / p.full_size_atr) if p.full_size_atr else 1.0
        confidence = 0.5 * size_score + 0.5 * trend_score
        if confidence < p.min_confidence:
            return None
        close = float(candles.close[t])
        if gap.bullish:
            stop = gap.bottom - p.stop_buffer_atr * atr_t
            target = close + p.take_profit_ratio * (close - stop)
        else:
            stop = gap.top + p.stop_buffer_atr * atr_t
            target = close - p.take_profit_ratio * (stop - close)
        kind = "bullish" if gap.bullish else "bearish"
        reason = (f"retrace into {kind} FVG {gap.bottom:g}-{gap.top:g} formed "
                  f"{format_ts(candles.close_time(gap.bar))} ({size_atr:.2f} ATR), trend score "
                  f"{trend_score:g} → {confidence:.2f}")
        return Signal.make(
            symbol=candles.symbol, timeframe=candles.timeframe,
            side="BUY" if gap.bullish else "SELL", confidence=confidence,
            timestamp=candles.close_time(t), price=close, strategy=self.name, reason=reason,
            stop_loss=stop if stop > 0 else None, take_profit=target if target > 0 else None)

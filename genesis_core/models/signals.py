"""The signal: the one thing a strategy produces."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from enum import StrEnum

import attrs


class SignalSide(StrEnum):
    """What a signal recommends."""

    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


class Strength(StrEnum):
    """How strong a signal is; :meth:`from_confidence` gives the default bands."""

    STRONG = "STRONG"
    MEDIUM = "MEDIUM"
    WEAK = "WEAK"

    @classmethod
    def from_confidence(cls, confidence: float) -> Strength:
        """STRONG above 0.80, MEDIUM from 0.60 to 0.80, WEAK below 0.60 (the seeds' bands)."""
        if confidence > 0.80:
            return cls.STRONG
        return cls.MEDIUM if confidence >= 0.60 else cls.WEAK


def _unit_interval(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{attribute.name} must be a number in [0, 1], got {value!r}")


def _positive_or_none(instance: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a positive price or None, got {value!r}")


@attrs.frozen
class Signal:
    """A strategy's view of one symbol at one bar close (the seeds' ``SignalResponse``).

    ``timestamp`` is the **close** time in ms UTC of the bar the signal was computed on: the
    signal cannot be acted on before that instant. ``price`` is that bar's close.
    ``stop_loss``/``take_profit`` are suggested absolute prices; risk policies may replace them.
    ``confidence`` is the strategy's belief in the side (0–1); ``trading_probability`` is the
    estimated chance the trade is profitable, which a strategy may set equal to confidence.
    """

    symbol: str
    timeframe: str
    side: SignalSide = attrs.field(converter=SignalSide)
    confidence: float = attrs.field(validator=_unit_interval)
    timestamp: int
    price: float
    strategy: str
    trading_probability: float = attrs.field(validator=_unit_interval)
    strength: Strength = attrs.field(converter=Strength)
    reason: str = ""
    recommendation: str = ""
    stop_loss: float | None = attrs.field(default=None, validator=_positive_or_none)
    take_profit: float | None = attrs.field(default=None, validator=_positive_or_none)

    @property
    def id(self) -> str:
        """Deterministic id: the same bar, symbol and strategy always give the same id."""
        return f"{self.strategy}:{self.symbol}:{self.timeframe}:{self.timestamp}"

    @property
    def short_id(self) -> str:
        """Six hex digits of the id's hash: what a human types (``/confirm 3fa9c1``)."""
        return short_id(self.id)

    @classmethod
    def make(
        cls,
        *,
        symbol: str,
        timeframe: str,
        side: SignalSide | str,
        confidence: float,
        timestamp: int,
        price: float,
        strategy: str,
        reason: str = "",
        stop_loss: float | None = None,
        take_profit: float | None = None,
        trading_probability: float | None = None,
        strength: Strength | str | None = None,
    ) -> Signal:
        """Build a signal, deriving strength, probability and recommendation when omitted."""
        side = SignalSide(side)
        strength = Strength(strength) if strength else Strength.from_confidence(confidence)
        recommendation = "hold" if side is SignalSide.HOLD else (
            f"{strength.value.lower()} {side.value.lower()}"
        )
        return cls(
            symbol=symbol,
            timeframe=timeframe,
            side=side,
            confidence=confidence,
            timestamp=timestamp,
            price=price,
            strategy=strategy,
            trading_probability=(
                confidence if trading_probability is None else trading_probability
            ),
            strength=strength,
            reason=reason,
            recommendation=recommendation,
            stop_loss=stop_loss,
            take_profit=take_profit,
        )


def short_id(signal_id: str) -> str:
    """The short form of a signal id (see :attr:`Signal.short_id`)."""
    return hashlib.sha256(signal_id.encode()).hexdigest()[:6]


def resolve_id(given: str, waiting: Iterable[str]) -> str | None:
    """The waiting signal id that ``given`` names, in full or by its short form."""
    ids = list(waiting)
    if given in ids:
        return given
    matches = [i for i in ids if short_id(i) == given.lower()]
    return matches[0] if len(matches) == 1 else None

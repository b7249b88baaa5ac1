"""Stops: set the stop-loss and take-profit of each entry (and name a trailing distance)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import attrs

from genesis_core import PortfolioSnapshot, RiskDecision, RiskPolicy, Strength, TradeIntent, doc
from genesis_risk_basic._common import (
    PerSymbol,
    atr_of,
    fraction,
    make_overrides,
    optional,
    pct,
    positive,
)


class StopMode(StrEnum):
    PERCENT = "percent"
    ATR = "atr"


def _below_one(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    if not Decimal(0) < value < Decimal(1):
        raise ValueError(f"'{attribute.name}' must be in (0, 1), got {value}")


@attrs.frozen
class StopsParams(PerSymbol):
    mode: StopMode = doc("percent: a share of the entry price chosen by signal strength; atr: "
                         "atr_multiple × the ATR feature.", default=StopMode.PERCENT)
    strong_pct: Decimal = doc("Stop distance for STRONG signals (share of price).",
                              default=Decimal("0.03"), validator=_below_one)
    medium_pct: Decimal = doc("Stop distance for MEDIUM signals.", default=Decimal("0.05"),
                              validator=_below_one)
    weak_pct: Decimal = doc("Stop distance for WEAK signals.", default=Decimal("0.08"),
                            validator=_below_one)
    atr_multiple: Decimal = doc("Stop distance in ATRs (mode atr).", default=Decimal(2),
                                validator=positive)
    take_profit_ratio: Decimal | None = doc(
        "Take-profit distance as a multiple of the stop distance (null: no take-profit).",
        default=Decimal(2), validator=optional(positive))
    trailing_pct: Decimal | None = doc(
        "Trailing-stop distance as a share of the entry price (null: no trailing stop).",
        default=None, validator=optional(fraction))
    trailing_atr_multiple: Decimal | None = doc(
        "Trailing-stop distance in ATRs (used when trailing_pct is null).", default=None,
        validator=optional(positive))
    keep_strategy_stops: bool = doc(
        "Leave an intent that already carries a stop-loss (from the strategy) unchanged.",
        default=False)
    per_symbol: dict[str, StopsOverride] = doc(
        "Per-symbol mode, *_pct, atr_multiple, take_profit_ratio and trailing settings.",
        factory=dict)

    def pct_for(self, strength: Strength) -> Decimal:
        return {Strength.STRONG: self.strong_pct, Strength.MEDIUM: self.medium_pct,
                Strength.WEAK: self.weak_pct}[strength]


StopsOverride = make_overrides(
    StopsParams, "StopsOverride",
    ("mode", "strong_pct", "medium_pct", "weak_pct", "atr_multiple", "take_profit_ratio",
     "trailing_pct", "trailing_atr_multiple"))


class Stops(RiskPolicy):
    """Set stop-loss (by signal strength or ATR) and take-profit (a multiple of the stop)."""

    name = "stops"
    Params = StopsParams

    def trailing_distance(self, intent: TradeIntent) -> Decimal | None:
        """The trailing-stop distance in price units for ``intent``, or ``None``.

        The decision carries it as ``RiskDecision.trailing_stop``; the reason names it too.
        """
        p = self.params.for_symbol(intent.symbol)
        if p.trailing_pct is not None:
            return intent.price * p.trailing_pct
        atr = atr_of(intent)
        if p.trailing_atr_multiple is not None and atr is not None:
            return atr * p.trailing_atr_multiple
        return None

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, "exits need no stops")
        if self.params.keep_strategy_stops and intent.stop_loss is not None:
            return RiskDecision.approve(self.name, f"keeps the strategy's stop {intent.stop_loss}")
        p = self.params.for_symbol(intent.symbol)
        price, sign = intent.price, intent.side.sign
        if price <= 0:
            return RiskDecision.reject(self.name, f"price {price} is not positive")
        if p.mode is StopMode.ATR:
            atr = atr_of(intent)
            if atr is None:
                return RiskDecision.reject(
                    self.name, "ATR stop needs a positive atr or atr_pct feature")
            distance = atr * p.atr_multiple
            how = f"{p.atr_multiple} x ATR {atr}"
        else:
            strength = intent.signal.strength
            distance = price * p.pct_for(strength)
            how = f"{pct(p.pct_for(strength))} for a {strength.value} signal"
        stop = self._round(intent, price - sign * distance)
        if stop is None or stop <= 0 or (price - stop) * sign <= 0:
            where = "below" if sign > 0 else "above"
            return RiskDecision.reject(
                self.name, f"stop distance {distance} leaves no valid stop price {where} {price}")
        reason = f"stop-loss {stop} ({how})"
        take = None
        if p.take_profit_ratio is not None:
            take = self._round(intent, price + sign * distance * p.take_profit_ratio)
            if take is None or take <= 0:
                take = None
                reason += "; no take-profit (it would not be a positive price)"
            else:
                reason += f", take-profit {take} ({p.take_profit_ratio} x the stop distance)"
        trailing = self.trailing_distance(intent)
        if trailing is not None:
            reason += f"; trailing stop distance {trailing}"
        return RiskDecision.resize(self.name, intent.amount, reason, stop_loss=stop,
                                   take_profit=take, trailing_stop=trailing)

    @staticmethod
    def _round(intent: TradeIntent, price: Decimal) -> Decimal | None:
        if price <= 0:
            return None
        return intent.market.round_price(price) if intent.market is not None else price

"""Risk policies: each answers approve / resize / reject with a reason for the audit log."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import attrs

from genesis_core import PortfolioSnapshot, RiskDecision, RiskPolicy, TradeIntent, doc


def _fraction(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    if not Decimal(0) < value <= Decimal(1):
        raise ValueError(f"'{attribute.name}' must be in (0, 1], got {value}")


@attrs.frozen
class KillSwitchParams:
    engaged: bool = doc("Start with the switch on: nothing opens until it is turned off.",
                        default=False)
    flag_file: Path | None = doc("While this file exists the switch is on (touch it to halt, "
                                 "remove it to resume).", default=None)


class KillSwitch(RiskPolicy):
    """Refuse every new entry while the kill-switch is on; exits are always allowed."""

    name = "kill_switch"
    Params = KillSwitchParams

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, "exits are never blocked")
        if self.params.engaged:
            return RiskDecision.reject(self.name, "kill-switch engaged in config")
        flag = self.params.flag_file
        if flag is not None and flag.exists():  # one stat() per signal, not per bar
            return RiskDecision.reject(self.name, f"kill-switch flag file {flag} exists")
        return RiskDecision.approve(self.name)


def _at_least_one(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise ValueError(f"'{attribute.name}' must be >= 1, got {value}")


@attrs.frozen
class MaxOpenPositionsParams:
    max_positions: int = doc("Most positions open at once (seed default 3).", default=3,
                             validator=_at_least_one)


class MaxOpenPositions(RiskPolicy):
    """Refuse a new position when the maximum number is already open."""

    name = "max_open_positions"
    Params = MaxOpenPositionsParams

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        open_symbols = {p.symbol for p in portfolio.open_positions()}
        if intent.reduce_only or intent.symbol in open_symbols:
            return RiskDecision.approve(self.name, "does not open a new position")
        limit = self.params.max_positions
        if len(open_symbols) >= limit:
            return RiskDecision.reject(
                self.name, f"{len(open_symbols)} positions open, the maximum is {limit}")
        return RiskDecision.approve(self.name, f"{len(open_symbols)} of {limit} positions open")


@attrs.frozen
class FixedFractionParams:
    fraction: Decimal = doc("Share of equity committed per entry (0-1].",
                            default=Decimal("0.05"), validator=_fraction)
    amount_decimals: int = doc("Decimals of the order amount (truncated, never rounded up).",
                               default=8)


class FixedFraction(RiskPolicy):
    """Size each entry to a fixed share of equity."""

    name = "fixed_fraction"
    Params = FixedFractionParams

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, "exit keeps its size")
        budget = portfolio.equity * self.params.fraction
        step = Decimal(1).scaleb(-self.params.amount_decimals)
        amount = (budget / intent.price).quantize(step, rounding=ROUND_DOWN)
        if amount <= 0:
            return RiskDecision.reject(self.name, f"equity {portfolio.equity} too small to size")
        return RiskDecision.resize(
            self.name, amount,
            f"{self.params.fraction:%} of equity {portfolio.equity} at {intent.price} = {amount}")

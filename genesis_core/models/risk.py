"""What a risk policy is asked, and what it answers."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum

import attrs

from genesis_core.models.market import Market
from genesis_core.models.orders import OrderSide
from genesis_core.models.signals import Signal


@attrs.frozen
class TradeIntent:
    """A signal turned into a proposed entry, before risk policies have had their say.

    ``amount`` starts as the runtime's default size and is resized by sizing policies; stops are
    absolute prices. ``market`` rules let policies round to what the exchange accepts.
    ``features`` holds indicator values at the signal's bar that the runtime attaches (at least
    ``atr``, in price units, and ``atr_pct``, in percent of the close, when known), so policies
    never compute indicators themselves.
    """

    signal: Signal
    symbol: str
    side: OrderSide
    amount: Decimal
    price: Decimal
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    reduce_only: bool = False
    market: Market | None = None
    features: Mapping[str, float] = attrs.field(factory=dict)


class RiskAction(StrEnum):
    APPROVE = "APPROVE"
    RESIZE = "RESIZE"
    REJECT = "REJECT"
    CONFIRM = "CONFIRM"  # park until a human confirms (or the confirmation expires)


@attrs.frozen
class RiskDecision:
    """A policy's verdict. RESIZE carries the new ``amount`` and may set the stops: a ``None``
    stop or ``trailing_stop`` keeps what the intent already had. ``trailing_stop`` is a distance in
    price units. CONFIRM parks the trade until a human confirms it; every verdict carries the
    deciding ``policy`` and a human-readable ``reason`` for the audit log."""

    action: RiskAction
    policy: str
    reason: str = ""
    amount: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop: Decimal | None = None

    def __attrs_post_init__(self) -> None:
        if self.action is RiskAction.RESIZE and (self.amount is None or self.amount < 0):
            raise ValueError(f"{self.policy}: RESIZE needs a non-negative amount")

    @classmethod
    def approve(cls, policy: str, reason: str = "") -> RiskDecision:
        return cls(RiskAction.APPROVE, policy, reason)

    @classmethod
    def reject(cls, policy: str, reason: str) -> RiskDecision:
        return cls(RiskAction.REJECT, policy, reason)

    @classmethod
    def confirm(cls, policy: str, reason: str) -> RiskDecision:
        """Ask for manual confirmation (e.g. confidence between the auto and reject bands)."""
        return cls(RiskAction.CONFIRM, policy, reason)

    @classmethod
    def resize(
        cls,
        policy: str,
        amount: Decimal,
        reason: str,
        *,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        trailing_stop: Decimal | None = None,
    ) -> RiskDecision:
        return cls(RiskAction.RESIZE, policy, reason, amount, stop_loss, take_profit,
                   trailing_stop)

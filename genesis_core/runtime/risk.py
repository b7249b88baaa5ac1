"""The risk chain: policies in YAML order, the one place a signal becomes a sized trade."""

from __future__ import annotations

from decimal import Decimal

import attrs

from genesis_core.contracts import RiskPolicy
from genesis_core.models import PortfolioSnapshot, RiskAction, RiskDecision, TradeIntent


@attrs.frozen
class Verdict:
    """The chain's outcome: the final intent (sized, with stops) and every policy's decision."""

    action: RiskAction
    intent: TradeIntent
    decisions: tuple[RiskDecision, ...]

    @property
    def reason(self) -> str:
        return "; ".join(f"{d.policy}: {d.reason}" for d in self.decisions if d.reason) or (
            "approved")


def resized(intent: TradeIntent, decision: RiskDecision) -> TradeIntent:
    """``intent`` with a RESIZE decision's amount, and its stops where it gives any."""
    return attrs.evolve(
        intent, amount=decision.amount,
        stop_loss=decision.stop_loss if decision.stop_loss is not None else intent.stop_loss,
        take_profit=decision.take_profit if decision.take_profit is not None
        else intent.take_profit)


def evaluate(policies: list[RiskPolicy], intent: TradeIntent,
             portfolio: PortfolioSnapshot) -> Verdict:
    """First REJECT stops; RESIZE passes amount and stops on; any CONFIRM parks the trade."""
    decisions: list[RiskDecision] = []
    confirm = False
    for policy in policies:
        decision = policy.check(intent, portfolio)
        decisions.append(decision)
        if decision.action is RiskAction.REJECT:
            return Verdict(RiskAction.REJECT, intent, tuple(decisions))
        if decision.action is RiskAction.CONFIRM:
            confirm = True
        elif decision.action is RiskAction.RESIZE:
            intent = resized(intent, decision)
    if intent.amount <= Decimal(0) and not intent.reduce_only:
        missing = RiskDecision.reject("runtime", "no policy sized the trade (add a sizing "
                                                 "policy such as fixed_fraction)")
        return Verdict(RiskAction.REJECT, intent, (*decisions, missing))
    action = RiskAction.CONFIRM if confirm else RiskAction.APPROVE
    return Verdict(action, intent, tuple(decisions))

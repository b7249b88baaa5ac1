"""The risk-policy contract, checkable by any policy author."""

from __future__ import annotations

import json
from collections.abc import Iterable

from genesis_core.contracts import RiskPolicy
from genesis_core.models import PortfolioSnapshot, RiskAction, RiskDecision, TradeIntent


def check_risk_policy(policy: RiskPolicy,
                      cases: Iterable[tuple[TradeIntent, PortfolioSnapshot]]) -> None:
    """Assert the contract on every case: a RiskDecision naming the policy, with a reason
    unless it approves, sizes that are finite and non-negative and respect the market rules,
    exits never blocked, and the same answer twice (no hidden clock or randomness). Then, if
    the policy keeps state across restarts (``state()``), that it survives JSON (the runner
    stores it so) and that ``restore()`` of it gives back the same state."""
    for intent, portfolio in cases:
        decision = policy.check(intent, portfolio)
        where = f"{policy.name} on {intent.side} {intent.amount} {intent.symbol}"
        if not isinstance(decision, RiskDecision):
            raise AssertionError(f"{where}: returned {decision!r}, not a RiskDecision")
        if decision.policy != policy.name:
            raise AssertionError(f"{where}: decision names policy {decision.policy!r}")
        if decision.action is not RiskAction.APPROVE and not decision.reason:
            raise AssertionError(f"{where}: {decision.action} without a reason")
        if intent.reduce_only and decision.action is RiskAction.REJECT:
            raise AssertionError(f"{where}: blocked an exit ({decision.reason})")
        if decision.action is RiskAction.RESIZE:
            amount = decision.amount
            if amount is None or not amount.is_finite() or amount < 0:
                raise AssertionError(f"{where}: resized to {amount}")
            if intent.market is not None and amount > 0:
                problem = intent.market.check_amount(amount)
                if problem is not None:
                    raise AssertionError(f"{where}: {problem}")
        if policy.check(intent, portfolio) != decision:
            raise AssertionError(f"{where}: a second identical call decided differently")
    _check_state(policy)


def _check_state(policy: RiskPolicy) -> None:
    state = policy.state()
    if state is None:
        return
    try:
        stored = json.loads(json.dumps(state))
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{policy.name}: state() is not JSON data ({exc})") from None
    policy.restore(stored)
    if json.loads(json.dumps(policy.state())) != stored:
        raise AssertionError(f"{policy.name}: restore(state()) changed the state")


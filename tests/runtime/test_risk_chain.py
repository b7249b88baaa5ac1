"""The risk chain's semantics."""

from __future__ import annotations

from decimal import Decimal

from genesis_core import (
    PortfolioSnapshot,
    RiskAction,
    RiskDecision,
    RiskPolicy,
    Signal,
    TradeIntent,
)
from genesis_core.runtime.risk import evaluate


def policy(name: str, decide):
    cls = type(name, (RiskPolicy,), {"name": name, "check": lambda self, i, p: decide(i)})
    return cls()


INTENT = TradeIntent(
    Signal.make(symbol="X", timeframe="1h", side="BUY", confidence=0.7, timestamp=0, price=10.0,
                strategy="s"),
    "X", "BUY", Decimal(0), Decimal(10))
BOOK = PortfolioSnapshot(0, Decimal(1000), Decimal(1000))


def test_resize_passes_on_and_reject_stops_the_chain() -> None:
    calls = []
    size = policy("size", lambda i: RiskDecision.resize("size", Decimal(3), "three",
                                                         stop_loss=Decimal(9)))
    halve = policy("halve", lambda i: calls.append(i.amount) or RiskDecision.resize(
        "halve", i.amount / 2, "half"))
    veto = policy("veto", lambda i: RiskDecision.reject("veto", "no"))
    never = policy("never", lambda i: calls.append("never") or RiskDecision.approve("never"))
    verdict = evaluate([size, halve], INTENT, BOOK)
    assert (RiskAction.APPROVE, Decimal("1.5"), Decimal(9)) == (
        verdict.action, verdict.intent.amount, verdict.intent.stop_loss)
    assert [Decimal(3)] == calls
    verdict = evaluate([size, veto, never], INTENT, BOOK)
    assert RiskAction.REJECT == verdict.action
    assert "never" not in calls
    assert "veto: no" in verdict.reason


def test_confirm_parks_and_unsized_trades_are_refused() -> None:
    size = policy("size", lambda i: RiskDecision.resize("size", Decimal(1), "one"))
    ask = policy("ask", lambda i: RiskDecision.confirm("ask", "0.70 needs a human"))
    assert RiskAction.CONFIRM == evaluate([ask, size], INTENT, BOOK).action
    verdict = evaluate([], INTENT, BOOK)
    assert RiskAction.REJECT == verdict.action
    assert "no policy sized the trade" in verdict.reason

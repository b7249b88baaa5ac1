"""Stops: stop-loss by signal strength or ATR, take-profit as a multiple, trailing distance."""

from __future__ import annotations

import pytest

from genesis_core import Market, RiskAction, RiskDecision
from genesis_risk_basic import Stops
from genesis_risk_basic.stops import StopMode, StopsOverride, StopsParams

from ._support import D, intent, snapshot


@pytest.mark.parametrize(("side", "confidence", "stop", "take", "how"), [
    ("BUY", 0.9, "97.00", "106.00", "3.00% for a STRONG signal"),
    ("BUY", 0.7, "95.00", "110.00", "5.00% for a MEDIUM signal"),
    ("SELL", 0.5, "108.00", "84.00", "8.00% for a WEAK signal"),
])
def test_percent_stops_by_strength(side: str, confidence: float, stop: str, take: str,
                                   how: str) -> None:
    decision = Stops().check(intent(side=side, amount="2", confidence=confidence), snapshot())
    reason = f"stop-loss {stop} ({how}), take-profit {take} (2 x the stop distance)"
    assert RiskDecision.resize("stops", D("2"), reason, stop_loss=D(stop),
                               take_profit=D(take)) == decision


def test_atr_stops_and_trailing_distance() -> None:
    params = StopsParams(mode=StopMode.ATR, trailing_atr_multiple=D("1.5"))
    policy = Stops(params)
    the_intent = intent(features={"atr": 2.5})
    decision = policy.check(the_intent, snapshot())
    assert RiskDecision.resize(
        "stops", D("1"), "stop-loss 95.0 (2 x ATR 2.5), take-profit 110.0 (2 x the stop "
                         "distance); trailing stop distance 3.75",
        stop_loss=D("95"), take_profit=D("110"), trailing_stop=D("3.75")) == decision
    assert D("3.75") == policy.trailing_distance(the_intent)
    assert D("3.75") == decision.trailing_stop
    assert (RiskAction.REJECT, "ATR stop needs a positive atr or atr_pct feature") == (
        policy.check(intent(), snapshot()).action, policy.check(intent(), snapshot()).reason)
    assert (RiskAction.REJECT, "stop distance 120.0 leaves no valid stop price below 100") == (
        policy.check(intent(features={"atr": 60.0}), snapshot()).action,
        policy.check(intent(features={"atr": 60.0}), snapshot()).reason)


def test_stops_round_to_the_market_price_precision() -> None:
    market = Market("BTCUSD", "BTC", "USD", price_significant=5)
    decision = Stops().check(intent(price="30123", market=market), snapshot())
    assert (D("29219"), D("31930")) == (decision.stop_loss, decision.take_profit)


def test_take_profit_that_would_not_be_a_price_is_dropped_and_trailing_pct() -> None:
    params = StopsParams(take_profit_ratio=D("20"), trailing_pct=D("0.02"))
    decision = Stops(params).check(intent(side="SELL", confidence=0.5), snapshot())
    assert (D("108.00"), None) == (decision.stop_loss, decision.take_profit)
    assert ("stop-loss 108.00 (8.00% for a WEAK signal); no take-profit (it would not be a "
            "positive price); trailing stop distance 2.00") == decision.reason
    no_take = Stops(StopsParams(take_profit_ratio=None)).check(intent(), snapshot())
    assert (D("97.00"), None) == (no_take.stop_loss, no_take.take_profit)


def test_per_symbol_stops_and_keeping_strategy_stops() -> None:
    params = StopsParams(keep_strategy_stops=True,
                         per_symbol={"ETHUSD": StopsOverride(strong_pct=D("0.1"))})
    policy = Stops(params)
    assert D("90.0") == policy.check(intent("ETHUSD"), snapshot()).stop_loss
    assert D("97.00") == policy.check(intent("BTCUSD"), snapshot()).stop_loss
    kept = policy.check(intent(stop_loss="99"), snapshot())
    assert (RiskAction.APPROVE, "keeps the strategy's stop 99") == (kept.action, kept.reason)
    assert (RiskAction.APPROVE, "exits need no stops") == (
        policy.check(intent(reduce_only=True), snapshot()).action,
        policy.check(intent(reduce_only=True), snapshot()).reason)


def test_stop_percent_must_be_below_one() -> None:
    with pytest.raises(ValueError, match=r"^'weak_pct' must be in \(0, 1\), got 1$"):
        StopsParams(weak_pct=D("1"))

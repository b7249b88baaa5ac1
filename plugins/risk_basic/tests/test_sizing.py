"""Sizing policies: exact sizes (Decimal equality), exact reasons, exchange rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_core import Market, RiskAction, RiskDecision
from genesis_risk_basic import (
    ConfidenceScaled,
    FixedFraction,
    Kelly,
    RiskPerTrade,
    VolatilityTarget,
)
from genesis_risk_basic.sizing import (
    ConfidenceScaledParams,
    FixedFractionOverride,
    FixedFractionParams,
    KellyParams,
    RiskPerTradeParams,
    VolatilityTargetParams,
)

from ._support import MARKET, D, intent, round_trip, snapshot


def sized(decision: RiskDecision) -> tuple[RiskAction, Decimal | None, str]:
    return decision.action, decision.amount, decision.reason


# -- fixed fraction ------------------------------------------------------------------------------


def test_fixed_fraction_exact_size_and_reason() -> None:
    decision = FixedFraction().check(intent(stop_loss="95"), snapshot())
    assert RiskDecision.resize("fixed_fraction", D("5"), "5.00% of equity 10000.00 at 100 = "
                               "5.00000000", stop_loss=D("95")) == decision
    decision = FixedFraction(FixedFractionParams(fraction=D("0.10"))).check(
        intent(market=MARKET), snapshot())
    assert (RiskAction.RESIZE, D("10"), "10.00% of equity 10000.00 at 100 = 10.0000") == (
        sized(decision))


def test_fixed_fraction_truncates_to_the_market_precision() -> None:
    decision = FixedFraction().check(intent(price="30000", market=MARKET), snapshot())
    assert (RiskAction.RESIZE, D("0.0166")) == (decision.action, decision.amount)  # not 0.0167


def test_sizing_below_the_exchange_minimum_is_rejected() -> None:
    market = Market("BTCUSD", "BTC", "USD", min_amount=D("0.02"), amount_decimals=4)
    decision = FixedFraction().check(intent(price="30000", market=market), snapshot())
    assert (RiskAction.REJECT, None, "5.00% of equity 10000.00 at 30000: sized amount 0.0166 is "
                                     "below the exchange minimum 0.02 BTCUSD") == sized(decision)


def test_sizing_that_rounds_to_zero_is_rejected() -> None:
    params = FixedFractionParams(amount_decimals=2)
    decision = FixedFraction(params).check(intent(price="30000"), snapshot("10"))
    assert (RiskAction.REJECT, "5.00% of equity 10.00 at 30000: sized amount 0.0000166667 rounds "
                               "down to 0 at 2 decimals") == (decision.action, decision.reason)


def test_sizing_is_clipped_to_the_exchange_maximum() -> None:
    market = Market("BTCUSD", "BTC", "USD", max_amount=D("50.00005"), amount_decimals=4)
    decision = FixedFraction(FixedFractionParams(fraction=D("1"))).check(
        intent(market=market), snapshot("1000000"))
    assert (RiskAction.RESIZE, D("50"), "100.00% of equity 1000000.00 at 100 = 50.0000 (clipped "
                                        "to the exchange maximum 50.00005)") == sized(decision)


def test_fixed_fraction_per_symbol_and_guards() -> None:
    policy = FixedFraction(FixedFractionParams(
        per_symbol={"ETHUSD": FixedFractionOverride(fraction=D("0.2"))}))
    assert D("20") == policy.check(intent("ETHUSD"), snapshot()).amount
    assert D("5") == policy.check(intent("BTCUSD"), snapshot()).amount
    assert (RiskAction.APPROVE, None, "exit keeps its size") == sized(
        policy.check(intent(reduce_only=True), snapshot()))
    assert (RiskAction.REJECT, None, "equity 0 is not positive") == sized(
        policy.check(intent(), snapshot("0")))


# -- confidence scaled ---------------------------------------------------------------------------


@pytest.mark.parametrize(("confidence", "amount"), [
    (0.5, "5"), (0.6, "5"), (0.8, "10"), (0.9, "12.5"), (1.0, "15")])
def test_confidence_scaled_is_linear_across_the_band(confidence: float, amount: str) -> None:
    decision = ConfidenceScaled().check(intent(confidence=confidence, market=MARKET), snapshot())
    assert (RiskAction.RESIZE, D(amount)) == (decision.action, decision.amount)


def test_confidence_scaled_reason_and_validation() -> None:
    decision = ConfidenceScaled().check(intent(confidence=0.8, market=MARKET), snapshot())
    assert "confidence 0.8 -> 10.00% of equity 10000.00 at 100 = 10.0000" == decision.reason
    with pytest.raises(ValueError, match="'max_fraction' must be >= min_fraction"):
        ConfidenceScaledParams(min_fraction=D("0.2"), max_fraction=D("0.1"))
    with pytest.raises(ValueError, match="'high' must be > low"):
        ConfidenceScaledParams(low=0.9, high=0.9)


# -- risk per trade ------------------------------------------------------------------------------


def test_risk_per_trade_sizes_to_the_stop_distance() -> None:
    policy = RiskPerTrade()
    decision = policy.check(intent(stop_loss="95", take_profit="110", market=MARKET), snapshot())
    assert RiskDecision.resize("risk_per_trade", D("40"), "risking 2.00% of equity 10000.00 over "
                               "a stop distance of 5 = 40.0000", stop_loss=D("95"),
                               take_profit=D("110")) == decision
    decision = policy.check(intent(side="SELL", stop_loss="104", market=MARKET), snapshot())
    assert D("50") == decision.amount
    assert D("40") == policy.check(intent(signal_stop=95.0), snapshot()).amount


def test_risk_per_trade_caps_tight_stops_and_refuses_bad_ones() -> None:
    policy = RiskPerTrade(RiskPerTradeParams(max_fraction=D("0.5")))
    decision = policy.check(intent(stop_loss="99.9", market=MARKET), snapshot())
    assert (RiskAction.RESIZE, D("50"), "risking 2.00% of equity 10000.00 over a stop distance of "
                                        "0.1 (capped at 50.00% of equity) = 50.0000") == (
        sized(decision))
    assert (RiskAction.REJECT, None, "stop-loss 101 is not below the entry 100") == sized(
        policy.check(intent(stop_loss="101"), snapshot()))
    assert (RiskAction.REJECT, None, "stop-loss 99 is not above the entry 100") == sized(
        policy.check(intent(side="SELL", stop_loss="99"), snapshot()))
    assert (RiskAction.REJECT, None, "no stop-loss to size against (put `stops` before this "
                                     "policy)") == sized(policy.check(intent(), snapshot()))


# -- volatility target ---------------------------------------------------------------------------


def test_volatility_target_from_atr_or_atr_percent() -> None:
    policy = VolatilityTarget()
    decision = policy.check(intent(market=MARKET, features={"atr": 2.5}), snapshot())
    assert (RiskAction.RESIZE, D("40"), "one ATR (2.5) worth 1.00% of equity 10000.00 = "
                                        "40.0000") == sized(decision)
    decision = policy.check(intent(price="200", market=MARKET, features={"atr_pct": 2.5}),
                            snapshot())
    assert (RiskAction.RESIZE, D("20")) == (decision.action, decision.amount)
    assert (RiskAction.REJECT, None, "no positive ATR in the intent's features (atr or "
                                     "atr_pct)") == sized(policy.check(intent(), snapshot()))
    capped = VolatilityTarget(VolatilityTargetParams(max_fraction=D("0.1")))
    assert D("10") == capped.check(intent(market=MARKET, features={"atr": 0.01}),
                                   snapshot()).amount


# -- Kelly ---------------------------------------------------------------------------------------


def test_kelly_uses_the_fallback_until_enough_trades() -> None:
    policy = Kelly(KellyParams(min_trades=4, lookback_trades=10))
    decision = policy.check(intent(market=MARKET), snapshot())
    assert (RiskAction.RESIZE, D("2"), "0 of 4 closed trades: fallback 2.00% of equity 10000.00 "
                                       "at 100 = 2.0000") == sized(decision)


def test_kelly_from_win_rate_and_payoff() -> None:
    policy = Kelly(KellyParams(min_trades=4, lookback_trades=10))
    for n in range(3):
        round_trip(policy, "BTCUSD", "100", "110", n=n)  # +10 %
    round_trip(policy, "BTCUSD", "100", "95", n=3)  # -5 %
    # W = 0.75, R = 2 → Kelly 0.625; × 0.25 = 0.15625 of equity at 100 → 15.625 units.
    decision = policy.check(intent(market=MARKET), snapshot())
    assert (RiskAction.RESIZE, D("15.625"), "Kelly 62.50% x 0.25 -> 15.62% of equity 10000.00 at "
                                            "100 (win rate 75.00%, payoff 2.00 over 4 trades) = "
                                            "15.6250") == sized(decision)
    assert D("0.625") == policy.stats().kelly


def test_kelly_without_an_edge_refuses_and_is_capped() -> None:
    policy = Kelly(KellyParams(min_trades=4))
    round_trip(policy, "BTCUSD", "100", "105", n=0)
    for n in range(1, 4):
        round_trip(policy, "BTCUSD", "100", "95", n=n)
    assert (RiskAction.REJECT, None, "Kelly sees no edge: win rate 25.00%, payoff 1.00 over 4 "
                                     "trades") == sized(policy.check(intent(), snapshot()))
    winners = Kelly(KellyParams(min_trades=2, kelly_multiplier=D("1"), max_fraction=D("0.3")))
    for n in range(2):
        round_trip(winners, "BTCUSD", "100", "101", n=n)
    decision = winners.check(intent(market=MARKET), snapshot())
    assert (RiskAction.RESIZE, D("30")) == (decision.action, decision.amount)
    assert decision.reason.endswith("(win rate 100.00%, payoff n/a over 2 trades) = 30.0000")


def test_kelly_only_looks_back_lookback_trades() -> None:
    policy = Kelly(KellyParams(min_trades=2, lookback_trades=2))
    for n in range(5):
        round_trip(policy, "BTCUSD", "100", "90", n=n)
    for n in range(5, 7):
        round_trip(policy, "BTCUSD", "100", "110", n=n)
    assert (2, D(1)) == (policy.stats().trades, policy.stats().win_rate)


# -- properties ----------------------------------------------------------------------------------

_money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=2)
_prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4)


@st.composite
def _markets(draw: st.DrawFn) -> Market | None:
    if draw(st.booleans()):
        return None
    decimals = draw(st.integers(0, 8))
    minimum = draw(st.sampled_from(["0", "0.0001", "0.01", "1"]))
    maximum = draw(st.sampled_from([None, "0.5", "100", "1000000"]))
    return Market("BTCUSD", "BTC", "USD", min_amount=D(minimum),
                  max_amount=None if maximum is None else D(maximum), amount_decimals=decimals)


@settings(max_examples=300, deadline=None)
@given(equity=_money, price=_prices, confidence=st.floats(0, 1), market=_markets(),
       stop_pct=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.99"), places=4),
       atr=st.floats(min_value=1e-6, max_value=1e5, allow_nan=False), kelly_trades=st.lists(
           st.integers(50, 150), max_size=8), side=st.sampled_from(["BUY", "SELL"]))
def test_every_sizer_gives_an_orderable_amount_within_its_budget_or_refuses(
        equity, price, confidence, market, stop_pct, atr, kelly_trades, side) -> None:
    stop = price * (1 - stop_pct) if side == "BUY" else price * (1 + stop_pct)
    kelly = Kelly(KellyParams(min_trades=2))
    for n, exit_price in enumerate(kelly_trades):
        round_trip(kelly, "BTCUSD", "100", str(exit_price), n=n)
    budgets = {  # the largest notional each sizer may commit
        "fixed_fraction": equity * D("0.05"),
        "confidence_scaled": equity * D("0.15"),
        "risk_per_trade": equity,
        "volatility_target": equity,
        "kelly": equity * D("0.25"),
    }
    the_intent = intent(side=side, price=str(price), confidence=confidence, market=market,
                        stop_loss=str(stop), features={"atr": atr})
    for policy in (FixedFraction(), ConfidenceScaled(), RiskPerTrade(), VolatilityTarget(), kelly):
        decision = policy.check(the_intent, snapshot(str(equity)))
        assert decision.action in (RiskAction.RESIZE, RiskAction.REJECT), decision
        if decision.action is RiskAction.REJECT:
            assert decision.reason
            continue
        amount = decision.amount
        assert amount is not None
        assert amount.is_finite()
        assert amount > 0
        assert amount * price <= budgets[policy.name]
        if market is not None:
            assert market.check_amount(amount) is None
        if policy.name == "risk_per_trade":
            assert amount * abs(price - stop) <= equity * D("0.02")

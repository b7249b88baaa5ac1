"""The plugin authors' test kit works on real plugins and catches broken ones."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis_core import (
    Market,
    PortfolioSnapshot,
    RiskDecision,
    RiskPolicy,
    Signal,
    TradeIntent,
    load_plugins,
)
from genesis_core.testing import RecordingNotifier, check_risk_policy, run_paper


def test_fixtures_give_bundled_candles(genesis_candles) -> None:
    assert 733 == len(genesis_candles)
    assert "BTCUSD" == genesis_candles.symbol


def test_run_paper_trades_through_the_real_runner() -> None:
    bot = run_paper("""
        strategies: [{plugin: ema_rsi}]
        risk: [{plugin: fixed_fraction}]
        notifiers: [{plugin: recording}]
    """)
    summary = bot.summary()
    assert summary.closed_trades > 0
    assert "FILL" in bot.log
    assert any(a.rule == "trade_closed" for a in RecordingNotifier.received)


def cases() -> list[tuple[TradeIntent, PortfolioSnapshot]]:
    market = Market("BTCUSD", "BTC", "USD", min_amount="0.001", amount_decimals=4)
    book = PortfolioSnapshot(0, Decimal(1000), Decimal(1000))
    out = []
    for side in ("BUY", "SELL"):
        signal = Signal.make(symbol="BTCUSD", timeframe="1h", side=side, confidence=0.85,
                             timestamp=0, price=100.0, strategy="s")
        for reduce_only in (False, True):
            out.append((TradeIntent(signal, "BTCUSD", side, Decimal(0), Decimal(100),
                                    reduce_only=reduce_only, market=market,
                                    features={"atr": 2.0, "atr_pct": 2.0}), book))
    return out


@pytest.mark.parametrize("name", ["fixed_fraction", "max_open_positions", "kill_switch",
                                  "confidence_bands", "max_daily_loss"])
def test_repo_risk_policies_satisfy_the_contract(name: str) -> None:
    cls = load_plugins().registry.get("risk_policy", name).cls
    check_risk_policy(cls(cls.Params()), cases())


def test_a_policy_that_oversizes_is_caught() -> None:
    class Sloppy(RiskPolicy):
        name = "sloppy"

        def check(self, intent, portfolio):
            return RiskDecision.resize(self.name, Decimal("0.123456789"), "too precise")

    with pytest.raises(AssertionError, match="more than 4 decimals"):
        check_risk_policy(Sloppy(), cases())


def test_a_policy_whose_state_is_not_json_is_caught() -> None:
    class Hoarder(RiskPolicy):
        name = "hoarder"

        def check(self, intent, portfolio):
            return RiskDecision.approve(self.name, "fine")

        def state(self):
            return {"limit": Decimal(1)}  # a Decimal: the checkpoint cannot store it

    with pytest.raises(AssertionError, match="state\\(\\) is not JSON data"):
        check_risk_policy(Hoarder(), cases())


def test_a_policy_that_blocks_exits_is_caught() -> None:
    class Jailer(RiskPolicy):
        name = "jailer"

        def check(self, intent, portfolio):
            return RiskDecision.reject(self.name, "no")

    with pytest.raises(AssertionError, match="blocked an exit"):
        check_risk_policy(Jailer(), cases())

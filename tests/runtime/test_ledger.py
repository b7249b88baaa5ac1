"""The runner's books with fees in either currency."""

from __future__ import annotations

from decimal import Decimal

from genesis_core import Fill
from genesis_core.runtime.ledger import Ledger


def fill(n, side, amount, price, fee, currency) -> Fill:
    return Fill(f"f{n}", f"c{n}", "BTCUSD", side, Decimal(amount), Decimal(price),
                Decimal(fee), currency, n)


def test_quote_fees_come_out_of_cash() -> None:
    ledger = Ledger(Decimal(1000))
    ledger.apply(fill(1, "BUY", "2", "100", "0.4", "USD"))
    assert Decimal("799.6") == ledger.cash
    assert Decimal(2) == ledger.positions["BTCUSD"].amount


def test_base_fees_shrink_the_holding_and_reconcile() -> None:
    """Bitfinex charges buy fees in BTC: 2 bought minus 0.004 fee leaves 1.996 to sell."""
    ledger = Ledger(Decimal(1000))
    position = ledger.apply(fill(1, "BUY", "2", "100", "0.004", "BTC"))
    assert Decimal("1.996") == position.amount
    assert Decimal(800) == ledger.cash
    assert Decimal("0.4") == ledger.fees
    ledger.mark("BTCUSD", 100.0, 0)
    assert Decimal("999.6") == ledger.equity()          # 1000 minus the fee's value
    position = ledger.apply(fill(2, "SELL", "1.996", "110", "0.4391", "USD"))
    assert not position.is_open
    expected_cash = Decimal(800) + Decimal("1.996") * 110 - Decimal("0.4391")
    assert expected_cash == ledger.cash
    assert ledger.cash - 1000 == position.realized_pnl - position.fees

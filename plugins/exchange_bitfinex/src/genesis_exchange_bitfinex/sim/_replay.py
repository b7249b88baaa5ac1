"""Market clock of the simulator: one step replays one candle.

Per step and market: advance the replay, refresh the synthetic book (never crossing resting
client orders), publish the candle's public trades, expire TIF orders, trigger stops, then fill
resting limit orders that the candle traded through, limited by the configured flow.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from genesis_exchange_bitfinex.sim._market import Market
from genesis_exchange_bitfinex.sim._orders import stop_hit


if TYPE_CHECKING:
    from genesis_exchange_bitfinex.sim._engine import Exchange


def step(ex: Exchange) -> list[tuple[str, Any]]:
    """Advance every market by one candle; returns (symbol, candle) pairs."""
    out = []
    touched: set[int] = set()
    for market in ex.markets.values():
        candle, trades = market.advance()
        market.rebuild_book(
            e for e in ex.book_entries(market.symbol, include_hidden=True) if not e.synthetic
        )
        for trade in trades:
            for listener in list(ex.public_listeners):
                listener(market.symbol, "te", trade)
                listener(market.symbol, "tu", trade)
        touched |= _expire_and_trigger(ex, market, candle.high, candle.low)
        touched |= _flow_fills(ex, market, candle.high, candle.low, candle.volume)
        ex.dirty.add(market.symbol)
        out.append((market.symbol, candle))
    for user_id in sorted(touched):
        ex._finish(ex.account_by_user(user_id))
    return out


def _expire_and_trigger(ex: Exchange, market: Market, high: Decimal, low: Decimal) -> set[int]:
    touched: set[int] = set()
    now = ex.now()
    for account in ex.accounts.values():
        for order in sorted(account.orders.values(), key=lambda o: o.id):
            if not order.is_open or order.symbol != market.symbol:
                continue
            if order.mts_tif is not None and order.mts_tif <= now:
                ex._close(account, order, "CANCELED")
                touched.add(account.user_id)
            elif stop_hit(order, high, low):
                ex._trigger(account, order)
                touched.add(account.user_id)
    return touched


def _flow_fills(
    ex: Exchange, market: Market, high: Decimal, low: Decimal, volume: Decimal
) -> set[int]:
    cfg = ex.config
    touched: set[int] = set()
    for buy in (True, False):
        budget = cfg.flow_amount if cfg.flow_amount is not None else volume * cfg.flow_fraction
        crossed = [
            o
            for o in ex.resting_orders(market.symbol)
            if o.is_buy == buy and (low <= o.rest_price if buy else high >= o.rest_price)
        ]
        crossed.sort(key=lambda o: (-o.rest_price if buy else o.rest_price, o.id))
        for order in crossed:
            if budget <= 0:
                break
            qty = min(abs(order.amount), budget)
            budget -= qty
            account = ex.account_by_user(order.user_id)
            ex._fill(account, order, qty if buy else -qty, order.rest_price, True, 0)
            touched.add(account.user_id)
    return touched

"""The order path: every order of every executor goes through here.

* **Idempotency.** Client ids derive from what the order is for (bot, signal id, leg), so a
  retried submit carries the same id and the executor recognises it; an id the path has already
  submitted is never submitted again.
* **Brackets.** An entry carries its stop-loss and take-profit. The protective legs are sent
  once the entry fills, sized to the filled amount (a partial fill protects what was filled, and
  the legs are resized as more fills arrive). When one leg fills, its sibling is cancelled: OCO is
  emulated here for executors without native OCO, the same way for paper and live.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import attrs

from genesis_core.contracts import Executor
from genesis_core.models import (
    Fill,
    Order,
    OrderRequest,
    OrderSide,
    OrderType,
    client_order_id,
)


@attrs.define
class Bracket:
    """An entry and its protective legs (client ids), linked by the entry's id."""

    entry_id: str
    symbol: str
    side: OrderSide
    stop_loss: Decimal | None
    take_profit: Decimal | None
    filled: Decimal = Decimal(0)
    stop_id: str | None = None
    take_id: str | None = None
    legs_version: int = 0
    closed: bool = False


OrderListener = Callable[[Order, Order | None], Awaitable[None]]


class OrderPath:
    """Submits, tracks and links orders for one bot."""

    def __init__(self, bot: str, executor: Executor, on_order: OrderListener) -> None:
        self._bot = bot
        self._executor = executor
        self._on_order = on_order
        self.orders: dict[str, Order] = {}
        self.quote = "USD"  # fees in any other currency reduce what the legs may sell
        self.brackets: dict[str, Bracket] = {}
        self._leg_of: dict[str, str] = {}  # protective leg id -> entry id

    def make_id(self, *parts: str) -> str:
        return client_order_id(self._bot, *parts)

    async def submit(self, request: OrderRequest) -> Order | None:
        """Submit once per client id; a known id returns the tracked order unchanged."""
        known = self.orders.get(request.client_order_id)
        if known is not None:
            return known
        placed = await self._executor.submit(request)
        await self.update(placed)
        return placed

    async def open(self, request: OrderRequest, stop_loss: Decimal | None,
                   take_profit: Decimal | None) -> Order | None:
        """Submit an entry and remember its bracket."""
        self.brackets.setdefault(request.client_order_id, Bracket(
            request.client_order_id, request.symbol, request.side, stop_loss, take_profit))
        return await self.submit(request)

    async def close(self, symbol: str, amount: Decimal, side: OrderSide, tag: str) -> None:
        """Flatten ``amount`` of ``symbol`` at market and retire its brackets."""
        for bracket in self.brackets.values():
            if bracket.symbol == symbol and not bracket.closed:
                await self._retire(bracket)
        if amount > 0:
            await self.submit(OrderRequest(self.make_id(tag, "exit"), symbol, side,
                                           OrderType.MARKET, amount, reduce_only=True))

    async def cancel_all(self) -> None:
        for order in list(self.orders.values()):
            if not order.status.is_final:
                await self.update(await self._executor.cancel(order.client_order_id))

    async def update(self, order: Order) -> None:
        """Record an order state reported by the executor (deduplicated)."""
        previous = self.orders.get(order.client_order_id)
        if previous is not None and (
                (previous.status, previous.filled_amount) == (order.status, order.filled_amount)
                or not previous.can_transition(order.status)):
            return  # a duplicate, or a stale report overtaken by a later state
        self.orders[order.client_order_id] = order
        await self._on_order(order, previous)

    async def on_fill(self, fill: Fill) -> None:
        """Keep brackets in step with fills: place or resize legs, or cancel a sibling."""
        entry_id = self._leg_of.get(fill.client_order_id)
        if entry_id is not None:
            bracket = self.brackets[entry_id]
            if not bracket.closed:
                await self._retire(bracket, keep=fill.client_order_id)
            return
        bracket = self.brackets.get(fill.client_order_id)
        if bracket is None or bracket.closed:
            return
        net = fill.amount - (fill.fee if fill.fee_currency != self.quote else Decimal(0))
        bracket.filled += net
        await self._place_legs(bracket)

    async def _place_legs(self, bracket: Bracket) -> None:
        for leg_id in (bracket.stop_id, bracket.take_id):
            if leg_id is not None:
                await self._cancel(leg_id)
        bracket.legs_version += 1
        exit_side = OrderSide.SELL if bracket.side is OrderSide.BUY else OrderSide.BUY
        version = str(bracket.legs_version)
        if bracket.stop_loss is not None:
            bracket.stop_id = self.make_id(bracket.entry_id, "stop", version)
            self._leg_of[bracket.stop_id] = bracket.entry_id
            await self.submit(OrderRequest(
                bracket.stop_id, bracket.symbol, exit_side, OrderType.STOP, bracket.filled,
                stop_price=bracket.stop_loss, reduce_only=True, parent_id=bracket.entry_id,
                group_id=bracket.entry_id))
        if bracket.take_profit is not None:
            bracket.take_id = self.make_id(bracket.entry_id, "take", version)
            self._leg_of[bracket.take_id] = bracket.entry_id
            await self.submit(OrderRequest(
                bracket.take_id, bracket.symbol, exit_side, OrderType.LIMIT, bracket.filled,
                price=bracket.take_profit, reduce_only=True, parent_id=bracket.entry_id,
                group_id=bracket.entry_id))

    async def _retire(self, bracket: Bracket, keep: str | None = None) -> None:
        bracket.closed = True
        for leg_id in (bracket.stop_id, bracket.take_id, bracket.entry_id):
            if leg_id is not None and leg_id != keep:
                await self._cancel(leg_id)

    async def _cancel(self, client_id: str) -> None:
        order = self.orders.get(client_id)
        if order is not None and not order.status.is_final:
            await self.update(await self._executor.cancel(client_id))

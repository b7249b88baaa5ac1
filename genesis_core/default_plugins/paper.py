"""The paper executor: simulated fills against the live or replayed market.

Fill model (the backtester uses the same one, so paper and backtest agree on the same candles):

* A MARKET order fills at the **open of the next bar** after it was submitted, moved against the
  trader by ``slippage_bps``, paying the taker fee.
* A LIMIT order rests. It fills at its limit price, as maker, on the first later bar whose range
  reaches it; if that bar opens through the limit, it fills at the open (the better price)
  as a taker, since it would have crossed the book.
* A STOP order triggers on the first later bar whose range reaches the stop and fills at the stop
  (or at the open if the bar gapped through it) plus slippage, as taker.
* Fees are charged in the quote currency. Everything is ``Decimal`` and reconciles exactly.
* A reduce-only order never grows or flips a position, as on a venue: it fills at most what
  the position holds in the other direction, and what is left is cancelled.

Orders fill in full; partial fills are modelled by venue simulators (see exchange_bitfinex).

Crash recovery: the simulated venue dies with the process, so a resumed bot re-seeds it with
:meth:`PaperExecutor.restore` from its database (orders, fills, starting cash, the last bar it
processed). The restored venue is the one the bot had at its last checkpoint, down to order
and fill ids, so the resumed run trades exactly like an uninterrupted one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

import anyio
import attrs

from genesis_core.config.schema import doc, positive
from genesis_core.contracts import CandleClosed, Executor, MarketEvent
from genesis_core.errors import OrderError
from genesis_core.hookspecs import hookimpl
from genesis_core.models import (
    Balance,
    Candle,
    Fill,
    Liquidity,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    timeframe_ms,
)


BPS = Decimal("0.0001")


def _bps(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    # 0 to 10 % (1,000 bps): 20000 (a typo for 20) would charge 200 % and the run "works".
    if not Decimal(0) <= value <= Decimal(1000):
        raise ValueError(f"'{attribute.name}' must be between 0 and 1000 basis points "
                         f"(10 %), got {value}")


@attrs.frozen
class PaperParams:
    initial_cash: Decimal = doc("Starting balance in the quote currency.",
                                default=Decimal("10000"), validator=positive)
    quote_currency: str = doc("Currency of the balance and of fees.", default="USD")
    taker_fee_bps: Decimal = doc("Taker fee in basis points (Bitfinex base tier: 20).",
                                 default=Decimal("20"), validator=_bps)
    maker_fee_bps: Decimal = doc("Maker fee in basis points (Bitfinex base tier: 10).",
                                 default=Decimal("10"), validator=_bps)
    slippage_bps: Decimal = doc("Adverse price move applied to taker fills, in basis points.",
                                default=Decimal("0"), validator=_bps)


def _price(value: float) -> Decimal:
    # Candle prices are float64 in the data; repr gives the shortest exact decimal for them.
    return Decimal(repr(value))


class PaperExecutor(Executor):
    """Simulated fills against market data, with fees and slippage."""

    name = "paper"
    Params = PaperParams
    in_process = True

    def __init__(self, params: PaperParams) -> None:
        super().__init__(params)
        self.cash = params.initial_cash
        self.positions: dict[str, Position] = {}
        self._orders: dict[str, Order] = {}
        self._clock = 0
        self._fill_seq = 0
        self._events: deque[Order | Fill] = deque()
        self._wakeup: anyio.Event | None = None

    # -- queries ---------------------------------------------------------------------------
    async def order(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    async def open_orders(self) -> list[Order]:
        return [o for o in self._orders.values() if not o.status.is_final]

    async def balances(self) -> list[Balance]:
        return [Balance(self.params.quote_currency, self.cash, self.cash)]

    async def events(self) -> AsyncIterator[Order | Fill]:
        while True:
            while self._events:
                yield self._events.popleft()
            self._wakeup = anyio.Event()
            await self._wakeup.wait()

    def restore(self, orders: Sequence[Order], fills: Sequence[Fill], cash: Decimal,
                now_ms: int) -> None:
        """Become the venue the bot recorded: its orders, the cash and positions its fills left,
        the fill counter and the clock (the close of the last bar the bot processed)."""
        self._orders = {o.client_order_id: o for o in orders}
        self.cash, self.positions = cash, {}
        for fill in fills:  # the same arithmetic as _fill, so every Decimal comes out equal
            self.cash -= fill.side.sign * fill.notional + fill.fee
            self.positions[fill.symbol] = self.positions.get(
                fill.symbol, Position(fill.symbol)).apply(fill)
        self._fill_seq = len(fills)
        self._clock = now_ms
        self._events.clear()

    # -- commands --------------------------------------------------------------------------
    async def submit(self, request: OrderRequest) -> Order:
        known = self._orders.get(request.client_order_id)
        if known is not None:
            if known.request != request:
                raise OrderError(f"client order id {request.client_order_id} reused for a "
                                 "different order")
            return known  # idempotent retry
        order = Order(request, updated_at=self._clock)
        order = self._emit(order.transition(OrderStatus.SUBMITTED, at=self._clock))
        return self._emit(order.transition(OrderStatus.OPEN, at=self._clock,
                                           exchange_order_id=f"paper-{len(self._orders)}"))

    async def cancel(self, client_order_id: str) -> Order:
        order = self._orders.get(client_order_id)
        if order is None:
            raise OrderError(f"cancel: unknown order {client_order_id}")
        if order.status.is_final:
            return order
        return self._emit(order.transition(OrderStatus.CANCELED, at=self._clock,
                                           reason="cancelled"))

    async def on_market(self, event: MarketEvent) -> None:
        if not isinstance(event, CandleClosed):
            return
        bar = event.candle
        hits: list[tuple[Order, Decimal, Liquidity]] = []
        for order in list(self._orders.values()):
            if order.status.is_final or order.request.symbol != event.symbol:
                continue
            if order.updated_at > bar.timestamp:
                continue  # placed after this bar opened: it can only fill on later bars
            hit = self._match(order.request, bar)
            if hit is not None:
                hits.append((order, *hit))
        for order, price, liquidity in _one_per_group(hits, _price(bar.open)):
            self._fill(order, price, liquidity, at=bar.timestamp)
        # Orders placed from now on were decided at this bar's close: they fill from the next bar.
        self._clock = max(self._clock, bar.timestamp + timeframe_ms(event.timeframe))

    # -- matching --------------------------------------------------------------------------
    def _match(self, req: OrderRequest, bar: Candle) -> tuple[Decimal, Liquidity] | None:
        open_, high, low = _price(bar.open), _price(bar.high), _price(bar.low)
        buy = req.side is OrderSide.BUY
        if req.type is OrderType.MARKET:
            return open_, Liquidity.TAKER
        if req.type is OrderType.LIMIT:
            assert req.price is not None
            if (buy and open_ <= req.price) or (not buy and open_ >= req.price):
                return open_, Liquidity.TAKER
            reached = low <= req.price if buy else high >= req.price
            return (req.price, Liquidity.MAKER) if reached else None
        assert req.stop_price is not None
        if (buy and open_ >= req.stop_price) or (not buy and open_ <= req.stop_price):
            return open_, Liquidity.TAKER
        reached = high >= req.stop_price if buy else low <= req.stop_price
        return (req.stop_price, Liquidity.TAKER) if reached else None

    def _fill(self, order: Order, price: Decimal, liquidity: Liquidity, *, at: int) -> None:
        req = order.request
        if liquidity is Liquidity.TAKER:
            price = price * (1 + req.side.sign * self.params.slippage_bps * BPS)
        fee_bps = (self.params.taker_fee_bps if liquidity is Liquidity.TAKER
                   else self.params.maker_fee_bps)
        amount = min(order.remaining, self._reducible(req)) if req.reduce_only else order.remaining
        if amount <= 0:
            self._emit(order.transition(OrderStatus.CANCELED, at=at,
                                        reason="reduce-only: no position to reduce"))
            return
        fee = amount * price * fee_bps * BPS
        self._fill_seq += 1
        fill = Fill(f"paper-fill-{self._fill_seq}", req.client_order_id, req.symbol, req.side,
                    amount, price, fee, self.params.quote_currency, at, liquidity)
        self.cash -= req.side.sign * fill.notional + fee
        position = self.positions.get(req.symbol, Position(req.symbol))
        self.positions[req.symbol] = position.apply(fill)
        self._publish(fill)
        if amount < order.remaining:  # reduce-only, beyond the position: the rest goes
            self._emit(order.transition(OrderStatus.CANCELED, at=at, filled_amount=amount,
                                        average_price=price,
                                        reason="reduce-only: the rest exceeds the position"))
            return
        self._emit(order.transition(OrderStatus.FILLED, at=at, filled_amount=req.amount,
                                    average_price=price))

    def _reducible(self, req: OrderRequest) -> Decimal:
        held = self.positions.get(req.symbol, Position(req.symbol)).amount
        return max(Decimal(0), -req.side.sign * held)  # a sell reduces a long, a buy a short

    def _emit(self, order: Order) -> Order:
        self._orders[order.client_order_id] = order
        self._publish(order)
        return order

    def _publish(self, event: Order | Fill) -> None:
        self._events.append(event)
        if self._wakeup is not None:
            self._wakeup.set()


def _one_per_group(hits: list[tuple[Order, Decimal, Liquidity]],
                   open_: Decimal) -> list[tuple[Order, Decimal, Liquidity]]:
    """Of the legs of one OCO group reached on one bar only one fills (the order path cancels
    the other on hearing of it), chosen as the backtester does: a leg the bar opened through,
    else the stop-loss. Filling both would sell the position twice, flipping it."""
    def rank(hit: tuple[Order, Decimal, Liquidity]) -> tuple[bool, bool]:
        return hit[1] != open_, hit[0].request.type is not OrderType.STOP

    winners: dict[str, tuple[Order, Decimal, Liquidity]] = {}
    for hit in hits:
        group = hit[0].request.group_id
        if group is not None and (group not in winners or rank(hit) < rank(winners[group])):
            winners[group] = hit
    return [h for h in hits if h[0].request.group_id is None or winners[h[0].request.group_id] is h]


@hookimpl
def register_executors(register):  # type: ignore[no-untyped-def]
    register(PaperExecutor)

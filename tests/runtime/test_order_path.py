"""The order path: idempotent submits, brackets, emulated OCO, partial fills."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis_core import (
    Balance,
    Candle,
    CandleClosed,
    Executor,
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
)
from genesis_core.default_plugins.paper import PaperExecutor, PaperParams
from genesis_core.runtime.orders import OrderPath


pytestmark = pytest.mark.anyio


class Recording(Executor):
    """An executor that acknowledges everything and lets the test fill orders by hand."""

    name = "recording"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[OrderRequest] = []
        self.book: dict[str, Order] = {}

    async def submit(self, request: OrderRequest) -> Order:
        self.sent.append(request)
        order = Order(request).transition(OrderStatus.SUBMITTED, at=0).transition(
            OrderStatus.OPEN, at=0)
        self.book[request.client_order_id] = order
        return order

    async def cancel(self, client_order_id: str) -> Order:
        order = self.book[client_order_id].transition(OrderStatus.CANCELED, at=1)
        self.book[client_order_id] = order
        return order

    async def order(self, client_order_id):
        return self.book.get(client_order_id)

    async def open_orders(self):
        return [o for o in self.book.values() if not o.status.is_final]

    async def balances(self):
        return [Balance("USD", Decimal(0), Decimal(0))]

    async def events(self):
        return
        yield


def fill(order_id: str, side: str, amount: str, price: str = "100") -> Fill:
    return Fill(f"f-{order_id}-{amount}", order_id, "BTCUSD", side, Decimal(amount),
                Decimal(price), Decimal(0), "USD", 0)


async def noop(order, previous) -> None:
    pass


async def test_a_client_id_is_submitted_once() -> None:
    executor = Recording()
    path = OrderPath("bot", executor, noop)
    request = OrderRequest(path.make_id("sig", "entry"), "BTCUSD", "BUY", "MARKET", Decimal(1))
    await path.submit(request)
    await path.submit(request)
    assert [request] == executor.sent
    assert path.make_id("sig", "entry") == path.make_id("sig", "entry")


async def test_bracket_legs_follow_partial_fills_and_cancel_each_other() -> None:
    executor = Recording()
    path = OrderPath("bot", executor, noop)
    entry = OrderRequest(path.make_id("sig", "entry"), "BTCUSD", "BUY", "MARKET", Decimal(2))
    await path.open(entry, Decimal(95), Decimal(110))
    assert [entry] == executor.sent  # no legs before anything is filled

    await path.on_fill(fill(entry.client_order_id, "BUY", "0.5"))
    stop, take = executor.sent[1:]
    assert ("STOP", Decimal("0.5"), Decimal(95)) == (stop.type, stop.amount, stop.stop_price)
    assert ("LIMIT", Decimal("0.5"), Decimal(110)) == (take.type, take.amount, take.price)
    assert stop.reduce_only
    assert take.reduce_only
    assert entry.client_order_id == stop.group_id == take.group_id

    await path.on_fill(fill(entry.client_order_id, "BUY", "1.5"))
    assert OrderStatus.CANCELED == executor.book[stop.client_order_id].status
    stop2, take2 = executor.sent[3:]
    assert Decimal(2) == stop2.amount == take2.amount          # resized to everything filled

    await path.on_fill(fill(stop2.client_order_id, "SELL", "2", "95"))
    assert OrderStatus.CANCELED == executor.book[take2.client_order_id].status  # OCO
    assert 5 == len(executor.sent)


async def test_stale_executor_reports_do_not_move_an_order_backwards() -> None:
    seen = []

    async def record(order, previous) -> None:
        seen.append(order.status)

    path = OrderPath("bot", Recording(), record)
    order = Order(OrderRequest("c", "BTCUSD", "BUY", "MARKET", Decimal(1)))
    submitted = order.transition(OrderStatus.SUBMITTED, at=0)
    opened = submitted.transition(OrderStatus.OPEN, at=0)
    await path.update(opened)
    await path.update(submitted)   # late report of an earlier state
    await path.update(opened)      # duplicate
    assert [OrderStatus.OPEN] == seen


async def test_paper_bracket_end_to_end_take_profit_cancels_stop() -> None:
    executor = PaperExecutor(PaperParams(taker_fee_bps=Decimal(0), maker_fee_bps=Decimal(0)))
    path = OrderPath("bot", executor, noop)

    async def bar(ts: int, o: float, h: float, low: float, c: float) -> None:
        await executor.on_market(CandleClosed("BTCUSD", "1m", Candle(ts, o, h, low, c, 1.0)))
        while executor._events:  # drain what the bar caused, as the runner's pump does
            event = executor._events.popleft()
            if isinstance(event, Fill):
                await path.on_fill(event)
            else:
                await path.update(event)

    await bar(0, 100, 100, 100, 100)
    await path.open(OrderRequest(path.make_id("s", "entry"), "BTCUSD", "BUY", "MARKET",
                                 Decimal(1)), Decimal(95), Decimal(105))
    await bar(60_000, 100, 101, 99, 100)       # entry fills at the open
    await bar(120_000, 100, 106, 99, 105)      # take-profit reached, stop not
    statuses = {o.request.type.value: o.status for o in path.orders.values()}
    assert {"MARKET": OrderStatus.FILLED, "LIMIT": OrderStatus.FILLED,
            "STOP": OrderStatus.CANCELED} == statuses
    assert not executor.positions["BTCUSD"].is_open
    assert Decimal(5) == executor.positions["BTCUSD"].realized_pnl


class Batching(Recording):
    """Counts batch cancels; a dead connection on the first one."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    async def cancel_many(self, client_order_ids: list[str]) -> list[Order]:
        self.batches.append(list(client_order_ids))
        if len(self.batches) == 1:
            raise ConnectionError("reset")
        return await super().cancel_many(client_order_ids)


async def test_cancel_all_is_one_batch_and_a_failed_batch_is_retried() -> None:
    executor = Batching()
    path = OrderPath("bot", executor, noop)
    for i in range(3):
        await path.submit(OrderRequest(f"o{i}", "BTCUSD", "BUY", "LIMIT", Decimal(1),
                                       price=Decimal(100)))
    await path.cancel_all()
    assert executor.batches == [["o0", "o1", "o2"]]
    assert path.cancels_due == {"o0", "o1", "o2"}  # unknown: retried, never forgotten
    await path.settle()
    assert not path.cancels_due
    assert {o.status for o in path.orders.values()} == {OrderStatus.CANCELED}

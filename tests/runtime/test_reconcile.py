"""Resuming against a venue that outlived the bot: what happened while the bot was down is
applied once, orders it never got are resolved without duplicates, switches come back."""

from __future__ import annotations

import io
from collections import deque
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import anyio
import attrs
import numpy as np
import pytest

from genesis_core import (
    Balance,
    Candles,
    Executor,
    Fill,
    GenesisError,
    Order,
    OrderError,
    OrderRequest,
    OrderStatus,
    OrderType,
    Signal,
    Strategy,
    doc,
    hookimpl,
    load_config,
    load_plugins,
)
from genesis_core.contracts import CandleClosed
from genesis_core.runtime import Bot
from genesis_core.runtime.orders import LOST
from genesis_core.storage import Store


DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "bitfinex_BTCUSD_1h.csv"
FEE = Decimal("0.001")


class Venue:
    """A venue's own records: they outlive every bot process that trades on it."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.trades: dict[str, list[Fill]] = {}
        self.sent: list[str] = []                 # client ids it was asked to place
        self.cash = Decimal(10000)
        self.last = Decimal(0)
        self.lists_fills = True                   # whether Executor.fills() can answer
        self.fills_market_orders = True
        self.late: list[Order | Fill] = []        # reported again to the next connection
        self.refuse: set[str] = set()             # client ids it refuses outright

    def place(self, request: OrderRequest) -> Order:
        self.sent.append(request.client_order_id)
        order = Order(request).transition(OrderStatus.SUBMITTED, at=1).transition(
            OrderStatus.OPEN, at=1, exchange_order_id=f"v{len(self.orders)}")
        self.orders[request.client_order_id] = order
        return order

    def execute(self, client_id: str, price: Decimal) -> tuple[Order, Fill]:
        order = self.orders[client_id]
        request = order.request
        fill = Fill(f"t{sum(map(len, self.trades.values()))}", client_id, request.symbol,
                    request.side, order.remaining, price, order.remaining * price * FEE, "USD",
                    2, "TAKER")
        self.cash -= request.side.sign * fill.notional + fill.fee
        self.trades.setdefault(client_id, []).append(fill)
        order = self.orders[client_id] = order.transition(
            OrderStatus.FILLED, at=2, filled_amount=request.amount, average_price=price)
        return order, fill

    def cancel(self, client_id: str) -> Order:
        order = self.orders[client_id]
        if not order.status.is_final:
            order = self.orders[client_id] = order.transition(OrderStatus.CANCELED, at=3)
        return order


class Scripted(Executor):
    """The bot's side of :class:`Venue`: idempotent by client id, market orders fill at once
    (the order update, then the fill, as real venues report them)."""

    name = "scripted"
    venue: ClassVar[Venue] = Venue()

    def __init__(self, params: object = None) -> None:
        super().__init__(params)
        self._events: deque[Order | Fill] = deque()
        self._wakeup = anyio.Event()

    def _emit(self, *events: Order | Fill) -> None:
        self._events.extend(events)
        self._wakeup.set()

    async def connect(self) -> None:
        self._emit(*self.venue.late)

    async def on_market(self, event: object) -> None:
        if isinstance(event, CandleClosed):
            self.venue.last = Decimal(repr(event.candle.close))

    async def submit(self, request: OrderRequest) -> Order:
        known = self.venue.orders.get(request.client_order_id)
        if known is not None:
            return known
        if request.client_order_id in self.venue.refuse:
            raise OrderError(f"{request.client_order_id}: not enough balance")
        order = self.venue.place(request)
        self._emit(order)
        if request.type is OrderType.MARKET and self.venue.fills_market_orders:
            order, fill = self.venue.execute(request.client_order_id, self.venue.last)
            self._emit(order, fill)
        return order

    async def cancel(self, client_order_id: str) -> Order:
        order = self.venue.cancel(client_order_id)
        self._emit(order)
        return order

    async def order(self, client_order_id: str) -> Order | None:
        return self.venue.orders.get(client_order_id)

    async def fills(self, client_order_id: str) -> list[Fill] | None:
        return list(self.venue.trades.get(client_order_id, [])) if self.venue.lists_fills \
            else None

    async def open_orders(self) -> list[Order]:
        return [o for o in self.venue.orders.values() if not o.status.is_final]

    async def balances(self) -> list[Balance]:
        return [Balance("USD", self.venue.cash, self.venue.cash)]

    async def events(self) -> AsyncIterator[Order | Fill]:
        while True:
            while self._events:
                yield self._events.popleft()
            self._wakeup = anyio.Event()
            await self._wakeup.wait()


@attrs.frozen
class BuyAtParams:
    bars: list[int] = doc("Bar indexes that signal BUY.", factory=list)
    confidence: float = doc("Confidence of each signal.", default=0.9)


class BuyAt(Strategy):
    """BUY at the listed bars, stop-loss 10 % below and take-profit 10 % above the close."""

    name = "buy_at"
    Params = BuyAtParams

    def generate(self, candles: Candles) -> list[Signal]:
        return [Signal.make(symbol=candles.symbol, timeframe=candles.timeframe, side="BUY",
                            confidence=self.params.confidence, timestamp=candles.close_time(i),
                            price=float(candles.close[i]), strategy=self.name,
                            stop_loss=float(candles.close[i]) * 0.9,
                            take_profit=float(candles.close[i]) * 1.1)
                for i in self.params.bars if i < len(candles)]


class Plugin:
    __name__ = "reconcile_test"

    @hookimpl
    def register_executors(self, register):  # type: ignore[no-untyped-def]
        register(Scripted)

    @hookimpl
    def register_strategies(self, register):  # type: ignore[no-untyped-def]
        register(BuyAt)


BOT = """
name: reconcile
mode: live
markets: [{symbol: BTCUSD, timeframes: [1h]}]
data_source:
  plugin: replay
  params: {files: [{symbol: BTCUSD, timeframe: 1h, path: candles.csv}]}
executor: {plugin: scripted}
strategies: [{plugin: buy_at, params: {bars: [3], confidence: CONFIDENCE}}]
trading: {confirmation_minutes: 6000}
risk: [RISK{plugin: fixed_fraction, params: {fraction: "0.1"}}]
storage: {path: state.db}
"""


@pytest.fixture
def venue() -> Venue:
    Scripted.venue = Venue()
    return Scripted.venue


def run(folder: Path, bars: int, *, confidence: float = 0.9, risk: str = "") -> Bot:
    """Run the bot over the first ``bars`` bars (a resumed run skips what it processed)."""
    lines = DATA.read_text().splitlines()
    (folder / "candles.csv").write_text("\n".join(lines[:bars + 1]) + "\n")
    path = folder / "bot.yaml"
    path.write_text(BOT.replace("CONFIDENCE", str(confidence)).replace("RISK", risk))
    plugins = load_plugins(extra=[Plugin()])
    bot = Bot(load_config(path, plugins), plugins, out=io.StringIO())
    anyio.run(bot.run)
    return bot


def bracket_legs(bot: Bot) -> tuple[str, str]:
    [bracket] = bot.orders.brackets.values()
    assert bracket.stop_id is not None
    assert bracket.take_id is not None
    return bracket.stop_id, bracket.take_id


def resumed_audit(folder: Path) -> dict:
    with Store.open(folder / "state.db") as store:
        entries = [e for e in store.load_audit(limit=10_000) if e.message.startswith("resumed")]
    return entries[-1].data


def test_fills_and_cancels_made_while_down_are_applied_once(tmp_path: Path, venue: Venue) -> None:
    first = run(tmp_path, 6)
    stop, take = bracket_legs(first)
    assert OrderStatus.OPEN == first.orders.orders[take].status
    # While the bot is down the take-profit fills and the venue cancels its OCO sibling.
    venue.execute(take, first.orders.brackets[first.orders.orders[take].request.parent_id]
                  .take_profit)
    venue.cancel(stop)

    second = run(tmp_path, 8)
    assert (OrderStatus.FILLED, OrderStatus.CANCELED) == (
        second.orders.orders[take].status, second.orders.orders[stop].status)
    assert second.ledger.cash == venue.cash                     # fee included: the real fill
    assert not second.ledger.positions["BTCUSD"].is_open
    assert 1 == second.summary().closed_trades
    assert 8 == second.summary().bars                            # bars 0-5 were not replayed
    found = resumed_audit(tmp_path)
    assert 2 == found["checked"]
    assert 2 == len(found["changed"])
    assert len(venue.sent) == len(set(venue.sent)) == 3         # entry, stop, take: once each
    with Store.open(tmp_path / "state.db") as store:
        assert ["t0", "t1"] == [f.fill_id for f in store.load_fills()]
        assert [None, "PENDING", "SUBMITTED", "OPEN"] == [
            t.from_status for t in store.load_transitions(take)]
        assert store.load_brackets()[first.orders.orders[take].request.parent_id]["closed"]

    third = run(tmp_path, 8)                                    # resuming again changes nothing
    assert 0 == resumed_audit(tmp_path)["checked"]
    assert (third.ledger.cash, third.summary().fills) == (venue.cash, 2)


def test_a_venue_that_cannot_list_fills_gets_one_derived_fill(tmp_path: Path,
                                                              venue: Venue) -> None:
    first = run(tmp_path, 6)
    stop, take = bracket_legs(first)
    venue.lists_fills = False
    price = Decimal("150.5")
    _, real = venue.execute(take, price)
    venue.cancel(stop)

    second = run(tmp_path, 8)
    [derived] = resumed_audit(tmp_path)["synthesized"]
    with Store.open(tmp_path / "state.db") as store:
        fills = store.load_fills(take)
    assert [derived] == [f.fill_id for f in fills]
    assert (fills[0].amount, fills[0].price, fills[0].fee) == (real.amount, price, 0)
    assert second.ledger.cash == venue.cash + real.fee          # only the fee is unknown
    assert not second.ledger.positions["BTCUSD"].is_open

    venue.late = [real]  # the venue reports the execution after all, under its own id
    third = run(tmp_path, 8)
    assert (third.ledger.cash, third.summary().fills) == (second.ledger.cash, 2)
    with Store.open(tmp_path / "state.db") as store:
        assert [derived] == [f.fill_id for f in store.load_fills(take)]
        assert any("ignored fill t1" in e.message for e in store.load_audit(limit=10_000))


def test_orders_the_venue_never_got_are_resolved_without_duplicates(tmp_path: Path,
                                                                    venue: Venue) -> None:
    venue.fills_market_orders = False
    run(tmp_path, 3)
    entry = OrderRequest("g-entry", "BTCUSD", "BUY", "MARKET", Decimal(1), signal_id="sig")
    exit_ = OrderRequest("g-exit", "BTCUSD", "SELL", "MARKET", Decimal(1), reduce_only=True)
    refused = attrs.evolve(exit_, client_order_id="g-refused")
    venue.refuse.add("g-refused")
    forgotten = OrderRequest("g-gone", "BTCUSD", "BUY", "LIMIT", Decimal(1),
                             price=Decimal(100))
    with Store.open(tmp_path / "state.db") as store:  # a crash between record and send
        store.record_order(Order(entry), None)
        store.record_order(Order(exit_), None)
        store.record_order(Order(refused), None)
        pending = Order(forgotten)  # ... and one the venue acknowledged, then lost track of
        submitted = pending.transition(OrderStatus.SUBMITTED, at=1)
        opened = submitted.transition(OrderStatus.OPEN, at=1, exchange_order_id="v-old")
        for order, previous in ((pending, None), (submitted, pending), (opened, submitted)):
            store.record_order(order, previous)

    second = run(tmp_path, 3)
    found = resumed_audit(tmp_path)
    assert (["g-entry", "g-refused"], ["g-exit"], ["g-gone"]) == (
        found["lost"], found["resubmitted"], found["unknown"])
    orders = second.orders.orders
    assert (OrderStatus.REJECTED, LOST) == (orders["g-entry"].status, orders["g-entry"].reason)
    assert "g-entry" not in venue.sent                          # a stale entry is never placed
    assert OrderStatus.OPEN == orders["g-exit"].status
    assert OrderStatus.OPEN == orders["g-gone"].status          # left as it is, reported
    assert (OrderStatus.REJECTED, "g-refused: not enough balance") == (
        orders["g-refused"].status, orders["g-refused"].reason)

    run(tmp_path, 3)
    assert ["g-exit"] == venue.sent                             # sent once, with its own id


def test_switches_confirmations_and_history_come_back(tmp_path: Path, venue: Venue) -> None:
    first = run(tmp_path, 6, confidence=0.7, risk="{plugin: confidence_bands}, ")
    [(signal, intent, expires)] = first.pending.values()
    with Store.open(tmp_path / "state.db") as store:  # what /pause and /stop leave behind
        store.set_flag("auto_trading", False, 1)
        store.set_flag("emergency_stop", True, 1)

    second = run(tmp_path, 6, confidence=0.7, risk="{plugin: confidence_bands}, ")
    assert second.emergency
    assert not second.auto_trading
    assert {signal.id: (signal, intent, expires)} == second.pending
    history = [bot.buffers[("BTCUSD", "1h")].view().arrays() for bot in (first, second)]
    assert all(map(np.array_equal, *history))                  # the strategies' warm-up
    assert first.ledger.marks == second.ledger.marks
    assert first.summary() == second.summary()
    assert [signal.id] == resumed_audit(tmp_path)["pending_confirmations"]


def test_resuming_under_other_markets_is_refused_in_one_line(tmp_path: Path,
                                                             venue: Venue) -> None:
    run(tmp_path, 3)
    path = tmp_path / "bot.yaml"
    path.write_text(path.read_text().replace("timeframes: [1h]", "timeframes: [1h, 4h]"))
    plugins = load_plugins(extra=[Plugin()])
    with pytest.raises(GenesisError) as error:
        Bot(load_config(path, plugins), plugins)
    message = str(error.value)
    assert "\n" not in message
    assert "cannot resume: the markets changed since this run started (BTCUSD 1h -> " \
           "BTCUSD 1h, BTCUSD 4h); restore the bot file or start over with " \
           "`genesis run --fresh`" in message

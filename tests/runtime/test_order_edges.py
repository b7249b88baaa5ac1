"""Order-path and paper-venue edge cases where money could go wrong: both bracket legs on one
bar, exits of several symbols under one tag, stale fill reports, a superseded leg filling
before its cancel lands, fees charged in the base currency."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from genesis_core import Candle, CandleClosed, Fill, Order, OrderRequest, OrderStatus
from genesis_core.cli import main
from genesis_core.default_plugins.paper import PaperExecutor, PaperParams
from genesis_core.errors import OrderError
from genesis_core.runtime.ledger import Ledger
from genesis_core.runtime.orders import Bracket, OrderPath
from genesis_core.storage import Store
from tests.runtime.test_order_path import Recording, fill, noop


pytestmark = pytest.mark.anyio


class PaperBot:
    """A paper venue, an order path and a ledger, driven bar by bar as the runner does."""

    def __init__(self) -> None:
        self.venue = PaperExecutor(PaperParams(taker_fee_bps=Decimal(0),
                                               maker_fee_bps=Decimal(0)))
        self.path = OrderPath("bot", self.venue, noop)
        self.ledger = Ledger(Decimal(10000))

    async def bar(self, ts: int, o: float, h: float, low: float, c: float) -> None:
        await self.venue.on_market(CandleClosed("BTCUSD", "1m", Candle(ts, o, h, low, c, 1.0)))
        while self.venue._events:
            event = self.venue._events.popleft()
            if isinstance(event, Fill):
                self.ledger.apply(event)
                await self.path.on_fill(event)
            else:
                await self.path.update(event)

    async def long_with_bracket(self) -> None:
        await self.bar(0, 100, 100, 100, 100)
        await self.path.open(OrderRequest(self.path.make_id("s", "entry"), "BTCUSD", "BUY",
                                          "MARKET", Decimal(1)), Decimal(95), Decimal(105))
        await self.bar(60_000, 100, 101, 99, 100)  # the entry fills at this open

    def statuses(self) -> dict[str, OrderStatus]:
        return {o.request.type.value: o.status for o in self.path.orders.values()}


async def test_paper_fills_one_leg_when_a_bar_reaches_both_stop_loss_first() -> None:
    bot = PaperBot()
    await bot.long_with_bracket()
    await bot.bar(120_000, 100, 106, 94, 100)  # the range holds stop and take-profit
    assert OrderStatus.FILLED == bot.statuses()["STOP"]
    assert OrderStatus.CANCELED == bot.statuses()["LIMIT"]
    position = bot.ledger.positions["BTCUSD"]
    assert not position.is_open  # never flipped short by the second leg
    assert Decimal(-5) == position.realized_pnl  # the backtest's rule: stop-loss first
    assert Decimal(9995) == bot.ledger.cash == bot.venue.cash


async def test_paper_leg_the_bar_opened_through_wins_over_the_other() -> None:
    bot = PaperBot()
    await bot.long_with_bracket()
    await bot.bar(120_000, 107, 108, 94, 100)  # gaps over the take-profit, then falls
    assert OrderStatus.FILLED == bot.statuses()["LIMIT"]
    assert OrderStatus.CANCELED == bot.statuses()["STOP"]
    position = bot.ledger.positions["BTCUSD"]
    assert not position.is_open
    assert Decimal(7) == position.realized_pnl  # filled at the open, as the backtest does


async def test_exits_of_several_symbols_under_one_tag_are_distinct_orders() -> None:
    executor = Recording()
    path = OrderPath("bot", executor, noop)
    await path.close("BTCUSD", Decimal(1), "SELL", "emergency-0")  # flatten, one tag for all
    await path.close("ETHUSD", Decimal(3), "SELL", "emergency-0")
    assert [("BTCUSD", Decimal(1)), ("ETHUSD", Decimal(3))] == [
        (r.symbol, r.amount) for r in executor.sent]


async def test_a_stale_partial_fill_report_never_lowers_the_filled_amount() -> None:
    path = OrderPath("bot", Recording(), noop)
    order = Order(OrderRequest("c", "BTCUSD", "BUY", "LIMIT", Decimal(2), price=Decimal(100)))
    opened = order.transition(OrderStatus.SUBMITTED, at=0).transition(OrderStatus.OPEN, at=0)
    half = opened.transition(OrderStatus.PARTIALLY_FILLED, at=1, filled_amount=Decimal(1),
                             average_price=Decimal(100))
    more = half.transition(OrderStatus.PARTIALLY_FILLED, at=2, filled_amount=Decimal("1.5"),
                           average_price=Decimal(100))
    await path.update(opened)
    await path.update(more)
    await path.update(half)  # a late report of the earlier partial fill
    assert Decimal("1.5") == path.orders["c"].filled_amount
    cancelled_late = half.transition(OrderStatus.CANCELED, at=3)  # knows only the first fill
    await path.update(cancelled_late)
    assert (OrderStatus.CANCELED, Decimal("1.5")) == (path.orders["c"].status,
                                                      path.orders["c"].filled_amount)


class Filling(Recording):
    """A venue where a leg can fill before the cancel of it arrives."""

    async def cancel(self, client_order_id: str) -> Order:
        order = self.book[client_order_id]
        if order.status.is_final:
            return order
        return await super().cancel(client_order_id)

    def fill_all(self, client_order_id: str) -> None:
        order = self.book[client_order_id]
        self.book[client_order_id] = order.transition(
            OrderStatus.FILLED, at=2, filled_amount=order.request.amount,
            average_price=Decimal(95))


async def test_a_superseded_leg_filling_before_its_cancel_keeps_the_rest_protected() -> None:
    executor = Filling()
    path = OrderPath("bot", executor, noop)
    entry = OrderRequest(path.make_id("sig", "entry"), "BTCUSD", "BUY", "MARKET", Decimal(2))
    await path.open(entry, Decimal(95), Decimal(110))
    await path.on_fill(fill(entry.client_order_id, "BUY", "0.5"))
    stop1 = executor.sent[1]
    executor.fill_all(stop1.client_order_id)  # the venue sells 0.5 at the stop ...
    await path.on_fill(fill(entry.client_order_id, "BUY", "1.5"))  # ... as the entry completes
    await path.on_fill(fill(stop1.client_order_id, "SELL", "0.5", "95"))  # reported late
    held = Decimal("1.5")  # 0.5 + 1.5 bought, 0.5 sold by the old stop
    working = [o for o in path.orders.values()
               if o.request.reduce_only and not o.status.is_final]
    assert {("STOP", held), ("LIMIT", held)} == {(o.request.type.value, o.request.amount)
                                                 for o in working}


async def test_legs_of_a_short_match_the_position_when_the_fee_is_in_the_base() -> None:
    executor = Recording()
    path = OrderPath("bot", executor, noop)
    ledger = Ledger(Decimal(10000))
    entry = OrderRequest(path.make_id("sig", "entry"), "BTCUSD", "SELL", "MARKET", Decimal(1))
    await path.open(entry, Decimal(110), Decimal(90))
    short = Fill("f1", entry.client_order_id, "BTCUSD", "SELL", Decimal(1), Decimal(100),
                 Decimal("0.002"), "BTC", 0)
    ledger.apply(short)
    await path.on_fill(short)
    stop, take = executor.sent[1:]
    owed = -ledger.positions["BTCUSD"].amount  # the fee was taken from the base: 1.002 owed
    assert owed == stop.amount == take.amount


async def test_a_superseded_leg_filling_after_a_restart_resizes_the_legs() -> None:
    executor = Filling()
    before = OrderPath("bot", executor, noop)
    entry = OrderRequest(before.make_id("sig", "entry"), "BTCUSD", "BUY", "MARKET", Decimal(2))
    await before.open(entry, Decimal(95), Decimal(110))
    await before.on_fill(fill(entry.client_order_id, "BUY", "0.5"))
    stop1 = executor.sent[1]
    executor.fill_all(stop1.client_order_id)
    await before.on_fill(fill(entry.client_order_id, "BUY", "1.5"))
    after = OrderPath("bot", executor, noop)  # restarted before the old stop's fill came
    after.restore(before.orders.values(), [Bracket.from_data(b.to_data())
                                           for b in before.brackets.values()])
    await after.on_fill(fill(stop1.client_order_id, "SELL", "0.5", "95"))
    working = [o.request.amount for o in after.orders.values()
               if o.request.reduce_only and not o.status.is_final]
    assert [Decimal("1.5"), Decimal("1.5")] == working


class Unreachable(Recording):
    """Submits of the listed ids never arrive; a cancel of an order it never got is refused
    (as the paper and Bitfinex venues refuse one)."""

    def __init__(self, lost: set[str]) -> None:
        super().__init__()
        self.lost = lost

    async def submit(self, request: OrderRequest) -> Order:
        if request.client_order_id in self.lost:
            self.lost.discard(request.client_order_id)
            raise ConnectionError("reset before the request was sent")
        return await super().submit(request)

    async def cancel(self, client_order_id: str) -> Order:
        if client_order_id not in self.book:
            raise OrderError(f"cancel: unknown order {client_order_id}")
        if self.book[client_order_id].status.is_final:
            return self.book[client_order_id]
        return await super().cancel(client_order_id)


async def test_a_leg_lost_in_transit_is_withdrawn_when_its_sibling_fills() -> None:
    path = OrderPath("bot", Recording(), noop)
    entry = OrderRequest(path.make_id("sig", "entry"), "BTCUSD", "BUY", "MARKET", Decimal(1))
    stop_id = path.make_id(entry.client_order_id, "stop", "1")
    executor = path._executor = Unreachable({stop_id})
    await path.open(entry, Decimal(95), Decimal(110))
    await path.on_fill(fill(entry.client_order_id, "BUY", "1"))
    assert stop_id in path.unsettled
    take = executor.sent[-1]
    await path.on_fill(fill(take.client_order_id, "SELL", "1", "110"))  # no exception
    await path.settle()  # the next market event: the stop of a closed trade is not sent
    assert stop_id not in executor.book
    assert path.orders[stop_id].status.is_final
    assert not path.unsettled


async def test_emergency_cancel_all_survives_an_order_the_venue_never_got() -> None:
    executor = Unreachable({"o1"})
    path = OrderPath("bot", executor, noop)
    for i in range(3):
        await path.submit(OrderRequest(f"o{i}", "BTCUSD", "BUY", "LIMIT", Decimal(1),
                                       price=Decimal(100)))
    await path.cancel_all()
    assert {OrderStatus.CANCELED} == {executor.book[i].status for i in ("o0", "o2")}
    assert all(o.status.is_final for o in path.orders.values())


async def test_an_entry_filling_after_its_trade_is_over_is_closed_at_market() -> None:
    executor = Recording()
    path = OrderPath("bot", executor, noop)
    ledger = Ledger(Decimal(10000))
    entry = OrderRequest(path.make_id("sig", "entry"), "BTCUSD", "BUY", "MARKET", Decimal(2))
    await path.open(entry, Decimal(95), Decimal(110))
    bought = fill(entry.client_order_id, "BUY", "0.5")
    ledger.apply(bought)
    await path.on_fill(bought)
    stop = executor.sent[1]
    stopped = fill(stop.client_order_id, "SELL", "0.5", "95")
    ledger.apply(stopped)
    await path.on_fill(stopped)  # the trade is over: the entry's cancel goes out ...
    late = Fill("late-1", entry.client_order_id, "BTCUSD", "BUY", Decimal("0.3"),
                Decimal(96), Decimal("0.0003"), "BTC", 0)  # ... but it filled 0.3 more first
    ledger.apply(late)
    await path.on_fill(late)
    await path.on_fill(late)  # a venue repeating its report sends nothing twice
    exits = [r for r in executor.sent if r.type.value == "MARKET" and r.reduce_only]
    assert [("SELL", Decimal("0.2997"))] == [(r.side.value, r.amount) for r in exits]
    assert exits[0].amount == ledger.positions["BTCUSD"].amount  # exactly what is held
    assert exits[0].client_order_id == path.make_id(entry.client_order_id, "late", "late-1")


class Strict(Recording):
    """Refuses, before sending, any order below 0.1 (a pair's minimum size)."""

    async def submit(self, request: OrderRequest) -> Order:
        if request.amount < Decimal("0.1"):
            raise OrderError(f"{request.client_order_id}: amount {request.amount} is below "
                             "the minimum 0.1")
        return await super().submit(request)


async def test_a_refused_leg_is_recorded_and_the_next_fill_protects_the_position() -> None:
    statuses: list[tuple[str, OrderStatus]] = []

    async def record(order: Order, previous: Order | None) -> None:
        statuses.append((order.request.type.value, order.status))

    executor = Strict()
    path = OrderPath("bot", executor, record)
    entry = OrderRequest(path.make_id("sig", "entry"), "BTCUSD", "BUY", "MARKET", Decimal(1))
    await path.open(entry, Decimal(95), Decimal(110))
    await path.on_fill(fill(entry.client_order_id, "BUY", "0.05"))  # no exception
    assert [("STOP", OrderStatus.REJECTED), ("LIMIT", OrderStatus.REJECTED)] == [
        s for s in statuses if s[1] is OrderStatus.REJECTED]
    await path.on_fill(fill(entry.client_order_id, "BUY", "0.95"))
    working = {(o.request.type.value, o.request.amount) for o in path.orders.values()
               if o.request.reduce_only and not o.status.is_final}
    assert {("STOP", Decimal(1)), ("LIMIT", Decimal(1))} == working


async def test_a_refused_exit_does_not_stop_the_flatten_of_other_symbols() -> None:
    executor = Strict()
    path = OrderPath("bot", executor, noop)
    await path.close("BTCUSD", Decimal("0.05"), "SELL", "emergency-0")  # refused: below minimum
    await path.close("ETHUSD", Decimal(3), "SELL", "emergency-0")
    assert [("ETHUSD", Decimal(3))] == [(r.symbol, r.amount) for r in executor.sent]
    assert {OrderStatus.REJECTED, OrderStatus.OPEN} == {
        o.status for o in path.orders.values()}


REFUSING = '''
from genesis_core import OrderError, hookimpl
from genesis_core.default_plugins.paper import PaperExecutor


class Refusing(PaperExecutor):
    """The paper venue, refusing every entry before sending it (a pair suspended, say)."""

    name = "refusing"

    async def submit(self, request):
        if not request.reduce_only:
            raise OrderError(f"{request.client_order_id}: BTCUSD is suspended")
        return await super().submit(request)


@hookimpl
def register_executors(register):
    register(Refusing)
'''


def test_an_entry_the_executor_refuses_is_rejected_and_the_bot_trades_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "refusing.py").write_text(REFUSING)
    bot = tmp_path / "bot.yaml"
    bot.write_text((examples / "paper-demo.yaml").read_text()
                   .replace("path: data/", f"path: {examples}/data/")
                   .replace("plugin: paper", "plugin: refusing")
                   .replace("path: paper-demo.db", f"path: {tmp_path}/state.db"))
    with pytest.raises(SystemExit) as exited:
        main(["--plugins-dir", str(tmp_path / "plugins"), "run", str(bot)])
    out, err = capsys.readouterr()
    assert 0 == exited.value.code, err
    assert "summary paper-demo: 733 bars" in out  # every bar, not stopped at the first entry
    assert "BTCUSD is suspended" in out
    with Store.open(tmp_path / "state.db") as store:
        statuses = {o.status for o in store.load_orders(open_only=False)}
        rules = {a.rule for a in store.load_alerts(limit=1000)}
    assert {OrderStatus.REJECTED} == statuses
    assert "order_rejected" in rules


async def test_paper_reduce_only_never_flips_a_position() -> None:
    bot = PaperBot()
    await bot.long_with_bracket()  # long 1, legs of 1 working
    exit_ = OrderRequest("exit", "BTCUSD", "SELL", "MARKET", Decimal(3), reduce_only=True)
    await bot.path.submit(exit_)
    stray = OrderRequest("stray", "ETHUSD", "BUY", "MARKET", Decimal(1), reduce_only=True)
    await bot.path.submit(stray)
    await bot.bar(120_000, 100, 101, 99, 100)
    await bot.venue.on_market(CandleClosed("ETHUSD", "1m", Candle(120_000, 10, 10, 10, 10, 1.0)))
    await bot.bar(180_000, 100, 101, 99, 100)
    done = bot.path.orders["exit"]
    assert (OrderStatus.CANCELED, Decimal(1)) == (done.status, done.filled_amount)
    assert not bot.ledger.positions["BTCUSD"].is_open  # sold what was held, never short
    assert bot.venue.positions["BTCUSD"].amount == 0
    assert OrderStatus.CANCELED == bot.path.orders["stray"].status
    assert "ETHUSD" not in bot.venue.positions

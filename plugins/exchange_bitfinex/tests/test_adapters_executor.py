"""The ``bitfinex`` executor against the simulator (loopback sockets) and its pure mapping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from genesis_core import (
    ConnectionStatus,
    Fill,
    Health,
    Liquidity,
    Order,
    OrderError,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Secret,
    load_plugins,
)
from genesis_exchange_bitfinex._convert import (
    MAX_CID,
    SymbolMap,
    apply_wire,
    cid_for,
    fill_from_trade,
    order_status,
    venue_request,
)
from genesis_exchange_bitfinex._tracking import OrderBook
from genesis_exchange_bitfinex._wire import AccountTrade, parse_order
from genesis_exchange_bitfinex.config import ExecutorParams, Wallet
from genesis_exchange_bitfinex.errors import TransportError
from genesis_exchange_bitfinex.execution import BitfinexExecutor
from genesis_exchange_bitfinex.sim import AccountSpec, BitfinexSimulator, SimConfig


SYMBOL = "TESTBTC:TESTUSD"  # Bitfinex tTESTBTC:TESTUSD (paper account pair)
Events = AsyncIterator[Order | Fill]


def _params(sim: BitfinexSimulator, tmp_path: Path, key: str = "TEST_API_KEY",
            secret: str = "TEST_API_SECRET") -> ExecutorParams:
    return ExecutorParams(api_key=Secret(key), api_secret=Secret(secret), rest_url=sim.rest_url,
                          ws_url=sim.ws_url, nonce_file=tmp_path / "nonce.txt",
                          connect_timeout=10.0)


@pytest.fixture
async def executor(sim: BitfinexSimulator, tmp_path: Path) -> AsyncIterator[BitfinexExecutor]:
    ex = BitfinexExecutor(_params(sim, tmp_path))
    await ex.connect()
    try:
        yield ex
    finally:
        await ex.aclose()


async def take(events: Events, predicate: Callable[[Order | Fill], bool],
               seen: list[Order | Fill] | None = None) -> Order | Fill:
    """Next event matching ``predicate``; the limit only guards against hangs."""

    async def scan() -> Order | Fill:
        while True:
            event = await anext(events)
            if seen is not None:
                seen.append(event)
            if predicate(event):
                return event

    return await asyncio.wait_for(scan(), 10)


async def gather(events: Events, done: Callable[[list[Order | Fill]], bool]) -> list[Order | Fill]:
    """Events until ``done(seen)``; the limit only guards against hangs."""
    seen: list[Order | Fill] = []

    async def scan() -> None:
        while not done(seen):
            seen.append(await anext(events))

    await asyncio.wait_for(scan(), 10)
    return seen


def venue_orders(sim: BitfinexSimulator, key: str = "TEST_API_KEY") -> list[Any]:
    account = sim.exchange.accounts[key]
    return [*account.orders.values(), *account.closed]


def limit(cid: str, side: str, amount: str, price: str, **kw: Any) -> OrderRequest:
    return OrderRequest(cid, SYMBOL, side, "LIMIT", Decimal(amount), price=Decimal(price), **kw)


# --- pure mapping --------------------------------------------------------------------------


def _wire(status: str, amount: str, orig: str, avg: str = "0", **extra: Any) -> Any:
    arr: list[Any] = [None] * 32
    arr[0], arr[2], arr[3], arr[5] = 7, cid_for("a"), "tTESTBTC:TESTUSD", 1_700_000_000_000
    arr[6], arr[7], arr[8], arr[13] = Decimal(amount), Decimal(orig), "EXCHANGE LIMIT", status
    arr[16], arr[17] = Decimal("30050"), Decimal(avg)
    for index, value in extra.items():
        arr[int(index[1:])] = value
    return parse_order(arr)


def test_order_status_mapping_and_partial_fills() -> None:
    assert OrderStatus.OPEN == order_status(_wire("ACTIVE", "-0.5", "-0.5"))
    partial = _wire("PARTIALLY FILLED @ 30050(-0.2)", "-0.3", "-0.5", "30050")
    assert OrderStatus.PARTIALLY_FILLED == order_status(partial)
    done = _wire("EXECUTED @ 30050(-0.3): was PARTIALLY FILLED @ 30050(-0.2)", "0", "-0.5",
                 "30050")
    assert OrderStatus.FILLED == order_status(done)
    assert OrderStatus.CANCELED == order_status(
        _wire("CANCELED was: PARTIALLY FILLED @ 30050(-0.2)", "-0.3", "-0.5", "30050"))
    assert OrderStatus.REJECTED == order_status(_wire("POSTONLY CANCELED", "-0.5", "-0.5"))
    assert OrderStatus.CANCELED == order_status(_wire("IOC CANCELED", "-0.5", "-0.5"))
    request = limit("a", "SELL", "0.5", "30050")
    order = Order(request).transition(OrderStatus.SUBMITTED, at=1)
    moved = apply_wire(order, partial, at=2)
    assert moved is not None
    assert (OrderStatus.PARTIALLY_FILLED, Decimal("0.2"), Decimal("30050"), "7") == (
        moved.status, moved.filled_amount, moved.average_price, moved.exchange_order_id)
    assert apply_wire(moved, partial, at=3) is None  # nothing new
    assert apply_wire(moved, _wire("ACTIVE", "-0.5", "-0.5"), at=3) is None  # stale: ignored
    final = apply_wire(moved, done, at=4)
    assert final is not None
    assert (OrderStatus.FILLED, Decimal("0.5")) == (final.status, final.filled_amount)
    assert apply_wire(final, partial, at=5) is None


def test_fill_sign_conventions() -> None:
    trade = AccountTrade(405000001, "tTESTBTC:TESTUSD", 1_700_000_000_123, 7, Decimal("-0.2"),
                         Decimal("30050"), "EXCHANGE LIMIT", Decimal("30050"), 1,
                         Decimal("-6.01"), "TESTUSD", cid_for("a"))
    fill = fill_from_trade(trade, "a", SYMBOL)
    assert (OrderSide.SELL, Decimal("0.2"), Decimal("6.01"), "TESTUSD", Liquidity.MAKER) == (
        fill.side, fill.amount, fill.fee, fill.fee_currency, fill.liquidity)
    rebate = fill_from_trade(
        AccountTrade(2, "tBTCUSD", 1, 7, Decimal("0.1"), Decimal("100"), None, None, -1,
                     Decimal("0.01"), "USD", None), "a", "BTCUSD")
    assert (OrderSide.BUY, Decimal("-0.01"), Liquidity.TAKER) == (
        rebate.side, rebate.fee, rebate.liquidity)
    with pytest.raises(ValueError, match="carries no fee"):
        fill_from_trade(AccountTrade(3, "tBTCUSD", 1, 7, Decimal(1), Decimal(1), None, None,
                                     None, None, None, None), "a", "BTCUSD")


def test_a_trade_without_fee_does_not_swallow_its_fill() -> None:
    book = OrderBook(SymbolMap(), lambda: 1)
    book.register("a", SYMBOL)
    book.orders["a"] = Order(limit("a", "SELL", "0.2", "30050"))
    bare = AccountTrade(405000001, "tTESTBTC:TESTUSD", 1, 7, Decimal("-0.2"), Decimal("30050"),
                        "EXCHANGE LIMIT", Decimal("30050"), 1, None, None, cid_for("a"))
    assert book.on_trade(bare) is False  # skipped, not fatal
    assert book.on_trade(attrs.evolve(bare, fee=Decimal("-6.01"), fee_currency="TESTUSD"))
    fill = book.events.get_nowait()
    assert isinstance(fill, Fill)
    assert fill.fee == Decimal("6.01")


def test_cids_are_deterministic_int45_and_requests_signed() -> None:
    ids = [f"g{i:023x}" for i in range(2000)]
    cids = [cid_for(i) for i in ids]
    assert cids == [cid_for(i) for i in ids]
    assert all(1 <= c <= MAX_CID for c in cids)
    assert len(set(cids)) == len(cids)
    sell = OrderRequest("s", SYMBOL, "SELL", "STOP_LIMIT", Decimal("0.1"), price=Decimal("29000"),
                        stop_price=Decimal("29100"), hidden=True, reduce_only=True)
    body = venue_request(sell, symbol="tTESTBTC:TESTUSD", wallet=Wallet.EXCHANGE, cid=5,
                         cid_date="2023-11-14").to_body()
    assert {"type": "EXCHANGE STOP LIMIT", "symbol": "tTESTBTC:TESTUSD", "amount": "-0.1",
            "price": "29100", "price_aux_limit": "29000", "cid": 5, "flags": 64} == body
    margin = venue_request(sell, symbol="tBTCUSD", wallet=Wallet.MARGIN, cid=5,
                           cid_date="2023-11-14").to_body()
    assert ("STOP LIMIT", 64 | 1024) == (margin["type"], margin["flags"])


# --- against the simulator -----------------------------------------------------------------


@pytest.mark.anyio
async def test_submit_open_orders_order_balances_cancel(
    executor: BitfinexExecutor, sim: BitfinexSimulator
) -> None:
    events = executor.events()
    request = limit("g-rest-1", "BUY", "0.01", "29000")
    placed = await executor.submit(request)
    assert OrderStatus.OPEN == placed.status
    assert placed.exchange_order_id is not None
    (venue,) = venue_orders(sim)
    assert (cid_for("g-rest-1"), Decimal("0.01"), "EXCHANGE LIMIT") == (
        venue.cid, venue.amount, venue.type)
    assert [placed] == await executor.open_orders()
    assert placed == await executor.order("g-rest-1")
    assert await executor.order("never-submitted") is None
    balances = {b.currency: b for b in await executor.balances()}
    assert (Decimal(50000), Decimal(49710)) == (balances["TESTUSD"].total,
                                                balances["TESTUSD"].available)
    assert Decimal("1.5") == balances["TESTBTC"].available
    cancelled = await executor.cancel("g-rest-1")
    assert (OrderStatus.CANCELED, "CANCELED") == (cancelled.status, cancelled.reason)
    assert [] == await executor.open_orders()
    assert cancelled == await executor.cancel("g-rest-1")  # already final: no second request
    seen: list[Order | Fill] = []
    await take(events, lambda e: isinstance(e, Order) and e.status.is_final, seen)
    assert [OrderStatus.SUBMITTED, OrderStatus.OPEN, OrderStatus.CANCELED] == [
        e.status for e in seen if isinstance(e, Order)]
    with pytest.raises(OrderError, match="unknown order"):
        await executor.cancel("never-submitted")


@pytest.mark.anyio
async def test_partial_fills_arrive_with_exact_amounts_and_fees(
    executor: BitfinexExecutor, sim: BitfinexSimulator
) -> None:
    events = executor.events()
    order = await executor.submit(limit("g-partial", "SELL", "0.5", "30050"))
    assert OrderStatus.OPEN == order.status
    sim.step(3)  # the replayed flow fills at most 0.2 per candle
    seen = await gather(events, lambda seen: sum(isinstance(e, Fill) for e in seen) == 3 and any(
        isinstance(e, Order) and e.status is OrderStatus.FILLED for e in seen))
    fills = [e for e in seen if isinstance(e, Fill)]
    assert [(Decimal("0.2"), Decimal("6.01")), (Decimal("0.2"), Decimal("6.01")),
            (Decimal("0.1"), Decimal("3.005"))] == [(f.amount, f.fee) for f in fills]
    assert {("g-partial", SYMBOL, OrderSide.SELL, Decimal(30050), "TESTUSD", Liquidity.MAKER)} == {
        (f.client_order_id, f.symbol, f.side, f.price, f.fee_currency, f.liquidity)
        for f in fills}
    assert len({f.fill_id for f in fills}) == 3
    updates = [e for e in seen if isinstance(e, Order) and e.filled_amount]
    assert [(OrderStatus.PARTIALLY_FILLED, Decimal("0.2")),
            (OrderStatus.PARTIALLY_FILLED, Decimal("0.4")),
            (OrderStatus.FILLED, Decimal("0.5"))] == [(o.status, o.filled_amount) for o in updates]
    final = await executor.order("g-partial")
    assert final is not None
    assert (Decimal("0.5"), Decimal(30050)) == (final.filled_amount, final.average_price)
    balances = {b.currency: b.total for b in await executor.balances()}
    assert Decimal(50000) + Decimal("0.5") * 30050 - Decimal("15.025") == balances["TESTUSD"]
    assert fills == await executor.fills("g-partial")  # the venue's record of the same fills
    assert [] == await executor.fills("never-submitted")


@pytest.mark.anyio
async def test_market_order_fills_at_once_with_taker_fee(executor: BitfinexExecutor) -> None:
    events = executor.events()
    request = OrderRequest("g-market", SYMBOL, "BUY", "MARKET", Decimal("0.01"))
    order = await executor.submit(request)
    assert (OrderStatus.FILLED, Decimal("0.01")) == (order.status, order.filled_amount)
    fill = await take(events, lambda e: isinstance(e, Fill))
    assert isinstance(fill, Fill)
    # An exchange-wallet buy pays its fee in the base currency.
    assert (Decimal("0.01"), Decimal("0.00002"), "TESTBTC", Liquidity.TAKER) == (
        fill.amount, fill.fee, fill.fee_currency, fill.liquidity)


@pytest.mark.anyio
async def test_resubmitting_a_client_id_never_duplicates(
    executor: BitfinexExecutor, sim: BitfinexSimulator, tmp_path: Path
) -> None:
    request = limit("g-idem", "BUY", "0.01", "29000")
    first = await executor.submit(request)
    assert first == await executor.submit(request)
    with pytest.raises(OrderError, match="reused for a different order"):
        await executor.submit(limit("g-idem", "BUY", "0.02", "29000"))
    # A new process (nothing in memory) retries the same request: found by cid, adopted.
    restarted = BitfinexExecutor(_params(sim, tmp_path))
    await restarted.connect()
    try:
        adopted = await restarted.submit(request)
    finally:
        await restarted.aclose()
    assert (OrderStatus.OPEN, first.exchange_order_id) == (adopted.status,
                                                           adopted.exchange_order_id)
    assert 1 == len(venue_orders(sim))


@pytest.mark.anyio
async def test_a_lost_submit_response_is_recovered_by_cid(
    executor: BitfinexExecutor, sim: BitfinexSimulator
) -> None:
    sim.faults.rest_lose_response(path="auth/w/order/submit")
    order = await executor.submit(limit("g-lost", "BUY", "0.01", "29000"))
    assert OrderStatus.OPEN == order.status
    (venue,) = venue_orders(sim)
    assert (str(venue.id), venue.cid) == (order.exchange_order_id, cid_for("g-lost"))
    assert order == await executor.submit(limit("g-lost", "BUY", "0.01", "29000"))
    assert 1 == len(venue_orders(sim))


@pytest.mark.anyio
async def test_a_failed_submit_is_looked_up_before_it_is_sent_again(
    sim: BitfinexSimulator, tmp_path: Path
) -> None:
    """The answer and every reconciling look-up are lost: SUBMITTED, error raised, nothing
    sent blind; the next submit of the id finds the order by cid instead of placing another."""
    executor = BitfinexExecutor(attrs.evolve(_params(sim, tmp_path), write_attempts=1))
    await executor.connect()
    request = limit("g-twice", "BUY", "0.01", "29000")
    rest = executor._client()
    lookups: list[int] = []
    reachable = {"now": False}
    original = rest.find_orders_by_cid

    async def flaky_lookup(cid: int, cid_date: str, symbol: str | None = None) -> Any:
        lookups.append(cid)
        if not reachable["now"]:
            raise TransportError("auth/r/orders: no response (ReadTimeout)")
        return await original(cid, cid_date, symbol)

    rest.find_orders_by_cid = flaky_lookup  # type: ignore[method-assign]
    try:
        # Without the account stream (it could report the order) only a cid look-up can tell.
        assert executor._pump_task is not None
        executor._pump_task.cancel()
        sim.faults.rest_lose_response(path="auth/w/order/submit")
        with pytest.raises(TransportError):
            await executor.submit(request)
        pending = await executor.order("g-twice")
        assert pending is not None
        assert OrderStatus.SUBMITTED == pending.status
        assert 1 == len(venue_orders(sim))  # it did reach the venue
        assert (1, 2) == (executor.stats.sent, len(lookups))  # one send, then only look-ups
        reachable["now"] = True
        recovered = await executor.submit(request)
    finally:
        await executor.aclose()
    assert OrderStatus.OPEN == recovered.status
    assert (1, 3, 1) == (executor.stats.sent, len(lookups), executor.stats.found_by_lookup)
    assert 1 == len(venue_orders(sim))


@pytest.mark.anyio
async def test_a_slow_submit_is_fenced_off_by_the_lookup(
    sim: BitfinexSimulator, tmp_path: Path
) -> None:
    """The submit outlives the client's timeout and reaches the matching engine only after the
    cid look-up passed: its nonce is then too small, so the resend is the one order."""
    executor = BitfinexExecutor(attrs.evolve(_params(sim, tmp_path), request_timeout=0.2))
    await executor.connect()
    try:
        sim.faults.rest_delay(0.5, path="auth/w/order/submit")
        order = await executor.submit(limit("g-slow", "BUY", "0.01", "29000"))
        assert OrderStatus.OPEN == order.status
        await asyncio.sleep(0.6)  # the held request is processed now, and refused
    finally:
        await executor.aclose()
    stats = executor.stats
    assert (2, 1, 0) == (stats.sent, stats.reconciliations, stats.found_by_lookup)
    assert 1 == len(venue_orders(sim))


@pytest.mark.anyio
async def test_a_late_answer_is_reconciled_not_resent(
    sim: BitfinexSimulator, tmp_path: Path
) -> None:
    executor = BitfinexExecutor(attrs.evolve(_params(sim, tmp_path), request_timeout=0.2))
    await executor.connect()
    try:
        sim.faults.rest_delay_response(0.5, path="auth/w/order/submit")
        order = await executor.submit(limit("g-late", "BUY", "0.01", "29000"))
    finally:
        await executor.aclose()
    assert OrderStatus.OPEN == order.status
    assert (1, 1) == (executor.stats.sent, executor.stats.found_by_lookup)
    assert 1 == len(venue_orders(sim))


@pytest.mark.anyio
async def test_cancel_many_uses_one_cancel_multi(
    executor: BitfinexExecutor, sim: BitfinexSimulator
) -> None:
    ids = [f"g-many-{i}" for i in range(3)]
    for i, client_id in enumerate(ids):
        await executor.submit(limit(client_id, "BUY", "0.01", str(29000 - i)))
    rest = executor._client()
    singles: list[Any] = []

    async def single_cancel(*args: Any, **kwargs: Any) -> Any:
        singles.append(args)
        raise AssertionError("cancel_many sent a single cancel")

    rest.cancel_order = single_cancel  # type: ignore[method-assign]
    finals = await executor.cancel_many(ids)
    assert [OrderStatus.CANCELED] * 3 == [o.status for o in finals]
    assert ([], ["CANCELED"] * 3) == (singles, [o.terminal for o in venue_orders(sim)])


@pytest.mark.anyio
async def test_connection_health_is_reported(
    executor: BitfinexExecutor, sim: BitfinexSimulator
) -> None:
    events = executor.events()
    sim.faults.ws_drop_connections()
    seen: list[Order | Fill] = []
    await take(events, lambda e: getattr(e, "health", None) is Health.RECONNECTING, seen)
    back = await take(events, lambda e: isinstance(e, ConnectionStatus), seen)
    assert ("bitfinex account", Health.CONNECTED) == (back.source, back.health)
    sim.set_maintenance(True)
    paused = await take(events, lambda e: isinstance(e, ConnectionStatus))
    assert Health.MAINTENANCE is paused.health
    sim.set_maintenance(False)
    resumed = await take(events, lambda e: isinstance(e, ConnectionStatus))
    assert Health.CONNECTED is resumed.health


@pytest.mark.anyio
async def test_health_is_maintenance_after_connecting_into_maintenance(
    sim: BitfinexSimulator, tmp_path: Path
) -> None:
    """Review item 4: the account socket's ``auth`` after a connect during maintenance (info
    with platform status 0, as after 20060) must not report CONNECTED; 20061 does."""
    sim.set_maintenance(True)
    ex = BitfinexExecutor(_params(sim, tmp_path))
    await ex.connect()  # returns once the auth event was handled: its status is queued
    try:
        statuses = []
        while not ex.book.events.empty():
            event = ex.book.events.get_nowait()
            if isinstance(event, ConnectionStatus):
                statuses.append(event.health)
        assert [Health.MAINTENANCE, Health.MAINTENANCE] == statuses  # maintenance, auth
        events = ex.events()
        sim.set_maintenance(False)
        resumed = await take(events, lambda e: isinstance(e, ConnectionStatus))
        assert Health.CONNECTED is resumed.health
    finally:
        await ex.aclose()


@pytest.mark.anyio
async def test_validation_refusals_send_nothing(
    executor: BitfinexExecutor, sim: BitfinexSimulator
) -> None:
    account = sim.exchange.accounts["TEST_API_KEY"]
    nonce_before = account.last_nonce
    refusals = {
        "below the minimum 0.0002": limit("v1", "BUY", "0.0001", "29000"),
        "above the maximum 100": limit("v2", "BUY", "101", "29000"),
        "more than 8 decimals": limit("v3", "BUY", "0.000200001", "29000"),
        "more than 5 significant digits": limit("v4", "BUY", "0.01", "29000.5"),
        "not a Bitfinex trading pair": OrderRequest("v5", "NOPE", "BUY", "MARKET", Decimal(1)),
    }
    for reason, request in refusals.items():
        with pytest.raises(OrderError, match=reason) as info:
            await executor.submit(request)
        assert 1 == len(str(info.value).splitlines())
    assert nonce_before == account.last_nonce  # not one signed request reached the venue
    assert [] == venue_orders(sim)
    for request in refusals.values():
        assert await executor.order(request.client_order_id) is None


@pytest.mark.anyio
async def test_a_venue_rejection_becomes_a_rejected_order(executor: BitfinexExecutor) -> None:
    rejected = await executor.submit(limit("g-broke", "BUY", "10", "29000"))
    assert OrderStatus.REJECTED == rejected.status
    assert "not enough exchange balance" in rejected.reason


@pytest.mark.anyio
async def test_oco_group_becomes_one_venue_oco(
    executor: BitfinexExecutor, sim: BitfinexSimulator
) -> None:
    events = executor.events()
    take_profit = limit("g-tp", "SELL", "0.1", "30050", group_id="exit-1")
    stop_loss = OrderRequest("g-sl", SYMBOL, "SELL", "STOP", Decimal("0.1"),
                             stop_price=Decimal("29000"), group_id="exit-1")
    held = await executor.submit(take_profit)
    assert OrderStatus.PENDING == held.status
    assert [] == venue_orders(sim)
    sl = await executor.submit(stop_loss)
    assert OrderStatus.OPEN == sl.status
    tp = await executor.order("g-tp")
    assert tp is not None
    assert OrderStatus.OPEN == tp.status
    limit_leg, stop_leg = sorted(venue_orders(sim), key=lambda o: o.id)
    assert ("EXCHANGE LIMIT", "EXCHANGE STOP", limit_leg.id) == (
        limit_leg.type, stop_leg.type, stop_leg.placed_id)
    sim.step()
    seen = await gather(events, lambda seen: any(isinstance(e, Fill) for e in seen) and any(
        isinstance(e, Order) and e.client_order_id == "g-sl" and e.status.is_final for e in seen))
    final = {e.client_order_id: e.status for e in seen if isinstance(e, Order)}
    assert {"g-tp": OrderStatus.FILLED, "g-sl": OrderStatus.CANCELED} == final
    await executor.submit(limit("g-a", "SELL", "0.1", "30050", group_id="bad"))
    with pytest.raises(OrderError, match="one LIMIT and one STOP"):
        await executor.submit(limit("g-b", "SELL", "0.1", "30060", group_id="bad"))


@pytest.mark.anyio
async def test_debug_log_of_a_session_holds_neither_key_nor_secret(
    make_config: Callable[..., SimConfig], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key, secret = "k3y-0123456789abcdefXYZ", "s3cr3t-fedcba9876543210QRS"
    config = make_config(accounts=(AccountSpec(key, secret, 42),))
    caplog.set_level(logging.DEBUG)
    async with BitfinexSimulator(config) as sim:
        ex = BitfinexExecutor(_params(sim, tmp_path, key, secret))
        await ex.connect()
        try:
            await ex.submit(limit("g-log", "SELL", "0.3", "30050"))
            sim.step()
            await ex.balances()
            await ex.cancel("g-log")
            logging.getLogger("test").debug("params: %r executor: %r", ex.params, ex.params)
        finally:
            await ex.aclose()
    text = caplog.text
    assert "auth/w/order/submit" in text  # the session was logged at DEBUG
    for needle in (key, secret, key[5:], secret[7:]):
        assert needle not in text


@pytest.mark.anyio
async def test_wrong_keys_fail_connect(sim: BitfinexSimulator, tmp_path: Path) -> None:
    ex = BitfinexExecutor(_params(sim, tmp_path, secret="wrong"))
    with pytest.raises(Exception, match="10100"):
        await ex.connect()


def test_plugin_registers_the_executor() -> None:
    plugins = load_plugins()
    assert "bitfinex" in plugins.registry.names("executor")
    cls = plugins.registry.get("executor", "bitfinex").cls
    assert cls is BitfinexExecutor
    assert cls.supports_oco
    assert OrderType.STOP in {OrderType(t) for t in ("STOP", "LIMIT")}

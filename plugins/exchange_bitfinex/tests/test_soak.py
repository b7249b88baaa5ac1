"""Soak: thousands of orders through the ``bitfinex`` executor against the simulator, over
loopback sockets, while a seeded random share of operations meets an injected fault.

It ends with every client id placed exactly once on the venue (an OCO group as its one pair),
every venue order's final state and fills known to the client, and the client's ledger of fills
equal to the simulator's wallets to the last satoshi.  The figures are printed.

``GENESIS_SOAK_ORDERS`` (default 3000) scales it; ``GENESIS_SOAK_SEED`` and
``GENESIS_SOAK_FAULT_RATE`` (default 0.06) change the fault pattern.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from genesis_core import (
    Fill,
    Health,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Secret,
)
from genesis_exchange_bitfinex._convert import cid_for
from genesis_exchange_bitfinex.config import ExecutorParams
from genesis_exchange_bitfinex.errors import BitfinexError
from genesis_exchange_bitfinex.execution import BitfinexExecutor
from genesis_exchange_bitfinex.sim import BitfinexSimulator, MarketSpec, SimConfig


ORDERS = int(os.environ.get("GENESIS_SOAK_ORDERS", "3000"))
SEED = int(os.environ.get("GENESIS_SOAK_SEED", "20240611"))
FAULT_RATE = float(os.environ.get("GENESIS_SOAK_FAULT_RATE", "0.06"))
SYMBOL, VENUE_SYMBOL = "TESTBTC:TESTUSD", "tTESTBTC:TESTUSD"
BASE, QUOTE = "TESTBTC", "TESTUSD"
WALLETS = {QUOTE: Decimal(10_000_000), BASE: Decimal(1000)}
WORKERS = 3
STEP_EVERY = 12  # orders between two replayed candles (which fill resting orders)
TIMEOUT = 0.25  # client REST timeout; "slow" faults hold a request longer than this
REST_PATHS = ("auth/w/order/submit", "auth/w/order/cancel", "auth/r/orders", "auth/r/trades",
              None)
GARBAGE = ("{not json", "[0,\"on\",[1,2", "[17,\"hb\"", "null", "[0,\"tu\",[\"x\"]]")


def _inject(sim: BitfinexSimulator, rng: random.Random) -> str:
    """One random fault; returns its kind."""
    faults, path = sim.faults, rng.choice(REST_PATHS)
    kind = rng.choice(("429", "500", "malformed", "slow_request", "slow_response", "delay",
                       "lost_response", "ws_drop", "ws_20051", "ws_malformed"))
    actions: dict[str, Callable[[], object]] = {
        "429": lambda: faults.rest_status(429, path=path),
        "500": lambda: faults.rest_status(500, path=path),
        "malformed": lambda: faults.rest_malformed(path=path),
        "slow_request": lambda: faults.rest_delay(TIMEOUT * 1.6, path=path),
        "slow_response": lambda: faults.rest_delay_response(TIMEOUT * 1.6, path=path),
        "delay": lambda: faults.rest_delay(TIMEOUT / 5, path=path),
        "lost_response": lambda: faults.rest_lose_response(path=path),
        "ws_drop": faults.ws_drop_connections,
        "ws_20051": lambda: faults.ws_info(20051),
        "ws_malformed": lambda: faults.ws_send_raw(rng.choice(GARBAGE)),
    }
    actions[kind]()
    return kind


@attrs.define
class Soak:
    sim: BitfinexSimulator
    ex: BitfinexExecutor
    faults: Counter[str] = attrs.field(factory=Counter)
    caller_retries: int = 0
    requests: dict[str, OrderRequest] = attrs.field(factory=dict)
    oco_pairs: list[tuple[str, str]] = attrs.field(factory=list)
    resting: list[str] = attrs.field(factory=list)
    placed: int = 0
    latest: dict[str, Order] = attrs.field(factory=dict)
    fills: list[Fill] = attrs.field(factory=list)
    statuses: Counter[Health] = attrs.field(factory=Counter)

    async def until_known(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """What a runtime does with a failed call: try the same id again (never a new id)."""
        for _ in range(50):
            try:
                return await call()
            except BitfinexError:
                self.caller_retries += 1
                await asyncio.sleep(0.05)
        raise AssertionError("the executor never reached a known outcome")

    @staticmethod
    def request(i: int, rng: random.Random) -> list[OrderRequest]:
        amount = Decimal(rng.randint(2, 50)) / 10_000
        side = rng.choice((OrderSide.BUY, OrderSide.SELL))
        sign = -1 if side is OrderSide.BUY else 1
        roll = rng.random()
        if roll < 0.04:  # an exit bracket: one venue OCO order
            group = f"grp-{i}"
            return [
                OrderRequest(f"soak-{i}-tp", SYMBOL, OrderSide.SELL, OrderType.LIMIT, amount,
                             price=Decimal(30000 + rng.randint(20, 90)), group_id=group),
                OrderRequest(f"soak-{i}-sl", SYMBOL, OrderSide.SELL, OrderType.STOP, amount,
                             stop_price=Decimal(30000 - rng.randint(20, 150)), group_id=group),
            ]
        if roll < 0.38:
            return [OrderRequest(f"soak-{i}", SYMBOL, side, OrderType.MARKET, amount)]
        offset = -150 if roll < 0.50 else rng.randint(1, 90)  # crossing, or resting
        price = Decimal(30000 + sign * offset)
        return [OrderRequest(f"soak-{i}", SYMBOL, side, OrderType.LIMIT, amount, price=price)]

    async def place(self, i: int, rng: random.Random) -> None:
        legs = self.request(i, rng)
        for leg in legs:
            self.requests[leg.client_order_id] = leg
            order = await self.until_known(lambda leg=leg: self.ex.submit(leg))
            if order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
                self.resting.append(leg.client_order_id)
        if len(legs) == 2:
            self.oco_pairs.append((legs[0].client_order_id, legs[1].client_order_id))

    async def maybe_cancel(self, rng: random.Random) -> None:
        if not self.resting or rng.random() > 0.3:
            return
        client_id = self.resting.pop(rng.randrange(len(self.resting)))
        await self.until_known(lambda: self.ex.cancel(client_id))

    async def worker(self, counter: list[int]) -> None:
        while counter[0] < ORDERS:
            i = counter[0]
            counter[0] += 1
            rng = random.Random(f"{SEED}-{i}")  # order i and its fault do not depend on timing
            if rng.random() < FAULT_RATE:
                self.faults[_inject(self.sim, rng)] += 1
            await self.place(i, rng)
            await self.maybe_cancel(rng)
            self.placed += 1
            if self.placed % STEP_EVERY == 0:
                self.sim.step()

    async def consume(self) -> None:
        async for event in self.ex.events():
            if isinstance(event, Fill):
                self.fills.append(event)
            elif isinstance(event, Order):
                self.latest[event.client_order_id] = event
            else:
                self.statuses[event.health] += 1


async def _until(predicate: Callable[[], bool], limit: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def _quiet(soak: Soak, seconds: float = 0.5) -> None:
    """Wait until no event arrived for ``seconds`` (the trailing ``tu`` of a cancel race)."""
    count = -1
    while count != len(soak.fills) + len(soak.latest):
        count = len(soak.fills) + len(soak.latest)
        await asyncio.sleep(seconds)


def _executor(sim: BitfinexSimulator, tmp_path: Path) -> BitfinexExecutor:
    unlimited = {key: 1_000_000 for key in (
        "auth/w/order/submit", "auth/w/order/cancel", "auth/w/order/cancel/multi",
        "auth/r/orders", "auth/r/orders/hist", "auth/r/orders/{symbol}",
        "auth/r/orders/{symbol}/hist", "auth/r/trades/hist", "auth/r/wallets", "conf")}
    return BitfinexExecutor(ExecutorParams(
        api_key=Secret("TEST_API_KEY"), api_secret=Secret("TEST_API_SECRET"),
        rest_url=sim.rest_url, ws_url=sim.ws_url, nonce_file=tmp_path / "nonce.txt",
        request_timeout=TIMEOUT, connect_timeout=5.0, retries=3, write_attempts=6,
        rate_limits=unlimited, rate_limit_pause=0.05, backoff_scale=0.1))


def _sim_config(csv_path: Path) -> SimConfig:
    return SimConfig(
        markets=(MarketSpec(VENUE_SYMBOL, str(csv_path), min_order_size=Decimal("0.0002"),
                            max_order_size=Decimal(100)),),
        exchange_wallets=dict(WALLETS), book_depth=10, flow_amount=Decimal("0.02"),
        heartbeat_interval=1.0, seed=SEED)


def _owners(soak: Soak) -> Callable[[Any], str | None]:
    """Client id a venue order belongs to (the stop leg of an OCO pair by its type)."""
    by_cid = {cid_for(i): i for i in soak.requests}
    stops = {cid_for(tp): sl for tp, sl in soak.oco_pairs}

    def owner(venue_order: Any) -> str | None:
        if venue_order.cid in stops and "STOP" in venue_order.type:
            return stops[venue_order.cid]
        return by_cid.get(venue_order.cid)

    return owner


def _ledger(fills: list[Fill]) -> dict[str, Decimal]:
    wallets = dict(WALLETS)
    for fill in fills:
        sign = 1 if fill.side is OrderSide.BUY else -1
        wallets[BASE] += sign * fill.amount
        wallets[QUOTE] -= sign * fill.amount * fill.price
        wallets[fill.fee_currency] -= fill.fee
    return wallets


@pytest.mark.soak
@pytest.mark.anyio
async def test_soak_no_duplicate_no_lost_order_balances_reconcile(
    csv_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    async with BitfinexSimulator(_sim_config(csv_path)) as sim:
        ex = _executor(sim, tmp_path)
        await ex.connect()
        soak = Soak(sim, ex)
        consumer = asyncio.create_task(soak.consume())
        try:
            counter = [0]
            await asyncio.gather(*(soak.worker(counter) for _ in range(WORKERS)))
            sim.faults.clear()
            await _until(lambda: ex.caught_up)
            left = [o.client_order_id for o in await ex.open_orders()]
            finals = await soak.until_known(lambda: _cancel_all(ex, left))
            assert all(o.status.is_final for o in finals)
            await _quiet(soak)
            venue_balances = {b.currency: b.total for b in await ex.balances()}
        finally:
            consumer.cancel()
            await ex.aclose()
        account = sim.exchange.accounts["TEST_API_KEY"]
        venue_orders = [*account.orders.values(), *account.closed]
        venue_trades = list(account.trades)
        wallets = {c: account.wallets[("exchange", c)] for c in WALLETS}
    wall = time.perf_counter() - started

    # Exactly once: one venue order per client id (an OCO group: its one pair).
    owner_of = _owners(soak)
    per_owner = Counter(owner_of(o) for o in venue_orders)
    duplicates = sum(n - 1 for n in per_owner.values() if n > 1)
    strangers = per_owner.pop(None, 0)
    never_placed = sorted(set(soak.requests) - set(per_owner))
    # Known: every client order final, in the venue's state, with the venue's fills.
    mismatched = []
    for order in venue_orders:
        owner = owner_of(order)
        mine = soak.latest.get(owner or "")
        filled = abs(order.amount_orig) - abs(order.amount)
        if mine is None or not mine.status.is_final or mine.filled_amount != filled:
            mismatched.append((owner, order.id, order.terminal,
                               None if mine is None else (mine.status, mine.filled_amount)))
    client_fill_ids = Counter(f.fill_id for f in soak.fills)
    venue_fill_ids = {str(t.id) for t in venue_trades}
    double_fills = sum(n - 1 for n in client_fill_ids.values())
    missing_fills = venue_fill_ids - set(client_fill_ids)
    lost = strangers + len(never_placed) + len(mismatched) + len(missing_fills)
    ledger = _ledger(soak.fills)
    drift = {c: ledger[c] - wallets[c] for c in WALLETS}

    stats = ex.stats
    lines = [
        f"soak: {len(soak.requests)} client orders ({ORDERS} submissions, "
        f"{len(soak.oco_pairs)} OCO pairs), {len(venue_orders)} venue orders, "
        f"{len(venue_trades)} fills; {WORKERS} workers, seed {SEED}, fault rate {FAULT_RATE}",
        f"  faults injected {sum(soak.faults.values())}: "
        + ", ".join(f"{k} {n}" for k, n in sorted(soak.faults.items())),
        f"  submits sent {stats.sent} (resends {stats.resends}), reconciliations "
        f"{stats.reconciliations} (found on the venue {stats.found_by_lookup}), cancel retries "
        f"{stats.cancel_retries}, caller retries {soak.caller_retries}",
        f"  socket reconnects {stats.reconnects}, catch-ups {stats.resyncs}, fills recovered "
        f"by catch-up {stats.recovered_fills}; statuses reported "
        + ", ".join(f"{h.value} {n}" for h, n in sorted(soak.statuses.items())),
        f"  duplicates {duplicates}, lost {lost}, double fills {double_fills}, balance drift "
        f"{QUOTE} {drift[QUOTE]:f} {BASE} {drift[BASE]:f}; wall time {wall:.1f} s",
    ]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert 0 == duplicates
    assert ([], [], 0, set()) == (never_placed, mismatched, strangers, missing_fills)
    assert 0 == double_fills
    assert {c: Decimal(0) for c in WALLETS} == drift
    assert wallets == {c: venue_balances[c] for c in WALLETS}
    assert sum(soak.faults.values()) > 0


async def _cancel_all(ex: BitfinexExecutor, client_ids: list[str]) -> Any:
    return await ex.cancel_many(client_ids)

"""``bitfinex`` executor: orders over authenticated REST v2, their fate over the account WebSocket.

* **Client order ids.** A Genesis id is a string; Bitfinex wants an integer ``cid`` (int45,
  unique per UTC day, addressed together with its ``cid_date``).  The cid is derived from the
  Genesis id (``_convert.cid_for``: SHA-256 folded into ``[1, 2**45 - 1]``), so it is the same in
  every process, and the executor keeps the map both ways plus the venue order id.
* **Idempotency.** ``submit`` of an id this executor already tracks returns that order.  At
  connect the executor indexes the venue's open orders and its recent history by cid, so an id
  placed by an earlier process is adopted, never placed twice, without a look-up per order.
* **Unknown outcomes.** A submit whose answer is lost, late, garbled or a bare 5xx may or may
  not have been executed.  Before sending it again the executor looks the cid up (active
  orders, then recent history); the look-up is itself signed, so once it has passed, the
  earlier request can no longer be executed (its nonce is smaller, §2.2).  Refusals that prove
  nothing was executed (429, an open circuit, ``nonce: small``) are resent without looking.
  After ``write_attempts`` sends the error is raised and the order stays SUBMITTED; the next
  ``submit`` of the id looks again before sending.
* **Validation.** Before anything is sent: the pair must exist, the amount lie within the pair's
  min/max order size with at most 8 decimals, prices have at most 5 significant digits and 8
  decimals.  A refusal raises :class:`genesis_core.OrderError` with a one-line reason.
* **Events.** Order updates come from ``os``/``on``/``ou``/``oc`` (and from REST answers), fills
  from ``tu`` (the trade record with its fee; ``te`` is ignored), de-duplicated by trade id.
  After the account socket reconnects, the trades and order changes of the gap are read over
  REST (retried in the background until they succeed).
* **OCO.** Two requests with the same ``group_id`` (one LIMIT, one STOP; same symbol, side and
  amount) become one Bitfinex OCO order (flag 16384, ``price_oco_stop``).  The first leg is held,
  PENDING, until its partner is submitted; then both are sent as one venue request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs

from genesis_core import (
    Balance,
    ConnectionStatus,
    Executor,
    Fill,
    Health,
    MarketEvent,
    Order,
    OrderError,
    OrderRequest,
    OrderStatus,
    OrderType,
)

from . import _wire as w
from ._auth import Credentials, NonceSource
from ._convert import (
    SymbolMap,
    balance_from_wallet,
    check_request,
    cid_for,
    fill_from_trade,
    venue_request,
)
from ._resilience import Backoff, CircuitBreaker, RateLimiter
from ._rest import BitfinexRestClient
from ._tracking import OrderBook
from ._ws import BitfinexWsClient, WsEvent, health_of
from .config import ExecutorParams, Wallet
from .errors import (
    BitfinexError,
    CircuitOpenError,
    NonceTooSmallError,
    OrderRejectedError,
    ParamsError,
    RateLimitError,
)
from .orders import OrderRequest as VenueRequest
from .orders import utc_date


log = logging.getLogger(__name__)
_REJECTIONS = (OrderRejectedError, ParamsError)
_NOT_EXECUTED = (RateLimitError, CircuitOpenError, NonceTooSmallError)  # refused up front
_POLL_S = 1.0  # how long a cancel waits for its WS confirmation before asking over REST
_TRADE_PAGE = 2500
_CLOCK_SLACK_MS = 60_000  # venue and local clocks may disagree; trades are de-duplicated
_INDEX_LIMIT = 2500  # closed orders indexed at connect (Bitfinex keeps two weeks)
_SUBMIT = "auth/w/order/submit"
STATUS_SOURCE = "bitfinex account"  # ConnectionStatus.source of the executor


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@attrs.define
class ExecutorStats:
    """Counters of the fault handling (printed by the soak test, see docs/bitfinex.md)."""

    sent: int = 0  # submit requests sent (first tries and resends)
    resends: int = 0  # sends after an unknown or refused outcome
    reconciliations: int = 0  # cid look-ups after an unknown outcome
    found_by_lookup: int = 0  # ... that found the order on the venue after all
    adopted: int = 0  # ids placed by an earlier process, adopted instead of sent
    cancel_retries: int = 0
    never_placed: int = 0  # SUBMITTED orders proven absent, closed as CANCELED
    reconnects: int = 0  # account socket re-authentications after a drop
    resyncs: int = 0  # catch-ups after the account socket reconnected
    recovered_fills: int = 0  # fills first learnt from a catch-up (missed on the socket)


class BitfinexExecutor(Executor):
    """Orders on Bitfinex (or its simulator): REST v2 writes, account WebSocket for events."""

    name = "bitfinex"
    Params = ExecutorParams
    supports_oco = True

    def can_short(self) -> bool:
        # Only the margin wallet can sell what it does not hold.
        return self.params.wallet is Wallet.MARGIN

    def __init__(self, params: ExecutorParams) -> None:
        super().__init__(params)
        self.params: ExecutorParams
        self.symbols = SymbolMap(params.symbols)
        self.clock_ms: Callable[[], int] = wall_clock_ms
        self.stats = ExecutorStats()
        self.book = OrderBook(self.symbols, lambda: self.clock_ms())
        self._rest: BitfinexRestClient | None = None
        self._ws: BitfinexWsClient | None = None
        self._sim: Any = None  # an embedded simulator lease (sim.embedded)
        self._pump_task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._auth_seen = asyncio.Event()
        self._auth_error: BaseException | None = None
        self._auths = 0
        self._pairs: dict[str, w.PairInfo] = {}
        self._venue_index: dict[int, list[w.Order]] = {}  # cid -> orders found at connect
        self._oco_held: dict[str, str] = {}  # group id -> genesis id of the leg held back
        self._inflight: set[str] = set()
        self._gap_from: int | None = None  # trades since then may have been missed
        self._drops = 0
        self._synced_connection = 0  # the account socket connection we are caught up on

    # -- lifecycle -------------------------------------------------------------------------
    async def connect(self) -> None:
        """Authenticate the account WebSocket, then load the pair rules and the venue index."""
        params = self.params
        rest_url, ws_url = await self._endpoints()
        creds = Credentials(params.api_key.reveal(), params.api_secret.reveal())
        nonce = NonceSource(params.nonce_file)
        self.book.newest_trade_ms = self.clock_ms()
        breaker = CircuitBreaker(rate_limit_pause=params.rate_limit_pause,
                                 backoff=self._backoff(1.0, 60.0), on_change=self._on_circuit)
        self._rest = BitfinexRestClient(
            rest_url, credentials=creds, nonce=nonce, timeout=params.request_timeout,
            retries=params.retries, circuit_breaker=breaker,
            rate_limiter=RateLimiter(overrides=params.rate_limits),
            retry_backoff=self._backoff(0.5, 10.0))
        self._ws = BitfinexWsClient(ws_url, credentials=creds, nonce=nonce,
                                    dms=params.dead_man_switch,
                                    open_timeout=params.connect_timeout,
                                    backoff=self._backoff(1.0, 60.0))
        self._pump_task = asyncio.create_task(self._pump(), name="bitfinex-executor")
        await self._ws.start()
        try:
            await asyncio.wait_for(self._auth_seen.wait(), params.connect_timeout)
        except TimeoutError:
            await self.aclose()
            raise BitfinexError(None, f"account WebSocket {ws_url} did not authenticate "
                                      f"within {params.connect_timeout}s") from None
        if self._auth_error is not None:
            error = self._auth_error
            await self.aclose()
            raise error
        try:
            self._pairs = await self._rest.pair_info()
            await self._index_venue()
        except BaseException:
            await self.aclose()
            raise
        log.info("bitfinex executor connected (%s wallet, %d pairs)", params.wallet,
                 len(self._pairs))

    def _backoff(self, base: float, cap: float) -> Backoff:
        scale = self.params.backoff_scale
        return Backoff(base=base * scale, cap=cap * scale, rng=random.Random())

    async def _endpoints(self) -> tuple[str, str]:
        """``rest_url``/``ws_url``, or those of the embedded simulator (started on demand)."""
        sim_params = self.params.simulator
        if sim_params is None:
            return self.params.rest_url, self.params.ws_url
        from .sim import embedded  # the simulator is only imported when asked for

        self._sim = await embedded.acquire(embedded.spec_for(sim_params, self.symbols.venue))
        embedded.open_account(self._sim, self.params.api_key.reveal(),
                              self.params.api_secret.reveal())
        return self._sim.rest_url, self._sim.ws_url

    async def _index_venue(self) -> None:
        """Open orders and recent history by cid: an id placed by an earlier process is
        adopted from here instead of being placed again."""
        rest = self._client()
        closed = await rest.order_history(limit=_INDEX_LIMIT)
        for wire in [*closed, *await rest.active_orders()]:
            if wire.cid is not None:
                self._venue_index.setdefault(wire.cid, []).append(wire)

    async def aclose(self) -> None:
        if self._ws is not None:
            await self._ws.stop()
            self._ws = None
        for task in (self._pump_task, self._resync_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._pump_task = self._resync_task = None
        if self._rest is not None:
            await self._rest.aclose()
            self._rest = None
        if self._sim is not None:
            from .sim import embedded

            await embedded.release(self._sim)
            self._sim = None

    @property
    def caught_up(self) -> bool:
        """The account socket is authenticated and nothing missed while it was down is still
        waiting to be read."""
        ws = self._ws
        return (ws is not None and ws.authenticated.is_set() and self._gap_from is None
                and self._synced_connection == ws.connections)

    def _client(self) -> BitfinexRestClient:
        if self._rest is None:
            raise OrderError("bitfinex executor is not connected (call connect() first)")
        return self._rest

    async def on_market(self, event: MarketEvent) -> None:
        """The venue fills orders itself; market events are not needed."""

    # -- queries ---------------------------------------------------------------------------
    async def order(self, client_order_id: str) -> Order | None:
        known = self.book.orders.get(client_order_id)
        if known is not None or self._rest is None:
            return known
        found = await self._rest.find_order_by_cid(*self._cid_of(client_order_id))
        if found is None:
            return None
        return self.book.adopt(client_order_id, found)

    async def open_orders(self) -> list[Order]:
        rest = self._client()
        listed = await rest.active_orders()
        listed_ids = set()
        for wire in listed:
            listed_ids.add(wire.id)
            if self.book.resolve(wire) is None:
                self.book.adopt(f"bitfinex-{wire.id}", wire)
            else:
                self.book.apply(wire)
        gone = [int(o.exchange_order_id) for o in self.book.orders.values()
                if not o.status.is_final and o.exchange_order_id is not None
                and int(o.exchange_order_id) not in listed_ids]
        if gone:
            for wire in await rest.order_history(ids=gone):
                self.book.apply(wire)
        return [o for o in self.book.orders.values() if not o.status.is_final]

    async def fills(self, client_order_id: str) -> list[Fill] | None:
        """Every fill of one order as Bitfinex recorded it (``auth/r/order/{s}:{id}/trades``,
        orders up to 10 days old), oldest first; ``[]`` for an order the venue does not know."""
        order = await self.order(client_order_id)
        if order is None or order.exchange_order_id is None:
            return []
        symbol = order.request.symbol
        trades = await self._client().order_trades(self.symbols.venue(symbol),
                                                   int(order.exchange_order_id))
        return [fill_from_trade(t, client_order_id, symbol)
                for t in sorted(trades, key=lambda t: (t.mts, t.id)) if t.fee is not None]

    async def balances(self) -> list[Balance]:
        wallets = await self._client().wallets()
        return [balance_from_wallet(x) for x in wallets if x.wallet_type == self.params.wallet]

    async def events(self) -> AsyncIterator[Order | Fill | ConnectionStatus]:
        """Order updates, fills, and a ``ConnectionStatus`` when the account socket drops,
        comes back, goes stale or the venue enters/leaves maintenance, and when an endpoint's
        circuit breaker opens or closes."""
        while True:
            yield await self.book.events.get()

    def _status(self, health: Health, detail: str) -> None:
        self.book.events.put_nowait(
            ConnectionStatus(STATUS_SOURCE, health, detail, wall_clock_ms()))

    def _on_circuit(self, endpoint: str, opened: bool) -> None:
        self._status(Health.CIRCUIT_OPEN if opened else Health.CIRCUIT_CLOSED, endpoint)

    # -- submit ----------------------------------------------------------------------------
    async def submit(self, request: OrderRequest) -> Order:
        self._client()
        client_id = request.client_order_id
        known = self.book.orders.get(client_id)
        if known is not None:
            if known.request != request:
                raise OrderError(f"client order id {client_id} reused for a different order")
            if known.status is OrderStatus.SUBMITTED and client_id not in self._inflight:
                return await self._retry(known)
            return known  # idempotent: the order this id already placed
        venue_symbol = self.symbols.venue(request.symbol)
        reason = check_request(request, await self._pair(venue_symbol), venue_symbol)
        if reason is not None:
            raise OrderError(f"{client_id}: {reason}")
        if request.group_id is not None:
            partner_id = self._oco_held.get(request.group_id)
            if partner_id is None:
                self._oco_held[request.group_id] = client_id
                return self.book.emit(Order(request, updated_at=self.clock_ms()))
            return await self._submit_oco(self.book.orders[partner_id], request)
        cid = self.book.register(client_id, request.symbol)
        self.book.orders[client_id] = Order(request, updated_at=self.clock_ms())
        if self._adopt_indexed(cid):
            return self.book.orders[client_id]
        body = venue_request(request, symbol=venue_symbol, wallet=self.params.wallet, cid=cid,
                             cid_date=self.book.cids[client_id][1])
        return await self._place([client_id], body)

    async def _submit_oco(self, held: Order, request: OrderRequest) -> Order:
        legs = {held.request.type: held, request.type: Order(request, updated_at=self.clock_ms())}
        limit, stop = legs.get(OrderType.LIMIT), legs.get(OrderType.STOP)
        first, second = held.request, request
        if limit is None or stop is None or len(legs) != 2:
            raise OrderError(f"{request.client_order_id}: an OCO group needs one LIMIT and one "
                             f"STOP leg (group {request.group_id})")
        if (first.symbol, first.side, first.amount) != (second.symbol, second.side, second.amount):
            raise OrderError(f"{request.client_order_id}: OCO legs of group {request.group_id} "
                             "differ in symbol, side or amount")
        assert request.group_id is not None
        del self._oco_held[request.group_id]
        limit_id, stop_id = limit.client_order_id, stop.client_order_id
        cid = self.book.register(limit_id, limit.request.symbol)
        self.book.cids[stop_id] = self.book.cids[limit_id]
        self.book.oco_stops[cid] = stop_id
        self.book.orders[request.client_order_id] = legs[request.type]
        if self._adopt_indexed(cid):
            return self.book.orders[request.client_order_id]
        body = venue_request(limit.request, symbol=self.symbols.venue(limit.request.symbol),
                             wallet=self.params.wallet, cid=cid,
                             cid_date=self.book.cids[limit_id][1],
                             oco_stop=stop.request.stop_price)
        await self._place([limit_id, stop_id], body)
        return self.book.orders[request.client_order_id]

    def _adopt_indexed(self, cid: int) -> bool:
        """Apply the venue's orders with this cid found at connect (an earlier process)."""
        found = self._venue_index.pop(cid, [])
        for wire in found:
            self.book.apply(wire)
        if found:
            self.stats.adopted += 1
            log.info("cid %d was already on the venue: adopted", cid)
        return bool(found)

    async def _retry(self, order: Order) -> Order:
        """An earlier submit of this id ended without a known outcome: look, then send."""
        cid, cid_date = self.book.cids[order.client_order_id]
        limit_id, stop_id = self.book.by_cid[cid], self.book.oco_stops.get(cid)
        limit = self.book.orders[limit_id].request
        oco_stop = self.book.orders[stop_id].request.stop_price if stop_id else None
        body = venue_request(limit, symbol=self.symbols.venue(limit.symbol),
                             wallet=self.params.wallet, cid=cid, cid_date=cid_date,
                             oco_stop=oco_stop)
        ids = [limit_id] if stop_id is None else [limit_id, stop_id]
        await self._place(ids, body, unknown=True)
        return self.book.orders[order.client_order_id]

    async def _place(self, client_ids: list[str], body: VenueRequest, *,
                     unknown: bool = False) -> Order:
        """Send ``body`` until its outcome is known (see the module doc); ``unknown``: an
        earlier attempt may have reached the venue, so look before the first send."""
        for client_id in client_ids:
            order = self.book.orders[client_id]
            if order.status is OrderStatus.PENDING:
                self.book.emit(order.transition(OrderStatus.SUBMITTED, at=self.clock_ms()))
        self._inflight.update(client_ids)
        try:
            wires = await self._send_until_known(body, unknown)
        except _REJECTIONS as exc:
            for client_id in client_ids:
                order = self.book.orders[client_id]
                if not order.status.is_final:
                    self.book.emit(order.transition(OrderStatus.REJECTED, at=self.clock_ms(),
                                                    reason=exc.message))
            return self.book.orders[client_ids[0]]
        finally:
            self._inflight.difference_update(client_ids)
        for wire in wires:
            self.book.apply(wire)
        return self.book.orders[client_ids[0]]

    async def _send_until_known(self, body: VenueRequest, unknown: bool) -> list[w.Order]:
        rest = self._client()
        backoff = self._backoff(0.1, 2.0)
        last: BitfinexError | None = None
        sends = 0
        for _ in range(3 * self.params.write_attempts):  # sends, look-ups and waits
            if unknown:
                try:
                    found = await self._reconcile(body)
                except BitfinexError as exc:  # cannot tell yet: never send blind
                    last = exc
                    await self._pause(exc, backoff)
                    continue
                if found:
                    return found
                unknown = False
            if sends == self.params.write_attempts:
                break
            wait = rest.breaker.remaining(_SUBMIT)
            if wait > 0:  # an open circuit costs no attempt: wait it out
                last = CircuitOpenError(_SUBMIT, wait)
                await asyncio.sleep(wait)
                continue
            try:
                return await self._submit_once(body, resend=sends > 0)
            except CircuitOpenError as exc:  # refused here, before sending: no attempt spent
                last = exc
                await self._pause(exc, backoff)
                continue
            except _REJECTIONS:
                raise
            except _NOT_EXECUTED as exc:
                sends += 1
                last = exc
                await self._pause(exc, backoff)
                continue
            except BitfinexError as exc:  # lost, late or garbled answer, bare 5xx ...
                sends += 1
                last, unknown = exc, True
                log.warning("submit of cid %d: outcome unknown (%s); reconciling", body.cid, exc)
        assert last is not None
        raise last

    async def _submit_once(self, body: VenueRequest, *, resend: bool) -> list[w.Order]:
        try:
            wires = await self._client().submit_order(body)
        except CircuitOpenError:
            raise  # refused here, before sending: not a send
        except BaseException:
            self._count_send(resend)
            raise
        self._count_send(resend)
        return wires

    def _count_send(self, resend: bool) -> None:
        self.stats.sent += 1
        self.stats.resends += resend

    async def _reconcile(self, body: VenueRequest) -> list[w.Order]:
        self.stats.reconciliations += 1
        found = await self._client().find_orders_by_cid(body.cid, body.cid_date, body.symbol)
        if found:
            self.stats.found_by_lookup += 1
            log.info("cid %d found on the venue: not sent again", body.cid)
        return found

    async def _pause(self, exc: BitfinexError, backoff: Backoff) -> None:
        """Wait before the next attempt: as long as the breaker says (a probe in flight says
        0: then a short back-off), else a short back-off."""
        if isinstance(exc, NonceTooSmallError):
            delay = 0.0
        elif isinstance(exc, CircuitOpenError) and exc.retry_after > 0:
            delay = exc.retry_after
        else:
            delay = backoff.next_delay()
        await asyncio.sleep(delay)

    # -- cancel ----------------------------------------------------------------------------
    async def cancel(self, client_order_id: str) -> Order:
        self._client()
        order = await self.order(client_order_id)
        if order is None:
            raise OrderError(f"cancel: unknown order {client_order_id}")
        if order.status.is_final:
            return order
        if order.status is OrderStatus.PENDING:  # an OCO leg still waiting for its partner
            group = order.request.group_id
            if group is not None and self._oco_held.get(group) == client_order_id:
                del self._oco_held[group]
            return self.book.emit(order.transition(OrderStatus.REJECTED, at=self.clock_ms(),
                                                   reason="withdrawn before it was sent"))
        self.book.final.setdefault(client_order_id, asyncio.Event())
        await self._send_cancel(client_order_id)
        return await self._await_final(client_order_id)

    async def cancel_many(self, client_order_ids: list[str]) -> list[Order]:
        """Cancel several orders with one ``cancel/multi`` request; their final states (an
        order the batch could not reach is cancelled on its own)."""
        rest = self._client()
        placed = {int(o.exchange_order_id): i for i in client_order_ids
                  if (o := self.book.orders.get(i)) is not None and not o.status.is_final
                  and o.exchange_order_id is not None}
        batched: set[str] = set()
        if placed:
            for client_id in placed.values():
                self.book.final.setdefault(client_id, asyncio.Event())
            try:
                for wire in await rest.cancel_orders(ids=list(placed)):
                    self.book.apply(wire)
                batched = set(placed.values())
            except BitfinexError as exc:
                log.info("cancel/multi failed (%s); cancelling one by one", exc)
        out = []
        for client_id in client_order_ids:
            if client_id in batched:
                out.append(await self._await_final(client_id))
            else:
                out.append(await self.cancel(client_id))
        return out

    async def _send_cancel(self, client_id: str) -> None:
        rest = self._client()
        backoff = self._backoff(0.1, 2.0)
        failures = 0
        while not self.book.orders[client_id].status.is_final:
            order = self.book.orders[client_id]
            try:
                if order.exchange_order_id is not None:
                    note = await rest.cancel_order(int(order.exchange_order_id))
                else:
                    cid, cid_date = self.book.cids[client_id]
                    note = await rest.cancel_order(cid=cid, cid_date=cid_date)
                self.book.apply(note)
                return
            except _REJECTIONS as exc:  # e.g. "Order not found.": closed meanwhile, or absent
                log.info("cancel of %s refused (%s); reading its state", client_id, exc)
                return
            except CircuitOpenError as exc:  # refused here, nothing sent: wait, no attempt spent
                await self._pause(exc, backoff)
            except BitfinexError as exc:  # cancelling twice is harmless: just try again
                self.stats.cancel_retries += 1
                failures += 1
                if failures == self.params.write_attempts:
                    raise
                log.info("cancel of %s failed (%s); retrying", client_id, exc)
                await self._pause(exc, backoff)

    async def _await_final(self, client_id: str) -> Order:
        """The confirmation normally comes over the socket; poll REST while it does not."""
        done = self.book.final.setdefault(client_id, asyncio.Event())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.params.connect_timeout
        while not self.book.orders[client_id].status.is_final:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            listening = self._ws is not None and self._ws.authenticated.is_set()
            if listening:  # the confirmation is on its way over the socket
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), min(_POLL_S, remaining))
                if done.is_set():
                    break
            with contextlib.suppress(BitfinexError):
                await self._refresh(client_id)
            if not listening and not self.book.orders[client_id].status.is_final:
                await asyncio.sleep(min(_POLL_S / 5, max(remaining, 0)))
        return self.book.orders[client_id]

    async def _refresh(self, client_id: str) -> None:
        order = self.book.orders[client_id]
        rest = self._client()
        if order.exchange_order_id is not None:
            venue_id = int(order.exchange_order_id)
            for wire in await rest.active_orders(ids=[venue_id]):
                self.book.apply(wire)
            for wire in await rest.order_history(ids=[venue_id]):
                self.book.apply(wire)
            return
        cid, cid_date = self.book.cids[client_id]
        found = await rest.find_orders_by_cid(cid, cid_date, self.symbols.venue(
            order.request.symbol))
        for wire in found:
            self.book.apply(wire)
        order = self.book.orders[client_id]
        if not found and not order.status.is_final and client_id not in self._inflight:
            # The signed look-up fenced off any attempt still under way: it never will be.
            self.stats.never_placed += 1
            self.book.emit(order.transition(OrderStatus.CANCELED, at=self.clock_ms(),
                                            reason="never reached the venue"))

    # -- bookkeeping -----------------------------------------------------------------------
    def _cid_of(self, client_id: str) -> tuple[int, str]:
        known = self.book.cids.get(client_id)
        return known if known is not None else (cid_for(client_id), utc_date(self.clock_ms()))

    async def _pair(self, venue_symbol: str) -> w.PairInfo | None:
        pair = venue_symbol[1:]
        if pair not in self._pairs:
            self._pairs = await self._client().pair_info()
        return self._pairs.get(pair)

    # -- account stream --------------------------------------------------------------------
    async def _pump(self) -> None:
        assert self._ws is not None
        async for event in self._ws.events():
            try:
                self._on_ws(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad event must not stop the account stream
                log.exception("bitfinex executor: cannot handle %s event", event.kind)

    def _on_ws(self, event: WsEvent) -> None:
        kind, data = event.kind, event.data
        health = health_of(event, ready="auth")
        if health is not None:
            self._status(*health)
        if kind == "order":
            for wire in data if isinstance(data, list) else [data]:
                self.book.apply(wire)
        elif kind == "account_trade" and event.channel == "tu":
            self.book.on_trade(data)
        elif kind == "auth":
            self._on_auth(data)
        elif kind == "disconnected":
            self._drops += 1
            if self._gap_from is None:
                self._gap_from = self.book.newest_trade_ms
            log.warning("bitfinex account WebSocket down: %s", data)
        elif kind == "notification":
            log.debug("bitfinex notification %s %s: %s", data.type, data.status, data.text)
        elif kind in ("error", "maintenance", "stale"):
            log.warning("bitfinex account WebSocket %s: %s", kind, data)

    def _on_auth(self, data: Any) -> None:
        if isinstance(data, BaseException):
            self._auth_error = data
            log.error("bitfinex account WebSocket refused authentication: %s", data)
        else:
            self._auth_error = None
            self._auths += 1
            if self._auths == 1 and self._ws is not None:
                self._synced_connection = self._ws.connections
            self.stats.reconnects = self._auths - 1
            if self._auths > 1 and (self._resync_task is None or self._resync_task.done()):
                self._resync_task = asyncio.create_task(self._resync_until_done(),
                                                        name="bitfinex-resync")
        self._auth_seen.set()

    async def _resync_until_done(self) -> None:
        """Catch up on the gap, retrying with back-off: a fill must never stay missing."""
        backoff = self._backoff(0.5, 30.0)
        while self._gap_from is not None:
            drops, since = self._drops, self._gap_from
            connection = self._ws.connections if self._ws is not None else 0
            try:
                await self._resync(since)
            except BitfinexError as exc:
                log.warning("catching up after a reconnect failed (%s); retrying", exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            if drops == self._drops:  # no new gap opened meanwhile
                self._gap_from = None
                self._synced_connection = connection

    async def _resync(self, since_ms: int) -> None:
        """Trades and order changes that happened while the account socket was away."""
        self.stats.resyncs += 1
        rest = self._client()
        start = since_ms - _CLOCK_SLACK_MS
        while True:
            page = await rest.trades_history(start=start, limit=_TRADE_PAGE, sort=1)
            for trade in page:
                if self.book.on_trade(trade):
                    self.stats.recovered_fills += 1
            if len(page) < _TRADE_PAGE or page[-1].mts <= start:
                break
            start = page[-1].mts  # the next page repeats this ms; ids de-duplicate
        await self.open_orders()


__all__ = ["BitfinexExecutor", "ExecutorStats"]

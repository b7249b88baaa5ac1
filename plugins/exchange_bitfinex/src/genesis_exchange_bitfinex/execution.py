"""``bitfinex`` executor: orders over authenticated REST v2, their fate over the account WebSocket.

* **Client order ids.** A Genesis id is a string; Bitfinex wants an integer ``cid`` (int45,
  unique per UTC day, addressed together with its ``cid_date``).  The cid is derived from the
  Genesis id (``_convert.cid_for``: SHA-256 folded into ``[1, 2**45 - 1]``), so it is the same in
  every process, and the executor keeps the map both ways plus the venue order id.
* **Idempotency.** ``submit`` of an id this executor already tracks returns that order.  An id it
  does not track is first looked up on the venue by cid (open orders of the cid's day and the day
  either side, then the last 500 closed orders): an order placed by an earlier process is adopted,
  never placed twice.  A submit whose answer is lost is reconciled by cid before the one retry
  (``submit_order_reconciled``); if even that fails the order stays SUBMITTED and the error is
  raised, and the next ``submit`` of the same id looks it up again before sending.
* **Validation.** Before anything is sent: the pair must exist, the amount lie within the pair's
  min/max order size with at most 8 decimals, prices have at most 5 significant digits and 8
  decimals.  A refusal raises :class:`genesis_core.OrderError` with a one-line reason.
* **Events.** Order updates come from ``os``/``on``/``ou``/``oc`` (and from REST answers), fills
  from ``tu`` (the trade record with its fee; ``te`` is ignored), de-duplicated by trade id.
  A fill may arrive after the order update that already counts it (the venue sends ``te``, ``oc``,
  then ``tu``): account with fills, track lifecycle with orders.  After a reconnect the executor
  re-reads open orders and the trades it may have missed.
* **OCO.** Two requests with the same ``group_id`` (one LIMIT, one STOP; same symbol, side and
  amount) become one Bitfinex OCO order (flag 16384, ``price_oco_stop``).  The first leg is held,
  PENDING, until its partner is submitted; then both are sent as one venue request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from genesis_core import (
    Balance,
    Executor,
    Fill,
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
    apply_wire,
    balance_from_wallet,
    check_request,
    cid_for,
    fill_from_trade,
    request_from_wire,
    venue_request,
)
from ._rest import BitfinexRestClient
from ._ws import BitfinexWsClient, WsEvent
from .config import ExecutorParams
from .errors import BitfinexError, OrderRejectedError, ParamsError
from .orders import utc_date


log = logging.getLogger(__name__)
_REJECTIONS = (OrderRejectedError, ParamsError)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class BitfinexExecutor(Executor):
    """Orders on Bitfinex (or its simulator): REST v2 writes, account WebSocket for events."""

    name = "bitfinex"
    Params = ExecutorParams
    supports_oco = True

    def __init__(self, params: ExecutorParams) -> None:
        super().__init__(params)
        self.params: ExecutorParams
        self.symbols = SymbolMap(params.symbols)
        self.clock_ms: Callable[[], int] = wall_clock_ms
        self._rest: BitfinexRestClient | None = None
        self._ws: BitfinexWsClient | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._auth_seen = asyncio.Event()
        self._auth_error: BaseException | None = None
        self._auths = 0
        self._pairs: dict[str, w.PairInfo] = {}
        self._orders: dict[str, Order] = {}
        self._cids: dict[str, tuple[int, str]] = {}  # genesis id -> (cid, cid_date)
        self._by_cid: dict[int, str] = {}
        self._by_venue_id: dict[int, str] = {}
        self._oco_stops: dict[int, str] = {}  # cid of an OCO pair -> genesis id of its stop leg
        self._oco_held: dict[str, str] = {}  # group id -> genesis id of the leg held back
        self._inflight: set[str] = set()
        self._final: dict[str, asyncio.Event] = {}
        self._fills_seen: set[int] = set()
        self._since_ms = 0
        self._events: asyncio.Queue[Order | Fill] = asyncio.Queue()

    # -- lifecycle -------------------------------------------------------------------------
    async def connect(self) -> None:
        """Authenticate the account WebSocket, then load the pair rules."""
        params = self.params
        creds = Credentials(params.api_key.reveal(), params.api_secret.reveal())
        nonce = NonceSource(params.nonce_file)
        self._since_ms = self.clock_ms()
        self._rest = BitfinexRestClient(params.rest_url, credentials=creds, nonce=nonce,
                                        timeout=params.request_timeout, retries=params.retries)
        self._ws = BitfinexWsClient(params.ws_url, credentials=creds, nonce=nonce,
                                    dms=params.dead_man_switch,
                                    open_timeout=params.connect_timeout)
        self._pump_task = asyncio.create_task(self._pump(), name="bitfinex-executor")
        await self._ws.start()
        try:
            await asyncio.wait_for(self._auth_seen.wait(), params.connect_timeout)
        except TimeoutError:
            await self.aclose()
            raise BitfinexError(None, f"account WebSocket {params.ws_url} did not authenticate "
                                      f"within {params.connect_timeout}s") from None
        if self._auth_error is not None:
            error = self._auth_error
            await self.aclose()
            raise error
        self._pairs = await self._rest.pair_info()
        log.info("bitfinex executor connected (%s wallet, %d pairs)", params.wallet,
                 len(self._pairs))

    async def aclose(self) -> None:
        if self._ws is not None:
            await self._ws.stop()
            self._ws = None
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        if self._rest is not None:
            await self._rest.aclose()
            self._rest = None

    def _client(self) -> BitfinexRestClient:
        if self._rest is None:
            raise OrderError("bitfinex executor is not connected (call connect() first)")
        return self._rest

    async def on_market(self, event: MarketEvent) -> None:
        """The venue fills orders itself; market events are not needed."""

    # -- queries ---------------------------------------------------------------------------
    async def order(self, client_order_id: str) -> Order | None:
        known = self._orders.get(client_order_id)
        if known is not None or self._rest is None:
            return known
        cid = cid_for(client_order_id)
        found = await self._rest.find_order_by_cid(cid, utc_date(self.clock_ms()))
        if found is None:
            return None
        return self._adopt(client_order_id, found)

    async def open_orders(self) -> list[Order]:
        rest = self._client()
        listed = await rest.active_orders()
        listed_ids = set()
        for wire in listed:
            listed_ids.add(wire.id)
            if self._resolve(wire) is None:
                self._adopt(self._foreign_id(wire), wire)
            else:
                self._apply(wire)
        gone = [int(o.exchange_order_id) for o in self._orders.values()
                if not o.status.is_final and o.exchange_order_id is not None
                and int(o.exchange_order_id) not in listed_ids]
        if gone:
            for wire in await rest.order_history(ids=gone):
                self._apply(wire)
        return [o for o in self._orders.values() if not o.status.is_final]

    async def balances(self) -> list[Balance]:
        wallets = await self._client().wallets()
        return [balance_from_wallet(x) for x in wallets if x.wallet_type == self.params.wallet]

    async def events(self) -> AsyncIterator[Order | Fill]:
        while True:
            yield await self._events.get()

    # -- commands --------------------------------------------------------------------------
    async def submit(self, request: OrderRequest) -> Order:
        rest = self._client()
        client_id = request.client_order_id
        known = self._orders.get(client_id)
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
        now = self.clock_ms()
        if request.group_id is not None:
            partner_id = self._oco_held.get(request.group_id)
            if partner_id is None:
                self._oco_held[request.group_id] = client_id
                return self._emit(Order(request, updated_at=now))
            return await self._submit_oco(self._orders[partner_id], request)
        cid = self._register(client_id, request.symbol)
        found = await rest.find_order_by_cid(cid, self._cids[client_id][1], venue_symbol)
        order = Order(request, updated_at=now)
        self._orders[client_id] = order
        if found is not None:
            log.info("order %s (cid %d) already on the venue: adopted", client_id, cid)
            self._apply(found)
            return self._orders[client_id]
        body = venue_request(request, symbol=venue_symbol, wallet=self.params.wallet, cid=cid,
                             cid_date=self._cids[client_id][1])
        return await self._send([client_id], body)

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
        cid = self._register(limit_id, limit.request.symbol)
        self._cids[stop_id] = self._cids[limit_id]
        self._oco_stops[cid] = stop_id
        self._orders[request.client_order_id] = legs[request.type]
        venue_symbol = self.symbols.venue(limit.request.symbol)
        found = await self._client().find_order_by_cid(cid, self._cids[limit_id][1], venue_symbol)
        if found is not None:
            self._apply(found)
            return self._orders[request.client_order_id]
        body = venue_request(limit.request, symbol=venue_symbol, wallet=self.params.wallet,
                             cid=cid, cid_date=self._cids[limit_id][1],
                             oco_stop=stop.request.stop_price)
        await self._send([limit_id, stop_id], body)
        return self._orders[request.client_order_id]

    async def _retry(self, order: Order) -> Order:
        """A submit of this id failed with an unknown or transient outcome: look, then send."""
        client_id = order.client_order_id
        cid, cid_date = self._cids[client_id]
        venue_symbol = self.symbols.venue(order.request.symbol)
        found = await self._client().find_order_by_cid(cid, cid_date, venue_symbol)
        if found is not None:
            self._apply(found)
            return self._orders[client_id]
        body = venue_request(order.request, symbol=venue_symbol, wallet=self.params.wallet,
                             cid=cid, cid_date=cid_date)
        return await self._send([client_id], body, already_submitted=True)

    async def _send(self, client_ids: list[str], body: Any, *,
                    already_submitted: bool = False) -> Order:
        now = self.clock_ms()
        if not already_submitted:
            for client_id in client_ids:
                self._emit(self._orders[client_id].transition(OrderStatus.SUBMITTED, at=now))
        self._inflight.update(client_ids)
        try:
            wires = await self._client().submit_order_reconciled(body)
        except _REJECTIONS as exc:
            for client_id in client_ids:
                order = self._orders[client_id]
                if not order.status.is_final:
                    self._emit(order.transition(OrderStatus.REJECTED, at=self.clock_ms(),
                                                reason=exc.message))
            return self._orders[client_ids[0]]
        finally:
            self._inflight.difference_update(client_ids)
        for wire in wires:
            self._apply(wire)
        return self._orders[client_ids[0]]

    async def cancel(self, client_order_id: str) -> Order:
        rest = self._client()
        order = await self.order(client_order_id)
        if order is None:
            raise OrderError(f"cancel: unknown order {client_order_id}")
        if order.status.is_final:
            return order
        if order.status is OrderStatus.PENDING:  # an OCO leg still waiting for its partner
            group = order.request.group_id
            if group is not None and self._oco_held.get(group) == client_order_id:
                del self._oco_held[group]
            return self._emit(order.transition(OrderStatus.REJECTED, at=self.clock_ms(),
                                               reason="withdrawn before it was sent"))
        done = self._final.setdefault(client_order_id, asyncio.Event())
        try:
            if order.exchange_order_id is not None:
                note = await rest.cancel_order(int(order.exchange_order_id))
            else:
                cid, cid_date = self._cids[client_order_id]
                note = await rest.cancel_order(cid=cid, cid_date=cid_date)
            self._apply(note)
        except _REJECTIONS as exc:  # e.g. "Order not found.": it closed meanwhile
            log.info("cancel of %s refused (%s); reading its final state", client_order_id, exc)
        if not self._orders[client_order_id].status.is_final:
            try:
                await asyncio.wait_for(done.wait(), self.params.connect_timeout)
            except TimeoutError:
                await self._refresh(client_order_id)
        return self._orders[client_order_id]

    async def _refresh(self, client_order_id: str) -> None:
        order = self._orders[client_order_id]
        rest = self._client()
        if order.exchange_order_id is not None:
            venue_id = int(order.exchange_order_id)
            for wire in await rest.active_orders(ids=[venue_id]):
                self._apply(wire)
            for wire in await rest.order_history(ids=[venue_id]):
                self._apply(wire)
            return
        cid, cid_date = self._cids[client_order_id]
        venue_symbol = self.symbols.venue(order.request.symbol)
        found = await rest.find_order_by_cid(cid, cid_date, venue_symbol)
        if found is not None:
            self._apply(found)

    # -- bookkeeping -----------------------------------------------------------------------
    async def _pair(self, venue_symbol: str) -> w.PairInfo | None:
        pair = venue_symbol[1:]
        if pair not in self._pairs:
            self._pairs = await self._client().pair_info()
        return self._pairs.get(pair)

    def _register(self, client_id: str, symbol: str) -> int:
        cid = cid_for(client_id)
        owner = self._by_cid.get(cid)
        if owner is not None and owner != client_id:
            raise OrderError(f"{client_id}: its Bitfinex cid {cid} is taken by {owner}; "
                             "use another client order id")
        self._by_cid[cid] = client_id
        self._cids.setdefault(client_id, (cid, utc_date(self.clock_ms())))
        self.symbols.venue(symbol)
        return cid

    def _foreign_id(self, wire: w.Order) -> str:
        return f"bitfinex-{wire.id}"

    def _resolve(self, wire: w.Order) -> str | None:
        """Genesis id of a venue order: by venue id, then by cid (the OCO stop leg by type)."""
        if wire.id is not None and wire.id in self._by_venue_id:
            return self._by_venue_id[wire.id]
        return self._resolve_cid(wire.cid, wire.order_type)

    def _resolve_cid(self, cid: int | None, order_type: str | None) -> str | None:
        if cid is None:
            return None
        if cid in self._oco_stops and order_type is not None and "STOP" in order_type:
            return self._oco_stops[cid]
        return self._by_cid.get(cid)

    def _adopt(self, client_id: str, wire: w.Order) -> Order | None:
        """Track a venue order this process did not place (or placed before a restart)."""
        if wire.symbol is None:
            return None
        if client_id not in self._orders:
            request = request_from_wire(wire, client_id, self.symbols.genesis(wire.symbol))
            self._orders[client_id] = Order(request, updated_at=self.clock_ms())
            if wire.cid is not None and wire.mts_create is not None:
                self._by_cid.setdefault(wire.cid, client_id)
                self._cids.setdefault(client_id, (wire.cid, utc_date(wire.mts_create)))
        if wire.id is not None:
            self._by_venue_id[wire.id] = client_id
        self._apply(wire)
        return self._orders[client_id]

    def _apply(self, wire: w.Order) -> None:
        client_id = self._resolve(wire)
        if client_id is None or client_id not in self._orders:
            log.debug("order %s (cid %s) is not tracked by this executor", wire.id, wire.cid)
            return
        if wire.id is not None:
            self._by_venue_id[wire.id] = client_id
        changed = apply_wire(self._orders[client_id], wire, at=self.clock_ms())
        if changed is not None:
            self._emit(changed)

    def _emit(self, order: Order) -> Order:
        self._orders[order.client_order_id] = order
        self._events.put_nowait(order)
        if order.status.is_final:
            self._final.setdefault(order.client_order_id, asyncio.Event()).set()
        return order

    def _on_trade(self, trade: w.AccountTrade) -> None:
        if trade.id in self._fills_seen:
            return
        client_id = self._by_venue_id.get(trade.order_id) or self._resolve_cid(
            trade.cid, trade.order_type)
        if client_id is None or client_id not in self._orders:
            log.info("trade %d of order %d is not tracked by this executor", trade.id,
                     trade.order_id)
            return
        self._fills_seen.add(trade.id)
        self._since_ms = max(self._since_ms, trade.mts)
        symbol = self._orders[client_id].request.symbol
        self._events.put_nowait(fill_from_trade(trade, client_id, symbol))

    # -- account stream --------------------------------------------------------------------
    async def _pump(self) -> None:
        assert self._ws is not None
        async for event in self._ws.events():
            try:
                await self._on_ws(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad event must not stop the account stream
                log.exception("bitfinex executor: cannot handle %s event", event.kind)

    async def _on_ws(self, event: WsEvent) -> None:
        kind, data = event.kind, event.data
        if kind == "order":
            for wire in data if isinstance(data, list) else [data]:
                self._apply(wire)
        elif kind == "account_trade" and event.channel == "tu":
            self._on_trade(data)
        elif kind == "auth":
            if isinstance(data, BaseException):
                self._auth_error = data
                log.error("bitfinex account WebSocket refused authentication: %s", data)
            else:
                self._auths += 1
                if self._auths > 1:
                    await self._resync()
            self._auth_seen.set()
        elif kind == "notification":
            log.debug("bitfinex notification %s %s: %s", data.type, data.status, data.text)
        elif kind in ("disconnected", "error", "maintenance"):
            log.warning("bitfinex account WebSocket %s: %s", kind, data)

    async def _resync(self) -> None:
        """After a reconnect: trades and order changes that happened while we were away."""
        rest = self._client()
        for trade in await rest.trades_history(start=self._since_ms, limit=2500, sort=1):
            self._on_trade(trade)
        await self.open_orders()

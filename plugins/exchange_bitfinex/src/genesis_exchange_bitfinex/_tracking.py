"""What the executor knows about its orders and fills: pure bookkeeping, no I/O.

Every venue record (REST answer, WS event, history row) goes through :meth:`OrderBook.apply`
or :meth:`OrderBook.on_trade`; both are idempotent and never move an order backwards, so the
same fact arriving twice, late or out of order changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from genesis_core import ConnectionStatus, Fill, Order, OrderError

from . import _wire as w
from ._convert import SymbolMap, apply_wire, cid_for, fill_from_trade, request_from_wire
from .orders import utc_date


log = logging.getLogger(__name__)


class OrderBook:
    """Genesis orders by client id, their Bitfinex cids and venue ids, and the event queue."""

    def __init__(self, symbols: SymbolMap, clock_ms: Callable[[], int]) -> None:
        self.symbols = symbols
        self.clock_ms = clock_ms
        self.orders: dict[str, Order] = {}
        self.cids: dict[str, tuple[int, str]] = {}  # genesis id -> (cid, cid_date)
        self.by_cid: dict[int, str] = {}
        self.by_venue_id: dict[int, str] = {}
        self.oco_stops: dict[int, str] = {}  # cid of an OCO pair -> genesis id of its stop leg
        self.final: dict[str, asyncio.Event] = {}
        self.fills_seen: set[int] = set()
        self.newest_trade_ms = 0
        self.events: asyncio.Queue[Order | Fill | ConnectionStatus] = asyncio.Queue()

    # -- identities ------------------------------------------------------------------------
    def register(self, client_id: str, symbol: str) -> int:
        """Reserve the cid of ``client_id`` (derived from it, so the same in every process)."""
        cid = cid_for(client_id)
        owner = self.by_cid.get(cid)
        if owner is not None and owner != client_id:
            raise OrderError(f"{client_id}: its Bitfinex cid {cid} is taken by {owner}; "
                             "use another client order id")
        self.by_cid[cid] = client_id
        self.cids.setdefault(client_id, (cid, utc_date(self.clock_ms())))
        self.symbols.venue(symbol)
        return cid

    def resolve(self, wire: w.Order) -> str | None:
        """Genesis id of a venue order: by venue id, then by cid (the OCO stop leg by type)."""
        if wire.id is not None and wire.id in self.by_venue_id:
            return self.by_venue_id[wire.id]
        return self.resolve_cid(wire.cid, wire.order_type)

    def resolve_cid(self, cid: int | None, order_type: str | None) -> str | None:
        if cid is None:
            return None
        if cid in self.oco_stops and order_type is not None and "STOP" in order_type:
            return self.oco_stops[cid]
        return self.by_cid.get(cid)

    # -- state -----------------------------------------------------------------------------
    def adopt(self, client_id: str, wire: w.Order) -> Order | None:
        """Track a venue order this process did not place (or placed before a restart)."""
        if wire.symbol is None:
            return None
        if client_id not in self.orders:
            request = request_from_wire(wire, client_id, self.symbols.genesis(wire.symbol))
            self.orders[client_id] = Order(request, updated_at=self.clock_ms())
            if wire.cid is not None and wire.mts_create is not None:
                self.by_cid.setdefault(wire.cid, client_id)
                self.cids.setdefault(client_id, (wire.cid, utc_date(wire.mts_create)))
        if wire.id is not None:
            self.by_venue_id[wire.id] = client_id
        self.apply(wire)
        return self.orders[client_id]

    def apply(self, wire: w.Order) -> None:
        """Move the tracked order to what ``wire`` reports (never backwards)."""
        client_id = self.resolve(wire)
        if client_id is None or client_id not in self.orders:
            log.debug("order %s (cid %s) is not tracked by this executor", wire.id, wire.cid)
            return
        if wire.id is not None:
            self.by_venue_id[wire.id] = client_id
        changed = apply_wire(self.orders[client_id], wire, at=self.clock_ms())
        if changed is not None:
            self.emit(changed)

    def emit(self, order: Order) -> Order:
        self.orders[order.client_order_id] = order
        self.events.put_nowait(order)
        if order.status.is_final:
            self.final.setdefault(order.client_order_id, asyncio.Event()).set()
        return order

    def on_trade(self, trade: w.AccountTrade) -> bool:
        """Emit the fill of ``trade`` once (by trade id); True if it was emitted now."""
        if trade.id in self.fills_seen:
            return False
        client_id = self.by_venue_id.get(trade.order_id) or self.resolve_cid(
            trade.cid, trade.order_type)
        if client_id is None or client_id not in self.orders:
            log.info("trade %d of order %d is not tracked by this executor", trade.id,
                     trade.order_id)
            return False
        if trade.fee is None:
            # Not yet the full record ('te' shape): marking it seen would drop the real one.
            log.info("trade %d carries no fee yet; waiting for its full record", trade.id)
            return False
        self.fills_seen.add(trade.id)
        self.newest_trade_ms = max(self.newest_trade_ms, trade.mts)
        symbol = self.orders[client_id].request.symbol
        self.events.put_nowait(fill_from_trade(trade, client_id, symbol))
        return True

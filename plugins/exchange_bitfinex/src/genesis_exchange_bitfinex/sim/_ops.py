"""Order management and account queries on top of the engine (update, cancel, history)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesis_exchange_bitfinex._wire import account_trade_to_wire

from ._accounts import Account
from ._engine import Exchange
from ._orders import POST_ONLY, SimOrder, SimReject, parse_tif, to_decimal, to_int


BeforeEvents = Callable[[list[SimOrder]], None] | None


def _require_open(ex: Exchange, account: Account, p: dict[str, Any]) -> SimOrder:
    if ex.platform_status == 0:
        raise SimReject(20060, "maintenance", p)
    order_id = to_int(p, "id", lo=1, hi=2**63)
    cid = to_int(p, "cid", lo=1)
    cid_date = p.get("cid_date")
    if order_id is None and cid is None:
        raise SimReject(10020, "id: invalid", p)
    if order_id is None and not isinstance(cid_date, str):
        raise SimReject(10020, "cid_date: invalid", p)
    order = account.find_open(order_id, cid, cid_date if isinstance(cid_date, str) else None)
    if order is None:
        raise SimReject(10001, "Order not found.", p)
    return order


def update_order(
    ex: Exchange, account: Account, p: dict[str, Any], before_events: BeforeEvents = None
) -> SimOrder:
    """Apply ``ou``: price, amount (new total), delta, flags, gid, tif, aux/trailing prices."""
    order = _require_open(ex, account, p)
    remaining = order.amount
    amount, delta = to_decimal(p, "amount"), to_decimal(p, "delta")
    if amount is not None:
        remaining = amount
    if delta is not None:
        remaining += delta
    if remaining == 0 or (remaining > 0) != (order.amount_orig > 0):
        raise SimReject(10020, "amount: invalid", p)
    saved = (
        order.amount,
        order.amount_orig,
        order.price,
        order.price_aux_limit,
        order.price_trailing,
        order.flags,
        order.gid,
        order.mts_tif,
    )
    order.amount_orig += remaining - order.amount
    order.amount = remaining
    for field in ("price", "price_aux_limit", "price_trailing"):
        value = to_decimal(p, field)
        if value is not None:
            if value <= 0:
                raise SimReject(10020, f"{field}: invalid", p)
            setattr(order, field, value)
    order.flags = to_int(p, "flags", hi=2**31) if p.get("flags") is not None else order.flags
    order.gid = to_int(p, "gid") if p.get("gid") is not None else order.gid
    order.mts_tif = parse_tif(p) if p.get("tif") is not None else order.mts_tif
    try:
        ex._check_funds(account, _without(account, order), ex.markets[order.symbol])
    except SimReject:
        (
            order.amount,
            order.amount_orig,
            order.price,
            order.price_aux_limit,
            order.price_trailing,
            order.flags,
            order.gid,
            order.mts_tif,
        ) = saved
        raise
    finally:
        account.orders[order.id] = order
    order.mts_update = ex.now()
    if before_events is not None:
        before_events([order])
    crosses = order.kind == "LIMIT" and ex._crosses(ex.markets[order.symbol], order)
    if crosses and order.flags & POST_ONLY:
        # Post-only (4096) must never take: moved across the spread it is cancelled like a
        # crossing submit (§2.7.3 "if it would match"; the doc has no ou-specific rule), with
        # `oc` only, as for a submit (§7 #33), instead of being filled as a taker.
        ex._close(account, order, "POSTONLY CANCELED")
        ex._finish(account)
        return order
    ex._emit(account.user_id, "ou", order.to_wire())
    if crosses:
        ex._take(account, order, order.price)
    ex.dirty.add(order.symbol)
    ex._finish(account)
    return order


def _without(account: Account, order: SimOrder) -> SimOrder:
    # Funds are checked as if the order were new, so take it out of the reservation first.
    account.orders.pop(order.id, None)
    return order


def cancel_order(
    ex: Exchange, account: Account, p: dict[str, Any], before_events: BeforeEvents = None
) -> SimOrder:
    order = _require_open(ex, account, p)
    if before_events is not None:
        before_events([order])
    ex._close(account, order, "CANCELED")
    ex._finish(account)
    return order


def select_for_cancel(account: Account, p: dict[str, Any]) -> list[SimOrder]:
    """Orders matched by ``id[]``, ``gid[]``, ``cid[[cid, date]]`` or ``all: 1``."""
    chosen: dict[int, SimOrder] = {}
    opened = sorted(account.orders.values(), key=lambda o: o.id)
    if p.get("all") in (1, True, "1"):
        return opened
    ids, gids, cids = p.get("id") or [], p.get("gid") or [], p.get("cid") or []
    if not all(isinstance(x, list) for x in (ids, gids, cids)):
        raise SimReject(10020, "params: invalid", p)
    for order in opened:
        if order.id in ids or (order.gid is not None and order.gid in gids):
            chosen[order.id] = order
        for pair in cids:
            if (
                isinstance(pair, list)
                and len(pair) == 2
                and pair[0] == order.cid
                and (pair[1] == order.cid_date)
            ):
                chosen[order.id] = order
    return list(chosen.values())


def cancel_multi(
    ex: Exchange, account: Account, p: dict[str, Any], before_events: BeforeEvents = None
) -> list[SimOrder]:
    if ex.platform_status == 0:
        raise SimReject(20060, "maintenance", p)
    orders = select_for_cancel(account, p)
    if before_events is not None:
        before_events(orders)
    for order in orders:
        ex._close(account, order, "CANCELED")
    ex._finish(account)
    return orders


def cancel_all(ex: Exchange, account: Account) -> list[SimOrder]:
    """Dead-man switch: cancel every open order of the account."""
    return cancel_multi(ex, account, {"all": 1})


# --- queries ----------------------------------------------------------------------------------


def active_orders(account: Account, symbol: str | None, p: dict[str, Any]) -> list[list[Any]]:
    ids, gid = p.get("id"), p.get("gid")
    cid, cid_date = p.get("cid"), p.get("cid_date")
    if cid is not None and cid_date is None:
        raise SimReject(10020, "cid_date: invalid", p)
    out = []
    for order in sorted(account.orders.values(), key=lambda o: o.id):
        if symbol is not None and order.symbol != symbol:
            continue
        if isinstance(ids, list) and order.id not in ids:
            continue
        if gid is not None and order.gid != gid:
            continue
        if cid is not None and (order.cid != cid or order.cid_date != cid_date):
            continue
        out.append(order.to_wire())
    return out


def _limit(p: dict[str, Any], default: int, maximum: int) -> int:
    value = to_int(p, "limit", lo=1, hi=10**9)
    if value is None:
        return default
    if value > maximum:
        raise SimReject(10020, "limit: invalid", p)
    return value


def order_history(account: Account, symbol: str | None, p: dict[str, Any]) -> list[list[Any]]:
    start, end = to_int(p, "start"), to_int(p, "end", hi=2**63)
    ids = p.get("id")
    rows = [
        o
        for o in account.closed
        if (symbol is None or o.symbol == symbol)
        and (start is None or o.mts_create >= start)
        and (end is None or o.mts_create <= end)
        and (not isinstance(ids, list) or o.id in ids)
    ]
    rows.sort(key=lambda o: (o.mts_update, o.id), reverse=True)
    return [o.to_wire() for o in rows[: _limit(p, 100, 2500)]]


def trade_history(account: Account, symbol: str | None, p: dict[str, Any]) -> list[list[Any]]:
    start, end = to_int(p, "start"), to_int(p, "end", hi=2**63)
    rows = [
        t
        for t in account.trades
        if (symbol is None or t.symbol == symbol)
        and (start is None or t.mts >= start)
        and (end is None or t.mts <= end)
    ]
    ascending = str(p.get("sort", "-1")) in ("1", "+1")
    rows.sort(key=lambda t: (t.mts, t.id), reverse=not ascending)
    return [account_trade_to_wire(t) for t in rows[: _limit(p, 100, 2500)]]


def order_trades(account: Account, symbol: str, order_id: int) -> list[list[Any]]:
    rows = [t for t in account.trades if t.order_id == order_id and t.symbol == symbol]
    out = []
    for trade in sorted(rows, key=lambda t: (t.mts, t.id), reverse=True):
        wire = account_trade_to_wire(trade)
        wire[6] = wire[7] = None  # ORDER_TYPE / ORDER_PRICE are placeholders here (§2.7.8)
        out.append(wire)
    return out

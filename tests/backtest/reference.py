"""An independent, deliberately plain event loop implementing docs/backtesting.md.

It shares no code with the kernel: one ``Position`` object per symbol, orders as small
dicts, the documented rules written out in the order the documentation states them. Slow
(pure Python), so the tests feed it slices of real candles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Pos:
    side: int
    amount: float
    price: float
    bar: int
    fee: float
    stop: float
    take: float
    conf: float
    signal_bar: int
    active_from: int
    funding: float = 0.0


@dataclass
class Book:
    cash: float
    reserved: float = 0.0
    positions: dict = field(default_factory=dict)
    pending: dict = field(default_factory=dict)
    exits: set = field(default_factory=set)
    trades: list = field(default_factory=list)
    fees: float = 0.0
    funding: float = 0.0


def _nan(x):
    return x != x


def reference(o, h, lo, c, v, orders, *, cash, taker, maker, slip=0.0, vslip=0.0, impact=0.0,
              sigma=None, max_slip=0.05, funding=0.0, size_type="equity", reverse=True,
              entry_bar=False, ttl=0, sl_frac=0.0, tp_frac=0.0):
    """Inputs are (n, S) arrays and a dict of (n, S) order arrays; fees/slippage as fractions.

    Returns (trades as a list of dicts, equity list).
    """
    n, ns = c.shape
    book = Book(cash=cash)
    last = [math.nan] * ns
    equity = []

    def slippage(amount, t, s):
        x = slip
        if vslip > 0 or impact > 0:
            if v[t, s] > 0:
                frac = amount / v[t, s]
                x += vslip * frac + impact * (sigma[t, s] if sigma is not None else 0) * (
                    math.sqrt(frac))
            else:
                x = max_slip
        return min(x, max_slip)

    def close(s, t, raw, is_taker, reason):
        p = book.positions.pop(s)
        px = raw * (1 - p.side * slippage(p.amount, t, s)) if is_taker else raw
        fee = p.amount * px * (taker if is_taker else maker)
        book.cash += p.side * p.amount * px - fee
        book.fees += fee
        if p.side < 0:
            book.reserved -= p.amount * p.price
        book.trades.append(dict(symbol=s, side=p.side, entry_bar=p.bar, exit_bar=t,
                                entry_price=p.price, exit_price=px, amount=p.amount,
                                entry_fee=p.fee, exit_fee=fee, funding=p.funding,
                                pnl=p.side * p.amount * (px - p.price), reason=reason,
                                signal_bar=p.signal_bar))

    def quantity(order, price, fee_rate, eq):
        if size_type == "equity":
            q = order["size"] * eq / (price * (1 + fee_rate))
        elif size_type == "amount":
            q = order["size"]
        else:
            q = order["size"] / (price * (1 + fee_rate))
        if order["side"] > 0:
            q = min(q, (book.cash - book.reserved) / (price * (1 + fee_rate)))
        return q

    def enter(s, t, raw, is_taker, order, eq):
        fee_rate = taker if is_taker else maker
        q = quantity(order, raw, fee_rate, eq)
        px = raw
        if is_taker:
            px = raw * (1 + order["side"] * slippage(q, t, s))
            q = quantity(order, px, fee_rate, eq)
        if not q > 0:
            return
        fee = q * px * fee_rate
        book.cash -= order["side"] * q * px + fee
        book.fees += fee
        if order["side"] < 0:
            book.reserved += q * px
        book.positions[s] = Pos(order["side"], q, px, t, fee, order["stop"], order["take"],
                                order["conf"], order["bar"], t if entry_bar else t + 1)

    for t in range(n):
        live = [s for s in range(ns) if not _nan(o[t, s])]
        # at the open: gapped protective levels, then signal exits
        for s in live:
            p = book.positions.get(s)
            if p is not None and t >= p.active_from:
                if not _nan(p.stop) and (o[t, s] <= p.stop if p.side > 0 else o[t, s] >= p.stop):
                    close(s, t, o[t, s], True, 1)
                elif not _nan(p.take) and (o[t, s] >= p.take if p.side > 0
                                           else o[t, s] <= p.take):
                    close(s, t, o[t, s], True, 2)
            if s in book.exits:
                book.exits.discard(s)
                if s in book.positions:
                    close(s, t, o[t, s], True, 0)
        eq = None
        for s in live:
            order = book.pending.get(s)
            if order is not None and s not in book.positions:
                if order["type"] != 0 and ttl > 0 and t - order["bar"] > ttl:
                    del book.pending[s]
                else:
                    fill = None
                    if order["type"] == 0:
                        fill = (o[t, s], True)
                    elif order["type"] == 1:  # limit
                        lim = order["price"]
                        if (o[t, s] <= lim) if order["side"] > 0 else (o[t, s] >= lim):
                            fill = (o[t, s], True)
                        elif (lo[t, s] <= lim) if order["side"] > 0 else (h[t, s] >= lim):
                            fill = (lim, False)
                    else:  # stop
                        trig = order["price"]
                        if (o[t, s] >= trig) if order["side"] > 0 else (o[t, s] <= trig):
                            fill = (o[t, s], True)
                        elif (h[t, s] >= trig) if order["side"] > 0 else (lo[t, s] <= trig):
                            fill = (trig, True)
                    if fill is not None:
                        if eq is None:
                            eq = book.cash + sum(
                                q.side * q.amount * (last[k] if _nan(o[t, k]) else o[t, k])
                                for k, q in book.positions.items())
                        enter(s, t, fill[0], fill[1], order, eq)
                        del book.pending[s]
            p = book.positions.get(s)
            if p is not None and t >= p.active_from:
                if p.side > 0:
                    if not _nan(p.stop) and lo[t, s] <= p.stop:
                        close(s, t, min(o[t, s], p.stop), True, 1)
                    elif not _nan(p.take) and h[t, s] >= p.take:
                        close(s, t, max(o[t, s], p.take), o[t, s] >= p.take, 2)
                else:
                    if not _nan(p.stop) and h[t, s] >= p.stop:
                        close(s, t, max(o[t, s], p.stop), True, 1)
                    elif not _nan(p.take) and lo[t, s] <= p.take:
                        close(s, t, min(o[t, s], p.take), o[t, s] <= p.take, 2)
        # the close
        for s in live:
            last[s] = c[t, s]
            p = book.positions.get(s)
            if p is not None and p.side < 0 and funding:
                f = p.amount * last[s] * funding
                p.funding += f
                book.funding += f
                book.cash -= f
        equity.append(book.cash + sum(p.side * p.amount * last[k]
                                      for k, p in book.positions.items()))
        # signals at the close
        for s in live:
            x = orders["exit"][t, s]
            d = int(orders["direction"][t, s])
            p = book.positions.get(s)
            if x:
                book.pending.pop(s, None)
                if p is not None:
                    book.exits.add(s)
            if d == 0:
                continue
            current = 0 if (p is None or x) else p.side
            if current == d:
                continue
            if current == -d:
                book.exits.add(s)
                book.pending.pop(s, None)
                if not reverse:
                    continue
            stop = orders["stop_loss"][t, s]
            take = orders["take_profit"][t, s]
            if _nan(stop) and sl_frac:
                stop = c[t, s] * (1 - d * sl_frac)
            if _nan(take) and tp_frac:
                take = c[t, s] * (1 + d * tp_frac)
            book.pending[s] = dict(side=d, type=int(orders["entry_type"][t, s]),
                                   price=orders["entry_price"][t, s],
                                   size=orders["size"][t, s], stop=stop, take=take,
                                   conf=orders["confidence"][t, s], bar=t)
    for s, p in sorted(book.positions.items()):
        book.trades.append(dict(symbol=s, side=p.side, entry_bar=p.bar, exit_bar=n - 1,
                                entry_price=p.price, exit_price=last[s], amount=p.amount,
                                entry_fee=p.fee, exit_fee=0.0, funding=p.funding,
                                pnl=p.side * p.amount * (last[s] - p.price), reason=3,
                                signal_bar=p.signal_bar))
    return book.trades, np.array(equity)

"""Matching engine of the simulator.

Liquidity comes from two places: a synthetic book regenerated around the replayed price at
every step (takers consume it; it refills on the next step), and resting client orders.  A
resting client order is filled (as maker) when a later candle trades through its price, limited
per step by ``flow_amount`` or ``flow_fraction * candle volume``; that is how partial fills
happen.  Client takers can also hit other accounts' resting orders (never their own).

Every state change is reported through ``account_listeners(user_id, abbrev, payload)`` in the
canonical order of the reference (§3.11): ``on``, ``te``, ``ou``/``oc``, ``tu``, ``wu``..., ``bu``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from genesis_exchange_bitfinex._wire import AccountTrade, PublicTrade, account_trade_to_wire

from ._accounts import USD_LIKE, Account, PositionState, WalletKey, reserved, wallet_wire
from ._market import BookOrder, Market, MarketSpec
from ._orders import (
    KNOWN_FLAGS,
    OCO,
    ORDER_TYPES,
    POST_ONLY,
    REDUCE_ONLY,
    SimOrder,
    SimReject,
    base_kind,
    parse_tif,
    stop_hit,
    to_decimal,
    to_int,
)
from ._replay import step as replay_step
from .config import AccountSpec, SimConfig


AccountListener = Callable[[int, str, Any], None]
PublicListener = Callable[[str, str, PublicTrade], None]
_Q8 = Decimal("0.00000001")


class Exchange:
    """Deterministic exchange state: markets, accounts, orders, fills."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._now_fn = config.now_ms or (lambda: time.time_ns() // 1_000_000)
        self._last_now = 0
        self._order_ids = config.order_id_start
        self._trade_ids = config.trade_id_start
        self._position_ids = 142_948_000
        book_ids, public_ids = [1_746_000_000], [config.public_trade_id_start]
        self.markets: dict[str, Market] = {}
        for spec in config.markets:
            self.markets[spec.symbol] = self._make_market(spec, book_ids, public_ids)
        self.accounts: dict[str, Account] = {}
        self.account_listeners: list[AccountListener] = []
        self.public_listeners: list[PublicListener] = []
        self.dirty: set[str] = set(self.markets)
        self.platform_status = 1
        self._had_fill: set[int] = set()
        for acct_spec in config.accounts:
            self.add_account(acct_spec)

    def add_account(self, spec: AccountSpec) -> Account:
        """Open an account with the configured starting wallets (an existing key is kept)."""
        if spec.api_key in self.accounts:
            return self.accounts[spec.api_key]
        config = self.config
        wallets: dict[WalletKey, Decimal] = {
            ("exchange", c): Decimal(v) for c, v in config.initial_exchange_wallets().items()
        }
        wallets.update({("margin", c): Decimal(v) for c, v in config.margin_wallets.items()})
        account = Account(spec, wallets)
        # The starting state counts as already sent.
        account.sent_wallets = {k: (wallets[k], self.available(account, k)) for k in wallets}
        self.accounts[spec.api_key] = account
        return account

    def _make_market(self, spec: MarketSpec, book_ids: list[int], trade_ids: list[int]) -> Market:
        cfg = self.config
        offset = 0
        if cfg.rebase_time:
            probe = Market(
                spec,
                rng=random.Random(0),
                warmup=cfg.warmup_candles,
                offset_ms=0,
                book_depth=1,
                level_amount=cfg.level_amount,
                spread_ticks=1,
                next_book_id=[0],
                next_trade_id=[0],
            )
            now = self._now_fn()
            offset = now // probe.tf_ms * probe.tf_ms - probe.candle(probe.cursor).mts
        return Market(
            spec,
            rng=self._rng,
            warmup=cfg.warmup_candles,
            offset_ms=offset,
            book_depth=cfg.book_depth,
            level_amount=cfg.level_amount,
            spread_ticks=cfg.spread_ticks,
            next_book_id=book_ids,
            next_trade_id=trade_ids,
        )

    # --- helpers ----------------------------------------------------------------------------
    def now(self) -> int:
        self._last_now = max(self._last_now, self._now_fn())
        return self._last_now

    def _emit(self, user_id: int, abbrev: str, payload: Any) -> None:
        for listener in list(self.account_listeners):
            listener(user_id, abbrev, payload)

    def account_by_user(self, user_id: int) -> Account:
        return next(a for a in self.accounts.values() if a.user_id == user_id)

    def market(self, symbol: Any) -> Market:
        if not isinstance(symbol, str) or symbol not in self.markets:
            raise SimReject(10020, "symbol: invalid")
        return self.markets[symbol]

    def _symbols(self) -> dict[str, tuple[str, str]]:
        return {s: (m.base, m.quote) for s, m in self.markets.items()}

    def _im(self) -> dict[str, Decimal | None]:
        return {s: m.spec.initial_margin for s, m in self.markets.items()}

    def available(self, account: Account, key: WalletKey) -> Decimal:
        return account.wallets.get(key, Decimal(0)) - reserved(
            account, key, self._symbols(), self._im()
        )

    def usd_value(self, currency: str) -> Decimal:
        if currency in USD_LIKE:
            return Decimal(1)
        for m in self.markets.values():
            if m.base == currency and m.quote in USD_LIKE:
                return m.last_price
        return Decimal(0)

    def balance_info(self, account: Account) -> list[Decimal]:
        aum = sum((v * self.usd_value(k[1]) for k, v in account.wallets.items()), Decimal(0))
        for pos in account.positions.values():
            aum += (self.markets[pos.symbol].last_price - pos.base_price) * pos.amount
        aum = aum.quantize(_Q8, ROUND_HALF_EVEN).normalize()
        return [aum, aum]

    def wallets_wire(self, account: Account, with_available: bool = True) -> list[list[Any]]:
        return [
            wallet_wire(account, k, self.available(account, k) if with_available else None)
            for k in account.wallet_keys()
        ]

    def positions_wire(self, account: Account) -> list[list[Any]]:
        return [self._position_wire(account, p) for p in account.positions.values()]

    def _position_wire(self, account: Account, pos: PositionState) -> list[Any]:
        quote = self.markets[pos.symbol].quote
        balance = account.wallets.get(("margin", quote), Decimal(0))
        return pos.to_wire(self.markets[pos.symbol].last_price, balance)

    def flush_wallets(self, account: Account) -> None:
        """Send ``wu`` for every wallet whose balance or available balance changed."""
        for key in account.wallet_keys():
            state = (account.wallets[key], self.available(account, key))
            if account.sent_wallets.get(key) != state:
                account.sent_wallets[key] = state
                self._emit(account.user_id, "wu", wallet_wire(account, key, state[1]))

    def _finish(self, account: Account) -> None:
        self.flush_wallets(account)
        for user_id in sorted(self._had_fill):
            acct = self.account_by_user(user_id)
            self.flush_wallets(acct)
            self._emit(user_id, "bu", self.balance_info(acct))
        self._had_fill.clear()

    # --- order entry ------------------------------------------------------------------------
    def submit(
        self,
        account: Account,
        params: dict[str, Any],
        before_events: Callable[[list[SimOrder]], None] | None = None,
    ) -> list[SimOrder]:
        """Validate and place an order (two for OCO); returns the accepted orders (ACTIVE)."""
        if self.platform_status == 0:
            raise SimReject(20060, "maintenance", params)
        orders = self._build(account, params)
        for order in orders:
            account.orders[order.id] = order
        self.dirty.add(orders[0].symbol)
        if before_events is not None:
            before_events(orders)
        self._activate(account, orders)
        self._finish(account)
        return orders

    def _build(self, account: Account, p: dict[str, Any]) -> list[SimOrder]:
        order_type = p.get("type")
        if order_type not in ORDER_TYPES:
            raise SimReject(10020, "type: invalid", p)
        market = self.market(p.get("symbol"))
        amount = to_decimal(p, "amount", required=True)
        assert amount is not None
        amount = amount.quantize(_Q8, ROUND_HALF_EVEN)
        if amount == 0:
            raise SimReject(10020, "amount: invalid", p)
        pair = f"{market.base}/{market.quote}"
        if abs(amount) < market.spec.min_order_size:
            raise SimReject(
                10001, f"Invalid order: minimum size for {pair} is {market.spec.min_order_size}", p
            )
        if abs(amount) > market.spec.max_order_size:
            raise SimReject(
                10001, f"Invalid order: maximum size for {pair} is {market.spec.max_order_size}", p
            )
        kind = base_kind(order_type)
        price = to_decimal(p, "price", required=kind not in ("MARKET", "TRAILING STOP"))
        if kind in ("MARKET", "TRAILING STOP") or price is None:
            price = price or market.last_price
        if price <= 0:
            raise SimReject(10020, "price: invalid", p)
        aux = to_decimal(p, "price_aux_limit", required=kind == "STOP LIMIT")
        trailing = to_decimal(p, "price_trailing", required=kind == "TRAILING STOP")
        flags = to_int(p, "flags", hi=2**31) or 0
        if flags & ~KNOWN_FLAGS:
            raise SimReject(10020, "flags: invalid", p)
        if not order_type.startswith("EXCHANGE ") and market.spec.initial_margin is None:
            raise SimReject(10001, "This pair cannot be traded on margin.", p)
        meta = p.get("meta") if isinstance(p.get("meta"), dict) else None
        now = self.now()
        first = self._new_order(
            account, p, order_type, market, amount, price, aux, trailing, flags, meta, now
        )
        first.trail_extreme = market.last_price
        orders = [first]
        if flags & OCO:
            stop = to_decimal(p, "price_oco_stop", required=True)
            assert stop is not None
            stop_type = "EXCHANGE STOP" if first.is_exchange else "STOP"
            second = self._new_order(
                account, p, stop_type, market, amount, stop, None, None, flags, meta, now
            )
            second.placed_id, first.oco_sibling, second.oco_sibling = first.id, second.id, first.id
            orders.append(second)
        self._check_funds(account, first, market)
        return orders

    def _new_order(
        self,
        account: Account,
        p: dict[str, Any],
        order_type: str,
        market: Market,
        amount: Decimal,
        price: Decimal,
        aux: Decimal | None,
        trailing: Decimal | None,
        flags: int,
        meta: dict[str, Any] | None,
        now: int,
    ) -> SimOrder:
        self._order_ids += 1
        return SimOrder(
            id=self._order_ids,
            user_id=account.user_id,
            gid=to_int(p, "gid"),
            cid=to_int(p, "cid", lo=1),
            symbol=market.symbol,
            mts_create=now,
            mts_update=now,
            amount=amount,
            amount_orig=amount,
            type=order_type,
            mts_tif=parse_tif(p),
            flags=flags,
            price=price,
            price_trailing=trailing,
            price_aux_limit=aux,
            meta=meta,
        )

    def _check_funds(self, account: Account, order: SimOrder, market: Market) -> None:
        need = abs(order.amount)
        if order.is_exchange:
            if order.is_buy:
                key = ("exchange", market.quote)
                cost = (
                    self._sweep_cost(market, order)
                    if order.kind == "MARKET"
                    else (need * order.rest_price)
                )
            else:
                key, cost = ("exchange", market.base), need
            if cost > self.available(account, key):
                raise SimReject(
                    10001,
                    f"Invalid order: not enough exchange balance for "
                    f"{order.amount} {market.base}{market.quote} at "
                    f"{order.rest_price}",
                    {},
                )
            return
        margin = market.spec.initial_margin or Decimal(1)
        if need * order.rest_price * margin > self.available(account, ("margin", market.quote)):
            raise SimReject(
                10001,
                f"Invalid order: not enough tradable balance for "
                f"{order.amount} {market.base}{market.quote} at "
                f"{order.rest_price}",
                {},
            )

    def _sweep_cost(self, market: Market, order: SimOrder) -> Decimal:
        left, cost = abs(order.amount), Decimal(0)
        for entry in self._opposite(market, order.is_buy, order.user_id):
            qty = min(left, abs(entry.amount))
            cost += qty * entry.price
            left -= qty
            if left == 0:
                break
        return cost

    def _activate(self, account: Account, orders: list[SimOrder]) -> None:
        first = orders[0]
        market = self.markets[first.symbol]
        rejected = self._precheck(account, first, market)
        if rejected is not None:
            for order in orders:
                self._close(account, order, rejected)
            return
        for order in orders:
            self._emit(account.user_id, "on", order.to_wire())
        for order in orders:
            if order.is_open:
                self._on_arrival(account, order, market)

    def _precheck(self, account: Account, order: SimOrder, market: Market) -> str | None:
        if order.flags & POST_ONLY and order.kind == "LIMIT" and self._crosses(market, order):
            return "POSTONLY CANCELED"
        if order.flags & REDUCE_ONLY and not order.is_exchange:
            pos = account.positions.get(order.symbol)
            if pos is None or pos.amount == 0:
                return "RSN_POS_NOTFOUND"
            if (pos.amount > 0) == (order.amount > 0):
                return "RSN_POS_REDUCE_INCR"
            if abs(order.amount) > abs(pos.amount):
                return "RSN_POS_REDUCE_FLIP"
        return None

    def _crosses(self, market: Market, order: SimOrder) -> bool:
        best = next(iter(self._opposite(market, order.is_buy, order.user_id)), None)
        if best is None:
            return False
        return best.price <= order.price if order.is_buy else best.price >= order.price

    def _on_arrival(self, account: Account, order: SimOrder, market: Market) -> None:
        kind = order.kind
        if kind == "MARKET":
            self._take(account, order, None)
            if order.is_open:
                self._close(account, order, "RSN_BOOK_SLIP")
        elif kind == "LIMIT":
            self._take(account, order, order.price)
        elif kind == "IOC":
            self._take(account, order, order.price)
            if order.is_open:
                self._close(account, order, "IOC CANCELED")
        elif kind == "FOK":
            if self._depth(market, order, order.price) >= abs(order.amount):
                self._take(account, order, order.price)
            else:
                self._close(account, order, "FILLORKILL CANCELED")
        elif stop_hit(order, market.last_price, market.last_price):
            self._trigger(account, order)

    def _depth(self, market: Market, order: SimOrder, limit: Decimal) -> Decimal:
        total = Decimal(0)
        for entry in self._opposite(market, order.is_buy, order.user_id):
            if entry.price > limit if order.is_buy else entry.price < limit:
                break
            total += abs(entry.amount)
        return total

    # --- book and matching ------------------------------------------------------------------
    def resting_orders(self, symbol: str) -> list[SimOrder]:
        out = []
        for account in self.accounts.values():
            for order in account.orders.values():
                if order.symbol == symbol and self._is_resting(order):
                    out.append(order)
        return out

    @staticmethod
    def _is_resting(order: SimOrder) -> bool:
        return order.is_open and (
            order.kind == "LIMIT" or (order.kind == "STOP LIMIT" and order.triggered)
        )

    def book_entries(self, symbol: str, *, include_hidden: bool = False) -> list[BookOrder]:
        """Synthetic plus client entries (hidden ones only if asked), unsorted."""
        entries = list(self.markets[symbol].synthetic)
        for order in self.resting_orders(symbol):
            if include_hidden or not order.hidden:
                entries.append(
                    BookOrder(
                        order.id, order.rest_price, order.amount, False, order.hidden, order.user_id
                    )
                )
        return entries

    def _opposite(self, market: Market, buy: bool, exclude_user: int) -> list[BookOrder]:
        entries = [
            e
            for e in self.book_entries(market.symbol, include_hidden=True)
            if (e.amount < 0 if buy else e.amount > 0) and e.user_id != exclude_user
        ]
        entries.sort(key=lambda e: (e.price if buy else -e.price, e.id))
        return entries

    def _take(self, account: Account, order: SimOrder, limit: Decimal | None) -> None:
        market = self.markets[order.symbol]
        sign = 1 if order.is_buy else -1
        for entry in self._opposite(market, order.is_buy, order.user_id):
            if not order.is_open or order.amount == 0:
                break
            if limit is not None and (entry.price > limit if order.is_buy else entry.price < limit):
                break
            qty = min(abs(order.amount), abs(entry.amount))
            public = market.record_trade(self.now(), qty * sign, entry.price)
            for listener in list(self.public_listeners):
                listener(market.symbol, "te", public)
            if entry.synthetic:
                entry.amount += qty * sign
            else:
                maker_acct = self.account_by_user(entry.user_id or 0)
                maker = maker_acct.orders[entry.id]
                self._fill(maker_acct, maker, -qty * sign, entry.price, True, order.id)
            self._fill(account, order, qty * sign, entry.price, False, entry.id)
            for listener in list(self.public_listeners):
                listener(market.symbol, "tu", public)
        market.synthetic = [e for e in market.synthetic if e.amount != 0]
        self.dirty.add(market.symbol)

    def _fill(
        self,
        account: Account,
        order: SimOrder,
        qty: Decimal,
        price: Decimal,
        maker: bool,
        oppo_id: int,
    ) -> None:
        now = self.now()
        market = self.markets[order.symbol]
        order.amount -= qty
        order.fills.append((price, qty))
        order.notional += abs(qty) * price
        order.mts_update = now
        rate = self.config.maker_fee if maker and not order.hidden else self.config.taker_fee
        fee, fee_ccy = self._settle(account, order, market, qty, price, rate, oppo_id)
        self._trade_ids += 1
        trade = AccountTrade(
            id=self._trade_ids,
            symbol=order.symbol,
            mts=now,
            order_id=order.id,
            exec_amount=qty,
            exec_price=price,
            order_type=order.type,
            order_price=order.price,
            maker=1 if maker else -1,
            fee=-fee,
            fee_currency=fee_ccy,
            cid=order.cid,
        )
        account.trades.append(trade)
        wire = account_trade_to_wire(trade)
        self._emit(account.user_id, "te", [*wire[:9], None, None, *wire[11:]])
        if order.amount == 0:
            self._close(account, order, "EXECUTED")
        else:
            self._emit(account.user_id, "ou", order.to_wire())
        self._emit(account.user_id, "tu", wire)
        if not order.is_exchange:
            self._update_position(account, order, market, qty, price, now)
        self.flush_wallets(account)
        self._had_fill.add(account.user_id)
        if order.oco_sibling is not None:
            sibling = account.orders.get(order.oco_sibling)
            if sibling is not None:
                self._close(account, sibling, "CANCELED")
        self.dirty.add(order.symbol)

    def _settle(
        self,
        account: Account,
        order: SimOrder,
        market: Market,
        qty: Decimal,
        price: Decimal,
        rate: Decimal,
        oppo_id: int,
    ) -> tuple[Decimal, str]:
        base, quote = market.base, market.quote
        gross = abs(qty) * price
        if order.is_exchange and qty > 0:
            fee, fee_ccy = _q(qty * rate), base
            self._credit(account, ("exchange", base), qty - fee)
            self._credit(account, ("exchange", quote), -gross)
        elif order.is_exchange:
            fee, fee_ccy = _q(gross * rate), quote
            self._credit(account, ("exchange", base), qty)
            self._credit(account, ("exchange", quote), gross - fee)
        else:
            fee, fee_ccy = _q(gross * rate), quote
            self._credit(account, ("margin", quote), -fee)
        kind = "Exchange" if order.is_exchange else "Trading"
        text = f"{kind} {abs(qty)} {base} for {quote} @ {price}"
        meta = {
            "reason": "TRADE",
            "order_id": order.id,
            "order_id_oppo": oppo_id,
            "trade_price": str(price),
            "trade_amount": str(qty),
            "order_cid": order.cid,
            "order_gid": order.gid,
        }
        wallet_type = "exchange" if order.is_exchange else "margin"
        for ccy in (base, quote):
            if (wallet_type, ccy) in account.wallets:
                account.last_change[(wallet_type, ccy)] = (text, meta)
        return fee, fee_ccy

    @staticmethod
    def _credit(account: Account, key: WalletKey, delta: Decimal) -> None:
        account.wallets[key] = (account.wallets.get(key, Decimal(0)) + delta).normalize()

    def _update_position(
        self,
        account: Account,
        order: SimOrder,
        market: Market,
        qty: Decimal,
        price: Decimal,
        now: int,
    ) -> None:
        pos = account.positions.get(order.symbol)
        abbrev = "pu"
        if pos is None:
            self._position_ids += 1
            pos = PositionState(self._position_ids, order.symbol, Decimal(0), price, now, now)
            account.positions[order.symbol] = pos
            abbrev = "pn"
        old, new = pos.amount, pos.amount + qty
        realized = Decimal(0)
        if old == 0 or (old > 0) == (qty > 0):
            pos.base_price = _q((abs(old) * pos.base_price + abs(qty) * price) / abs(new))
        elif abs(qty) <= abs(old):
            realized = (price - pos.base_price) * -qty
        else:
            realized = (price - pos.base_price) * old
            pos.base_price = price
        if realized:
            self._credit(account, ("margin", market.quote), _q(realized))
        pos.amount, pos.mts_update = new, now
        pos.meta = {
            "reason": "TRADE",
            "order_id": order.id,
            "liq_stage": None,
            "trade_price": str(price),
            "trade_amount": str(qty),
        }
        if new == 0:
            abbrev = "pc"
            del account.positions[order.symbol]
        self._emit(account.user_id, abbrev, self._position_wire(account, pos))

    def _close(self, account: Account, order: SimOrder, terminal: str) -> None:
        if not order.is_open:
            return
        order.terminal = terminal
        order.mts_update = self.now()
        account.orders.pop(order.id, None)
        account.closed.append(order)
        self._emit(account.user_id, "oc", order.to_wire())
        self.dirty.add(order.symbol)
        if order.oco_sibling is not None and terminal != "EXECUTED":
            sibling = account.orders.get(order.oco_sibling)
            if sibling is not None:
                self._close(account, sibling, terminal)

    # --- stops and time (see _replay) ---------------------------------------------------
    def _trigger(self, account: Account, order: SimOrder) -> None:
        order.triggered = True
        if order.oco_sibling is not None:
            sibling = account.orders.get(order.oco_sibling)
            if sibling is not None:
                self._close(account, sibling, "CANCELED")
        if order.kind == "STOP LIMIT":
            self._take(account, order, order.price_aux_limit)
            return
        self._take(account, order, None)
        if order.is_open:
            self._close(account, order, "RSN_BOOK_SLIP")

    def step(self) -> list[tuple[str, Any]]:
        """Advance every market by one candle; returns (symbol, candle) pairs."""
        return replay_step(self)


def _q(value: Decimal) -> Decimal:
    return value.quantize(_Q8, ROUND_HALF_EVEN).normalize()

"""Accounts of the simulator: wallets, reservations, positions and their wire forms."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import attrs

from genesis_exchange_bitfinex._wire import (
    AccountTrade,
    Position,
    Wallet,
    position_to_wire,
    wallet_to_wire,
)

from ._orders import SimOrder
from .config import AccountSpec


USD_LIKE = frozenset({"USD", "TESTUSD", "UST", "USDT", "TESTUSDT"})
WalletKey = tuple[str, str]  # (wallet type, currency)


@attrs.define
class PositionState:
    id: int
    symbol: str
    amount: Decimal
    base_price: Decimal
    mts_create: int
    mts_update: int
    meta: dict[str, Any] | None = None

    def to_wire(self, last_price: Decimal, margin_balance: Decimal) -> list[Any]:
        closed = self.amount == 0
        pl = None if closed else _q((last_price - self.base_price) * self.amount)
        cost = abs(self.amount) * self.base_price
        pl_perc = None if closed or not cost or pl is None else _q(pl / cost * 100, "0.00001")
        lev = None
        if not closed and margin_balance > 0:
            lev = _q(abs(self.amount) * last_price / margin_balance, "0.01")
        return position_to_wire(
            Position(
                symbol=self.symbol,
                status="CLOSED" if closed else "ACTIVE",
                amount=self.amount,
                base_price=self.base_price,
                margin_funding=Decimal(0),
                margin_funding_type=0,
                pl=pl,
                pl_perc=pl_perc,
                price_liq=None,
                leverage=lev,
                position_id=self.id,
                mts_create=self.mts_create,
                mts_update=self.mts_update,
                type=0,
                collateral=Decimal(0),
                collateral_min=Decimal(0),
                meta=self.meta,
            )
        )


@attrs.define
class Account:
    spec: AccountSpec
    wallets: dict[WalletKey, Decimal]
    last_change: dict[WalletKey, tuple[str | None, dict[str, Any] | None]] = attrs.field(
        factory=dict
    )
    orders: dict[int, SimOrder] = attrs.field(factory=dict)  # open orders by id
    closed: list[SimOrder] = attrs.field(factory=list)
    trades: list[AccountTrade] = attrs.field(factory=list)
    positions: dict[str, PositionState] = attrs.field(factory=dict)
    sent_wallets: dict[WalletKey, tuple[Decimal, Decimal]] = attrs.field(factory=dict)
    last_nonce: int = 0

    @property
    def user_id(self) -> int:
        return self.spec.user_id

    def find_open(
        self, order_id: int | None = None, cid: int | None = None, cid_date: str | None = None
    ) -> SimOrder | None:
        if order_id is not None:
            return self.orders.get(order_id)
        for order in self.orders.values():
            if order.cid == cid and order.cid_date == cid_date:
                return order
        return None

    def wallet_keys(self) -> list[WalletKey]:
        return sorted(self.wallets, key=lambda k: ({"exchange": 0, "margin": 1}.get(k[0], 2), k[1]))


def _q(value: Decimal, quantum: str = "0.00000001") -> Decimal:
    return value.quantize(Decimal(quantum), ROUND_HALF_EVEN).normalize()


def reserved(
    account: Account,
    key: WalletKey,
    symbols: dict[str, tuple[str, str]],
    initial_margin: dict[str, Decimal | None],
) -> Decimal:
    """Balance tied up by open orders (exchange) or by positions and orders (margin)."""
    wallet_type, currency = key
    total = Decimal(0)
    for order in account.orders.values():
        sibling = account.orders.get(order.oco_sibling) if order.oco_sibling else None
        if sibling is not None and order.placed_id is not None:
            continue  # an OCO pair reserves once (the limit leg)
        base, quote = symbols[order.symbol]
        remaining = abs(order.amount)
        if wallet_type == "exchange" and order.is_exchange:
            if order.is_buy and currency == quote:
                total += remaining * order.rest_price
            elif not order.is_buy and currency == base:
                total += remaining
        elif wallet_type == "margin" and not order.is_exchange and currency == quote:
            total += remaining * order.rest_price * (initial_margin[order.symbol] or 1)
    if wallet_type == "margin":
        for pos in account.positions.values():
            if symbols[pos.symbol][1] == currency:
                total += abs(pos.amount) * pos.base_price * (initial_margin[pos.symbol] or 1)
    return total


def wallet_wire(account: Account, key: WalletKey, available: Decimal | None) -> list[Any]:
    text, meta = account.last_change.get(key, (None, None))
    return wallet_to_wire(
        Wallet(
            wallet_type=key[0],
            currency=key[1],
            balance=account.wallets[key],
            unsettled_interest=Decimal(0),
            available_balance=available,
            last_change=text,
            last_change_metadata=meta,
        )
    )

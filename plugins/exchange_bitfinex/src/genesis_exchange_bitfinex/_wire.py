"""Pure parsers and serialisers for Bitfinex v2 positional arrays.

Rules from the reference: parse by index, ignore extra trailing items, treat missing trailing
items as null.  A present value of the wrong type raises ``WireFormatError`` naming the record and
the field; nothing here touches the network.  Money values become ``Decimal`` via
``Decimal(str(x))``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs

from ._wire_fields import (
    Spec,
    _parse,
    _to_wire,
    is_sequence_of_arrays,
    parse_many,
    symbol_parts,
)
from ._wire_market import (
    BalanceInfo,
    BookLevel,
    Candle,
    PairInfo,
    PublicTrade,
    RawBookEntry,
    TradingTicker,
    candle_to_wire,
    parse_balance_info,
    parse_book_level,
    parse_candle,
    parse_pair_info,
    parse_public_trade,
    parse_raw_book_entry,
    parse_ticker,
    parse_tickers_row,
    public_trade_to_wire,
    ticker_to_wire,
)
from .errors import WireFormatError


# --- records ----------------------------------------------------------------------------------

_STATES = (
    "INSUFFICIENT BALANCE (G1)",
    "INSUFFICIENT BALANCE (U1)",
    "INSUFFICIENT MARGIN",
    "FILLORKILL CANCELED",
    "POSTONLY CANCELED",
    "PARTIALLY FILLED",
    "FORCED EXECUTED",
    "IOC CANCELED",
    "RSN_POS_REDUCE_INCR",
    "RSN_POS_REDUCE_FLIP",
    "RSN_POS_NOTFOUND",
    "RSN_BOOK_SLIP",
    "RSN_DUST",
    "RSN_PAUSE",
    "EXECUTED",
    "CANCELED",
    "ACTIVE",
)
_TERMINAL_PREFIXES = (
    "EXECUTED",
    "FORCED EXECUTED",
    "CANCELED",
    "RSN_",
    "INSUFFICIENT",
    "POSTONLY",
    "FILLORKILL",
    "IOC CANCELED",
)
_FILL_RE = re.compile(r"@ (-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\((-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\)")


@attrs.frozen
class OrderStatus:
    """Decoded ORDER_STATUS text: leading state plus every ``@ PRICE(AMOUNT)`` found."""

    state: str
    fills: tuple[tuple[Decimal, Decimal], ...]
    raw: str

    @property
    def is_terminal(self) -> bool:
        return any(self.state.startswith(p) for p in _TERMINAL_PREFIXES)


def parse_order_status(text: str) -> OrderStatus:
    """Split ``"EXECUTED @ 916.2(0.78): was PARTIALLY FILLED @ 915.9(0.22)"`` into parts."""
    if not isinstance(text, str):
        raise WireFormatError("ORDER", "order_status", text, "expected a string")
    state = "UNKNOWN"
    for candidate in _STATES:
        if text == candidate or text.startswith((candidate + " ", candidate + ":")):
            state = candidate
            break
    fills = tuple((Decimal(p), Decimal(a)) for p, a in _FILL_RE.findall(text))
    return OrderStatus(state=state, fills=fills, raw=text)


ORDER_LEN = 32
_ORDER_SPEC: Spec = (
    (0, "id", "int", True),
    (1, "gid", "int", False),
    (2, "cid", "int", False),
    (3, "symbol", "str", True),
    (4, "mts_create", "int", False),
    (5, "mts_update", "int", False),
    (6, "amount", "dec", True),
    (7, "amount_orig", "dec", True),
    (8, "order_type", "str", True),
    (9, "type_prev", "str", False),
    (10, "mts_tif", "int", False),
    (12, "flags", "int", False),
    (13, "status", "str", True),
    (16, "price", "dec", False),
    (17, "price_avg", "dec", False),
    (18, "price_trailing", "dec", False),
    (19, "price_aux_limit", "dec", False),
    (23, "notify", "int", False),
    (24, "hidden", "int", False),
    (25, "placed_id", "int", False),
    (28, "routing", "str", False),
    (31, "meta", "obj", False),
)


@attrs.frozen
class Order:
    """ORDER array (§2.7.1). ``amount`` is the signed remaining amount."""

    id: int | None
    gid: int | None
    cid: int | None
    symbol: str | None
    mts_create: int | None
    mts_update: int | None
    amount: Decimal | None
    amount_orig: Decimal | None
    order_type: str | None
    type_prev: str | None
    mts_tif: int | None
    flags: int | None
    status: str | None
    price: Decimal | None
    price_avg: Decimal | None
    price_trailing: Decimal | None
    price_aux_limit: Decimal | None
    notify: int | None
    hidden: int | None
    placed_id: int | None
    routing: str | None
    meta: Any

    @property
    def parsed_status(self) -> OrderStatus:
        return parse_order_status(self.status or "")

    @property
    def is_terminal(self) -> bool:
        return self.status is not None and self.parsed_status.is_terminal

    @property
    def executed_amount(self) -> Decimal:
        if self.amount is None or self.amount_orig is None:
            return Decimal(0)
        return self.amount_orig - self.amount


def parse_order(arr: Any, *, strict: bool = True) -> Order:
    """Parse an ORDER array; ``strict=False`` accepts the sparse arrays of notifications."""
    return _parse(Order, "ORDER", arr, _ORDER_SPEC, strict=strict)


def order_to_wire(order: Order) -> list[Any]:
    return _to_wire(order, _ORDER_SPEC, ORDER_LEN)


_WALLET_SPEC: Spec = (
    (0, "wallet_type", "str", True),
    (1, "currency", "str", True),
    (2, "balance", "dec", True),
    (3, "unsettled_interest", "dec", False),
    (4, "available_balance", "dec", False),
    (5, "last_change", "str", False),
    (6, "last_change_metadata", "obj", False),
)


@attrs.frozen
class Wallet:
    """WALLET array (§2.7.4); ``available_balance`` may be None in WS snapshots."""

    wallet_type: str
    currency: str
    balance: Decimal
    unsettled_interest: Decimal | None
    available_balance: Decimal | None
    last_change: str | None
    last_change_metadata: Any


def parse_wallet(arr: Any) -> Wallet:
    return _parse(Wallet, "WALLET", arr, _WALLET_SPEC)


def wallet_to_wire(wallet: Wallet) -> list[Any]:
    return _to_wire(wallet, _WALLET_SPEC, 7)


_POSITION_SPEC: Spec = (
    (0, "symbol", "str", True),
    (1, "status", "str", True),
    (2, "amount", "dec", True),
    (3, "base_price", "dec", False),
    (4, "margin_funding", "dec", False),
    (5, "margin_funding_type", "int", False),
    (6, "pl", "dec", False),
    (7, "pl_perc", "dec", False),
    (8, "price_liq", "dec", False),
    (9, "leverage", "dec", False),
    (11, "position_id", "int", False),
    (12, "mts_create", "int", False),
    (13, "mts_update", "int", False),
    (15, "type", "int", False),
    (17, "collateral", "dec", False),
    (18, "collateral_min", "dec", False),
    (19, "meta", "obj", False),
)


@attrs.frozen
class Position:
    """POSITION array (§2.7.5); amount > 0 long, < 0 short."""

    symbol: str
    status: str
    amount: Decimal
    base_price: Decimal | None
    margin_funding: Decimal | None
    margin_funding_type: int | None
    pl: Decimal | None
    pl_perc: Decimal | None
    price_liq: Decimal | None
    leverage: Decimal | None
    position_id: int | None
    mts_create: int | None
    mts_update: int | None
    type: int | None
    collateral: Decimal | None
    collateral_min: Decimal | None
    meta: Any


def parse_position(arr: Any) -> Position:
    return _parse(Position, "POSITION", arr, _POSITION_SPEC)


def position_to_wire(position: Position) -> list[Any]:
    return _to_wire(position, _POSITION_SPEC, 20)


_TRADE_SPEC: Spec = (
    (0, "id", "int", True),
    (1, "symbol", "str", True),
    (2, "mts", "int", True),
    (3, "order_id", "int", True),
    (4, "exec_amount", "dec", True),
    (5, "exec_price", "dec", True),
    (6, "order_type", "str", False),
    (7, "order_price", "dec", False),
    (8, "maker", "int", False),
    (9, "fee", "dec", False),
    (10, "fee_currency", "str", False),
    (11, "cid", "int", False),
)


@attrs.frozen
class AccountTrade:
    """TRADE / ORDER_TRADE array (§2.7.7-8); fee is None in WS ``te``."""

    id: int
    symbol: str
    mts: int
    order_id: int
    exec_amount: Decimal
    exec_price: Decimal
    order_type: str | None
    order_price: Decimal | None
    maker: int | None
    fee: Decimal | None
    fee_currency: str | None
    cid: int | None


def parse_account_trade(arr: Any) -> AccountTrade:
    return _parse(AccountTrade, "TRADE", arr, _TRADE_SPEC)


def account_trade_to_wire(trade: AccountTrade) -> list[Any]:
    return _to_wire(trade, _TRADE_SPEC, 12)


_NOTIFICATION_SPEC: Spec = (
    (0, "mts", "dec", False),
    (1, "type", "str", True),
    (2, "message_id", "any", False),
    (4, "data", "any", False),
    (5, "code", "any", False),
    (6, "status", "str", False),
    (7, "text", "str", False),
)


@attrs.frozen
class Notification:
    """NOTIFICATION array (§2.7.6). ``mts`` is kept as sent (seconds or ms, int or float)."""

    mts: Decimal | None
    type: str
    message_id: Any
    data: Any
    code: Any
    status: str | None
    text: str | None

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESS"

    def orders(self) -> list[Order]:
        """ORDER payloads (flat or nested) decoded leniently; [] for non-order payloads."""
        data = self.data
        if not isinstance(data, list) or not data:
            return []
        if all(isinstance(item, list) for item in data):
            return [parse_order(item, strict=False) for item in data]
        return [parse_order(data, strict=False)]


def parse_notification(arr: Any) -> Notification:
    return _parse(Notification, "NOTIFICATION", arr, _NOTIFICATION_SPEC)


def notification_to_wire(note: Notification) -> list[Any]:
    return _to_wire(note, _NOTIFICATION_SPEC, 8)


__all__: Sequence[str] = (
    "AccountTrade",
    "BalanceInfo",
    "BookLevel",
    "Candle",
    "Notification",
    "Order",
    "OrderStatus",
    "PairInfo",
    "Position",
    "PublicTrade",
    "RawBookEntry",
    "TradingTicker",
    "Wallet",
    "account_trade_to_wire",
    "candle_to_wire",
    "is_sequence_of_arrays",
    "notification_to_wire",
    "order_to_wire",
    "parse_account_trade",
    "parse_balance_info",
    "parse_book_level",
    "parse_candle",
    "parse_many",
    "parse_notification",
    "parse_order",
    "parse_order_status",
    "parse_pair_info",
    "parse_position",
    "parse_public_trade",
    "parse_raw_book_entry",
    "parse_ticker",
    "parse_tickers_row",
    "parse_wallet",
    "position_to_wire",
    "public_trade_to_wire",
    "symbol_parts",
    "ticker_to_wire",
    "wallet_to_wire",
)

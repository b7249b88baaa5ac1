"""Market-data records: candles, tickers, public trades, book rows, pair config, balance."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from ._wire_fields import Spec, _dec, _parse, _str, _to_wire
from .errors import WireFormatError


_CANDLE_SPEC: Spec = (
    (0, "mts", "int", True),
    (1, "open", "dec", True),
    (2, "close", "dec", True),
    (3, "high", "dec", True),
    (4, "low", "dec", True),
    (5, "volume", "dec", True),
)


@attrs.frozen
class Candle:
    """Candle in wire order MTS, OPEN, CLOSE, HIGH, LOW, VOLUME (not OHLC)."""

    mts: int
    open: Decimal
    close: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal


def parse_candle(arr: Any) -> Candle:
    return _parse(Candle, "CANDLE", arr, _CANDLE_SPEC)


def candle_to_wire(candle: Candle) -> list[Any]:
    return _to_wire(candle, _CANDLE_SPEC, 6)


_TICKER_SPEC: Spec = (
    (0, "bid", "dec", True),
    (1, "bid_size", "dec", True),
    (2, "ask", "dec", True),
    (3, "ask_size", "dec", True),
    (4, "daily_change", "dec", True),
    (5, "daily_change_relative", "dec", True),
    (6, "last_price", "dec", True),
    (7, "volume", "dec", True),
    (8, "high", "dec", True),
    (9, "low", "dec", True),
)


@attrs.frozen
class TradingTicker:
    """Trading-pair ticker (10 fields); ``symbol`` is set for rows of ``tickers``."""

    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal
    daily_change: Decimal
    daily_change_relative: Decimal
    last_price: Decimal
    volume: Decimal
    high: Decimal
    low: Decimal
    symbol: str | None = None


def parse_ticker(arr: Any, symbol: str | None = None) -> TradingTicker:
    ticker = _parse(TradingTicker, "TICKER", arr, _TICKER_SPEC)
    return attrs.evolve(ticker, symbol=symbol) if symbol is not None else ticker


def parse_tickers_row(arr: Any) -> TradingTicker:
    """Row of ``GET tickers``: the symbol followed by the 10 ticker fields."""
    if not isinstance(arr, list) or not arr:
        raise WireFormatError("TICKER", "<array>", arr, "expected a non-empty JSON array")
    return parse_ticker(arr[1:], _str("TICKER", "symbol", arr[0]))


def ticker_to_wire(ticker: TradingTicker) -> list[Any]:
    return _to_wire(ticker, _TICKER_SPEC, 10)


_PUBLIC_TRADE_SPEC: Spec = (
    (0, "id", "int", True),
    (1, "mts", "int", True),
    (2, "amount", "dec", True),
    (3, "price", "dec", True),
)


@attrs.frozen
class PublicTrade:
    """Public trade ``[ID, MTS, AMOUNT, PRICE]``; amount > 0 means the taker bought."""

    id: int
    mts: int
    amount: Decimal
    price: Decimal


def parse_public_trade(arr: Any) -> PublicTrade:
    return _parse(PublicTrade, "PUBLIC_TRADE", arr, _PUBLIC_TRADE_SPEC)


def public_trade_to_wire(trade: PublicTrade) -> list[Any]:
    return _to_wire(trade, _PUBLIC_TRADE_SPEC, 4)


_BOOK_SPEC: Spec = (
    (0, "price", "dec", True),
    (1, "count", "int", True),
    (2, "amount", "dec", True),
)
_RAW_BOOK_SPEC: Spec = (
    (0, "order_id", "int", True),
    (1, "price", "dec", True),
    (2, "amount", "dec", True),
)


@attrs.frozen
class BookLevel:
    """Aggregated book row ``[PRICE, COUNT, AMOUNT]``; amount > 0 bid, < 0 ask."""

    price: Decimal
    count: int
    amount: Decimal


@attrs.frozen
class RawBookEntry:
    """Raw (R0) book row ``[ORDER_ID, PRICE, AMOUNT]``; price 0 deletes the order."""

    order_id: int
    price: Decimal
    amount: Decimal


def parse_book_level(arr: Any) -> BookLevel:
    return _parse(BookLevel, "BOOK", arr, _BOOK_SPEC)


def parse_raw_book_entry(arr: Any) -> RawBookEntry:
    return _parse(RawBookEntry, "RAW_BOOK", arr, _RAW_BOOK_SPEC)


@attrs.frozen
class BalanceInfo:
    """``bu`` payload ``[AUM, AUM_NET]``."""

    aum: Decimal
    aum_net: Decimal


def parse_balance_info(arr: Any) -> BalanceInfo:
    return _parse(
        BalanceInfo, "BALANCE_INFO", arr, ((0, "aum", "dec", True), (1, "aum_net", "dec", True))
    )


@attrs.frozen
class PairInfo:
    """Element of ``conf/pub:info:pair``: sizes are strings on the wire."""

    pair: str
    min_order_size: Decimal | None
    max_order_size: Decimal | None
    initial_margin: Decimal | None
    min_margin: Decimal | None


def parse_pair_info(arr: Any) -> PairInfo:
    if not isinstance(arr, list) or len(arr) < 2 or not isinstance(arr[1], list):
        raise WireFormatError("PAIR_INFO", "<array>", arr, "expected [PAIR, [INFO...]]")
    info = arr[1]

    def at(i: int, name: str) -> Decimal | None:
        return None if i >= len(info) or info[i] is None else _dec("PAIR_INFO", name, info[i])

    return PairInfo(
        pair=_str("PAIR_INFO", "pair", arr[0]),
        min_order_size=at(3, "min_order_size"),
        max_order_size=at(4, "max_order_size"),
        initial_margin=at(8, "initial_margin"),
        min_margin=at(9, "min_margin"),
    )

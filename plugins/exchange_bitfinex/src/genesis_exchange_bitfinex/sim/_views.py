"""Public market views shared by the REST routes and the WS channels."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from genesis_exchange_bitfinex._book import book_checksum
from genesis_exchange_bitfinex._jsonnum import js_number
from genesis_exchange_bitfinex._wire import ticker_to_wire

from ._engine import Exchange
from ._market import round_sig


PRECISIONS = {"P0": 5, "P1": 4, "P2": 3, "P3": 2, "P4": 1, "R0": 0}
BOOK_LENGTHS = (1, 25, 100, 250)


def book_rows(ex: Exchange, symbol: str, prec: str, length: int) -> list[list[Any]]:
    """Rows as the wire shows them: bids best first, then asks best first."""
    entries = ex.book_entries(symbol)
    if prec == "R0":
        bids = sorted((e for e in entries if e.amount > 0), key=lambda e: (-e.price, e.id))
        asks = sorted((e for e in entries if e.amount < 0), key=lambda e: (e.price, e.id))
        return [[e.id, e.price, e.amount] for e in bids[:length] + asks[:length]]
    digits = PRECISIONS[prec]
    levels: dict[tuple[bool, Decimal], list[Any]] = {}
    for e in entries:
        key = (e.amount > 0, round_sig(e.price, digits))
        row = levels.setdefault(key, [key[1], 0, Decimal(0)])
        row[1] += 1
        row[2] += e.amount
    bids = sorted((r for (bid, _), r in levels.items() if bid), key=lambda r: -r[0])
    asks = sorted((r for (bid, _), r in levels.items() if not bid), key=lambda r: r[0])
    return [[r[0].normalize(), r[1], r[2].normalize()] for r in bids[:length] + asks[:length]]


def rows_checksum(rows: list[list[Any]], raw: bool) -> int:
    """Checksum of a book view, from the same number text the frames carry."""
    bids = [r for r in rows if r[2] > 0]
    asks = [r for r in rows if r[2] < 0]

    def piece(r: list[Any]) -> tuple[str, str]:
        return js_number(r[0]), js_number(r[2])

    del raw  # R0 rows already carry the order id in slot 0
    return book_checksum([piece(r) for r in bids], [piece(r) for r in asks])


def ticker_row(ex: Exchange, symbol: str) -> list[Any]:
    market = ex.markets[symbol]
    rows = book_rows(ex, symbol, "R0", 10_000)
    bids = [r for r in rows if r[2] > 0]
    asks = [r for r in rows if r[2] < 0]
    from ._market import BookOrder

    ticker = market.ticker(
        [BookOrder(r[0], r[1], r[2], True) for r in bids],
        [BookOrder(r[0], r[1], r[2], True) for r in asks],
    )
    return ticker_to_wire(ticker)

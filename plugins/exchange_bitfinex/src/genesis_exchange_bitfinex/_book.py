"""Local order book kept from ``book`` channel frames, with the Bitfinex CRC32 checksum.

Checksums are computed from the *exact number text* seen on the wire (§3.6.3), so rows are fed
in as strings (decode book frames with ``_jsonnum.loads_raw_numbers``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs

from .errors import WireFormatError


def checksum_string(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> str:
    """Interleave the first 25 bids and asks as ``bid:amt:ask:amt...`` (asks keep their sign)."""
    out: list[str] = []
    for i in range(25):
        if i < len(bids):
            out.extend(bids[i])
        if i < len(asks):
            out.extend(asks[i])
    return ":".join(out)


def crc32_signed(text: str) -> int:
    value = zlib.crc32(text.encode())
    return value - 2**32 if value >= 2**31 else value


def book_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """Signed CRC32 of the checksum string; entries are (price-or-id text, amount text)."""
    return crc32_signed(checksum_string(bids, asks))


@attrs.define
class _Entry:
    key_text: str  # price text (P*) or order id text (R0)
    price: Decimal
    amount: Decimal
    amount_text: str
    count: int
    order_id: int | None


class LocalBook:
    """Aggregated (P0-P4) or raw (R0) book rebuilt from a snapshot plus updates."""

    def __init__(self, raw: bool = False) -> None:
        self.raw = raw
        self._bids: dict[Any, _Entry] = {}
        self._asks: dict[Any, _Entry] = {}

    def apply_snapshot(self, rows: Sequence[Sequence[Any]]) -> None:
        self._bids.clear()
        self._asks.clear()
        for row in rows:
            self.apply_update(row)

    def apply_update(self, row: Sequence[Any]) -> None:
        """Apply one ``[PRICE, COUNT, AMOUNT]`` / ``[ORDER_ID, PRICE, AMOUNT]`` row."""
        if not isinstance(row, list | tuple) or len(row) < 3:
            raise WireFormatError("BOOK", "<array>", row, "expected a 3-element book row")
        if self.raw:
            self._apply_raw(row)
        else:
            self._apply_level(row)

    def _apply_level(self, row: Sequence[Any]) -> None:
        price_t, count_t, amount_t = (str(x) for x in row[:3])
        price, count, amount = (
            _dec("price", price_t),
            int(_dec("count", count_t)),
            _dec("amount", amount_t),
        )
        side = self._bids if amount > 0 else self._asks
        if count == 0:
            side.pop(price, None)
            return
        side[price] = _Entry(price_t, price, amount, amount_t, count, None)

    def _apply_raw(self, row: Sequence[Any]) -> None:
        id_t, price_t, amount_t = (str(x) for x in row[:3])
        order_id, price, amount = (
            int(_dec("order_id", id_t)),
            _dec("price", price_t),
            _dec("amount", amount_t),
        )
        if price == 0:
            (self._bids if amount > 0 else self._asks).pop(order_id, None)
            return
        # An order may move sides only by being deleted first, but be forgiving.
        self._bids.pop(order_id, None)
        self._asks.pop(order_id, None)
        side = self._bids if amount > 0 else self._asks
        side[order_id] = _Entry(id_t, price, amount, amount_t, 1, order_id)

    def _sorted(self, bids: bool) -> list[_Entry]:
        entries = list((self._bids if bids else self._asks).values())
        if self.raw:
            entries.sort(key=lambda e: (-e.price if bids else e.price, e.order_id))
        else:
            entries.sort(key=lambda e: -e.price if bids else e.price)
        return entries

    def bids(self) -> list[tuple[Decimal, Decimal, int]]:
        """(price, amount, count or order id) best first."""
        return [(e.price, e.amount, e.order_id or e.count) for e in self._sorted(True)]

    def asks(self) -> list[tuple[Decimal, Decimal, int]]:
        return [(e.price, e.amount, e.order_id or e.count) for e in self._sorted(False)]

    def truncate(self, length: int) -> None:
        """Keep only the best ``length`` entries per side (the server does the same)."""
        for bids, side in ((True, self._bids), (False, self._asks)):
            keep = self._sorted(bids)[:length]
            side.clear()
            for entry in keep:
                side[entry.order_id if self.raw else entry.price] = entry

    def checksum(self) -> int:
        bids = [(e.key_text, e.amount_text) for e in self._sorted(True)[:25]]
        asks = [(e.key_text, e.amount_text) for e in self._sorted(False)[:25]]
        return book_checksum(bids, asks)


def _dec(field: str, text: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        raise WireFormatError("BOOK", field, text, "expected a number") from None

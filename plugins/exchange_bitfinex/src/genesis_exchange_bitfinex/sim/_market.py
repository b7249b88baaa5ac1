"""Replayed market data: candles from a CSV, derived public trades, ticker and a synthetic book.

Time model: the CSV is replayed in a loop.  Global candle index ``k`` maps to CSV row
``k % n`` and its timestamp is shifted by ``(k // n) * period + offset_ms`` so time never goes
backwards.  Only candles ``0..cursor`` are "in the past" and visible to clients.
"""

from __future__ import annotations

import bisect
import csv
import random
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import attrs

from genesis_core import DataError
from genesis_exchange_bitfinex._wire import Candle, PublicTrade, TradingTicker, symbol_parts


TIMEFRAMES_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "3h": 10_800_000,
    "6h": 21_600_000,
    "12h": 43_200_000,
    "1D": 86_400_000,
    "1W": 604_800_000,
    "7D": 604_800_000,
    "14D": 1_209_600_000,
    "1M": -1,
}
_WEEK_ALIGN_MS = 4 * 86_400_000  # 1970-01-01 was a Thursday; weeks start on Monday
_Q8 = Decimal("0.00000001")


def load_csv(path: str | Path) -> list[Candle]:
    """Read ``timestamp_ms,open,high,low,close,volume`` rows (ascending) into wire candles.

    A user's file: any problem is a one-line :class:`DataError` naming the file (and line).
    """
    candles: list[Candle] = []
    line = 1
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for line, row in enumerate(reader, start=2):  # noqa: B007 - the error names it
                candles.append(
                    Candle(
                        mts=int(row["timestamp_ms"]),
                        open=Decimal(row["open"]),
                        close=Decimal(row["close"]),
                        high=Decimal(row["high"]),
                        low=Decimal(row["low"]),
                        volume=Decimal(row["volume"]),
                    )
                )
    except OSError as exc:
        raise DataError(f"{path}: cannot read simulator candles: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except (KeyError, TypeError, ValueError, ArithmeticError):
        raise DataError(f"{path}:{line}: expected the columns timestamp_ms,open,high,low,"
                        "close,volume with numbers") from None
    if len(candles) < 2:
        raise DataError(f"{path}: need at least two candles")
    candles.sort(key=lambda c: c.mts)
    return candles


def price_tick(price: Decimal) -> Decimal:
    """Smallest step keeping 5 significant digits (Bitfinex price precision)."""
    if price <= 0:
        return Decimal("0.00000001")
    exponent = price.adjusted() - 4
    return max(Decimal(1).scaleb(exponent), _Q8)


def round_sig(price: Decimal, digits: int) -> Decimal:
    if price == 0:
        return price
    quantum = Decimal(1).scaleb(price.adjusted() - digits + 1)
    return price.quantize(quantum).normalize()


@attrs.define
class BookOrder:
    """One resting entry of the simulated book (synthetic liquidity or a client order)."""

    id: int
    price: Decimal
    amount: Decimal  # signed: > 0 bid, < 0 ask
    synthetic: bool
    hidden: bool = False
    user_id: int | None = None


@attrs.frozen
class MarketSpec:
    """Static configuration of one simulated trading pair."""

    symbol: str
    csv_path: str
    min_order_size: Decimal = Decimal("0.00004")
    max_order_size: Decimal = Decimal("2000")
    initial_margin: Decimal | None = Decimal("0.2")
    min_margin: Decimal | None = Decimal("0.1")


class Market:
    """Replay state of one symbol."""

    def __init__(
        self,
        spec: MarketSpec,
        *,
        rng: random.Random,
        warmup: int,
        offset_ms: int,
        book_depth: int,
        level_amount: Decimal,
        spread_ticks: int,
        next_book_id: list[int],
        next_trade_id: list[int],
    ) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.base, self.quote = symbol_parts(spec.symbol)
        self.rows = load_csv(spec.csv_path)
        self.tf_ms = min(b.mts - a.mts for a, b in zip(self.rows, self.rows[1:], strict=False))
        self.period_ms = self.rows[-1].mts - self.rows[0].mts + self.tf_ms
        self.offset_ms = offset_ms
        self.cursor = min(max(warmup, 0), len(self.rows) - 1)
        self._rng = rng
        self._book_depth = book_depth
        self._level_amount = level_amount
        self._spread_ticks = spread_ticks
        self._book_ids = next_book_id
        self._trade_ids = next_trade_id
        self.trades: deque[PublicTrade] = deque(maxlen=10_000)
        self.synthetic: list[BookOrder] = []
        self.last_price = self.candle(self.cursor).close
        self.rebuild_book()

    # --- candles --------------------------------------------------------------------------
    def candle(self, k: int) -> Candle:
        n = len(self.rows)
        row = self.rows[k % n]
        return attrs.evolve(row, mts=row.mts + (k // n) * self.period_ms + self.offset_ms)

    def visible_candles(self, start: int | None = None, end: int | None = None) -> list[Candle]:
        """Base-timeframe candles with ``start <= mts <= end`` up to the cursor, ascending."""
        first = self.candle(0).mts
        lo = 0
        if start is not None and start > first:
            # Rows may have gaps (no candle without trades): locate start by bisection within
            # its replay loop instead of assuming one row per timeframe step.
            loop = (start - first) // self.period_ms
            offset = start - loop * self.period_ms - self.offset_ms
            index = bisect.bisect_left([r.mts for r in self.rows], offset)
            lo = max(0, loop * len(self.rows) + index - 1)
        out = []
        for k in range(lo, self.cursor + 1):
            c = self.candle(k)
            if start is not None and c.mts < start:
                continue
            if end is not None and c.mts > end:
                break
            out.append(c)
        return out

    def candles(self, tf: str, start: int | None = None, end: int | None = None) -> list[Candle]:
        """Candles of timeframe ``tf`` (aggregated from the CSV's timeframe), ascending."""
        tf_ms = TIMEFRAMES_MS[tf]
        if tf_ms == self.tf_ms:
            return self.visible_candles(start, end)
        if 0 < tf_ms < self.tf_ms or (tf_ms > 0 and tf_ms % self.tf_ms):
            raise ValueError(f"timeframe {tf} is not a multiple of the data's {self.tf_ms} ms")
        widen = None if start is None else start - (tf_ms if tf_ms > 0 else 31 * 86_400_000)
        groups: dict[int, list[Candle]] = {}
        for c in self.visible_candles(widen, end):
            groups.setdefault(_bucket(c.mts, tf_ms), []).append(c)
        out = [_merge(mts, rows) for mts, rows in sorted(groups.items())]
        return [
            c for c in out if (start is None or c.mts >= start) and (end is None or c.mts <= end)
        ]

    # --- stepping -------------------------------------------------------------------------
    def advance(self) -> tuple[Candle, list[PublicTrade]]:
        """Move to the next candle; returns it and the public trades it implies."""
        self.cursor += 1
        candle = self.candle(self.cursor)
        trades = self._trades_for(candle)
        self.trades.extend(trades)
        self.last_price = candle.close
        return candle, trades

    def _trades_for(self, c: Candle) -> list[PublicTrade]:
        if c.volume <= 0:
            return []
        path = (
            [c.open, c.low, c.high, c.close]
            if c.close >= c.open
            else [c.open, c.high, c.low, c.close]
        )
        share = (c.volume / 4).quantize(_Q8, rounding=ROUND_DOWN)
        amounts = [share, share, share, c.volume - 3 * share]
        trades: list[PublicTrade] = []
        prev = self.last_price
        for i, (price, qty) in enumerate(zip(path, amounts, strict=True)):
            if qty <= 0:
                continue
            sign = 1 if price >= prev else -1
            prev = price
            trades.append(
                PublicTrade(self._next_trade_id(), c.mts + i * self.tf_ms // 4, qty * sign, price)
            )
        return trades

    def record_trade(self, mts: int, amount: Decimal, price: Decimal) -> PublicTrade:
        trade = PublicTrade(self._next_trade_id(), mts, amount, price)
        self.trades.append(trade)
        self.last_price = price
        return trade

    def _next_trade_id(self) -> int:
        self._trade_ids[0] += 1
        return self._trade_ids[0]

    # --- synthetic liquidity --------------------------------------------------------------
    def rebuild_book(self, client_orders: Iterable[BookOrder] = ()) -> None:
        """Fresh synthetic levels around the last price, never crossing resting client orders."""
        clients = list(client_orders)
        best_client_bid = max((o.price for o in clients if o.amount > 0), default=None)
        best_client_ask = min((o.price for o in clients if o.amount < 0), default=None)
        tick = price_tick(self.last_price)
        best_bid = (self.last_price / tick).to_integral_value(rounding=ROUND_DOWN) * tick
        best_ask = best_bid + tick * self._spread_ticks
        self.synthetic = []
        for i in range(self._book_depth):
            for side, price in ((1, best_bid - i * tick), (-1, best_ask + i * tick)):
                if price <= 0:
                    continue
                if side > 0 and best_client_ask is not None and price >= best_client_ask:
                    continue
                if side < 0 and best_client_bid is not None and price <= best_client_bid:
                    continue
                for _ in range(self._rng.randint(1, 3)):
                    scale = Decimal(self._rng.randint(50, 150)) / 100
                    qty = (self._level_amount * scale).quantize(Decimal("0.0001"))
                    self._book_ids[0] += 1
                    self.synthetic.append(
                        BookOrder(self._book_ids[0], price.normalize(), qty * side, True)
                    )

    def ticker(self, bids: list[BookOrder], asks: list[BookOrder]) -> TradingTicker:
        """10-field ticker from the book and the last 24 h of candles."""
        per_day = max(1, 86_400_000 // self.tf_ms)
        window = [self.candle(k) for k in range(max(0, self.cursor - per_day + 1), self.cursor + 1)]
        ref = self.candle(max(0, self.cursor - per_day)).close
        change = self.last_price - ref
        relative = (change / ref).quantize(Decimal("0.00001")) if ref else Decimal(0)
        return TradingTicker(
            bid=bids[0].price if bids else self.last_price,
            bid_size=_level_sum(bids),
            ask=asks[0].price if asks else self.last_price,
            ask_size=_level_sum(asks),
            daily_change=change,
            daily_change_relative=relative,
            last_price=self.last_price,
            volume=sum((c.volume for c in window), Decimal(0)),
            high=max(c.high for c in window),
            low=min(c.low for c in window),
        )

    def trades_between(self, start: int | None, end: int | None) -> list[PublicTrade]:
        rows = list(self.trades)
        mts = [t.mts for t in rows]
        lo = 0 if start is None else bisect.bisect_left(mts, start)
        hi = len(rows) if end is None else bisect.bisect_right(mts, end)
        return rows[lo:hi]


def _level_sum(entries: list[BookOrder]) -> Decimal:
    prices: list[Decimal] = []
    total = Decimal(0)
    for e in entries:
        if e.price not in prices:
            if len(prices) == 25:
                break
            prices.append(e.price)
        total += abs(e.amount)
    return total


def _bucket(mts: int, tf_ms: int) -> int:
    if tf_ms == -1:  # calendar month
        d = datetime.fromtimestamp(mts / 1000, UTC)
        return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)
    if tf_ms >= 604_800_000:
        return (mts - _WEEK_ALIGN_MS) // tf_ms * tf_ms + _WEEK_ALIGN_MS
    return mts // tf_ms * tf_ms


def _merge(mts: int, rows: list[Candle]) -> Candle:
    return Candle(
        mts=mts,
        open=rows[0].open,
        close=rows[-1].close,
        high=max(r.high for r in rows),
        low=min(r.low for r in rows),
        volume=sum((r.volume for r in rows), Decimal(0)),
    )

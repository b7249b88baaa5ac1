"""The bot's own books: cash, positions, marks, daily and peak equity, recent returns.

Built from fills (exact Decimal) and marks (candle closes), the same way whatever the executor,
so every risk policy sees the same portfolio in paper, live and backtest.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import attrs

from genesis_core.models import Fill, OrderSide, PortfolioSnapshot, Position


DAY_MS = 86_400_000
RETURNS_KEPT = 200


class Ledger:
    def __init__(self, cash: Decimal, quote: str = "USD") -> None:
        self.initial_cash = cash
        self.cash = cash
        self.quote = quote
        self.positions: dict[str, Position] = {}
        self.marks: dict[str, Decimal] = {}
        self.fees = Decimal(0)
        self.peak = cash
        self.day_start = cash
        self._day = -1
        self._closes: dict[str, deque[float]] = {}

    def apply(self, fill: Fill) -> Position:
        position = self.positions.get(fill.symbol, Position(fill.symbol))
        if fill.fee_currency == self.quote:
            self.cash -= fill.side.sign * fill.notional + fill.fee
            self.fees += fill.fee
            position = position.apply(fill)
        else:
            # A fee charged in the base currency (Bitfinex buys) shrinks the holding: book it as
            # a fee-free disposal of that amount at the fill price; its quote value is a fee.
            self.cash -= fill.side.sign * fill.notional
            position = position.apply(attrs.evolve(fill, fee=Decimal(0)))
            if fill.fee > 0:
                disposal = attrs.evolve(fill, fill_id=f"{fill.fill_id}:fee", side=OrderSide.SELL,
                                        amount=fill.fee, fee=Decimal(0))
                position = attrs.evolve(position.apply(disposal),
                                        fees=position.fees + fill.fee * fill.price)
            self.fees += fill.fee * fill.price
        self.positions[fill.symbol] = position
        return position

    def mark(self, symbol: str, close: float, at_ms: int) -> None:
        self.marks[symbol] = Decimal(repr(close))
        closes = self._closes.setdefault(symbol, deque(maxlen=RETURNS_KEPT + 1))
        closes.append(close)
        day = at_ms // DAY_MS
        equity = self.equity()
        if day != self._day:
            self._day, self.day_start = day, equity
        self.peak = max(self.peak, equity)

    @property
    def day(self) -> int:
        """The UTC day (ms // DAY_MS) of the last mark; -1 before the first."""
        return self._day

    def restore_day(self, peak: Decimal, day_start: Decimal, day: int) -> None:
        """Take back the peak and start-of-day equity of a checkpoint (marks replayed while
        resuming move them as if the positions had been held at those old prices)."""
        self.peak, self.day_start, self._day = peak, day_start, day

    def equity(self) -> Decimal:
        value = self.cash
        for symbol, position in self.positions.items():
            if position.is_open:
                value += position.amount * self.marks.get(symbol, position.entry_price or 0)
        return value

    def realized(self) -> Decimal:
        return sum((p.realized_pnl for p in self.positions.values()), Decimal(0))

    def unrealized(self) -> Decimal:
        return sum((p.unrealized_pnl(self.marks[s]) for s, p in self.positions.items()
                    if p.is_open and s in self.marks), Decimal(0))

    def snapshot(self, at_ms: int, open_orders: int) -> PortfolioSnapshot:
        returns = {s: tuple(b / a - 1 for a, b in zip(list(c)[:-1], list(c)[1:], strict=True))
                   for s, c in self._closes.items()}
        return PortfolioSnapshot(
            timestamp=at_ms, cash=self.cash, equity=self.equity(),
            positions=dict(self.positions), prices=dict(self.marks), open_orders=open_orders,
            day_start_equity=self.day_start, peak_equity=self.peak, quote_currency=self.quote,
            returns=returns)

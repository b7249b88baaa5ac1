"""Positions and balances, with exact FIFO accounting in ``Decimal``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from genesis_core.models.orders import Fill


@attrs.frozen
class Lot:
    """An open slice of a position: signed amount entered at one price."""

    amount: Decimal
    price: Decimal


@attrs.frozen
class Position:
    """A position in one symbol, as FIFO lots.

    Lots are kept instead of an average price because averaging divides, and a division can
    round; with lots every realised PnL figure is a sum of products and reconciles exactly:
    ``cash_flows + open cost == realised_pnl`` for any sequence of fills (fees are tracked
    beside it in the quote currency).
    """

    symbol: str
    lots: tuple[Lot, ...] = ()
    realized_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)

    @property
    def amount(self) -> Decimal:
        """Signed size: positive long, negative short."""
        return sum((lot.amount for lot in self.lots), Decimal(0))

    @property
    def cost(self) -> Decimal:
        """Signed entry value of the open lots (amount × entry price, summed)."""
        return sum((lot.amount * lot.price for lot in self.lots), Decimal(0))

    @property
    def entry_price(self) -> Decimal | None:
        """Average entry price, for display only (it may be rounded)."""
        amount = self.amount
        return None if amount == 0 else self.cost / amount

    @property
    def is_open(self) -> bool:
        return bool(self.lots)

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        return self.amount * price - self.cost

    def apply(self, fill: Fill) -> Position:
        """Return the position after ``fill``; closing lots realise PnL first in, first out."""
        if fill.symbol != self.symbol:
            raise ValueError(f"fill for {fill.symbol} applied to position in {self.symbol}")
        remaining = fill.amount * fill.side.sign
        lots = list(self.lots)
        realized = self.realized_pnl
        while remaining and lots and (lots[0].amount > 0) != (remaining > 0):
            head = lots[0]
            closed = min(abs(head.amount), abs(remaining)) * (1 if head.amount > 0 else -1)
            realized += closed * (fill.price - head.price)
            remaining += closed
            left = head.amount - closed
            lots[0:1] = [Lot(left, head.price)] if left else []
        if remaining:
            lots.append(Lot(remaining, fill.price))
        return attrs.evolve(self, lots=tuple(lots), realized_pnl=realized,
                            fees=self.fees + fill.fee)


@attrs.frozen
class Balance:
    """Funds in one currency; ``available`` excludes what open orders reserve."""

    currency: str
    total: Decimal
    available: Decimal


@attrs.frozen
class PortfolioSnapshot:
    """What risk policies see: equity, cash and positions at ``timestamp`` (ms UTC).

    ``prices`` holds the latest mark price per symbol; ``day_start_equity`` is equity at the
    start of the current UTC day and ``peak_equity`` the high-water mark, both maintained by the
    runtime so that every policy computes daily loss and drawdown the same way. ``returns`` holds
    each symbol's recent close-to-close returns (oldest first) for correlation checks.
    """

    timestamp: int
    cash: Decimal
    equity: Decimal
    positions: Mapping[str, Position] = attrs.field(factory=dict)
    prices: Mapping[str, Decimal] = attrs.field(factory=dict)
    open_orders: int = 0
    day_start_equity: Decimal | None = None
    peak_equity: Decimal | None = None
    quote_currency: str = "USD"
    returns: Mapping[str, tuple[float, ...]] = attrs.field(factory=dict)
    #: Entries already decided but not filled yet (symbol -> signed amount): a cap must count
    #: them, or two symbols signalling on the same bar would both pass a one-position cap.
    pending_entries: Mapping[str, Decimal] = attrs.field(factory=dict)

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.is_open]

    def committed_symbols(self) -> set[str]:
        """Symbols with an open position or an entry on its way."""
        return {p.symbol for p in self.open_positions()} | {
            s for s, a in self.pending_entries.items() if a}

"""Shared pieces of the risk policies: validators, per-symbol overrides, amount fitting, and a
ledger that turns fills into closed-trade outcomes (for kill-switch, cooldown and Kelly)."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import attrs

from genesis_core import Fill, PortfolioSnapshot, Position, TradeIntent


EXIT_REASON = "exits are never blocked"
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CENT = Decimal("0.01")
_MAX_DIGITS = 18  # integer digits an amount may have before quantize() could overflow


# -- validators (messages start with the quoted field name, so config errors point at the key) --

Validator = Callable[[object, "attrs.Attribute[Any]", Any], None]


def fraction(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    """A share in (0, 1]."""
    if not Decimal(0) < value <= Decimal(1):
        raise ValueError(f"'{attribute.name}' must be in (0, 1], got {value}")


def positive(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if not value > 0:
        raise ValueError(f"'{attribute.name}' must be > 0, got {value}")


def non_negative(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if not value >= 0:
        raise ValueError(f"'{attribute.name}' must be >= 0, got {value}")


def at_least_one(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise ValueError(f"'{attribute.name}' must be >= 1, got {value}")


def unit_interval(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"'{attribute.name}' must be in [0, 1], got {value}")


def optional(validator: Validator) -> Validator:
    return attrs.validators.optional(validator)  # type: ignore[no-any-return]


def check_order(low_name: str, low: Any, high_name: str, high: Any, *, strict: bool) -> None:
    """Cross-field check used in ``__attrs_post_init__``: ``low < high`` (or ``<=``)."""
    bad = low >= high if strict else low > high
    if bad:
        relation = ">" if strict else ">="
        raise ValueError(f"'{high_name}' must be {relation} {low_name} ({low}), got {high}")


# -- per-symbol overrides ------------------------------------------------------------------------


def make_overrides(params: type, name: str, fields: Iterable[str]) -> type:
    """Build the ``per_symbol`` value class of ``params``: the named fields, each optional
    (``None`` = inherit the policy-wide value), with the same validators and docs. It is an attrs
    class, so the strict config loader rejects unknown keys in a ``per_symbol`` entry."""
    module = vars(sys.modules[params.__module__])
    wanted = set(fields)
    spec: dict[str, Any] = {}
    for field in attrs.fields(params):
        if field.name not in wanted:
            continue
        # The module uses postponed annotations: resolve this one field's annotation string.
        kind = eval(field.type, module) if isinstance(field.type, str) else field.type
        spec[field.name] = attrs.field(
            default=None, type=kind | None,
            validator=optional(field.validator) if field.validator else None,
            metadata={"doc": field.metadata.get("doc", "") + " (per-symbol override)"},
        )
    cls = attrs.make_class(name, spec, frozen=True)
    cls.__module__ = params.__module__
    cls.__doc__ = f"Per-symbol overrides of {params.__name__}; unset keys inherit."
    return cls


class PerSymbol:
    """Mixin for Params classes with a ``per_symbol`` mapping of override objects."""

    per_symbol: Any

    def _check(self) -> None:
        """Cross-field checks; raise ``ValueError("'field' must ...")``."""

    def __attrs_post_init__(self) -> None:
        self._check()
        for symbol in self.per_symbol:
            try:
                self.for_symbol(symbol)
            except ValueError as exc:
                raise ValueError(f"'per_symbol' invalid for {symbol}: {exc}") from None

    def for_symbol(self, symbol: str) -> Any:
        """These params with ``symbol``'s overrides applied (validated like the originals)."""
        override = self.per_symbol.get(symbol)
        if override is None:
            return self
        changes = {f.name: getattr(override, f.name) for f in attrs.fields(type(override))
                   if getattr(override, f.name) is not None}
        return attrs.evolve(self, per_symbol={}, **changes) if changes else self  # type: ignore[misc]


# -- formatting ----------------------------------------------------------------------------------


def pct(value: Decimal) -> str:
    """``Decimal("0.05")`` → ``"5.00%"`` (two decimals, for reasons)."""
    return f"{(value * 100).quantize(_CENT)}%"


def money(value: Decimal) -> str:
    """A quote-currency figure to the cent, for reasons."""
    return str(value.quantize(_CENT))


def ts(ms: int) -> str:
    """Millisecond UTC timestamp as ``2021-01-07T14:30:05Z`` (exact, no float)."""
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_decimal(value: float | None) -> Decimal | None:
    """A finite float feature as ``Decimal`` (shortest repr), else ``None``."""
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return Decimal(repr(float(value)))


def atr_of(intent: TradeIntent) -> Decimal | None:
    """ATR in price units: ``features['atr']``, else ``atr_pct`` (percent) × price / 100."""
    atr = as_decimal(intent.features.get("atr"))
    if atr is None:
        atr_pct = as_decimal(intent.features.get("atr_pct"))
        atr = None if atr_pct is None else atr_pct * intent.price / 100
    return atr if atr is not None and atr > 0 else None


# -- amounts -------------------------------------------------------------------------------------


def fit_amount(intent: TradeIntent, raw: Decimal, decimals: int = 8) -> tuple[Decimal | None, str]:
    """Truncate ``raw`` to what the exchange accepts, never rounding up past the budget.

    Returns ``(amount, note)`` where ``note`` says if the exchange maximum clipped it, or
    ``(None, why)`` when nothing orderable fits: not positive, rounds to zero, or below the
    exchange minimum. Without market rules the amount is truncated to ``decimals``.
    """
    if not raw.is_finite() or raw <= 0:
        return None, f"sized amount {raw:.6g} is not positive"
    if raw.adjusted() >= _MAX_DIGITS:
        return None, f"sized amount {raw:.6g} is too large to order"
    market = intent.market
    note = ""
    if market is None:
        amount = raw.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
        places = decimals
    else:
        amount = market.round_amount(raw)
        places = market.amount_decimals
        if market.max_amount is not None and amount > market.max_amount:
            amount = market.round_amount(market.max_amount)
            note = f" (clipped to the exchange maximum {market.max_amount})"
    if amount <= 0:
        return None, f"sized amount {raw:.6g} rounds down to 0 at {places} decimals"
    if market is not None and amount < market.min_amount:
        return None, (f"sized amount {amount} is below the exchange minimum "
                      f"{market.min_amount} {intent.symbol}")
    return amount, note


# -- fills → closed trades -----------------------------------------------------------------------


@attrs.frozen
class ClosedTrade:
    """The outcome of one order that closed or reduced a position.

    ``pnl`` is realised PnL (FIFO) of the closed lots minus the closing fills' fees when paid in
    the quote currency; ``cost`` is the entry value of the closed lots, so ``pnl / cost`` is the
    trade's return. Partial fills of the same order are merged into one trade.
    """

    symbol: str
    order_id: str
    pnl: Decimal
    cost: Decimal
    timestamp: int

    @property
    def ret(self) -> Decimal:
        return self.pnl / self.cost if self.cost > 0 else Decimal(0)


class TradeLedger:
    """Positions rebuilt from the fills a policy observes, and the trades they close.

    A symbol the ledger has never seen a fill for is seeded from the first snapshot passed to
    :meth:`seed` (so a restarted bot with open positions still scores their exits).
    """

    def __init__(self, keep: int = 10_000) -> None:
        self.positions: dict[str, Position] = {}
        self.trades: list[ClosedTrade] = []
        self.realised = Decimal(0)
        self._keep = keep

    def seed(self, portfolio: PortfolioSnapshot) -> None:
        for symbol, position in portfolio.positions.items():
            self.positions.setdefault(symbol, position)

    def record(self, fill: Fill, portfolio: PortfolioSnapshot) -> ClosedTrade | None:
        """Apply ``fill``; return the (possibly merged) closed trade, or ``None`` if it opened."""
        before = self.positions.get(fill.symbol, Position(fill.symbol))
        after = before.apply(fill)
        self.positions[fill.symbol] = after
        held = before.amount
        if held == 0 or (held > 0) == (fill.side.sign > 0):
            return None
        pnl = after.realized_pnl - before.realized_pnl
        if fill.fee_currency == portfolio.quote_currency:
            pnl -= fill.fee
        flipped = after.amount != 0 and (after.amount > 0) != (held > 0)
        cost = abs(before.cost) if flipped or after.amount == 0 else abs(before.cost - after.cost)
        self.realised += pnl
        last = self.trades[-1] if self.trades else None
        if last is not None and (last.symbol, last.order_id) == (fill.symbol,
                                                                  fill.client_order_id):
            trade = ClosedTrade(fill.symbol, fill.client_order_id, last.pnl + pnl,
                                last.cost + cost, fill.timestamp)
            self.trades[-1] = trade
            return trade
        trade = ClosedTrade(fill.symbol, fill.client_order_id, pnl, cost, fill.timestamp)
        self.trades.append(trade)
        del self.trades[:-self._keep]
        return trade

    def losing_streak(self) -> int:
        """Closed trades in a row, most recent last, that lost money."""
        streak = 0
        for trade in reversed(self.trades):
            if trade.pnl >= 0:
                break
            streak += 1
        return streak


def mark(portfolio: PortfolioSnapshot, position: Position) -> Decimal:
    """Exposure of ``position``: |amount| × mark price (entry value when no mark is known)."""
    price = portfolio.prices.get(position.symbol)
    return abs(position.cost) if price is None else abs(position.amount) * price

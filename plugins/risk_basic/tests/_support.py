"""Builders shared by the risk_basic tests: intents, snapshots, positions and fills."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from genesis_core import (
    Fill,
    Lot,
    Market,
    OrderSide,
    PortfolioSnapshot,
    Position,
    Signal,
    TradeIntent,
)


T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z, a Monday
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MARKET = Market("BTCUSD", "BTC", "USD", min_amount=Decimal("0.001"), amount_decimals=4)


def D(value: str | int) -> Decimal:
    return Decimal(value)


def intent(
    symbol: str = "BTCUSD",
    side: str = "BUY",
    amount: str = "1",
    price: str = "100",
    *,
    confidence: float = 0.9,
    strength: str | None = None,
    market: Market | None = None,
    features: Mapping[str, float] | None = None,
    stop_loss: str | None = None,
    take_profit: str | None = None,
    signal_stop: float | None = None,
    reduce_only: bool = False,
    timestamp: int = T0,
) -> TradeIntent:
    signal = Signal.make(symbol=symbol, timeframe="1h", side=side, confidence=confidence,
                         timestamp=timestamp, price=float(price), strategy="test",
                         stop_loss=signal_stop, strength=strength)
    return TradeIntent(
        signal=signal, symbol=symbol, side=OrderSide(side), amount=D(amount), price=D(price),
        stop_loss=None if stop_loss is None else D(stop_loss),
        take_profit=None if take_profit is None else D(take_profit),
        reduce_only=reduce_only, market=market, features=dict(features or {}))


def position(symbol: str, amount: str, price: str) -> Position:
    return Position(symbol, lots=(Lot(D(amount), D(price)),))


def snapshot(
    equity: str = "10000",
    *,
    positions: Iterable[Position] = (),
    prices: Mapping[str, str] | None = None,
    timestamp: int = T0,
    day_start: str | None = None,
    peak: str | None = None,
    returns: Mapping[str, tuple[float, ...]] | None = None,
) -> PortfolioSnapshot:
    return PortfolioSnapshot(
        timestamp=timestamp, cash=D(equity), equity=D(equity),
        positions={p.symbol: p for p in positions},
        prices={k: D(v) for k, v in (prices or {}).items()},
        day_start_equity=None if day_start is None else D(day_start),
        peak_equity=None if peak is None else D(peak), returns=dict(returns or {}))


def fill(symbol: str, side: str, amount: str, price: str, *, order: str = "o1",
         timestamp: int = T0, fee: str = "0") -> Fill:
    return Fill(fill_id=f"{order}-{timestamp}", client_order_id=order, symbol=symbol, side=side,
                amount=D(amount), price=D(price), fee=D(fee), fee_currency="USD",
                timestamp=timestamp)


def round_trip(policy: object, symbol: str, entry: str, exit_: str, *, n: int,
               timestamp: int = T0, side: str = "BUY") -> None:
    """Feed ``policy.on_fill`` an entry and a closing fill of one unit (orders e<n> and x<n>)."""
    close = "SELL" if side == "BUY" else "BUY"
    portfolio = snapshot(timestamp=timestamp)
    policy.on_fill(fill(symbol, side, "1", entry, order=f"e{n}", timestamp=timestamp),
                   portfolio)  # type: ignore[attr-defined]
    policy.on_fill(fill(symbol, close, "1", exit_, order=f"x{n}", timestamp=timestamp),
                   portfolio)  # type: ignore[attr-defined]

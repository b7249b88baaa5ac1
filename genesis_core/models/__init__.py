"""Domain models. Market data is float64 numpy; money (amounts, prices, fees, PnL) is Decimal."""

from genesis_core.models.alerts import Alert, ConnectionStatus, Health, Severity
from genesis_core.models.market import (
    Candle,
    Candles,
    Market,
    Ticker,
    Trade,
    format_ts,
    timeframe_ms,
)
from genesis_core.models.orders import (
    Fill,
    Liquidity,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    client_order_id,
)
from genesis_core.models.portfolio import Balance, Lot, PortfolioSnapshot, Position
from genesis_core.models.risk import RiskAction, RiskDecision, TradeIntent
from genesis_core.models.signals import Signal, SignalSide, Strength


__all__ = [
    "Alert",
    "Balance",
    "Candle",
    "Candles",
    "ConnectionStatus",
    "Fill",
    "Health",
    "Liquidity",
    "Lot",
    "Market",
    "Order",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PortfolioSnapshot",
    "Position",
    "RiskAction",
    "RiskDecision",
    "Severity",
    "Signal",
    "SignalSide",
    "Strength",
    "Ticker",
    "Trade",
    "TradeIntent",
    "client_order_id",
    "format_ts",
    "timeframe_ms",
]

"""Genesis core: the plugin API of the Genesis trading bot framework.

Plugins import from here only; everything not in ``__all__`` is internal and may change.
"""

from genesis_core.config import (
    BotConfig,
    ComponentConfig,
    MarketConfig,
    Mode,
    Secret,
    StrategyConfig,
    doc,
    load_config,
)
from genesis_core.contracts import (
    BotControl,
    CandleClosed,
    Component,
    DataSource,
    Executor,
    Indicator,
    IndicatorStream,
    MarketEvent,
    MarketSpec,
    NoParams,
    Notifier,
    RiskPolicy,
    Strategy,
)
from genesis_core.errors import (
    ConfigError,
    DataError,
    GenesisError,
    NotAvailableError,
    OrderError,
    PluginError,
)
from genesis_core.hookspecs import hookimpl
from genesis_core.models import (
    Alert,
    Balance,
    Candle,
    Candles,
    ConnectionStatus,
    Fill,
    Health,
    Liquidity,
    Lot,
    Market,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    PortfolioSnapshot,
    Position,
    RiskAction,
    RiskDecision,
    Severity,
    Signal,
    SignalSide,
    Strength,
    Ticker,
    Trade,
    TradeIntent,
    client_order_id,
    format_ts,
    timeframe_ms,
)
from genesis_core.plugins import ENTRY_POINT_GROUP, Plugins, load_plugins


HOOKS_VERSION = 1

__all__ = [
    "ENTRY_POINT_GROUP",
    "HOOKS_VERSION",
    "Alert",
    "Balance",
    "BotConfig",
    "BotControl",
    "Candle",
    "CandleClosed",
    "Candles",
    "Component",
    "ComponentConfig",
    "ConfigError",
    "ConnectionStatus",
    "DataError",
    "DataSource",
    "Executor",
    "Fill",
    "GenesisError",
    "Health",
    "Indicator",
    "IndicatorStream",
    "Liquidity",
    "Lot",
    "Market",
    "MarketConfig",
    "MarketEvent",
    "MarketSpec",
    "Mode",
    "NoParams",
    "NotAvailableError",
    "Notifier",
    "Order",
    "OrderError",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PluginError",
    "Plugins",
    "PortfolioSnapshot",
    "Position",
    "RiskAction",
    "RiskDecision",
    "RiskPolicy",
    "Secret",
    "Severity",
    "Signal",
    "SignalSide",
    "Strategy",
    "StrategyConfig",
    "Strength",
    "Ticker",
    "Trade",
    "TradeIntent",
    "client_order_id",
    "doc",
    "format_ts",
    "hookimpl",
    "load_config",
    "load_plugins",
    "timeframe_ms",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("genesis-core")
    raise AttributeError(name)

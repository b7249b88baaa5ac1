"""Bot configuration: schema, loading and validation."""

from genesis_core.config.loader import load_config
from genesis_core.config.schema import (
    BotConfig,
    ComponentConfig,
    MarketConfig,
    MetricsConfig,
    Mode,
    StorageConfig,
    StrategyConfig,
    doc,
)
from genesis_core.config.secrets import Secret


__all__ = [
    "BotConfig",
    "ComponentConfig",
    "MarketConfig",
    "MetricsConfig",
    "Mode",
    "Secret",
    "StorageConfig",
    "StrategyConfig",
    "doc",
    "load_config",
]

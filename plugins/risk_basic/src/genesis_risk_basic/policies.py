"""Every policy of the plugin in one place (the classes live in guards, sizing and stops)."""

from genesis_risk_basic.guards import (
    ConfidenceBands,
    Cooldown,
    CorrelationGuard,
    DrawdownGuard,
    ExposureCap,
    KillSwitch,
    MaxDailyLoss,
    MaxOpenPositions,
    TradingWindow,
    VolatilityFilter,
)
from genesis_risk_basic.sizing import (
    ConfidenceScaled,
    FixedFraction,
    Kelly,
    RiskPerTrade,
    VolatilityTarget,
)
from genesis_risk_basic.stops import Stops


POLICIES = (
    KillSwitch,
    MaxDailyLoss,
    DrawdownGuard,
    MaxOpenPositions,
    ExposureCap,
    Cooldown,
    TradingWindow,
    ConfidenceBands,
    VolatilityFilter,
    CorrelationGuard,
    FixedFraction,
    ConfidenceScaled,
    RiskPerTrade,
    VolatilityTarget,
    Kelly,
    Stops,
)

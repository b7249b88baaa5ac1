"""Risk guards, position sizing and stops for Genesis."""

from genesis_risk_basic.policies import (
    POLICIES,
    ConfidenceBands,
    ConfidenceScaled,
    Cooldown,
    CorrelationGuard,
    DrawdownGuard,
    ExposureCap,
    FixedFraction,
    Kelly,
    KillSwitch,
    MaxDailyLoss,
    MaxOpenPositions,
    RiskPerTrade,
    Stops,
    TradingWindow,
    VolatilityFilter,
    VolatilityTarget,
)


__all__ = [
    "POLICIES",
    "ConfidenceBands",
    "ConfidenceScaled",
    "Cooldown",
    "CorrelationGuard",
    "DrawdownGuard",
    "ExposureCap",
    "FixedFraction",
    "Kelly",
    "KillSwitch",
    "MaxDailyLoss",
    "MaxOpenPositions",
    "RiskPerTrade",
    "Stops",
    "TradingWindow",
    "VolatilityFilter",
    "VolatilityTarget",
]

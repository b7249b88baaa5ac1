"""Risk guards, position sizing and stops for Genesis."""

from genesis_risk_basic.policies import FixedFraction, KillSwitch, MaxOpenPositions


__all__ = ["FixedFraction", "KillSwitch", "MaxOpenPositions"]

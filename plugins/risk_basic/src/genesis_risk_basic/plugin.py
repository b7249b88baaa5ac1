"""Hook implementations of the risk_basic plugin."""

from genesis_core import hookimpl
from genesis_risk_basic.policies import FixedFraction, KillSwitch, MaxOpenPositions


@hookimpl
def register_risk_policies(register):  # type: ignore[no-untyped-def]
    register(KillSwitch)
    register(MaxOpenPositions)
    register(FixedFraction)

"""Hook implementations of the risk_basic plugin."""

from genesis_core import hookimpl
from genesis_risk_basic.policies import POLICIES


@hookimpl
def register_risk_policies(register):  # type: ignore[no-untyped-def]
    for policy in POLICIES:
        register(policy)

"""Hook implementations of the strategy_ema_rsi plugin."""

from genesis_core import hookimpl
from genesis_strategy_ema_rsi.strategy import EmaRsiStrategy


@hookimpl
def register_strategies(register):  # type: ignore[no-untyped-def]
    register(EmaRsiStrategy)

"""Hook implementations of the strategy_fvg plugin."""

from genesis_core import hookimpl
from genesis_strategy_fvg.strategy import FvgStrategy


@hookimpl
def register_strategies(register):  # type: ignore[no-untyped-def]
    register(FvgStrategy)

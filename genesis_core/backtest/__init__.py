"""Backtesting: a compiled per-bar portfolio simulator sharing the paper executor's fill model.

``simulate(data, orders)`` runs signals or order arrays over candles of one or several symbols
and returns trades, the equity curve and costs; ``metrics.compute(result)`` (or
``result.metrics()``) derives the performance figures; ``grid`` runs many parameter
combinations in parallel; ``backtest_bot`` backtests a whole bot file with its own
strategies, consensus and risk policies (the way the live runner uses them).
See ``docs/backtesting.md``.
"""

from genesis_core.backtest.bot import BotBacktest, Decision, backtest_bot
from genesis_core.backtest.simulator import (
    REASONS,
    BacktestResult,
    Bars,
    Costs,
    GridResult,
    OrderProposal,
    Orders,
    PortfolioState,
    RiskHook,
    Trades,
    ema_cross_directions,
    grid,
    simulate,
)


__all__ = [
    "REASONS",
    "BacktestResult",
    "Bars",
    "BotBacktest",
    "Costs",
    "Decision",
    "GridResult",
    "OrderProposal",
    "Orders",
    "PortfolioState",
    "RiskHook",
    "Trades",
    "backtest_bot",
    "ema_cross_directions",
    "grid",
    "simulate",
]

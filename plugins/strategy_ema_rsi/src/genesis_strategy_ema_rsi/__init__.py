"""EMA trend + RSI momentum + ATR volatility strategy for Genesis."""

from genesis_strategy_ema_rsi.strategy import EmaRsiParams, EmaRsiStrategy


__all__ = ["EmaRsiParams", "EmaRsiStrategy"]

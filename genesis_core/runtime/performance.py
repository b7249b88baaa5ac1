"""Performance tracking from a bot's database: closed trades, success rate, confidence accuracy.

A trade runs from the fill that opens a position to the fill that flattens it; its PnL is the
realised PnL minus every fee paid on its fills (exact Decimal). Its confidence is that of the
signal its entry order was placed for, so calibration compares what the bot believed with
what happened.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import attrs

from genesis_core.models import Fill, Order, Position, Signal


@attrs.frozen
class ClosedTrade:
    symbol: str
    opened: int
    closed: int
    pnl: Decimal
    confidence: float | None


def closed_trades(fills: list[Fill], orders: list[Order],
                  signals: list[Signal]) -> list[ClosedTrade]:
    by_order = {o.client_order_id: o for o in orders}
    confidence = {s.id: s.confidence for s in signals}
    trades = []
    positions: dict[str, Position] = {}
    opened: dict[str, tuple[int, Decimal, float | None]] = {}
    for fill in sorted(fills, key=lambda f: (f.timestamp, f.fill_id)):
        before = positions.get(fill.symbol, Position(fill.symbol))
        after = before.apply(fill)
        positions[fill.symbol] = after
        if not before.is_open and after.is_open:
            order = by_order.get(fill.client_order_id)
            signal_id = order.request.signal_id if order is not None else None
            opened[fill.symbol] = (fill.timestamp, before.realized_pnl - before.fees,
                                   confidence.get(signal_id) if signal_id else None)
        elif before.is_open and not after.is_open and fill.symbol in opened:
            start, base, conf = opened.pop(fill.symbol)
            trades.append(ClosedTrade(fill.symbol, start, fill.timestamp,
                                      after.realized_pnl - after.fees - base, conf))
    return trades


def summarize(trades: list[ClosedTrade], initial_equity: Decimal | None = None) -> dict[str, Any]:
    """Success rate, average profit, win/loss ratio, max drawdown, Sharpe, calibration."""
    pnls = [t.pnl for t in trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p <= 0]
    curve, peak, drawdown = Decimal(0), Decimal(0), Decimal(0)
    for pnl in pnls:
        curve += pnl
        peak = max(peak, curve)
        drawdown = max(drawdown, peak - curve)
    floats = [float(p) for p in pnls]
    mean = sum(floats) / len(floats) if floats else 0.0
    std = math.sqrt(sum((x - mean) ** 2 for x in floats) / (len(floats) - 1)) if len(
        floats) > 1 else 0.0
    buckets: dict[str, list[bool]] = {}
    for trade in trades:
        if trade.confidence is not None:
            low = min(9, int(trade.confidence * 10)) / 10
            buckets.setdefault(f"{low:.1f}-{low + 0.1:.1f}", []).append(trade.pnl > 0)
    return {
        "closed_trades": len(trades),
        "success_rate": len(wins) / len(trades) if trades else None,
        "total_pnl": sum(pnls, Decimal(0)),
        "average_pnl": (sum(pnls, Decimal(0)) / len(pnls)) if pnls else None,
        "win_loss_ratio": (float(sum(wins) / len(wins)) / abs(float(sum(losses) / len(losses)))
                           if wins and losses and sum(losses) != 0 else None),
        "max_drawdown": drawdown,
        "max_drawdown_pct": float(drawdown / initial_equity * 100) if initial_equity else None,
        "sharpe_per_trade": mean / std if std else None,
        "confidence_accuracy": {k: {"trades": len(v), "win_rate": sum(v) / len(v)}
                                for k, v in sorted(buckets.items())},
    }

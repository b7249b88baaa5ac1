"""One line per hand-off on the terminal, and the final summary."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import TextIO

import attrs

from genesis_core.models import Fill, Order, OrderStatus, Signal, format_ts


_TRANSIENT = frozenset({OrderStatus.PENDING, OrderStatus.SUBMITTED})


@attrs.frozen
class Summary:
    bot: str
    bars: int
    signals: int
    orders: int
    fills: int
    closed_trades: int
    winning_trades: int
    realized_pnl: Decimal
    fees: Decimal
    initial_equity: Decimal
    final_equity: Decimal
    open_positions: int

    @property
    def return_pct(self) -> Decimal:
        return (self.final_equity / self.initial_equity - 1) * 100

    def lines(self) -> list[str]:
        win = (f"{self.winning_trades / self.closed_trades:.0%}" if self.closed_trades else "-")
        return [
            f"summary {self.bot}: {self.bars} bars, {self.signals} signals, {self.orders} orders, "
            f"{self.fills} fills",
            f"  closed trades {self.closed_trades} (win rate {win}), open positions "
            f"{self.open_positions}",
            f"  realised PnL {self.realized_pnl:.2f}, fees {self.fees:.2f}, equity "
            f"{self.initial_equity:.2f} -> {self.final_equity:.2f} ({self.return_pct:+.2f} %)",
        ]


class Reporter:
    def __init__(self, out: TextIO | None = None, quiet: bool = False) -> None:
        self._out = out or sys.stdout
        self._quiet = quiet

    def line(self, at_ms: int, text: str) -> None:
        if not self._quiet:
            print(f"{format_ts(at_ms)} {text}", file=self._out, flush=True)

    def signal(self, signal: Signal) -> None:
        self.line(signal.timestamp, f"SIGNAL {signal.symbol} {signal.timeframe} "
                  f"{signal.side.value} {signal.confidence:.2f} {signal.strategy}: {signal.reason}")

    def decision(self, at_ms: int, signal: Signal, verdict: str) -> None:
        self.line(at_ms, f"RISK   {signal.symbol} {signal.side.value}: {verdict}")

    def order(self, order: Order) -> None:
        if order.status in _TRANSIENT:
            return  # recorded, but the terminal shows where orders end up
        r = order.request
        price = f" @ {r.price}" if r.price else (f" stop {r.stop_price}" if r.stop_price else "")
        self.line(order.updated_at, f"ORDER  {r.client_order_id[:10]} {r.symbol} {r.side.value} "
                  f"{r.type.value} {r.amount}{price} -> {order.status.value}"
                  + (f" ({order.reason})" if order.reason else ""))

    def fill(self, fill: Fill) -> None:
        self.line(fill.timestamp, f"FILL   {fill.symbol} {fill.side.value} {fill.amount} @ "
                  f"{fill.price:.2f} fee {fill.fee:.4f} {fill.fee_currency}")

    def summary(self, summary: Summary) -> None:
        for text in summary.lines():
            print(text, file=self._out, flush=True)

"""Chat commands: text in, Telegram HTML out, through a :class:`genesis_core.BotControl`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

from genesis_core import BotControl, Position, Signal, format_ts
from genesis_notify_telegram._html import escape
from genesis_notify_telegram._ratelimit import Clock


log = logging.getLogger("genesis_notify_telegram")

STOP_WINDOW = 60.0

HELP = "\n".join([
    "<b>Commands</b>",
    "/status - bot, mode, equity, auto-trading and emergency-stop state",
    "/positions - open positions",
    "/profit - realized and unrealized PnL, fees, equity, return",
    "/signals - the latest signals",
    "/pause - stop opening new trades (exits and protective orders keep working)",
    "/resume - open new trades again",
    "/confirm - list signals waiting for confirmation; /confirm ID confirms one",
    "/stop - emergency stop: cancel all orders and block new trades (asks first)",
    "/help - this list",
])


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _price(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.8f}".rstrip("0")


def _signal_line(signal: Signal) -> str:
    return (f"{escape(format_ts(signal.timestamp))} <b>{escape(signal.side.value)}</b> "
            f"<code>{escape(signal.symbol)}</code> {escape(signal.timeframe)} "
            f"{signal.confidence:.2f} ({escape(signal.strategy)})")


def _position_line(position: Position) -> str:
    amount = position.amount
    side = "LONG" if amount > 0 else "SHORT"
    return (f"<code>{escape(position.symbol)}</code> {side} {escape(_number(abs(amount)))} "
            f"@ {escape(_price(position.entry_price))} "
            f"(realized {escape(_money(position.realized_pnl))}, "
            f"fees {escape(_money(position.fees))})")


class Commands:
    """Runs one command for one chat and returns the reply (HTML)."""

    def __init__(self, control: BotControl, clock: Clock) -> None:
        self._control = control
        self._clock = clock
        self._stop_asked: dict[str, tuple[float, bool]] = {}  # chat: (asked at, flatten)
        self._handlers: Mapping[str, Callable[[str, list[str]], Awaitable[str]]] = {
            "start": self._help, "help": self._help, "status": self._status,
            "positions": self._positions, "profit": self._profit, "signals": self._signals,
            "pause": self._pause, "resume": self._resume, "confirm": self._confirm,
            "stop": self._stop,
        }

    async def run(self, chat_id: str, command: str, args: list[str]) -> str:
        handler = self._handlers.get(command)
        if handler is None:
            return f"Unknown command /{escape(command)}. Send /help for the list."
        return await handler(chat_id, args)

    async def _help(self, chat_id: str, args: list[str]) -> str:
        return HELP

    async def _status(self, chat_id: str, args: list[str]) -> str:
        status = await self._control.status()
        lines = ["<b>Status</b>"]
        lines += [f"{escape(key.replace('_', ' '))}: <b>{escape(value)}</b>"
                  for key, value in status.items()]
        return "\n".join(lines)

    async def _positions(self, chat_id: str, args: list[str]) -> str:
        positions = [p for p in await self._control.positions() if p.is_open]
        if not positions:
            return "No open positions."
        return "\n".join([f"<b>Open positions ({len(positions)})</b>",
                          *map(_position_line, positions)])

    async def _profit(self, chat_id: str, args: list[str]) -> str:
        profit = await self._control.profit()
        lines = ["<b>Profit</b>"]
        for key, value in profit.items():
            shown = f"{value:.2f} %" if key == "return_pct" else _money(value)
            lines.append(f"{escape(key.replace('_', ' '))}: <b>{escape(shown)}</b>")
        return "\n".join(lines)

    async def _signals(self, chat_id: str, args: list[str]) -> str:
        signals = await self._control.recent_signals(10)
        if not signals:
            return "No signals yet."
        return "\n".join([f"<b>Latest signals ({len(signals)})</b>",
                          *map(_signal_line, signals)])

    async def _pause(self, chat_id: str, args: list[str]) -> str:
        await self._control.set_auto_trading(False)
        log.warning("auto-trading paused from chat %s", chat_id)
        return ("⏸ Auto-trading <b>paused</b>: no new trades open; exits and protective orders "
                "keep working. /resume to undo.")

    async def _resume(self, chat_id: str, args: list[str]) -> str:
        await self._control.set_auto_trading(True)
        log.warning("auto-trading resumed from chat %s", chat_id)
        return "▶️ Auto-trading <b>resumed</b>: new trades may open."

    async def _confirm(self, chat_id: str, args: list[str]) -> str:
        if len(args) > 1:
            return "Usage: /confirm ID (or /confirm alone to list the waiting signals)."
        if not args:
            pending = await self._control.pending_confirmations()
            if not pending:
                return "No signals are waiting for confirmation."
            lines = [f"<b>Waiting for confirmation ({len(pending)})</b>"]
            for signal in pending:
                lines += [_signal_line(signal), f"/confirm <code>{escape(signal.id)}</code>"]
            return "\n".join(lines)
        outcome = await self._control.confirm(args[0])
        log.warning("confirm %s from chat %s: %s", args[0], chat_id, outcome)
        return f"✅ {escape(outcome)}"

    async def _stop(self, chat_id: str, args: list[str]) -> str:
        words = [a.lower() for a in args]
        confirmed = words[-1:] == ["yes"]
        if confirmed:
            words = words[:-1]
        if words not in ([], ["flatten"]):
            return "Usage: /stop, or /stop flatten (also close positions)."
        flatten = words == ["flatten"]
        now = self._clock()
        if not confirmed:
            self._stop_asked[chat_id] = (now, flatten)
            what = ("cancels every open order, <b>closes every position</b>" if flatten
                    else "cancels every open order")
            answer = "/stop flatten yes" if flatten else "/stop yes"
            return (f"🛑 Emergency stop {what} and blocks new trades until it is cleared. "
                    f"To go ahead send {answer} within {STOP_WINDOW:.0f} s.")
        asked = self._stop_asked.pop(chat_id, None)
        if asked is None or now - asked[0] > STOP_WINDOW:
            return (f"No /stop request in the last {STOP_WINDOW:.0f} s: nothing done. "
                    "Send /stop first, then confirm.")
        if asked[1] != flatten:
            # The confirmation must match what was explained: a plain /stop must not be
            # confirmed into closing every position, nor /stop flatten into leaving them open.
            request, other = (("/stop flatten", "/stop") if flatten
                              else ("/stop", "/stop flatten"))
            return (f"That confirms {request}, but the request was {other}: nothing done. "
                    f"Send {request} first, then confirm.")
        log.critical("emergency stop (flatten=%s) requested from chat %s", flatten, chat_id)
        outcome = await self._control.emergency_stop(flatten)
        return f"🛑 {escape(outcome)}"

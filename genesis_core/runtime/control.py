"""The runner's implementation of :class:`genesis_core.BotControl`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from genesis_core.models import Position, Signal


if TYPE_CHECKING:
    from genesis_core.runtime.runner import Bot


class RunnerControl:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def status(self) -> Mapping[str, str]:
        bot = self._bot
        return {
            "bot": bot.config.name,
            "mode": bot.config.mode.value,
            "equity": f"{bot.ledger.equity():.2f}",
            "open_positions": str(sum(p.is_open for p in bot.ledger.positions.values())),
            "auto_trading": "on" if bot.auto_trading else "paused",
            "emergency_stop": "ENGAGED" if bot.emergency else "off",
            "pending_confirmations": str(len(bot.pending)),
        }

    async def positions(self) -> list[Position]:
        return [p for p in self._bot.ledger.positions.values() if p.is_open]

    async def profit(self) -> Mapping[str, Decimal]:
        ledger = self._bot.ledger
        equity = ledger.equity()
        initial = ledger.initial_cash or Decimal(1)
        return {"realized": ledger.realized(), "unrealized": ledger.unrealized(),
                "fees": ledger.fees, "equity": equity,
                "return_pct": (equity / initial - 1) * 100}

    async def recent_signals(self, limit: int = 10) -> list[Signal]:
        return list(self._bot.recent)[:limit]

    async def pending_confirmations(self) -> list[Signal]:
        return [signal for signal, _, _ in self._bot.pending.values()]

    async def set_auto_trading(self, enabled: bool) -> None:
        self._bot.set_auto_trading(enabled)

    async def confirm(self, signal_id: str) -> str:
        return await self._bot.confirm(signal_id)

    async def emergency_stop(self, flatten: bool) -> str:
        return await self._bot.emergency_stop(flatten)

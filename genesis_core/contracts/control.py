"""What a command channel (a notifier's ``serve`` task, the CLI) may ask of a running bot."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from genesis_core.models import Position, Signal


class BotControl(Protocol):
    """Queries and commands on a running bot. Every method is safe to call from any task."""

    async def status(self) -> Mapping[str, str]:
        """Name, mode, equity, open positions, auto-trading and emergency-stop state."""
        ...

    async def positions(self) -> list[Position]:
        """Open positions."""
        ...

    async def profit(self) -> Mapping[str, Decimal]:
        """realized, unrealized, fees, equity, return_pct."""
        ...

    async def recent_signals(self, limit: int = 10) -> list[Signal]:
        """The latest signals, newest first."""
        ...

    async def pending_confirmations(self) -> list[Signal]:
        """Signals waiting for a human (the manual-confirmation band), oldest first."""
        ...

    async def set_auto_trading(self, enabled: bool) -> None:
        """Pause or resume opening new trades (exits and protective orders keep working)."""
        ...

    async def confirm(self, signal_id: str) -> str:
        """Confirm a pending signal; returns a one-line outcome for the user."""
        ...

    async def emergency_stop(self, flatten: bool) -> str:
        """Cancel every open order (and close positions if ``flatten``); blocks new trades
        until cleared. Returns a one-line outcome."""
        ...

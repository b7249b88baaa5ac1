"""Notifiers: deliver alerts to humans."""

from __future__ import annotations

from typing import ClassVar

from genesis_core.contracts.base import Component
from genesis_core.contracts.control import BotControl
from genesis_core.models import Alert


class Notifier(Component):
    """Delivers alerts (console, Telegram, ...). Called from a queue, never from the trading path,
    so a slow notifier delays only itself."""

    kind: ClassVar[str] = "notifier"

    async def notify(self, alert: Alert) -> None:
        """Deliver one alert. Raise on failure; the caller retries and records it."""
        raise NotImplementedError

    async def serve(self, control: BotControl) -> None:
        """Optional long-running task for a command channel (e.g. polling for chat commands).

        Started by the runner next to the trading loop and cancelled at shutdown. The default
        returns at once: a notifier without commands needs nothing here.
        """

    async def aclose(self) -> None:
        """Flush and close."""

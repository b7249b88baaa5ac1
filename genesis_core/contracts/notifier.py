"""Notifiers: deliver alerts to humans."""

from __future__ import annotations

from typing import ClassVar

from genesis_core.contracts.base import Component
from genesis_core.models import Alert


class Notifier(Component):
    """Delivers alerts (console, Telegram, ...). Called from a queue, never from the trading path,
    so a slow notifier delays only itself."""

    kind: ClassVar[str] = "notifier"

    async def notify(self, alert: Alert) -> None:
        """Deliver one alert. Raise on failure; the caller retries and records it."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Flush and close."""

"""Test helpers: a virtual clock, a fake BotControl, notifier helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import anyio.lowlevel

from genesis_core import Alert, Lot, Position, Secret, Signal
from genesis_notify_telegram import TelegramNotifier, TelegramParams

from ._fake_telegram import FakeTelegram


TOKEN = "123456789:AAHk-SuperSecretTokenValue_Zq9"
CHAT = "111222333"
T0 = 1_380_600_000_000  # 2013-10-01T04:00Z


class FakeClock:
    """Monotonic seconds that move only when someone sleeps on them (sleeping is instant)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        await anyio.lowlevel.checkpoint()


class FakeControl:
    """A BotControl with canned answers that records the commands it receives."""

    def __init__(self) -> None:
        self.auto_trading = True
        self.stops: list[bool] = []
        self.confirmed: list[str] = []
        self.signal = Signal.make(symbol="BTCUSD", timeframe="1h", side="BUY", confidence=0.72,
                                  timestamp=T0, price=127.65, strategy="ema_rsi")
        self.pending = [self.signal]

    async def status(self) -> dict[str, str]:
        return {"bot": "demo<1>", "mode": "paper", "equity": "10009.25",
                "open_positions": "1", "auto_trading": "on" if self.auto_trading else "paused",
                "emergency_stop": "ENGAGED" if self.stops else "off",
                "pending_confirmations": str(len(self.pending))}

    async def positions(self) -> list[Position]:
        return [Position("BTCUSD", (Lot(Decimal("0.5"), Decimal("20000")),),
                         Decimal("12.5"), Decimal("1.25"))]

    async def profit(self) -> dict[str, Decimal]:
        return {"realized": Decimal("12.5"), "unrealized": Decimal("-3.25"),
                "fees": Decimal("1.25"), "equity": Decimal("10009.25"),
                "return_pct": Decimal("0.0925")}

    async def recent_signals(self, limit: int = 10) -> list[Signal]:
        return [self.signal][:limit]

    async def pending_confirmations(self) -> list[Signal]:
        return list(self.pending)

    async def set_auto_trading(self, enabled: bool) -> None:
        self.auto_trading = enabled

    async def confirm(self, signal_id: str) -> str:
        match = [s for s in self.pending if s.id == signal_id]
        if not match:
            return f"no signal {signal_id} is waiting for confirmation"
        self.pending.remove(match[0])
        self.confirmed.append(signal_id)
        return f"confirmed {signal_id}: BUY BTCUSD"

    async def emergency_stop(self, flatten: bool) -> str:
        self.stops.append(flatten)
        return f"emergency stop engaged; {int(flatten)} position(s) being closed"


def alert(i: int = 0, *, severity: str = "warning", message: str = "",
          rule: str = "test") -> Alert:
    return Alert(rule, severity, f"alert {i:04d}", message or f"body of alert {i}",
                 T0 + i * 1000, "BTCUSD")


def make(server: FakeTelegram, clock: FakeClock | None = None, **params: Any) -> TelegramNotifier:
    values: dict[str, Any] = {"bot_token": Secret(TOKEN), "chat_id": CHAT,
                              "api_url": server.url, "timeout": 2.0, "poll_timeout": 1,
                              "flush_timeout": 5.0}
    values.update(params)
    return TelegramNotifier(TelegramParams(**values), clock=clock,
                            sleep=clock.sleep if clock is not None else None)


@asynccontextmanager
async def serving(notifier: TelegramNotifier,
                  control: Any = None) -> AsyncIterator[TelegramNotifier]:
    """Run ``serve`` like the runner does, then cancel it and close the notifier."""
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(notifier.serve, control or FakeControl())
            # The runner starts serve() long before the first alert: wait for the worker.
            await wait_until(lambda: notifier._worker_running)
            yield notifier
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await notifier.aclose()


async def wait_until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    """Wait (real time) for ``predicate``; ``limit`` guards against hanging, it is not a
    timing assertion. Polls, because the fake server's threads change what it looks at."""
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(0.005)

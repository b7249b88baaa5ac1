"""Watching the bot's own health: connection statuses and equity moves that deserve an alert.

Both watchers are pure bookkeeping over timestamps the runtime hands them (bar close times for
equity, wall-clock for connection statuses), so they are tested without a running bot and the
runtime stays the only place that raises alerts.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import attrs

from genesis_core.config.schema import AlertsConfig
from genesis_core.models import ConnectionStatus, Health, Severity


MINUTE_MS = 60_000


@attrs.frozen
class Raised:
    """An alert the runtime should raise: rule, severity, title, message."""

    rule: str
    severity: Severity
    title: str
    message: str


_PLAIN = {
    Health.RECONNECTING: ("reconnecting", Severity.WARNING, "connection lost, reconnecting"),
    Health.CONNECTED: ("reconnected", Severity.INFO, "connection restored"),
    Health.STALE: ("feed_stale", Severity.HIGH, "market feed is stale"),
    Health.CIRCUIT_OPEN: ("circuit_open", Severity.HIGH, "circuit breaker open: requests "
                                                         "paused"),
    Health.CIRCUIT_CLOSED: ("circuit_closed", Severity.INFO, "circuit breaker closed"),
    Health.MAINTENANCE: ("maintenance", Severity.HIGH, "venue in maintenance"),
}


class ConnectionWatch:
    """Turns :class:`ConnectionStatus` events into alerts; counts reconnects for storms."""

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config
        self._reconnects: dict[str, deque[int]] = {}
        self._down: set[str] = set()

    def on_status(self, status: ConnectionStatus, now_ms: int) -> list[Raised]:
        source = status.source
        if status.health is Health.CONNECTED and source not in self._down:
            return []  # the first connect is not news
        rule, severity, title = _PLAIN[status.health]
        out = [Raised(rule, severity, f"{source}: {title}", status.detail)]
        if status.health is Health.CONNECTED:
            self._down.discard(source)
        elif status.health in (Health.RECONNECTING, Health.STALE):
            self._down.add(source)
        if status.health is Health.RECONNECTING:
            out += self._storm(source, now_ms)
        return out

    def _storm(self, source: str, now_ms: int) -> list[Raised]:
        window = self.config.reconnect_storm_minutes * MINUTE_MS
        seen = self._reconnects.setdefault(source, deque())
        seen.append(now_ms)
        while now_ms - seen[0] >= window:
            seen.popleft()
        if len(seen) != self.config.reconnect_storm:
            return []  # alert once when the threshold is crossed, not on every reconnect
        return [Raised("reconnect_storm", Severity.CRITICAL,
                       f"{source}: {len(seen)} reconnects in "
                       f"{self.config.reconnect_storm_minutes} min",
                       "the venue or the network is unstable; check status pages before "
                       "trusting fills and balances")]

    def stale(self, source: str, quiet_seconds: float) -> list[Raised]:
        """The runtime's own watchdog found no market event for ``quiet_seconds``."""
        if source in self._down:
            return []
        self._down.add(source)
        return [Raised("feed_stale", Severity.HIGH, f"{source}: market feed is stale",
                       f"no market event for {quiet_seconds:.0f} s")]

    def alive(self, source: str) -> None:
        self._down.discard(source)


class PerformanceWatch:
    """Alerts when equity moves by ``performance_change_pct`` within the window.

    The baseline is the oldest equity inside the window; after an alert it resets to the
    current equity, so a steady slide alerts once per further step, not once per bar.
    """

    def __init__(self, config: AlertsConfig) -> None:
        self.threshold = Decimal(repr(config.performance_change_pct)) / 100
        self.window = config.performance_window_minutes * MINUTE_MS
        self._points: deque[tuple[int, Decimal]] = deque()

    def on_equity(self, now_ms: int, equity: Decimal) -> list[Raised]:
        if self.threshold <= 0:
            return []
        points = self._points
        points.append((now_ms, equity))
        while now_ms - points[0][0] > self.window:
            points.popleft()
        base = points[0][1]
        if base <= 0:
            return []
        change = (equity - base) / base
        if abs(change) < self.threshold:
            return []
        points.clear()
        points.append((now_ms, equity))
        minutes = self.window // MINUTE_MS
        severity = Severity.HIGH if change < 0 else Severity.INFO
        return [Raised("performance_change", severity,
                       f"equity {'down' if change < 0 else 'up'} {abs(change) * 100:.1f}% "
                       f"within {minutes} min",
                       f"equity {base:.2f} → {equity:.2f}")]

"""Alerts: what notifiers deliver."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import attrs


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


@attrs.frozen
class Alert:
    """Something a human should know. ``rule`` names the alert rule that raised it (the key
    for de-duplication and cooldown); ``context`` carries machine-readable details."""

    rule: str
    severity: Severity = attrs.field(converter=Severity)
    title: str
    message: str
    timestamp: int
    symbol: str | None = None
    context: Mapping[str, str] = attrs.field(factory=dict)


class Health(StrEnum):
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    STALE = "stale"
    CIRCUIT_OPEN = "circuit_open"
    CIRCUIT_CLOSED = "circuit_closed"
    MAINTENANCE = "maintenance"


@attrs.frozen
class ConnectionStatus:
    """A data source or executor reporting the health of its connection to the venue.

    Yield it from ``DataSource.stream()`` or ``Executor.events()`` whenever the state changes
    (a reconnect starts, the feed goes quiet, a circuit breaker opens or closes, the venue
    announces maintenance); the runtime counts it in the metrics and turns it into alerts
    (``reconnect_storm``, ``feed_stale``, ``circuit_open`` ...). ``timestamp`` is wall-clock
    ms UTC.
    """

    source: str
    health: Health = attrs.field(converter=Health)
    detail: str = ""
    timestamp: int = 0

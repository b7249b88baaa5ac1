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

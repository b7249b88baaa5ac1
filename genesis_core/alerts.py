"""Alert rules: which events alert, de-duplication, cooldowns, burst aggregation, escalation.

Time is the bot's clock (bar close times), so a replay alerts exactly like the live run did.

* A rule can be disabled, or given a cooldown: a repeat of the same (rule, symbol, title)
  within the cooldown is suppressed and counted.
* Bursts: when more than ``burst_limit`` alerts of one rule arrive within ``burst_seconds``,
  the extra ones are held and delivered as one summary alert when the window closes.
* Escalation: the ``escalate_after``-th critical alert of a rule within an hour is re-titled
  "ESCALATED" and carries the repeat count, so a storm of criticals is not just more noise.
"""

from __future__ import annotations

from collections import defaultdict, deque

import attrs

from genesis_core.config.schema import AlertsConfig
from genesis_core.models import Alert, Severity


HOUR_MS = 3_600_000


class AlertRouter:
    """Decides what each raised alert turns into; ``flush`` releases summaries of held bursts."""

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config
        self.suppressed = 0
        self._last: dict[tuple[str, str | None, str], int] = {}
        self._window: dict[str, deque[int]] = defaultdict(deque)
        self._held: dict[str, list[Alert]] = defaultdict(list)
        self._criticals: dict[str, deque[int]] = defaultdict(deque)

    def route(self, alert: Alert) -> list[Alert]:
        """Alerts to deliver now for ``alert`` (possibly none, possibly summaries first)."""
        out = self.flush(alert.timestamp)
        if alert.rule in self.config.disabled:
            return out
        key = (alert.rule, alert.symbol, alert.title)
        cooldown = self.config.cooldown_seconds.get(alert.rule, 0) * 1000
        last = self._last.get(key)
        if last is not None and alert.timestamp - last < cooldown:
            self.suppressed += 1
            return out
        self._last[key] = alert.timestamp
        window = self._window[alert.rule]
        while window and alert.timestamp - window[0] >= self.config.burst_seconds * 1000:
            window.popleft()
        if len(window) >= self.config.burst_limit:
            self._held[alert.rule].append(alert)
            return out
        window.append(alert.timestamp)
        return [*out, self._escalate(alert)]

    def flush(self, now: int, *, force: bool = False) -> list[Alert]:
        """Summaries of held bursts whose window has closed (all of them if ``force``)."""
        out = []
        for rule, held in list(self._held.items()):
            window = self._window[rule]
            closed = not window or now - window[0] >= self.config.burst_seconds * 1000
            if held and (closed or force):
                worst = max(held, key=lambda a: a.severity.rank)
                out.append(Alert(rule, worst.severity, f"{len(held)} more {rule} alerts",
                                 "; ".join(a.title for a in held[:5])
                                 + (" ..." if len(held) > 5 else ""), now,
                                 context={"aggregated": str(len(held))}))
                del self._held[rule]
                window.clear()
        return out

    def _escalate(self, alert: Alert) -> Alert:
        if alert.severity is not Severity.CRITICAL:
            return alert
        seen = self._criticals[alert.rule]
        while seen and alert.timestamp - seen[0] >= HOUR_MS:
            seen.popleft()
        seen.append(alert.timestamp)
        if len(seen) < self.config.escalate_after:
            return alert
        return attrs.evolve(alert, title=f"ESCALATED ({len(seen)} in 1h): {alert.title}",
                            context={**alert.context, "repeats": str(len(seen))})

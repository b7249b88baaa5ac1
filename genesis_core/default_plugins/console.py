"""The console notifier: every alert, one line each, on standard error."""

from __future__ import annotations

import sys

import attrs

from genesis_core.config.schema import doc
from genesis_core.contracts import Notifier
from genesis_core.hookspecs import hookimpl
from genesis_core.models import Alert, Severity, format_ts


@attrs.frozen
class ConsoleParams:
    min_severity: Severity = doc("Lowest severity printed.", default=Severity.INFO,
                                 converter=Severity)
    stream: str = doc("stderr or stdout.", default="stderr",
                      validator=attrs.validators.in_(("stderr", "stdout")))


class ConsoleNotifier(Notifier):
    """Print alerts to the terminal."""

    name = "console"
    Params = ConsoleParams

    def format(self, alert: Alert) -> str:
        symbol = f" {alert.symbol}" if alert.symbol else ""
        return (f"[{format_ts(alert.timestamp)}] {alert.severity.value.upper():8} "
                f"{alert.rule}{symbol}: {alert.title}"
                + (f" — {alert.message}" if alert.message else ""))

    async def notify(self, alert: Alert) -> None:
        if alert.severity.rank >= self.params.min_severity.rank:
            out = sys.stderr if self.params.stream == "stderr" else sys.stdout
            print(self.format(alert), file=out, flush=True)


@hookimpl
def register_notifiers(register):  # type: ignore[no-untyped-def]
    register(ConsoleNotifier)

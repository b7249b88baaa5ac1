"""Strategies: candles in, signals out."""

from __future__ import annotations

from typing import ClassVar

from genesis_core.contracts.base import Component
from genesis_core.models import Candles, Signal


class Strategy(Component):
    """Turns candles of one symbol and timeframe into signals.

    ``generate`` sees a whole history at once; it must be **causal**: the signal for bar ``t`` may
    depend only on bars ``0..t``. The runtime relies on that to give live trading exactly the
    signals a backtest gives (see ``genesis_core.testing`` for the checks).
    """

    kind: ClassVar[str] = "strategy"
    INTERFACE_VERSION: ClassVar[int] = 1

    def warmup(self) -> int:
        """Bars needed before the first meaningful signal."""
        return 0

    def generate(self, candles: Candles) -> list[Signal]:
        """Return the signals for ``candles``, at most one per bar, in time order."""
        raise NotImplementedError

    def latest(self, candles: Candles) -> list[Signal]:
        """The signals stamped at the close of the last bar: what the live runner asks for on
        every bar. The default filters :meth:`generate`; a strategy whose history holds many
        signals may override it to build only the last bar's (``check_strategy`` verifies
        that it agrees with ``generate``)."""
        if not len(candles):
            return []
        close_ms = candles.close_time(len(candles) - 1)
        return [s for s in self.generate(candles) if s.timestamp == close_ms]

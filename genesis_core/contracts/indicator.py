"""Indicators: pure functions of candles, in batch and streaming form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Protocol

import numpy as np

from genesis_core.contracts.base import Component
from genesis_core.models import Candle, Candles


class IndicatorStream(Protocol):
    """Incremental twin of an indicator: ``update`` per closed bar returns the same values the
    batch ``compute`` gives at that bar."""

    def update(self, candle: Candle) -> Mapping[str, float]: ...


class Indicator(Component):
    """Computes named output series from candles (NaN during warm-up)."""

    kind: ClassVar[str] = "indicator"
    outputs: ClassVar[tuple[str, ...]] = ("value",)

    def warmup(self) -> int:
        """Number of leading bars whose outputs are NaN."""
        raise NotImplementedError

    def compute(self, candles: Candles) -> dict[str, np.ndarray]:
        """Return one float64 array per name in ``outputs``, each ``len(candles)`` long."""
        raise NotImplementedError

    def stream(self) -> IndicatorStream:
        """Return a fresh incremental state for live trading."""
        raise NotImplementedError(f"indicator {self.name!r} has no streaming form")

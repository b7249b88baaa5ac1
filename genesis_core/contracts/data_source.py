"""Data sources: where candles, tickers and trades come from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

import attrs

from genesis_core.contracts.base import Component
from genesis_core.models import Candle, Candles, ConnectionStatus, Ticker, Trade


@attrs.frozen
class MarketSpec:
    """One stream a bot wants: a symbol at a timeframe."""

    symbol: str
    timeframe: str


@attrs.frozen
class CandleClosed:
    """A bar of ``symbol``/``timeframe`` has closed. Only closed bars are ever emitted."""

    symbol: str
    timeframe: str
    candle: Candle


MarketEvent = CandleClosed | Ticker | Trade | ConnectionStatus


class DataSource(Component):
    """Supplies market data: history (optional) and a live or replayed stream."""

    kind: ClassVar[str] = "data_source"
    supports_history: ClassVar[bool] = False

    async def history(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> Candles:
        """Return closed bars with ``start_ms <= open time < end_ms``.

        Gaps the venue never published are left missing, never invented.
        """
        raise NotImplementedError(f"data source {self.name!r} does not provide history")

    def stream(self, markets: Sequence[MarketSpec]) -> AsyncIterator[MarketEvent]:
        """Yield market events for ``markets`` in time order until exhausted or closed."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections. Called once, also after errors."""

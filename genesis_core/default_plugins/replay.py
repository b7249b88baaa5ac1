"""The replay data source: stored candles (CSV files) played as a live feed.

A resumed bot calls :meth:`ReplaySource.skip_through` with the last bar it processed per market,
so the replay continues after it at once instead of waiting through the bars again.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import anyio
import attrs

from genesis_core.config.schema import doc
from genesis_core.contracts import CandleClosed, DataSource, MarketEvent, MarketSpec
from genesis_core.errors import DataError
from genesis_core.hookspecs import hookimpl
from genesis_core.models import Candles, timeframe_ms


@attrs.frozen
class ReplayFile:
    symbol: str = doc("Symbol the file holds.")
    timeframe: str = doc("Timeframe of its bars.")
    path: Path = doc("CSV file (timestamp_ms,open,high,low,close,volume), relative to the YAML.")


def _non_negative(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise ValueError(f"'{attribute.name}' must be >= 0, got {value!r}")


@attrs.frozen
class ReplayParams:
    files: list[ReplayFile] = doc("One entry per symbol and timeframe.")
    speed: float = doc("Playback speed: 1 is real time, 60 is a minute per second, "
                       "0 is as fast as possible.", default=0.0, validator=_non_negative)


class ReplaySource(DataSource):
    """Play stored candles from CSV files as if they were arriving live."""

    name = "replay"
    Params = ReplayParams
    supports_history = True

    def __init__(self, params: ReplayParams) -> None:
        super().__init__(params)
        self._cache: dict[tuple[str, str], Candles] = {}
        self._done: dict[tuple[str, str], int] = {}

    def skip_through(self, last_processed: Mapping[tuple[str, str], int]) -> None:
        """Start each (symbol, timeframe) after the bar opening at the given ms (resuming)."""
        self._done = dict(last_processed)

    def candles(self, symbol: str, timeframe: str) -> Candles:
        key = (symbol, timeframe)
        if key not in self._cache:
            for file in self.params.files:
                if (file.symbol, file.timeframe) == key:
                    self._cache[key] = Candles.from_csv(file.path, symbol=symbol,
                                                        timeframe=timeframe)
                    break
            else:
                raise DataError(f"replay: no file for {symbol} {timeframe} (params.files)")
        return self._cache[key]

    async def history(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> Candles:
        candles = self.candles(symbol, timeframe)
        lo, hi = candles.timestamp.searchsorted([start_ms, end_ms])
        return candles[int(lo):int(hi)]

    async def stream(self, markets: Sequence[MarketSpec]) -> AsyncIterator[MarketEvent]:
        # Merge all series by close time, so a 1h bar comes after the 5m bars inside it.
        series = [(m, self.candles(m.symbol, m.timeframe)) for m in markets]
        starts = [int(c.timestamp.searchsorted(self._done[key], side="right"))
                  if (key := (m.symbol, m.timeframe)) in self._done else 0 for m, c in series]
        heap = [(int(c.timestamp[i]) + timeframe_ms(m.timeframe), n, i)
                for n, ((m, c), i) in enumerate(zip(series, starts, strict=True)) if i < len(c)]
        heapq.heapify(heap)
        previous_close: int | None = None
        while heap:
            close_ms, n, i = heapq.heappop(heap)
            market, candles = series[n]
            if self.params.speed > 0 and previous_close is not None:
                await anyio.sleep((close_ms - previous_close) / 1000 / self.params.speed)
            previous_close = close_ms
            yield CandleClosed(market.symbol, market.timeframe, candles.candle(i))
            if i + 1 < len(candles):
                next_close = int(candles.timestamp[i + 1]) + timeframe_ms(market.timeframe)
                heapq.heappush(heap, (next_close, n, i + 1))


@hookimpl
def register_data_sources(register):  # type: ignore[no-untyped-def]
    register(ReplaySource)

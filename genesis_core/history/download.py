"""Download candle history through any data source into the cache, chunk by chunk.

Only ranges the cache never fetched from that source are requested. Each chunk's bars and its
coverage are committed together, synchronously between two awaits: an interruption (Ctrl-C
cancels the running task at its next await) or a failed request loses at most the chunk in
flight, and a re-run resumes from there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import attrs

from genesis_core.contracts import DataSource
from genesis_core.errors import GenesisError
from genesis_core.history.cache import CandleCache, Grid, HistoryError, Span
from genesis_core.models import format_ts


DEFAULT_CHUNK_BARS = 5_000
# A bar counts as published this long after its close: venues publish a closed bar within
# seconds, and a range marked fetched too early would keep its last bar as a false venue gap.
SETTLE_MS = 60_000


@attrs.frozen
class Progress:
    """One chunk stored: ``chunk`` of ``chunks``, its span, bars in it and so far."""

    source: str
    symbol: str
    timeframe: str
    chunk: int
    chunks: int
    span: Span
    bars: int
    total_bars: int


@attrs.frozen
class DownloadResult:
    """What one :func:`download` did: ``window`` (aligned, clamped to settled bars) was asked,
    ``chunks`` were fetched now holding ``bars`` bars."""

    source: str
    symbol: str
    timeframe: str
    window: Span
    chunks: int
    bars: int


def plan_chunks(unfetched: list[Span], step: int, chunk_bars: int) -> list[Span]:
    """Split grid-aligned ranges into chunks of at most ``chunk_bars`` bars."""
    if chunk_bars < 1:
        raise HistoryError(f"chunk size must be at least 1 bar, got {chunk_bars}")
    width = chunk_bars * step
    return [Span(lo, min(lo + width, span.end))
            for span in unfetched for lo in range(span.start, span.end, width)]


def print_progress(p: Progress) -> None:
    """Progress line on stderr: the chunk, its range, bars in it and so far."""
    print(f"{p.source} {p.symbol} {p.timeframe}: chunk {p.chunk}/{p.chunks} "
          f"[{format_ts(p.span.start)}, {format_ts(p.span.end)}) {p.bars} bars, "
          f"{p.total_bars} fetched", file=sys.stderr, flush=True)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


async def download(
    cache: CandleCache,
    source: DataSource,
    symbol: str,
    timeframe: str,
    start: int,
    end: int | None = None,
    *,
    name: str | None = None,
    chunk_bars: int = DEFAULT_CHUNK_BARS,
    progress: Callable[[Progress], None] | None = None,
    now_ms: Callable[[], int] = wall_clock_ms,
) -> DownloadResult:
    """Fetch bars with ``start <= open time < end`` (default: now) that the cache lacks.

    Bars are cached under ``name`` (default: the source's plugin name). ``end`` is clamped to
    bars closed at least :data:`SETTLE_MS` ago, so the open bar is never marked fetched.
    """
    label = name or source.name
    if not source.supports_history:
        raise HistoryError(f"data source {source.name!r} does not provide history "
                           "(supports_history is False); choose one that does, e.g. "
                           "bitfinex or replay")
    if end is not None and end <= start:
        raise HistoryError(f"start {format_ts(start)} must be before end {format_ts(end)}")
    grid = Grid.of(timeframe)
    settled = grid.floor(now_ms() - SETTLE_MS)
    window = grid.span(start, settled if end is None else min(end, settled))
    if window.start >= window.end:
        return DownloadResult(label, symbol, timeframe, window, 0, 0)
    missing = cache.gaps(symbol, timeframe, *window, source=label).unfetched
    chunks = plan_chunks(missing, grid.step, chunk_bars)
    total = 0
    for n, span in enumerate(chunks, start=1):
        try:
            candles = await source.history(symbol, timeframe, span.start, span.end)
        except NotImplementedError:
            raise HistoryError(f"data source {source.name!r} says it supports history but "
                               "does not implement history()") from None
        except GenesisError as exc:
            raise HistoryError(f"{exc} (chunk {n}/{len(chunks)}; {n - 1} stored, run again "
                               "to resume)") from exc
        cache.add(label, symbol, timeframe, candles, span)
        total += len(candles)
        if progress is not None:
            progress(Progress(label, symbol, timeframe, n, len(chunks), span, len(candles),
                              total))
    return DownloadResult(label, symbol, timeframe, window, len(chunks), total)

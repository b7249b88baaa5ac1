"""The downloader against an in-process fake source: chunks, resume, interruption, refusals."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from genesis_core import Candles, DataError, DataSource
from genesis_core.history import (
    SETTLE_MS,
    CandleCache,
    DownloadResult,
    HistoryError,
    Span,
    download,
    plan_chunks,
    print_progress,
)

from .conftest import HOUR, T0, FakeSource, bar


pytestmark = pytest.mark.anyio
MISSING = frozenset({T0 + 5 * HOUR, T0 + 6 * HOUR, T0 + 30 * HOUR})
LATER = T0 + 1_000 * HOUR


def at(ms: int) -> Callable[[], int]:
    return lambda: ms


async def fetch(cache: CandleCache, source: DataSource, start: int = T0,
                end: int | None = T0 + 50 * HOUR, **kwargs: Any) -> DownloadResult:
    kwargs.setdefault("now_ms", at(LATER))
    return await download(cache, source, "BTCUSD", "1h", start, end, chunk_bars=12, **kwargs)


def expected(start: int, end: int) -> list[int]:
    return [ts for ts in range(start, end, HOUR) if ts not in MISSING]


def test_chunks_cover_ranges_exactly() -> None:
    assert [Span(0, 12), Span(12, 20), Span(30, 34)] == plan_chunks(
        [Span(0, 20), Span(30, 34)], 1, 12)
    with pytest.raises(HistoryError, match="at least 1 bar"):
        plan_chunks([Span(0, 1)], 1, 0)


async def test_download_in_chunks_then_nothing_when_covered(cache: CandleCache,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    source = FakeSource(MISSING)
    result = await fetch(cache, source, progress=print_progress)
    assert 5 == len(source.calls)  # 50 bars in chunks of 12
    assert (5, 47) == (result.chunks, result.bars)
    err = capsys.readouterr().err.splitlines()
    assert 5 == len(err)
    assert err[0].startswith("fake BTCUSD 1h: chunk 1/5 [2023-11-14T00:00Z, 2023-11-14T12:00Z)"
                             " 10 bars, 10 fetched")
    assert err[-1].endswith("chunk 5/5 [2023-11-16T00:00Z, 2023-11-16T02:00Z) 2 bars, 47 fetched")
    assert expected(T0, T0 + 50 * HOUR) == cache.load("BTCUSD", "1h").timestamp.tolist()
    gaps = cache.gaps("BTCUSD", "1h")
    assert [Span(T0 + 5 * HOUR, T0 + 7 * HOUR), Span(T0 + 30 * HOUR, T0 + 31 * HOUR)] == (
        gaps.venue)
    assert [] == gaps.unfetched

    again = FakeSource(MISSING)
    result = await fetch(cache, again)
    assert [] == again.calls
    assert 0 == result.chunks
    # A wider request fetches only the new edges.
    wider = FakeSource(MISSING)
    await fetch(cache, wider, T0 - 3 * HOUR, T0 + 55 * HOUR)
    assert [(T0 - 3 * HOUR, T0), (T0 + 50 * HOUR, T0 + 55 * HOUR)] == wider.calls


async def test_a_failed_chunk_keeps_the_finished_ones_and_a_rerun_resumes(
        cache: CandleCache) -> None:
    broken = FakeSource(MISSING, fail_at=3)
    with pytest.raises(HistoryError, match=r"^fake: connection reset by peer \(chunk 3/5; 2 "
                                           r"stored, run again to resume\)$"):
        await fetch(cache, broken)
    assert [Span(T0, T0 + 24 * HOUR)] == cache.coverage("fake", "BTCUSD", "1h")
    assert expected(T0, T0 + 24 * HOUR) == cache.load("BTCUSD", "1h").timestamp.tolist()

    resumed = FakeSource(MISSING)
    result = await fetch(cache, resumed)
    assert [(T0 + 24 * HOUR, T0 + 36 * HOUR), (T0 + 36 * HOUR, T0 + 48 * HOUR),
            (T0 + 48 * HOUR, T0 + 50 * HOUR)] == resumed.calls
    assert 3 == result.chunks
    loaded = cache.load("BTCUSD", "1h")
    assert [bar(ts) for ts in expected(T0, T0 + 50 * HOUR)] == [
        (int(loaded.timestamp[i]), *(float(a[i]) for a in loaded.arrays()[1:]))
        for i in range(len(loaded))]


async def test_cancelling_mid_request_leaves_the_cache_consistent(cache: CandleCache) -> None:
    """Ctrl-C cancels the task at its await: here while chunk 3 is in flight."""
    source = FakeSource(MISSING, block_at=3)
    async with anyio.create_task_group() as tg:
        tg.start_soon(fetch, cache, source)
        await source.blocked.wait()
        tg.cancel_scope.cancel()
    assert [Span(T0, T0 + 24 * HOUR)] == cache.coverage("fake", "BTCUSD", "1h")
    assert "ok" == sqlite3.connect(cache.path).execute("PRAGMA integrity_check").fetchone()[0]
    outside = cache.db.execute("SELECT count(*) FROM candles WHERE ts >= ?",
                               [T0 + 24 * HOUR]).fetchone()[0]
    assert 0 == outside

    resumed = FakeSource(MISSING)
    await fetch(cache, resumed)
    assert 3 == len(resumed.calls)
    assert (T0 + 24 * HOUR) == resumed.calls[0][0]


async def test_the_open_bar_is_never_marked_fetched(cache: CandleCache) -> None:
    now = T0 + 10 * HOUR + 30 * 60_000  # bar T0+10h is open
    source = FakeSource()
    result = await fetch(cache, source, end=None, now_ms=at(now))
    assert Span(T0, T0 + 10 * HOUR) == result.window
    # Just after a close, the bar waits SETTLE_MS before it counts as published.
    later = FakeSource()
    await fetch(cache, later, end=None, now_ms=at(T0 + 12 * HOUR + SETTLE_MS - 1))
    assert [(T0 + 10 * HOUR, T0 + 11 * HOUR)] == later.calls
    assert [Span(T0, T0 + 11 * HOUR)] == cache.coverage("fake", "BTCUSD", "1h")


async def test_refusals(cache: CandleCache) -> None:
    class Live(DataSource):
        name = "live_only"

    with pytest.raises(HistoryError, match=r"'live_only' does not provide history "
                                           r"\(supports_history is False\)"):
        await fetch(cache, Live())
    with pytest.raises(HistoryError, match="must be before end"):
        await fetch(cache, FakeSource(), T0, T0)

    class Sloppy(FakeSource):
        async def history(self, symbol: str, timeframe: str, start_ms: int,
                          end_ms: int) -> Candles:
            return Candles.from_rows([bar(end_ms)], symbol=symbol, timeframe=timeframe)

    with pytest.raises(DataError, match=r"fake BTCUSD 1h bar 2023-11-14T12:00Z: outside the "
                                        r"requested \[2023-11-14T00:00Z, 2023-11-14T12:00Z\)"):
        await fetch(cache, Sloppy())
    assert [] == cache.sources("BTCUSD", "1h")


async def test_cache_name_keeps_sources_apart(cache: CandleCache) -> None:
    await fetch(cache, FakeSource(), end=T0 + 2 * HOUR, name="fake_sim")
    assert ["fake_sim"] == cache.sources("BTCUSD", "1h")
    source = FakeSource()
    await fetch(cache, source, end=T0 + 2 * HOUR)
    assert 1 == len(source.calls)  # another name, so not covered
    assert ["fake", "fake_sim"] == cache.sources("BTCUSD", "1h")

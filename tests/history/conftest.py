"""Fixtures for the candle history tests: a cache in tmp_path and a counting fake source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from genesis_core import Candles, DataError, DataSource, timeframe_ms
from genesis_core.history import CandleCache


DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HOUR = 3_600_000
T0 = 1_699_920_000_000  # 2023-11-14T00:00Z, on every grid up to a day


def shared(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"shared data file {path} not present")
    return path


def bar(ts: int) -> tuple[int, float, float, float, float, float]:
    base = 100.0 + (ts // HOUR) % 13
    return (ts, base, base + 2.5, base - 1.25, base + 1, 1.0 + (ts // HOUR) % 3)


class FakeSource(DataSource):
    """History from a formula, minus ``missing`` bars; records every history() call.

    ``fail_at``: that call raises a DataError (a network failure); ``block_at``: that call
    never returns (a request in flight when the user presses Ctrl-C).
    """

    name = "fake"
    supports_history = True

    def __init__(self, missing: frozenset[int] = frozenset(), *, fail_at: int = 0,
                 block_at: int = 0) -> None:
        super().__init__()
        self.missing = missing
        self.fail_at = fail_at
        self.block_at = block_at
        self.calls: list[tuple[int, int]] = []
        self.blocked = anyio.Event()

    async def history(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> Candles:
        self.calls.append((start_ms, end_ms))
        if len(self.calls) == self.fail_at:
            raise DataError("fake: connection reset by peer")
        if len(self.calls) == self.block_at:
            self.blocked.set()
            await anyio.sleep_forever()
        step = timeframe_ms(timeframe)
        rows = [bar(ts) for ts in range(start_ms, end_ms, step) if ts not in self.missing]
        return Candles.from_rows(rows, symbol=symbol, timeframe=timeframe)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[CandleCache]:
    with CandleCache.open(tmp_path / "data.db") as opened:
        yield opened

"""End to end: `genesis data download` through the `bitfinex` data source against the real
Bitfinex simulator over loopback HTTP: pagination, venue gaps, Ctrl-C and resume."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from genesis_core.history import CandleCache

from .conftest import HOUR, shared


sim = pytest.importorskip("genesis_exchange_bitfinex.sim")
rest_app = pytest.importorskip("genesis_exchange_bitfinex.sim._rest_app")
pytestmark = pytest.mark.anyio


class Requests:
    """Spies on the simulator's candle pages; can hold the first one from ``hold_from`` on."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.hold_from: int | None = None
        self.held = anyio.Event()
        self.release = anyio.Event()

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        async def spy(app: Any, req: Any) -> Any:
            url = urlsplit(req.target)
            if url.path.endswith("/hist"):
                start = int(parse_qs(url.query)["start"][0])
                self.starts.append(start)
                if self.hold_from is not None and start >= self.hold_from:
                    self.held.set()
                    await self.release.wait()
            return await original(app, req)

        return spy


async def output(process: Process) -> tuple[str, str]:
    texts = []
    for stream in (process.stdout, process.stderr):
        assert stream is not None
        texts.append("".join([chunk async for chunk in TextReceiveStream(stream)]))
    return texts[0], texts[1]


async def test_download_from_the_simulator_pages_reports_gaps_and_resumes_after_ctrl_c(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = shared("bitfinex_BTCUSD_1h.csv")
    lines = csv.read_text().splitlines()
    first, last = int(lines[1].split(",")[0]), int(lines[-1].split(",")[0])
    requests = Requests()
    monkeypatch.setattr(rest_app.RestApp, "__call__", requests.wrap(rest_app.RestApp.__call__))
    # Every row visible; the last one is the simulator's open bar, so the window ends there.
    config = sim.SimConfig(markets=(sim.MarketSpec("tBTCUSD", str(csv)),),
                           warmup_candles=len(lines) - 2, heartbeat_interval=1.0)
    db = tmp_path / "data.db"
    async with sim.BitfinexSimulator(config) as simulator:
        command = [sys.executable, "-m", "genesis_core", "data", "download",
                   "--source", "bitfinex", "--param", f"rest_url={simulator.rest_url}",
                   "--param", "history_page_limit=100", "--param", "close_by_clock=false",
                   "--param", "retries=0", "--symbol", "BTCUSD", "--timeframe", "1h",
                   "--start", str(first), "--end", str(last), "--chunk-bars", "200",
                   "--db", str(db)]
        with anyio.fail_after(20):
            # Run 1: Ctrl-C while the first page of chunk 2 is on the wire.
            requests.hold_from = first + 200 * HOUR
            process = await anyio.open_process(command)
            await requests.held.wait()
            process.send_signal(signal.SIGINT)
            requests.release.set()
            assert 130 == await process.wait()
            _, stderr = await output(process)
            assert "chunk 1/4" in stderr
            assert stderr.rstrip().endswith("run the same command again to resume")
            with CandleCache.open(db) as cache:
                assert [(first, first + 200 * HOUR)] == cache.coverage("bitfinex", "BTCUSD", "1h")

            # Run 2 resumes with chunk 2, in pages of 100 bars.
            requests.hold_from = None
            requests.starts.clear()
            result = await anyio.run_process(command)
            stdout = result.stdout.decode()
            assert ["chunk 1/3", "chunk 2/3", "chunk 3/3"] == [
                line.split(" [")[0].split(": ")[1] for line in result.stderr.decode().splitlines()]
            assert min(requests.starts) == first + 200 * HOUR
            assert len(requests.starts) >= 6  # 541 hours in 3 chunks, each over 2+ pages
            assert stdout.startswith("bitfinex BTCUSD 1h: 3 chunks fetched, 536 bars; ")
            assert "holds 732 bars, 7 venue gaps (9 bars), 0 unfetched ranges" in stdout

            # Run 3: covered, so not one candle request.
            requests.starts.clear()
            result = await anyio.run_process(command)
            assert "already cached, nothing fetched" in result.stdout.decode()
            assert [] == requests.starts

    out = tmp_path / "out.csv"
    with CandleCache.open(db) as cache:
        assert 732 == cache.export_csv("BTCUSD", "1h", out)
        gaps = cache.gaps("BTCUSD", "1h")
    # Values crossed the wire as Bitfinex JSON and come back as the file wrote them.
    assert "\n".join(lines[:-1]) + "\n" == out.read_text()
    assert (7, 9, []) == (len(gaps.venue), sum(s.bars(HOUR) for s in gaps.venue), gaps.unfetched)

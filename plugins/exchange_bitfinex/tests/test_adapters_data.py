"""The ``bitfinex`` data source against the simulator (loopback sockets) and its pure parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from genesis_core import CandleClosed, ConnectionStatus, DataError, Health, MarketSpec, load_plugins
from genesis_exchange_bitfinex._convert import (
    SymbolMap,
    default_venue_symbol,
    find_gaps,
    venue_timeframe,
)
from genesis_exchange_bitfinex._rest import BitfinexRestClient
from genesis_exchange_bitfinex._wire import Candle as WireCandle
from genesis_exchange_bitfinex.config import DataParams
from genesis_exchange_bitfinex.data import BarCloser, BitfinexDataSource
from genesis_exchange_bitfinex.sim import BitfinexSimulator, SimConfig
from genesis_exchange_bitfinex.sim import MarketSpec as SimMarket


MIN = 60_000
FIVE = 5 * MIN
# Candle 240 (the simulator's cursor: its open bar) opens on a 5-minute boundary.
T0 = (1_700_000_000_000 // FIVE) * FIVE
START = T0 - 240 * MIN
MISSING = frozenset({10, 11, 12, 50, 100, 101, 102, 103, 104, 239})


def _row(i: int) -> tuple[int, str, str, str, str, str]:
    base = 30000 + (i % 17) * 10
    return (START + i * MIN, str(base), str(base + 25), str(base - 15), str(base + 5),
            str(1 + i % 4))


def write_csv(path: Path, rows: int = 300, missing: frozenset[int] = frozenset()) -> Path:
    lines = ["timestamp_ms,open,high,low,close,volume"]
    lines += [",".join(map(str, _row(i))) for i in range(rows) if i not in missing]
    path.write_text("\n".join(lines) + "\n")
    return path


def _sim_config(tmp_path: Path, missing: frozenset[int] = frozenset()) -> SimConfig:
    csv = str(write_csv(tmp_path / "bars.csv", missing=missing))
    # A contiguous file for the streamed markets: gaps would shift the cursor's bar.
    contiguous = str(write_csv(tmp_path / "full.csv"))
    return SimConfig(
        markets=(SimMarket("tTESTBTC:TESTUSD", csv), SimMarket("tBTCUSD", contiguous),
                 SimMarket("tETHUSD", contiguous)),
        heartbeat_interval=0.2,
        seed=3,
    )


@pytest.fixture
async def gapped_sim(tmp_path: Path) -> AsyncIterator[BitfinexSimulator]:
    async with BitfinexSimulator(_sim_config(tmp_path, MISSING)) as simulator:
        yield simulator


def _source(sim: BitfinexSimulator, **overrides: Any) -> BitfinexDataSource:
    values: dict[str, Any] = {"rest_url": sim.rest_url, "ws_url": sim.ws_url,
                              "close_by_clock": False}
    values.update(overrides)
    return BitfinexDataSource(DataParams(**values))


# --- pure parts ----------------------------------------------------------------------------


def test_symbol_rule_and_explicit_map() -> None:
    assert "tBTCUSD" == default_venue_symbol("BTCUSD")
    assert "tTESTBTC:TESTUSD" == default_venue_symbol("TESTBTC:TESTUSD")
    assert "tBTCUSD" == default_venue_symbol("BTC/USD")
    assert "tDOGE:USD" == default_venue_symbol("DOGE/USD")
    symbols = SymbolMap({"XBT": "tBTCUSD"})
    assert "tBTCUSD" == symbols.venue("XBT")
    assert "XBT" == symbols.genesis("tBTCUSD")
    assert "tTESTBTC:TESTUSD" == symbols.venue("TESTBTC:TESTUSD")
    assert "TESTBTC:TESTUSD" == symbols.genesis("tTESTBTC:TESTUSD")
    assert "ETHUSD" == symbols.genesis("tETHUSD")  # never seen: the rule, reversed


def test_params_refuse_a_symbol_map_without_trading_prefix() -> None:
    with pytest.raises(ValueError, match="starts with 't'"):
        DataParams(symbols={"BTCUSD": "BTCUSD"})


def test_timeframes_use_bitfinex_spelling() -> None:
    assert ["1m", "1h", "1D", "1D", "1W"] == [
        venue_timeframe(tf) for tf in ("1m", "1h", "1d", "1D", "7d")]
    with pytest.raises(DataError, match="no 2h candles"):
        venue_timeframe("2h")


def test_find_gaps_reports_half_open_missing_intervals() -> None:
    present = [0, MIN, 4 * MIN, 5 * MIN]
    assert [(2 * MIN, 4 * MIN), (6 * MIN, 8 * MIN)] == find_gaps(present, "1m", 0, 8 * MIN)
    assert [] == find_gaps(present, "1m", 0, 2 * MIN)
    assert [(MIN, 3 * MIN)] == find_gaps([], "1m", 30_000, 3 * MIN)  # grid-aligned


def _bar(mts: int, close: str, volume: str = "1") -> WireCandle:
    c = Decimal(close)
    return WireCandle(mts, c, c, c, c, Decimal(volume))


def test_bar_closer_never_leaks_the_open_bar() -> None:
    closer = BarCloser([MarketSpec("A", "1m")])
    closer.snapshot(0, [_bar(2 * MIN, "3"), _bar(MIN, "2"), _bar(0, "1")])
    assert [] == closer.release()  # the snapshot only sets the starting point
    closer.update(0, _bar(2 * MIN, "4", "2"))
    closer.update(0, _bar(2 * MIN, "5", "3"))
    assert [] == closer.release()
    closer.update(0, _bar(3 * MIN, "6"))
    (closed,) = closer.release()
    assert (2 * MIN, 5.0, 3.0) == (closed.candle.timestamp, closed.candle.close,
                                   closed.candle.volume)
    closer.update(0, _bar(2 * MIN, "9"))  # a late update of a closed bar is dropped
    assert [] == closer.release()


def test_bar_closer_clock_rule_and_close_time_order() -> None:
    closer = BarCloser([MarketSpec("A", "1m"), MarketSpec("A", "5m"), MarketSpec("B", "1m")],
                       grace_ms=1_000)
    closer.snapshot(0, [_bar(0, "1")])
    closer.snapshot(1, [_bar(0, "1")])
    closer.snapshot(2, [_bar(0, "1")])
    seen: list[CandleClosed] = []
    for minute in range(1, 6):
        for index in (0, 2):
            closer.update(index, _bar(minute * MIN, str(minute)))
        closer.update(1, _bar(minute // 5 * FIVE, str(minute)))
        seen += closer.release()
    keys = [(e.candle.timestamp, e.symbol, e.timeframe) for e in seen]
    assert [(0, "A", "1m"), (0, "B", "1m"), (MIN, "A", "1m"), (MIN, "B", "1m"),
            (2 * MIN, "A", "1m"), (2 * MIN, "B", "1m"), (3 * MIN, "A", "1m"), (3 * MIN, "B", "1m"),
            (4 * MIN, "A", "1m"), (0, "A", "5m"), (4 * MIN, "B", "1m")] == keys
    # Quiet market: no next bar, but the clock says the bars have closed.
    closer.tick(6 * MIN + 999)
    assert [] == closer.release()
    closer.tick(6 * MIN + 1_000)
    assert [(5 * MIN, "A", "1m"), (5 * MIN, "B", "1m")] == [
        (e.candle.timestamp, e.symbol, e.timeframe) for e in closer.release()]
    closer.update(0, _bar(5 * MIN, "7"))  # arrives after the clock closed it: dropped
    closer.tick(10 * MIN + 1_000)
    assert [(5 * MIN, "A", "5m")] == [
        (e.candle.timestamp, e.symbol, e.timeframe) for e in closer.release()]


def test_bar_closer_emits_bars_closed_during_a_reconnect() -> None:
    closer = BarCloser([MarketSpec("A", "1m")])
    closer.snapshot(0, [_bar(0, "1")])
    closer.update(0, _bar(MIN, "2"))
    assert [0] == [e.candle.timestamp for e in closer.release()]
    # Reconnected: the new snapshot holds the rest of bar 1 and bars 2..3 (3 still open).
    closer.snapshot(0, [_bar(3 * MIN, "5"), _bar(2 * MIN, "4"), _bar(MIN, "3"), _bar(0, "1")])
    released = closer.release()
    assert [(MIN, 3.0), (2 * MIN, 4.0)] == [(e.candle.timestamp, e.candle.close)
                                            for e in released]


# --- against the simulator -----------------------------------------------------------------

@pytest.mark.anyio
async def test_history_pages_through_gaps_and_flags_them(
    gapped_sim: BitfinexSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages: list[dict[str, Any]] = []
    original = BitfinexRestClient.candles

    async def spy(self: BitfinexRestClient, *args: Any, **kwargs: Any) -> Any:
        pages.append(kwargs)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(BitfinexRestClient, "candles", spy)
    source = _source(gapped_sim, history_page_limit=50)
    try:
        end = START + 300 * MIN
        candles = await source.history("TESTBTC:TESTUSD", "1m", START, end)
    finally:
        await source.aclose()
    # The simulator's cursor is the 241st row present; that open bar (the venue's newest)
    # stays out, every earlier published bar is there, the missing ones stay missing.
    expected = [i for i in range(300) if i not in MISSING][:240]
    assert [START + i * MIN for i in expected] == candles.timestamp.tolist()
    assert len(pages) >= 5  # 240 bars in pages of 50
    row = _row(expected[-1])
    assert (float(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5])) == (
        candles.open[-1], candles.high[-1], candles.low[-1], candles.close[-1],
        candles.volume[-1])
    assert ("TESTBTC:TESTUSD", "1m") == (candles.symbol, candles.timeframe)
    gaps = source.gaps(candles, START, START + 240 * MIN)
    assert [(START + 10 * MIN, START + 13 * MIN), (START + 50 * MIN, START + 51 * MIN),
            (START + 100 * MIN, START + 105 * MIN), (START + 239 * MIN, START + 240 * MIN)] == gaps


@pytest.mark.anyio
async def test_history_window_is_half_open_and_clock_drops_the_open_bar(
    gapped_sim: BitfinexSimulator,
) -> None:
    source = _source(gapped_sim, close_by_clock=True)
    source.clock_ms = lambda: START + 30 * MIN - 1  # bar 29 closes at START + 30 min
    try:
        window = await source.history("TESTBTC:TESTUSD", "1m", START + 5 * MIN, START + 40 * MIN)
        empty = await source.history("TESTBTC:TESTUSD", "1m", START + 11 * MIN, START + 12 * MIN)
        with pytest.raises(DataError, match="cannot fetch NOPE 1m"):
            await source.history("NOPE", "1m", START, START + MIN)
    finally:
        await source.aclose()
    assert [START + i * MIN for i in range(5, 29) if i not in MISSING] == (
        window.timestamp.tolist())
    assert 0 == len(empty)


async def _until(predicate: Callable[[], bool]) -> None:
    """Wait for a condition the simulator will reach; the limit only guards against hangs."""

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 (the simulator offers no event to wait on)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 10)


@pytest.mark.anyio
async def test_stream_emits_closed_bars_only_in_close_time_order(tmp_path: Path) -> None:
    async with BitfinexSimulator(_sim_config(tmp_path)) as sim:
        source = _source(sim)
        markets = [MarketSpec("BTCUSD", "1m"), MarketSpec("BTCUSD", "5m"),
                   MarketSpec("ETHUSD", "1m")]
        seen: list[CandleClosed] = []
        statuses: list[ConnectionStatus] = []
        enough = asyncio.Event()

        async def consume() -> None:
            async for event in source.stream(markets):
                if isinstance(event, ConnectionStatus):
                    statuses.append(event)
                    continue
                assert isinstance(event, CandleClosed)
                seen.append(event)
                if len(seen) == 22:
                    enough.set()

        task = asyncio.create_task(consume())
        try:
            await _until(lambda: sum(len(c.subs) for c in sim.ws.conns) == 3)
            sim.step(10)  # bars 241..250 arrive: 240..249 close, and two 5-minute bars
            await asyncio.wait_for(enough.wait(), 10)
            five = await source.history("BTCUSD", "5m", T0, T0 + 2 * FIVE)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await source.aclose()
    assert [("bitfinex market data", Health.CONNECTED)] == [
        (s.source, s.health) for s in statuses]  # the connect; no reconnect happened
    close_times = [e.candle.timestamp + (FIVE if e.timeframe == "5m" else MIN) for e in seen]
    assert close_times == sorted(close_times)
    one_minute = [e for e in seen if e.timeframe == "1m" and e.symbol == "BTCUSD"]
    assert [T0 + i * MIN for i in range(10)] == [e.candle.timestamp for e in one_minute]
    for event in one_minute:
        row = _row((event.candle.timestamp - START) // MIN)
        assert (float(row[4]), float(row[5])) == (event.candle.close, event.candle.volume)
    streamed_five = [e.candle for e in seen if e.timeframe == "5m"]
    assert [five.candle(0), five.candle(1)] == streamed_five  # complete, not a partial view
    assert sum(float(_row(240 + i)[5]) for i in range(5)) == streamed_five[0].volume
    assert {"BTCUSD", "ETHUSD"} == {e.symbol for e in seen}
    # The 5m bar closing at T0+5m comes after BTCUSD's 1m bar closing then, before ETHUSD's.
    tie = [(e.symbol, e.timeframe) for e in seen
           if e.candle.timestamp + (FIVE if e.timeframe == "5m" else MIN) == T0 + FIVE]
    assert [("BTCUSD", "1m"), ("BTCUSD", "5m"), ("ETHUSD", "1m")] == tie


@pytest.mark.anyio
async def test_stream_refuses_an_unknown_pair(tmp_path: Path) -> None:
    async with BitfinexSimulator(_sim_config(tmp_path)) as sim:
        source = _source(sim)
        try:
            with pytest.raises(DataError, match="cannot subscribe to trade:1m:tNOPE"):
                async for _ in source.stream([MarketSpec("NOPE", "1m")]):
                    pass
        finally:
            await source.aclose()


def test_plugin_registers_the_data_source() -> None:
    plugins = load_plugins()
    assert "bitfinex" in plugins.registry.names("data_source")
    assert BitfinexDataSource is plugins.registry.get("data_source", "bitfinex").cls

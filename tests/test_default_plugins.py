"""The core's own components: replay source, paper executor, console notifier."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis_core import (
    Alert,
    Candle,
    CandleClosed,
    Fill,
    MarketSpec,
    OrderError,
    OrderRequest,
    OrderStatus,
    load_plugins,
)

from .conftest import SHARED_DATA


pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def registry():
    return load_plugins(entry_points=False).registry


def build(registry, kind: str, name: str, **params):
    cls = registry.get(kind, name).cls
    return cls(cls.Params(**params))


async def test_replay_merges_timeframes_by_close_time(registry) -> None:
    """A 1h bar is emitted after the 1m bars inside it, never before (no look-ahead)."""
    from genesis_core.default_plugins.replay import ReplayFile

    files = [ReplayFile("BTCUSD", "1m", SHARED_DATA / "bitfinex_BTCUSD_1m.csv"),
             ReplayFile("BTCUSD", "15m", SHARED_DATA / "bitfinex_BTCUSD_15m.csv")]
    source = build(registry, "data_source", "replay", files=files)
    events = [e async for e in source.stream([MarketSpec("BTCUSD", "1m"),
                                              MarketSpec("BTCUSD", "15m")])]
    assert 288 + 95 == len(events)
    closes = [e.candle.timestamp + (60_000 if e.timeframe == "1m" else 900_000) for e in events]
    assert closes == sorted(closes)
    # [start, end): the 05:04 bar is missing in Bitfinex's data (no trades) and stays missing.
    history = await source.history("BTCUSD", "1m", 1684731720000, 1684731960000)
    assert [1684731720000, 1684731780000, 1684731900000] == history.timestamp.tolist()


def bar(ts: int, o: float, h: float, low: float, c: float) -> CandleClosed:
    return CandleClosed("BTCUSD", "1m", Candle(ts, o, h, low, c, 1.0))


async def test_paper_market_order_fills_at_next_open_with_exact_fee_and_slippage(registry):
    executor = build(registry, "executor", "paper", initial_cash=Decimal(1000),
                     taker_fee_bps=Decimal(20), slippage_bps=Decimal(10))
    await executor.on_market(bar(0, 100, 101, 99, 100.5))
    order = await executor.submit(OrderRequest("c1", "BTCUSD", "BUY", "MARKET", Decimal("0.5")))
    assert OrderStatus.OPEN == order.status
    await executor.on_market(bar(60_000, 100.7, 102, 100, 101))
    order = await executor.order("c1")
    assert OrderStatus.FILLED == order.status
    price = Decimal("100.7") * Decimal("1.001")            # slippage against the buyer
    fee = Decimal("0.5") * price * Decimal("0.002")
    assert price == order.average_price
    assert Decimal(1000) - Decimal("0.5") * price - fee == executor.cash
    assert Decimal("0.5") == executor.positions["BTCUSD"].amount


async def test_paper_limit_and_stop_orders(registry) -> None:
    executor = build(registry, "executor", "paper", initial_cash=Decimal(1000),
                     maker_fee_bps=Decimal(10), taker_fee_bps=Decimal(20))
    await executor.on_market(bar(0, 100, 101, 99, 100))
    await executor.submit(OrderRequest("lim", "BTCUSD", "BUY", "LIMIT", Decimal(1),
                                       price=Decimal("98.5")))
    await executor.submit(OrderRequest("stp", "BTCUSD", "SELL", "STOP", Decimal(1),
                                       stop_price=Decimal("97")))
    await executor.on_market(bar(60_000, 99.5, 100, 99, 99.2))      # neither reached
    assert 2 == len(await executor.open_orders())
    await executor.on_market(bar(120_000, 99, 99.5, 98, 98.2))      # limit reached: maker
    limit = await executor.order("lim")
    assert (OrderStatus.FILLED, Decimal("98.5")) == (limit.status, limit.average_price)
    await executor.on_market(bar(180_000, 96, 96.5, 95, 95.5))      # gapped through the stop
    stop = await executor.order("stp")
    assert (OrderStatus.FILLED, Decimal(96)) == (stop.status, stop.average_price)
    fees = Decimal("98.5") * Decimal("0.001") + Decimal(96) * Decimal("0.002")
    assert Decimal(1000) - Decimal("98.5") + Decimal(96) - fees == executor.cash
    assert Decimal("-2.5") == executor.positions["BTCUSD"].realized_pnl


async def test_paper_submit_is_idempotent_by_client_id(registry) -> None:
    executor = build(registry, "executor", "paper")
    request = OrderRequest("same", "BTCUSD", "BUY", "MARKET", Decimal(1))
    first = await executor.submit(request)
    assert first == await executor.submit(request)
    assert 1 == len(await executor.open_orders())
    with pytest.raises(OrderError, match="reused for a different order"):
        await executor.submit(OrderRequest("same", "BTCUSD", "SELL", "MARKET", Decimal(1)))


async def test_paper_reports_orders_and_fills_as_events(registry) -> None:
    executor = build(registry, "executor", "paper")
    await executor.submit(OrderRequest("e1", "BTCUSD", "BUY", "MARKET", Decimal(1)))
    await executor.on_market(bar(0, 10, 11, 9, 10))
    events = []
    async for event in executor.events():
        events.append(event)
        if isinstance(event, Fill) or len(events) > 10:
            break
    assert [OrderStatus.SUBMITTED, OrderStatus.OPEN] == [e.status for e in events[:2]]
    assert isinstance(events[2], Fill)
    assert Decimal(10) == events[2].price


async def test_console_notifier_prints_at_or_above_its_threshold(registry, capsys) -> None:
    console = build(registry, "notifier", "console", min_severity="warning", stream="stdout")
    await console.notify(Alert("fill", "info", "quiet", "", 0))
    await console.notify(Alert("risk_halt", "critical", "Daily loss limit", "5% lost", 0, "BTCUSD"))
    assert ("[1970-01-01T00:00Z] CRITICAL risk_halt BTCUSD: Daily loss limit — 5% lost\n"
            == capsys.readouterr().out)

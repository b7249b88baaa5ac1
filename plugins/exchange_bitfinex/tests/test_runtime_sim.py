"""A Genesis paper bot trading against the simulator through the real runtime, over loopback
sockets: orders, native OCO brackets and fills, with the bot's books equal to the venue's."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from genesis_core import load_config, load_plugins
from genesis_core.runtime import Bot
from genesis_core.storage import Store
from genesis_exchange_bitfinex.sim import BitfinexSimulator, MarketSpec, SimConfig


CSV = Path(__file__).resolve().parents[3] / "examples" / "data" / "bitfinex_BTCUSD_1m.csv"

BOT = """
name: sim-runtime
mode: paper
markets: [{{symbol: BTCUSD, timeframes: [1m], min_amount: "0.00004"}}]
data_source:
  plugin: bitfinex
  params: {{rest_url: "{rest}", ws_url: "{ws}", close_by_clock: false}}
executor:
  plugin: bitfinex
  params:
    api_key: TEST_API_KEY
    api_secret: TEST_API_SECRET
    rest_url: "{rest}"
    ws_url: "{ws}"
    nonce_file: nonce.txt
strategies: [{{plugin: ema_rsi, params: {{fast: 9, slow: 21}}}}]
risk:
  - {{plugin: max_open_positions, params: {{max_positions: 1}}}}
  - {{plugin: fixed_fraction, params: {{fraction: "0.05"}}}}
storage: {{path: state.db}}
notifiers: [{{plugin: console, params: {{min_severity: critical}}}}]
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_paper_bot_against_the_simulator_reconciles_with_the_venue(tmp_path) -> None:
    config = SimConfig(markets=(MarketSpec("tBTCUSD", str(CSV)),),
                       exchange_wallets={"USD": Decimal(10000), "BTC": Decimal(0)},
                       step_interval=0.01, heartbeat_interval=0.5, seed=3)
    async with BitfinexSimulator(config) as sim:
        path = tmp_path / "bot.yaml"
        path.write_text(BOT.format(rest=sim.rest_url, ws=sim.ws_url))
        plugins = load_plugins()
        bot = Bot(load_config(path, plugins), plugins, out=io.StringIO())
        with anyio.move_on_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(bot.run)
                while bot.counts.closed < 3:  # noqa: ASYNC110 - polling the bot's counter
                    await anyio.sleep(0.05)
                # Let the last fills and cancels settle on both sides before comparing.
                await anyio.sleep(0.5)
                tg.cancel_scope.cancel()
        account = sim.exchange.accounts["TEST_API_KEY"]
        venue = [*account.orders.values(), *account.closed]
    assert bot.counts.closed >= 3
    by_cid: dict[tuple[int, str], list] = {}
    for order in venue:
        by_cid.setdefault((order.cid, order.cid_date), []).append(order)
    for orders in by_cid.values():  # one order per cid, or one native OCO pair (one submit)
        if len(orders) == 2:
            limit, stop = sorted(orders, key=lambda o: o.type)
            assert (limit.type, stop.type) == ("EXCHANGE LIMIT", "EXCHANGE STOP")
            assert limit.oco_sibling == stop.id or stop.oco_sibling == limit.id
        else:
            assert 1 == len(orders)
    placed = {o.client_order_id for o in bot.orders.orders.values()
              if o.exchange_order_id is not None}
    assert len(placed) == len(venue)                         # nothing lost
    assert account.wallets[("exchange", "USD")] == bot.ledger.cash
    position = bot.ledger.positions["BTCUSD"]
    assert account.wallets[("exchange", "BTC")] == position.amount


@pytest.mark.anyio
async def test_dropped_connections_reach_the_bot_as_alerts(tmp_path) -> None:
    """Over real sockets: the simulator drops every WebSocket a few times; the data source
    and executor report it as ConnectionStatus, and the runner raises reconnect alerts, a
    reconnect storm, and counts the reconnects in its metrics."""
    config = SimConfig(markets=(MarketSpec("tBTCUSD", str(CSV)),),
                       exchange_wallets={"USD": Decimal(10000), "BTC": Decimal(0)},
                       step_interval=0.01, heartbeat_interval=0.5, seed=3)
    async with BitfinexSimulator(config) as sim:
        path = tmp_path / "bot.yaml"
        path.write_text(BOT.format(rest=sim.rest_url, ws=sim.ws_url)
                        + "alerts: {reconnect_storm: 3, reconnect_storm_minutes: 10}\n")
        plugins = load_plugins()
        bot = Bot(load_config(path, plugins), plugins, out=io.StringIO())
        with anyio.move_on_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(bot.run)
                while bot.counts.bars < 5:  # noqa: ASYNC110 - polling the bot's counter
                    await anyio.sleep(0.05)
                for drops in range(1, 5):
                    # Drop only a live connection: wait until the bot saw this drop and
                    # bars flow again, else the next drop can land mid-reconnect and vanish.
                    sim.faults.ws_drop_connections()
                    while _reconnects(bot, "bitfinex market data") < drops:  # noqa: ASYNC110
                        await anyio.sleep(0.05)
                    before = bot.counts.bars
                    while bot.counts.bars < before + 2:  # noqa: ASYNC110 - reconnected
                        await anyio.sleep(0.05)
                tg.cancel_scope.cancel()
    with Store.open(tmp_path / "state.db") as store:
        rules = [a.rule for a in store.load_alerts(limit=10_000)]
        health = [e for e in store.load_audit(limit=100_000) if e.kind == "health"]
    assert "reconnecting" in rules
    assert "reconnected" in rules
    assert "reconnect_storm" in rules
    assert {e.subject for e in health} >= {"bitfinex market data"}
    assert _reconnects(bot) >= 4


def _reconnects(bot: Bot, source: str | None = None) -> float:
    return sum(s.value for m in bot.metrics.registry.collect() for s in m.samples
               if s.name == "genesis_reconnects_total"
               and source in (None, s.labels.get("source")))


async def _run_until(bot: Bot, done: Callable[[], bool]) -> None:
    with anyio.move_on_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(bot.run)
            while not done():  # noqa: ASYNC110 - polling the bot's state
                await anyio.sleep(0.02)
            tg.cancel_scope.cancel()


def _venue_bars(sim: BitfinexSimulator, start_ms: int, end_ms: int) -> list[int]:
    rows = sim.exchange.markets["tBTCUSD"].candles("1m", start_ms, end_ms - 1)
    return [row.mts for row in rows]


@pytest.mark.anyio
async def test_history_warms_a_fresh_bot_and_fills_the_gap_of_a_restart(tmp_path) -> None:
    """Over real sockets: a fresh bot loads warmup_bars of REST history before its first live
    bar; a bot restarted after the venue moved on loads exactly the bars it missed, so its
    stored history has no hole."""
    config = SimConfig(markets=(MarketSpec("tBTCUSD", str(CSV)),),
                       exchange_wallets={"USD": Decimal(10000), "BTC": Decimal(0)},
                       step_interval=0.02, heartbeat_interval=0.5, seed=3)
    async with BitfinexSimulator(config) as sim:
        path = tmp_path / "bot.yaml"
        path.write_text(BOT.format(rest=sim.rest_url, ws=sim.ws_url)
                        + "trading: {warmup_bars: 50}\n")
        plugins = load_plugins()
        bot = Bot(load_config(path, plugins), plugins, out=io.StringIO())
        await _run_until(bot, lambda: bot.counts.bars >= 3)
        with Store.open(tmp_path / "state.db") as store:
            first = store.load_candles("BTCUSD", "1m")
            loaded = [e for e in store.load_audit(limit=10_000) if e.kind == "market"]
        live = int(first.timestamp[-3])  # three live bars were processed
        warm = _venue_bars(sim, live - 50 * 60_000, live)  # minutes without trades have no bar
        assert list(first.timestamp[:-3]) == warm
        assert 20 < len(warm) <= 50
        assert [e.message.split(" bar(s)")[0] for e in loaded] == [str(len(warm))]

        await anyio.sleep(0.5)  # the venue publishes bars while the bot is down
        venue_now = _venue_bars(sim, live, 2**62)[-1]
        out = io.StringIO()
        again = Bot(load_config(path, plugins), plugins, out=out)
        await _run_until(again, lambda: again.now > venue_now + 3 * 60_000)
        with Store.open(tmp_path / "state.db") as store:
            after = store.load_candles("BTCUSD", "1m")
        stamps = [int(t) for t in after.timestamp]
        assert stamps == _venue_bars(sim, stamps[0], stamps[-1] + 1)  # nothing missing
        assert len(stamps) > len(first) + 3 + 5  # the gap was more than a few bars wide
        assert "HISTORY BTCUSD 1m" in out.getvalue()

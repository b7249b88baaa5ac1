"""``simulator:`` params (an in-process simulator on loopback) and the demo bot end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from genesis_core import (
    CandleClosed,
    ConnectionStatus,
    MarketSpec,
    OrderRequest,
    OrderStatus,
    OrderType,
    Secret,
)
from genesis_core import OrderSide as Side
from genesis_exchange_bitfinex.config import DataParams, ExecutorParams, SimulatorParams
from genesis_exchange_bitfinex.data import BitfinexDataSource
from genesis_exchange_bitfinex.execution import BitfinexExecutor
from genesis_exchange_bitfinex.sim import embedded


ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "bitfinex-sim.yaml"
CANDLES = ROOT / "examples" / "data" / "bitfinex_BTCUSD_1m.csv"


@pytest.mark.anyio
async def test_data_source_and_executor_share_one_embedded_simulator() -> None:
    """Both components lease the same simulator; the stream ends after the replay; the last
    release stops it.  Keys other than the simulator's default are accepted there."""
    sim_params = SimulatorParams(candles={"BTCUSD": CANDLES}, replay=6, step_interval=0.02,
                                 wallets={"USD": Decimal(1000)})
    executor = BitfinexExecutor(ExecutorParams(
        api_key=Secret("demo-key"), api_secret=Secret("demo-secret"), simulator=sim_params))
    source = BitfinexDataSource(DataParams(simulator=sim_params))
    await executor.connect()
    try:
        order = await executor.submit(OrderRequest("demo-1", "BTCUSD", Side.BUY,
                                                   OrderType.MARKET, Decimal("0.001")))
        assert OrderStatus.FILLED == order.status
        events = [e async for e in source.stream([MarketSpec("BTCUSD", "1m")])]
        bars = [e for e in events if not isinstance(e, ConnectionStatus)]
        (sim,) = (lease.sim for lease in embedded._leases.values())
        assert sim.replay_done.is_set()
        assert sim.exchange.accounts["demo-key"].orders == {}  # its own account
        assert 1 <= len(bars) <= 6
        assert all(isinstance(b, CandleClosed) for b in bars)
        history = await source.history("BTCUSD", "1m", 0, 2**42)
        assert len(history) >= 240  # the warm-up replay is history
    finally:
        await source.aclose()
        assert embedded._leases  # the executor still holds it
        await executor.aclose()
    assert not embedded._leases


def test_the_demo_bot_runs_end_to_end(tmp_path: Path) -> None:
    """``genesis run`` on the example as shipped (copied with its data, so the repository stays
    clean): the plugin starts the simulator itself, the bot trades and prints its summary."""
    bot = tmp_path / "examples" / EXAMPLE.name
    (bot.parent / "data").mkdir(parents=True)
    shutil.copy(EXAMPLE, bot)
    shutil.copy(CANDLES, bot.parent / "data" / CANDLES.name)
    genesis = Path(sys.executable).with_name("genesis")
    done = subprocess.run([str(genesis), "run", "--fresh", "--quiet", str(bot)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = [line for line in done.stdout.splitlines() if line.startswith("summary")]
    assert len(summary) == 1, done.stdout[-2000:]
    words = summary[0].replace(",", "").split()
    counts = {words[i + 1]: int(words[i]) for i in range(2, len(words) - 1, 2)}
    assert counts["bars"] >= 250
    assert counts["orders"] > 0
    assert counts["fills"] > 0
    assert "closed trades" in done.stdout
    assert (bot.parent / "bitfinex-sim.db").exists()

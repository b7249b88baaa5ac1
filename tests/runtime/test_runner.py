"""The runner end to end on bundled real candles: paper trades that reconcile exactly."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import anyio
import attrs
import pytest

from genesis_core import Fill, OrderStatus, hookimpl, load_config, load_plugins
from genesis_core.runtime import Bot


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Recorder:
    __name__ = "recorder"

    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.orders = []
        self.signals = []
        self.stopped = None

    @hookimpl
    def fill_received(self, fill):
        self.fills.append(fill)

    @hookimpl
    def order_updated(self, order, previous):
        self.orders.append((order, previous))

    @hookimpl
    def signal_produced(self, signal):
        self.signals.append(signal)

    @hookimpl
    def bot_stopped(self, reason):
        self.stopped = reason


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    recorder = Recorder()
    plugins = load_plugins(extra=[recorder])
    config = load_config(EXAMPLES / "paper-demo.yaml", plugins)
    db = tmp_path_factory.mktemp("state") / "demo.db"
    config = attrs.evolve(config, storage=attrs.evolve(config.storage, path=db))
    bot = Bot(config, plugins, out=io.StringIO())
    summary = anyio.run(bot.run)
    return bot, summary, recorder


def test_the_demo_trades_and_every_figure_reconciles(demo) -> None:
    bot, summary, recorder = demo
    assert 733 == summary.bars
    assert summary.closed_trades >= 5
    assert "finished" == recorder.stopped
    cash = summary.initial_equity
    for fill in recorder.fills:
        cash -= fill.side.sign * fill.notional + fill.fee
    assert cash == bot.ledger.cash
    assert summary.fees == sum(f.fee for f in recorder.fills)
    assert summary.final_equity == summary.initial_equity + summary.realized_pnl - summary.fees \
        + bot.ledger.unrealized()
    executor = bot.c.executor
    assert executor.cash == bot.ledger.cash          # the runner's books agree with the venue's


def test_no_order_is_duplicated_or_lost(demo) -> None:
    bot, _, recorder = demo
    ids = [o.client_order_id for o, previous in recorder.orders if previous is None]
    assert len(ids) == len(set(ids))
    assert len({f.fill_id for f in recorder.fills}) == len(recorder.fills)
    for order in bot.orders.orders.values():
        venue = bot.c.executor._orders[order.client_order_id]
        assert (venue.status, venue.filled_amount) == (order.status, order.filled_amount)
    filled = {o.client_order_id for o in bot.orders.orders.values()
              if o.status is OrderStatus.FILLED}
    assert filled == {f.client_order_id for f in recorder.fills}


def test_every_filled_entry_got_both_protective_legs(demo) -> None:
    bot, _, _ = demo
    for bracket in bot.orders.brackets.values():
        if bracket.filled > 0:
            legs = [bot.orders.orders[i] for i in (bracket.stop_id, bracket.take_id)]
            assert all(leg.request.amount == bracket.filled for leg in legs)
            assert all(leg.request.reduce_only for leg in legs)


def test_signals_are_the_strategies_batch_signals(demo) -> None:
    """The live path (bar by bar) emits exactly what the strategies give over the whole file."""
    bot, _, recorder = demo
    candles = bot.buffers[("BTCUSD", "1h")].view()
    expected = []
    for slot in bot.c.strategies:
        expected += [(s.timestamp, slot.label, s.side, s.confidence)
                     for s in slot.strategy.generate(candles)]
    got = [(s.timestamp, s.strategy, s.side, s.confidence) for s in recorder.signals]
    assert sorted(expected) == sorted(got)


def test_sigterm_stops_cleanly_with_a_summary(tmp_path) -> None:
    config = (EXAMPLES / "paper-demo.yaml").read_text().replace("speed: 0 ", "speed: 36000 ")
    config = config.replace("path: data/", f"path: {EXAMPLES}/data/")
    path = tmp_path / "slow.yaml"
    path.write_text(config)
    process = subprocess.Popen([sys.executable, "-m", "genesis_core", "run", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()          # trading has started
    assert "SIGNAL" in first or "RISK" in first or "ORDER" in first
    time.sleep(0.2)
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert 0 == process.returncode, err
    assert "received SIGTERM, stopping cleanly" in err
    assert "summary paper-demo:" in out
    assert "Traceback" not in err
    assert Decimal  # summary figures are Decimal-formatted


def test_every_routed_alert_reaches_the_notifiers_even_at_shutdown() -> None:
    """Alerts still queued when the run ends are delivered before the bot closes."""
    from genesis_core.testing import RecordingNotifier, run_paper

    routed = []

    class Counter:
        __name__ = "alert_counter"

        @hookimpl
        def alert_raised(self, alert):
            routed.append(alert)

    bot = run_paper("""
        strategies: [{plugin: ema_rsi}]
        risk: [{plugin: fixed_fraction}]
        notifiers: [{plugin: recording}]
    """, extra=(Counter(),))
    assert bot.summary().closed_trades > 0
    assert len(routed) > 5
    assert routed == RecordingNotifier.received

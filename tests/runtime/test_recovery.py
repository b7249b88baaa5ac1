"""Crash recovery of a paper bot: `genesis run` killed with SIGKILL, then run again on the same
database, ends with exactly the orders, fills, books and summary of an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The replay feed, stopped dead after the bar opening at GENESIS_TEST_PAUSE_AFTER (ms) when the
# variable is set: the kill then lands at a chosen bar. Loaded with --plugins-dir.
PAUSING_REPLAY = '''
import os

import anyio

from genesis_core import hookimpl
from genesis_core.default_plugins.replay import ReplaySource


class PausingReplay(ReplaySource):
    """Replay that stops after one bar when GENESIS_TEST_PAUSE_AFTER is set."""

    name = "pausing_replay"

    async def stream(self, markets):
        pause = os.environ.get("GENESIS_TEST_PAUSE_AFTER")
        async for event in super().stream(markets):
            yield event
            if pause is not None and event.candle.timestamp >= int(pause):
                await anyio.sleep_forever()


@hookimpl
def register_data_sources(register):
    register(PausingReplay)
'''


def seed() -> int:
    """The random kill point's seed: GENESIS_TEST_SEED to replay a failure, else fresh."""
    return int(os.environ.get("GENESIS_TEST_SEED") or random.randrange(2**32))


def bot_file(folder: Path, speed: float = 0) -> Path:
    text = (EXAMPLES / "paper-demo.yaml").read_text()
    text = (text.replace("path: data/", f"path: {EXAMPLES}/data/")
            .replace("speed: 0 ", f"speed: {speed} ")
            .replace("plugin: replay", "plugin: pausing_replay"))
    (folder / "plugins").mkdir(exist_ok=True)
    (folder / "plugins" / "pausing_replay.py").write_text(PAUSING_REPLAY)
    path = folder / "bot.yaml"
    path.write_text(text)
    return path


STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_bot_outlives_its_test() -> Iterator[None]:
    # A failed wait leaves its bot running: kill it here, so its pipes and process are not
    # reaped later as ResourceWarnings inside another test.
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
        process.communicate()


def start(path: Path, **env: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "GENESIS_PLUGINS_DIR": str(path.parent / "plugins"), **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "genesis_core", "run", str(path), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    STARTED.append(process)
    return process


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=60)
    assert 0 == process.returncode, err
    return out


def kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert -signal.SIGKILL == process.returncode


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the database of a running bot (WAL: readers never block its writer)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created (or not migrated) yet
        return []


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def books(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything that must come out the same, to the last digit."""
    return {
        "fills": query(db, "SELECT * FROM fills ORDER BY rowid"),
        "orders": query(db, "SELECT * FROM orders ORDER BY rowid"),
        "transitions": query(db, "SELECT client_order_id, seq, from_status, to_status, at, "
                                 "reason, filled_amount FROM order_transitions "
                                 "ORDER BY client_order_id, seq"),
        "positions": query(db, "SELECT symbol, lots, realized_pnl, fees FROM positions"),
        "cash": query(db, "SELECT total FROM balances ORDER BY ts DESC LIMIT 1"),
        "brackets": query(db, "SELECT entry_id, closed, data FROM brackets ORDER BY rowid"),
    }


def bar_times() -> list[int]:
    with (EXAMPLES / "data" / "bitfinex_BTCUSD_1h.csv").open() as lines:
        next(lines)
        return [int(line.split(",", 1)[0]) for line in lines]


def summary(out: str) -> str:
    return out[out.index("summary "):]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    path = bot_file(tmp_path_factory.mktemp("uninterrupted"))
    out = finish(start(path))
    return summary(out), books(path.parent / "paper-demo.db")


def open_trades(fills: list[tuple[Any, ...]]) -> list[tuple[int, int]]:
    """(entry bar, exit bar) of every round trip of the uninterrupted run."""
    spans, held, opened = [], 0, 0
    for fill in fills:
        side, amount, at = fill[3], fill[4], fill[8]
        before = held
        held += 1 if side == "BUY" else -1  # the demo trades whole positions in and out
        if before == 0:
            opened = at
        elif held == 0:
            spans.append((opened, at))
        assert amount
    return spans


def resume_and_compare(path: Path, uninterrupted: tuple[str, dict[str, Any]], why: str) -> None:
    expected_summary, expected = uninterrupted
    out = finish(start(path))
    db = path.parent / "paper-demo.db"
    got = books(db)
    for key in expected:
        assert expected[key] == got[key], f"{key} differ ({why})"
    assert expected_summary == summary(out), why
    [resumed] = query(db, "SELECT message FROM audit WHERE message LIKE 'resumed:%'")
    assert "0 resubmitted, 0 lost, 0 unknown" in resumed[0], why


def test_killed_mid_trade_then_resumed_trades_like_an_uninterrupted_run(
        tmp_path: Path, uninterrupted: tuple[str, dict[str, Any]]) -> None:
    rng = random.Random(chosen := seed())
    # A bar the feed has (the candles have gaps) after the entry filled, and not the last bar
    # before the exit: that bar's close may decide the exit, cancelling the legs.
    held = [bars[:-1] for entry, exit_ in open_trades(uninterrupted[1]["fills"])
            if len(bars := [t for t in bar_times() if entry <= t < exit_]) > 1]
    bar = rng.choice(rng.choice(held))
    path = bot_file(tmp_path)
    db = tmp_path / "paper-demo.db"
    bot = start(path, GENESIS_TEST_PAUSE_AFTER=str(bar))
    wait_for(lambda: query(db, "SELECT value FROM runtime WHERE name = 'checkpoint' AND "
                               f"value LIKE '%,{bar}]]%'") != [], bot)
    kill(bot)
    why = f"seed {chosen}: killed after the bar at {bar}"
    [[lots]] = query(db, "SELECT lots FROM positions")
    assert lots != "[]", why                                   # mid-trade: a position is open
    legs = query(db, "SELECT status FROM orders WHERE parent_id IS NOT NULL AND status = 'OPEN'")
    assert legs, why                                           # ... and protected by its legs
    resume_and_compare(path, uninterrupted, why)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_stopped_at_a_random_instant_then_resumed_trades_like_an_uninterrupted_run(
        tmp_path: Path, uninterrupted: tuple[str, dict[str, Any]], signum: int) -> None:
    rng = random.Random(chosen := seed())
    fills, extra = rng.randrange(1, 20), rng.uniform(0, 0.02)
    path = bot_file(tmp_path, speed=1_000_000)  # 3.6 ms a bar: the signal lands anywhere
    db = tmp_path / "paper-demo.db"
    bot = start(path)
    wait_for(lambda: query(db, "SELECT count(*) FROM fills") >= [(fills,)], bot)
    time.sleep(extra)
    if signum == signal.SIGKILL:
        kill(bot)
    else:  # a clean stop may cut a bar short too: it is processed again, whole
        bot.send_signal(signum)
        assert "stopping cleanly" in bot.communicate(timeout=30)[1]
    bot_file(tmp_path, speed=0)  # the rest as fast as possible
    resume_and_compare(path, uninterrupted, f"seed {chosen}: {signal.Signals(signum).name} "
                                            f"{extra:.3f} s after fill {fills}")

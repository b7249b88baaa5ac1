"""Crash recovery against a venue that outlives the bot: `genesis-bitfinex-sim` in one
process, `genesis run` in another, talking over loopback sockets. The bot is killed with
SIGKILL while a bracket (native OCO stop-loss + take-profit) protects its position; while it is
down the venue cancels that bracket; the restarted bot takes the cancellation in, keeps trading,
and at the end its database agrees with the venue order for order and to the last satoshi."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest


pytest.importorskip("genesis_exchange_bitfinex")
from genesis_exchange_bitfinex._auth import NonceSource, sign_rest


SIM = Path(sys.executable).with_name("genesis-bitfinex-sim")
CSV = Path(__file__).resolve().parents[2] / "examples" / "data" / "bitfinex_BTCUSD_1m.csv"
KEY, SECRET = "TEST_API_KEY", "TEST_API_SECRET"
BOT = """
name: sim-recovery
mode: live
markets: [{{symbol: BTCUSD, timeframes: [1m], min_amount: "0.00004"}}]
data_source:
  plugin: bitfinex
  params: {{rest_url: "{rest}", ws_url: "{ws}", close_by_clock: false}}
executor:
  plugin: bitfinex
  params: {{api_key: {key}, api_secret: {secret}, rest_url: "{rest}", ws_url: "{ws}",
           nonce_file: nonce.txt}}
strategies: [{{plugin: ema_rsi, params: {{fast: 3, slow: 8}}}}]
risk:
  - {{plugin: max_open_positions, params: {{max_positions: 1}}}}
  - {{plugin: fixed_fraction, params: {{fraction: "0.05"}}}}
  # Stops too wide for the test's minutes to reach: the bracket ends only as the test says.
  - {{plugin: stops, params: {{strong_pct: "0.05", medium_pct: "0.05", weak_pct: "0.05"}}}}
storage: {{path: state.db}}
notifiers: [{{plugin: console, params: {{min_severity: critical}}}}]
"""
OPEN_BRACKET = """
SELECT o.exchange_order_id FROM orders o JOIN brackets b ON o.parent_id = b.entry_id
WHERE b.closed = 0 AND o.status = 'OPEN' AND o.exchange_order_id IS NOT NULL
ORDER BY o.rowid
"""


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def wait_for(condition: Callable[[], bool], *alive: subprocess.Popen[str],
             timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in alive:
            assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class Venue:
    """Authenticated REST calls of the test itself (same key, same nonce file as the bot,
    only while the bot is not running)."""

    def __init__(self, rest: str, nonce_file: Path) -> None:
        self.rest = rest
        self.nonce_file = nonce_file

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        nonce = NonceSource(self.nonce_file).next()
        raw = json.dumps(body or {})
        headers = {"bfx-nonce": str(nonce), "bfx-apikey": KEY,
                   "bfx-signature": sign_rest(SECRET, path, nonce, raw),
                   "content-type": "application/json"}
        reply = httpx.post(f"{self.rest}/{path}", content=raw, headers=headers, timeout=10)
        return json.loads(reply.text, parse_float=Decimal)

    def orders(self) -> list[list[Any]]:
        return [*self.call("auth/r/orders"), *self.call("auth/r/orders/hist", {"limit": 2500})]

    def wallets(self) -> dict[str, Decimal]:
        return {w[1]: w[2] for w in self.call("auth/r/wallets") if w[0] == "exchange"}


@pytest.fixture
def sim(tmp_path: Path) -> Any:
    if not SIM.exists():
        pytest.skip("genesis-bitfinex-sim is not installed")
    process = subprocess.Popen(
        [str(SIM), "--market", f"tBTCUSD={CSV}", "--step-interval", "0.05", "--heartbeat",
         "0.5", "--wallet", "USD=10000", "--wallet", "BTC=0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    urls = dict(process.stdout.readline().split() for _ in range(2))
    yield urls["REST"], urls["WS"]
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)


def start(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "genesis_core", "run", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=path.parent)


def test_bot_killed_with_an_open_bracket_resumes_in_step_with_the_venue(
        tmp_path: Path, sim: tuple[str, str]) -> None:
    rest, ws = sim
    path = tmp_path / "bot.yaml"
    path.write_text(BOT.format(rest=rest, ws=ws, key=KEY, secret=SECRET))
    db = tmp_path / "state.db"
    venue = Venue(rest, tmp_path / "nonce.txt")

    bot = start(path)
    wait_for(lambda: len(query(db, OPEN_BRACKET)) == 2,
             bot)
    os.kill(bot.pid, signal.SIGKILL)
    bot.communicate(timeout=30)
    legs = [int(x) for (x,) in query(db, OPEN_BRACKET)]
    # While the bot is down the venue cancels the bracket (one OCO order: both legs go).
    venue.call("auth/w/order/cancel", {"id": legs[0]})
    active = {o[0] for o in venue.call("auth/r/orders")}
    assert not active & set(legs)

    bot = start(path)
    wait_for(lambda: query(db, "SELECT 1 FROM audit WHERE message LIKE 'resumed:%'") != [], bot)
    fills = query(db, "SELECT count(*) FROM fills")[0][0]
    wait_for(lambda: query(db, "SELECT count(*) FROM fills")[0][0] >= fills + 2, bot)
    stop = subprocess.run([sys.executable, "-m", "genesis_core", "stop", "--flatten", str(path)],
                          capture_output=True, text=True, check=True)
    assert "emergency stop requested" in stop.stdout
    wait_for(lambda: query(db, "SELECT count(*) FROM orders WHERE status NOT IN "
                               "('FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')") == [(0,)]
             and query(db, "SELECT value FROM flags WHERE name = 'emergency_stop'") == [
                 ("true",)]
             and query(db, "SELECT lots FROM positions") in ([], [("[]",)]), bot)
    bot.send_signal(signal.SIGTERM)
    out, err = bot.communicate(timeout=30)
    assert 0 == bot.returncode, err
    assert "summary sim-recovery:" in out

    [[resumed]] = query(db, "SELECT data FROM audit WHERE message LIKE 'resumed:%'")
    found = json.loads(resumed)
    assert sorted(found["changed"]) == sorted(                  # the cancel seen while down
        f"{cid}: OPEN 0 -> CANCELED 0" for (cid,) in query(
            db, f"SELECT client_order_id FROM orders WHERE exchange_order_id IN "
                f"('{legs[0]}', '{legs[1]}')"))
    assert ([], [], []) == (found["lost"], found["unknown"], found["synthesized"])

    orders = venue.orders()
    by_cid: dict[int, list[list[Any]]] = {}
    for order in orders:
        by_cid.setdefault(order[2], []).append(order)
    for same in by_cid.values():  # one order per client id, or one OCO pair (one submit)
        assert len(same) == 1 or sorted(o[8] for o in same) == ["EXCHANGE LIMIT",
                                                                 "EXCHANGE STOP"]
    recorded = dict(query(db, "SELECT exchange_order_id, status FROM orders "
                              "WHERE exchange_order_id IS NOT NULL"))
    assert {str(o[0]) for o in orders} == set(recorded)          # nothing lost, nothing extra
    for order in orders:
        assert recorded[str(order[0])] == ("FILLED" if order[13].startswith("EXECUTED")
                                           else "CANCELED")
    wallets = venue.wallets()
    [[cash]] = query(db, "SELECT total FROM balances ORDER BY ts DESC LIMIT 1")
    assert wallets["USD"] == Decimal(cash)
    held = sum((Decimal(a) for (lots,) in query(db, "SELECT lots FROM positions")
                for a, _ in json.loads(lots)), Decimal(0))
    assert wallets.get("BTC", Decimal(0)) == held

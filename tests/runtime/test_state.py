"""The bot's database: full audit trail, metrics scraped live, and the state commands."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from genesis_core import load_config, load_plugins
from genesis_core.runtime import Bot
from genesis_core.storage import Store


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def bot_file(tmp_path: Path, *, speed: float = 0, metrics: bool = False) -> Path:
    text = (EXAMPLES / "paper-demo.yaml").read_text()
    text = text.replace("path: data/", f"path: {EXAMPLES}/data/").replace(
        "speed: 0 ", f"speed: {speed} ")
    if metrics:
        text += "metrics: {enabled: true, port: 0}\n"
    path = tmp_path / "bot.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = bot_file(tmp_path_factory.mktemp("bot"))
    plugins = load_plugins()
    out = io.StringIO()
    bot = Bot(load_config(path, plugins), plugins, out=out)
    anyio.run(bot.run)
    bot.log = out.getvalue()
    return path, bot


def test_database_holds_the_full_audit_trail(recorded) -> None:
    path, bot = recorded
    with Store.open(path.parent / "paper-demo.db") as store:
        fills = store.load_fills()
        orders = store.load_orders(open_only=False)
        audit = store.load_audit(limit=100_000)
        assert bot.summary().fills == len(fills) == len({f.fill_id for f in fills})
        assert {o.client_order_id: o.status for o in orders} == {
            i: o.status for i, o in bot.orders.orders.items()}
        for order in orders:
            transitions = store.load_transitions(order.client_order_id)
            assert order.status == transitions[-1].to_status
        kinds = [entry.kind for entry in audit]
        assert kinds.count("fill") == len(fills)
        evaluated = [line for line in bot.log.splitlines()
                     if (" RISK " in line and ": APPROVE:" in line) or ": REJECT:" in line]
        assert len(evaluated) == kinds.count("risk") > 0
        assert kinds.count("signal") == bot.summary().signals

        assert "stopped: finished" == audit[-1].message
        cash = Decimal(10000) - sum((f.side.sign * f.notional + f.fee for f in fills),
                                    Decimal(0))
        assert cash == store.load_balances()["USD"].total == bot.ledger.cash
        assert not any(p.is_open for p in store.load_positions().values())
        with pytest.raises(Exception, match="append-only"):
            store.db.execute("DELETE FROM audit")


def test_a_finished_run_resumes_with_nothing_left_to_do(recorded) -> None:
    path, bot = recorded
    plugins = load_plugins()
    again = Bot(load_config(path, plugins), plugins, out=io.StringIO())
    assert again.summary() != bot.summary()
    anyio.run(again.run)
    assert again.summary() == bot.summary()     # every bar skipped, the books taken back
    assert again.ledger.peak == bot.ledger.peak
    with Store.open(path.parent / "paper-demo.db") as store:
        audit = [e.message for e in store.load_audit(limit=100_000) if e.kind == "bot"]
    assert ["started", "stopped: finished"] == audit[:2]
    assert audit[2].startswith("resumed: 0 order(s) checked")


def test_resuming_a_changed_bot_fails_in_one_line_and_fresh_starts_over(tmp_path) -> None:
    path = bot_file(tmp_path)
    (tmp_path / "paper-demo.db").write_bytes(b"")
    with Store.open(tmp_path / "paper-demo.db") as store:  # a run of the demo bot
        store.save_runtime("run", {"executor": "paper", "quote": "USD", "initial_cash": "1",
                                   "markets": ["BTCUSD 1h", "ETHUSD 1h"]}, 0)
    refused = genesis("run", path)
    assert 2 == refused.returncode
    assert 1 == len(refused.stderr.splitlines())
    assert ("cannot resume: the markets changed since this run started (BTCUSD 1h, ETHUSD 1h "
            "-> BTCUSD 1h); restore the bot file or start over with `genesis run --fresh`"
            ) in refused.stderr
    assert 0 == genesis("run", path, "--fresh", "--quiet").returncode


def genesis(*args) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "genesis_core", *map(str, args)],
                          capture_output=True, text=True, check=False)


def test_report_and_status_read_the_database(recorded) -> None:
    path, bot = recorded
    report = json.loads(genesis("report", path, "--json").stdout)
    summary = bot.summary()
    assert summary.closed_trades == report["closed_trades"]
    assert pytest.approx(summary.winning_trades / summary.closed_trades) == (
        report["success_rate"])
    assert Decimal(report["total_pnl"]) == summary.realized_pnl - summary.fees
    assert report["confidence_accuracy"]
    status = json.loads(genesis("status", path, "--json").stdout)
    assert {} == status["open_positions"]
    assert summary.final_equity == Decimal(status["balances"]["USD"])
    missing = genesis("confirm", path, "nope")
    assert 2 == missing.returncode
    assert "'nope' is not waiting for confirmation (pending: none)" in missing.stderr


def test_emergency_stop_requested_in_the_database_holds_from_the_first_bar(tmp_path) -> None:
    path = bot_file(tmp_path)
    with Store.open(tmp_path / "paper-demo.db") as store:
        store.set_flag("emergency_stop_request", "flatten", 0)
    result = genesis("run", path, "--quiet")
    assert 0 == result.returncode, result.stderr
    assert "0 orders, 0 fills" in result.stdout
    assert "emergency stop" in result.stderr
    assert 0 == genesis("resume", path).returncode
    with Store.open(tmp_path / "paper-demo.db") as store:
        assert store.get_flag("emergency_stop") is False


async def test_metrics_are_scraped_while_the_bot_runs(tmp_path) -> None:
    path = bot_file(tmp_path, speed=36000, metrics=True)
    plugins = load_plugins()
    bot = Bot(load_config(path, plugins), plugins, out=io.StringIO())
    values: dict[str, float] = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(bot.run)
        while bot.counts.fills < 2:  # noqa: ASYNC110 - polling the bot's counter is the point
            await anyio.sleep(0.05)
        url = f"http://127.0.0.1:{bot._metrics_server.port}"
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{url}/metrics")).text
            health = await client.get(f"{url}/health")
        tg.cancel_scope.cancel()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name + json.dumps(sample.labels, sort_keys=True)] = sample.value
    assert 200 == health.status_code
    fills = sum(v for k, v in values.items() if k.startswith("genesis_fills_total"))
    assert fills >= 2
    assert any(k.startswith("genesis_equity") for k in values)
    assert any(k.startswith("genesis_candle_to_order_seconds_count") and v >= 1
               for k, v in values.items())


pytestmark = pytest.mark.anyio

"""The genesis command line: exit codes, one-line errors, the example configs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES


def genesis(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "genesis_core", *map(str, args)], text=True,
                          capture_output=True, check=False)


EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def test_help_lists_commands() -> None:
    result = genesis("--help")
    assert 0 == result.returncode
    for command in ("plugins", "config", "run", "backtest"):
        assert f"  {command} " in result.stdout


def test_all_five_repo_plugins_come_from_their_own_distributions() -> None:
    listed = {p["name"]: p["distribution"] for p in json.loads(genesis("plugins", "--json").stdout)}
    assert {
        "exchange_bitfinex": "genesis-exchange-bitfinex",
        "strategy_ema_rsi": "genesis-strategy-ema-rsi",
        "strategy_fvg": "genesis-strategy-fvg",
        "risk_basic": "genesis-risk-basic",
        "notify_telegram": "genesis-notify-telegram",
    }.items() <= listed.items()


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_are_valid(example: Path) -> None:
    result = genesis("config", "check", example)
    assert 0 == result.returncode, result.stderr
    assert result.stdout.startswith(f"ok: {example}")


def test_a_broken_example_fails_with_one_located_line(tmp_path: Path) -> None:
    """The issue's acceptance check: a broken copy of an example fails with exit code 2."""
    example = EXAMPLES / "paper-demo.yaml"
    text = example.read_text()
    lines = text.splitlines()
    number = next(i for i, line in enumerate(lines, 1) if "fast:" in line)
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("fast: 12", "fast: ten", 1))
    result = genesis("config", "check", broken)
    assert 2 == result.returncode
    assert [f"error: strategies[0].params.fast: expected int, got 'ten' ({broken}:{number})"] == (
        result.stderr.splitlines())


def test_run_trades_the_paper_demo_and_prints_a_summary() -> None:
    result = genesis("run", EXAMPLES / "paper-demo.yaml", "--quiet", "--fresh")
    assert 0 == result.returncode, result.stderr
    assert "summary paper-demo: 733 bars" in result.stdout


def _demo_copy(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    csv = EXAMPLES / "data" / "bitfinex_BTCUSD_1h.csv"
    (tmp_path / "data" / csv.name).write_bytes(csv.read_bytes())
    bot = tmp_path / "paper-demo.yaml"
    bot.write_text((EXAMPLES / "paper-demo.yaml").read_text())
    return bot


def test_backtest_prints_a_summary_writes_the_report_and_serves_a_rerun_from_cache(
        tmp_path: Path) -> None:
    bot = _demo_copy(tmp_path)
    first = genesis("backtest", bot)
    assert 0 == first.returncode, first.stderr
    assert "backtest paper-demo (run #1)" in first.stdout
    assert "Sharpe" in first.stdout
    assert "Trades" in first.stdout
    html = tmp_path / "backtests" / "paper-demo-1.html"
    assert html.exists()
    assert "<svg" in html.read_text()
    trades = (tmp_path / "backtests" / "paper-demo-1-trades.csv").read_text().splitlines()
    assert len(trades) == 1 + 13  # header + the 13 trades the paper run also makes

    again = genesis("backtest", bot, "--json")
    assert 0 == again.returncode, again.stderr
    assert "served from cache: run #1" in again.stderr
    doc = json.loads(again.stdout)
    assert doc["meta"]["run_id"] == 1
    assert len(doc["trades"]) == 13

    fresh = genesis("backtest", bot, "--no-cache", "--no-report", "--json")
    assert json.loads(fresh.stdout)["metrics"] == doc["metrics"]
    listed = genesis("backtest", "list", bot)
    assert listed.returncode == 0
    assert listed.stdout.count("paper-demo") == 2
    compared = genesis("backtest", "compare", bot, "1", "2")
    assert compared.returncode == 0, compared.stderr
    missing = genesis("backtest", "compare", bot, "1", "7")
    assert missing.returncode == 2
    assert "run 7 not found" in missing.stderr
    assert 1 == len(missing.stderr.splitlines())


def test_backtest_monte_carlo_gives_percentiles(tmp_path: Path) -> None:
    result = genesis("backtest", _demo_copy(tmp_path), "--monte-carlo", "--no-report",
                     "--json")
    assert 0 == result.returncode, result.stderr
    mc = json.loads(result.stdout)["monte_carlo"]
    assert mc["runs"] == 10_000
    assert mc["trades"] == 13
    pcts = list(mc["final_return_percentiles"].values())
    assert pcts == sorted(pcts)


def test_backtest_optimize_and_walk_forward_rank_parameter_sets(tmp_path: Path) -> None:
    bot = _demo_copy(tmp_path)
    found = genesis("backtest", bot, "--optimize", "--json")
    assert 0 == found.returncode, found.stderr
    ranked = json.loads(found.stdout)
    assert len(ranked) == 12  # 3 fast x 2 slow x 2 fractions, declared in the example
    sharpes = [r["sharpe"] for r in ranked]
    assert sharpes == sorted(sharpes, reverse=True)
    walk = genesis("backtest", bot, "--optimize", "--walk-forward", "--json")
    assert 0 == walk.returncode, walk.stderr
    windows = json.loads(walk.stdout)["windows"]
    assert len(windows) == 4
    assert all(w["window"]["test_start"] >= w["window"]["train_end"] for w in windows)


def test_backtest_reads_candles_from_the_data_cache(tmp_path: Path) -> None:
    bot = _demo_copy(tmp_path)
    direct = genesis("backtest", bot, "--no-report", "--json")
    cached_bot = tmp_path / "cached.yaml"
    cached_bot.write_text(bot.read_text().replace("backtest:", "backtest:\n  candles_db: "
                                                  "cache.db", 1))
    missing = genesis("backtest", cached_bot)
    assert missing.returncode == 2
    assert "backtest.candles_db:" in missing.stderr
    assert "genesis data download" in missing.stderr
    fetched = genesis("data", "download", "--config", bot, "--start", "2013-10-01",
                      "--end", "2013-11-01", "--db", tmp_path / "cache.db")
    assert fetched.returncode == 0, fetched.stderr
    # the replay file is gone: the candles can only come from the cache now
    (tmp_path / "data" / "bitfinex_BTCUSD_1h.csv").unlink()
    cached = genesis("backtest", cached_bot, "--no-report", "--json")
    assert cached.returncode == 0, cached.stderr
    assert json.loads(cached.stdout)["metrics"] == json.loads(direct.stdout)["metrics"]


def test_backtest_bad_period_is_a_one_line_error(tmp_path: Path) -> None:
    bot = _demo_copy(tmp_path)
    result = genesis("backtest", bot, "--start", "yesterday")
    assert 2 == result.returncode
    assert "backtest.start: 'yesterday' is not an ISO date/time" in result.stderr
    late = genesis("backtest", bot, "--start", "2030-01-01")
    assert 2 == late.returncode
    assert "no BTCUSD 1h candles" in late.stderr


def test_user_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    result = genesis("run", tmp_path / "missing.yaml")
    assert 2 == result.returncode
    assert "cannot read: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert 2 == genesis("no-such-command").returncode


def test_a_nan_candle_met_while_running_is_a_one_line_error(tmp_path: Path) -> None:
    """The bot's tasks run in a task group; the user's mistake must not surface as an
    ExceptionGroup (it did: 'failed: ExceptionGroup: unhandled errors in a TaskGroup')."""
    bot = _demo_copy(tmp_path)
    csv = tmp_path / "data" / "bitfinex_BTCUSD_1h.csv"
    lines = csv.read_text().splitlines()
    fields = lines[50].split(",")
    fields[4] = "nan"
    lines[50] = ",".join(fields)
    csv.write_text("\n".join(lines) + "\n")
    result = genesis("run", bot, "--quiet", "--fresh")
    assert 2 == result.returncode
    assert result.stderr.strip().endswith(f"{csv}:51: NaN in {lines[50]!r}")
    assert "Traceback" not in result.stderr
    assert "ExceptionGroup" not in result.stderr


def test_schema_shows_installed_params() -> None:
    text = genesis("config", "schema").stdout
    assert "strategy 'ema_rsi' from genesis-strategy-ema-rsi" in text
    data = json.loads(genesis("config", "schema", "--json").stdout)
    assert "fast" in [f["name"] for f in data["components"]["strategy"]["ema_rsi"]["params"]]
    assert "markets[]" in data["sections"]

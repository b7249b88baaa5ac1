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


def test_backtest_validates_then_explains_what_is_missing() -> None:
    result = genesis("backtest", EXAMPLES / "paper-demo.yaml")
    assert 1 == result.returncode
    assert "#5" in result.stderr
    assert 1 == len(result.stderr.splitlines())


def test_user_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    result = genesis("run", tmp_path / "missing.yaml")
    assert 2 == result.returncode
    assert "cannot read: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert 2 == genesis("no-such-command").returncode


def test_schema_shows_installed_params() -> None:
    text = genesis("config", "schema").stdout
    assert "strategy 'ema_rsi' from genesis-strategy-ema-rsi" in text
    data = json.loads(genesis("config", "schema", "--json").stdout)
    assert "fast" in [f["name"] for f in data["components"]["strategy"]["ema_rsi"]["params"]]
    assert "markets[]" in data["sections"]

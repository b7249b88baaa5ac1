"""User mistakes on the command line and in bot files: one located line, exit code 2.

Each test here reproduces a mistake that used to give a misleading message, no error at all,
exit code 0 or 1 (a "failure" instead of a user error).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from genesis_core.cli import main

from .conftest import EXAMPLES


CSV = EXAMPLES / "data" / "bitfinex_BTCUSD_1h.csv"

BOT = """\
name: t
mode: paper
markets:
  - symbol: BTCUSD
    timeframes: [1h]
data_source:
  plugin: replay
  params:
    speed: 0
    files:
      - {symbol: BTCUSD, timeframe: 1h, path: data/bitfinex_BTCUSD_1h.csv}
executor:
  plugin: paper
strategies:
  - plugin: ema_rsi
    params: {fast: 12, slow: 26}
risk:
  - plugin: fixed_fraction
"""

OPTIMIZE = """\
backtest:
  optimize:
    params:
      strategies.ema_rsi.fast: {values: [8, 12]}
    workers: 1
"""


def genesis(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out, err


def bot(tmp_path: Path, extra: str = "", *, replace: tuple[str, str] | None = None,
        data: bool = False) -> Path:
    text = BOT if replace is None else BOT.replace(*replace)
    assert replace is None or text != BOT
    path = tmp_path / "bot.yaml"
    path.write_text(text + textwrap.dedent(extra))
    if data:
        (tmp_path / "data").mkdir(exist_ok=True)
        shutil.copy(CSV, tmp_path / "data" / CSV.name)
    return path


def line_of(path: Path, needle: str) -> int:
    """The last line holding ``needle``."""
    return max(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def check(capsys: pytest.CaptureFixture[str], path: Path) -> list[str]:
    """`genesis config check`: exit code 2 and the error lines."""
    code, _, err = genesis(capsys, "config", "check", path)
    assert 2 == code, err
    return err.splitlines()


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    code, _, err = genesis(capsys, *args)
    assert 2 == code, err
    assert 1 == len(err.splitlines()), err
    assert "Traceback" not in err
    return err.strip()


# -- bot files: the wrong shape ------------------------------------------------------------

@pytest.mark.parametrize(("replace", "where", "message"), [
    # a text where a list belongs was read letter by letter: "symbol 'B' is not a market"...
    (("  - plugin: ema_rsi\n", "  - plugin: ema_rsi\n    symbols: BTCUSD\n"),
     "strategies[0].symbols", "expected a list"),
    (("    timeframes: [1h]", "    timeframes: 1h"), "markets[0].timeframes",
     "expected a list"),
    # the '- ' of a list item forgotten: "'str' object has no attribute 'keys'" per letter
    (("markets:\n  - symbol: BTCUSD\n    timeframes: [1h]",
      "markets:\n    symbol: BTCUSD\n    timeframes: [1h]"), "markets", "expected a list"),
    # a section left empty: "'NoneType' object is not iterable"
    (("risk:\n  - plugin: fixed_fraction\n", "risk:\n"), "risk",
     "expected a list (items start with '- '), got null"),
    # a component named without `plugin:`: "'str' object has no attribute 'keys'"
    (("executor:\n  plugin: paper", "executor: paper"), "executor",
     "expected a mapping, got 'paper'"),
])
def test_wrong_shapes_get_one_clear_located_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, replace: tuple[str, str],
        where: str, message: str) -> None:
    path = bot(tmp_path, replace=replace)
    errors = check(capsys, path)
    assert 1 == len(errors), errors
    assert errors[0].startswith(f"error: {where}: {message}"), errors
    assert f"({path}:" in errors[0]


def test_an_empty_section_is_a_mapping_got_null(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    """Was: "backtest: argument of type 'NoneType' is not iterable"."""
    path = bot(tmp_path, "backtest:\n")
    assert [f"error: backtest: expected a mapping, got null ({path}:{line_of(path, 'backtest')})"
            ] == check(capsys, path)


def test_a_list_where_a_mapping_belongs(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    """Was: "consensus.timeframe_weights: 'list' object has no attribute 'items'"."""
    path = bot(tmp_path, "consensus:\n  timeframe_weights: [1h]\n")
    errors = check(capsys, path)
    assert 1 == len(errors)
    assert errors[0].startswith("error: consensus.timeframe_weights: expected a mapping, got a "
                                "list")


def test_an_unquoted_yaml_date_says_to_quote_it(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    """Was: "backtest.start: expected text, got datetime.date(2013, 10, 5)"."""
    path = bot(tmp_path, "backtest:\n  start: 2013-10-05\n")
    errors = check(capsys, path)
    assert [f"error: backtest.start: expected text, got the YAML date 2013-10-05; quote it: "
            f"'2013-10-05' ({path}:{line_of(path, 'start:')})"] == errors


def test_a_number_as_an_unknown_key(capsys: pytest.CaptureFixture[str],
                                    tmp_path: Path) -> None:
    """Was: "failed: TypeError: 'int' object is not iterable", exit code 1."""
    errors = check(capsys, bot(tmp_path, "1: x\n"))
    assert 1 == len(errors)
    assert "unknown key" in errors[0]


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: " + "[" * 3000 + "]" * 3000 + "\n"])
def test_yaml_nested_without_end(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 text: str) -> None:
    """Was: "failed: RecursionError: maximum recursion depth exceeded", exit code 1."""
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    errors = check(capsys, path)
    assert 1 == len(errors)
    assert errors[0].startswith(f"error: {path}: invalid YAML: nested too deeply")


# -- bot files: values the backtest rejected only after running ----------------------------

@pytest.mark.parametrize(("extra", "key", "message", "line"), [
    ("backtest:\n  start: yesterday\n", "backtest.start",
     "must be an ISO date/time (UTC unless it says otherwise) or epoch ms, got 'yesterday'",
     "start:"),
    ("backtest:\n  monte_carlo: {method: shuffel}\n", "backtest.monte_carlo.method",
     "must be one of bootstrap, shuffle, got 'shuffel'", "monte_carlo:"),
    ("backtest:\n  initial_cash: '0'\n", "backtest.initial_cash", "must be > 0, got 0",
     "initial_cash:"),
    ("backtest:\n  costs: {taker_fee_bps: -5}\n", "backtest.costs.taker_fee_bps",
     "must be >= 0", "costs:"),
    (OPTIMIZE.replace("workers: 1", "workers: 0"), "backtest.optimize.workers",
     "must be >= 1", "workers:"),
    (OPTIMIZE + "    objective: sharpness\n", "backtest.optimize.objective",
     "'sharpness' is not a metric", "objective:"),
    (OPTIMIZE.replace("[8, 12]", "[8, 12.5]"),
     "backtest.optimize.params.strategies.ema_rsi.fast", "12.5: expected a whole number",
     "strategies.ema_rsi.fast:"),
    (OPTIMIZE.replace("{values: [8, 12]}", "{uniform: [6, 14]}"),
     "backtest.optimize.params.strategies.ema_rsi.fast", "uniform has no grid",
     "strategies.ema_rsi.fast:"),
    (OPTIMIZE.replace("      strategies.ema_rsi.fast: {values: [8, 12]}\n", "      {}\n"),
     "backtest.optimize.params", "expected at least one parameter", "params:"),
    ("metrics: {enabled: true, port: 99999}\n", "metrics.port", "must be <= 65535",
     "metrics:"),
])
def test_config_check_catches_what_the_backtest_found_late(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: str, key: str,
        message: str, line: str) -> None:
    """These passed `genesis config check` and failed (or went wrong) only in the run, with an
    unlocated message or exit code 1."""
    path = bot(tmp_path, extra)
    errors = check(capsys, path)
    assert 1 == len(errors), errors
    assert errors[0].startswith(f"error: {key}: "), errors
    assert message in errors[0]
    assert errors[0].endswith(f"({path}:{line_of(path, line)})")


def test_a_timeframe_listed_twice(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = bot(tmp_path, replace=("timeframes: [1h]", "timeframes: [1h, 1h]"))
    assert [f"error: markets[0].timeframes[1]: timeframe '1h' is listed twice ({path}:5)"] == (
        check(capsys, path))


def test_a_malformed_env_reference_is_an_error(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    """``${BFX KEY}`` stayed in the value as literal text, silently."""
    path = bot(tmp_path, replace=("  plugin: paper", "  plugin: paper\n  params:\n"
                                                     "    quote: ${BAD NAME}"))
    errors = check(capsys, path)
    assert 1 == len(errors)
    assert errors[0].startswith("error: executor.params.quote: malformed reference "
                                "'${BAD NAME}'")


# -- genesis backtest ------------------------------------------------------------------------

def test_backtest_start_option_is_named(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    """The --start option was reported as the file's backtest.start."""
    err = one_line_error(capsys, "backtest", bot(tmp_path), "--start", "yesterday")
    assert "backtest.start: 'yesterday' is not an ISO date/time" in err
    assert "(from --start)" in err


def test_backtest_end_before_start(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = one_line_error(capsys, "backtest", bot(tmp_path, data=True), "--start", "2013-10-20",
                         "--end", "2013-10-10")
    assert "backtest.end 2013-10-10 must be after backtest.start 2013-10-20" in err


def test_a_search_where_every_candidate_fails_is_not_a_success(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Exit code 0 with a table of errors, before."""
    # each value is valid alone; every combination breaks ema_rsi's fast < slow rule
    path = bot(tmp_path, OPTIMIZE.replace("[8, 12]", "[30, 40]"), data=True)
    err = one_line_error(capsys, "backtest", path, "--optimize")
    assert "every one of the 2 candidates failed" in err
    assert "'slow' must be greater than fast" in err


def test_a_walk_forward_where_every_candidate_fails_is_not_a_success(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = bot(tmp_path, OPTIMIZE.replace("[8, 12]", "[30, 40]")
               + "  walk_forward: {train_bars: 300, test_bars: 200}\n", data=True)
    err = one_line_error(capsys, "backtest", path, "--optimize", "--walk-forward")
    assert "every candidate failed in every window" in err


def test_report_folder_that_is_a_file(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    """Was: "failed: FileExistsError: [Errno 17] File exists", exit code 1."""
    (tmp_path / "taken").write_text("")
    path = bot(tmp_path, "backtest:\n  report_dir: taken\n", data=True)
    err = one_line_error(capsys, "backtest", path)
    assert f"backtest.report_dir: cannot create folder {tmp_path / 'taken'}" in err


def test_runs_db_under_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    path = bot(tmp_path, "backtest:\n  runs_db: taken/runs.db\n", data=True)
    err = one_line_error(capsys, "backtest", path, "--no-report")
    assert f"backtest.runs_db: cannot create folder {tmp_path / 'taken'}" in err


def test_backtest_list_limit_must_be_positive(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    """--limit 0 printed "No stored runs."; --limit -5 listed everything."""
    for limit in ("0", "-5"):
        code, _, err = genesis(capsys, "backtest", "list", bot(tmp_path), "--limit", limit)
        assert 2 == code
        assert "Invalid value for '--limit'" in err


# -- genesis data ----------------------------------------------------------------------------

@pytest.fixture
def cache(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    db = tmp_path / "data.db"
    code, _, err = genesis(capsys, "data", "import", CSV, "--symbol", "BTCUSD", "--timeframe",
                           "1h", "--db", db)
    assert 0 == code, err
    return db


@pytest.mark.parametrize("command", ["export", "gaps", "import"])
def test_data_bad_timeframe_names_the_option(capsys: pytest.CaptureFixture[str], cache: Path,
                                             command: str) -> None:
    args = {"export": ["out.csv"], "gaps": [], "import": [CSV]}[command]
    err = one_line_error(capsys, "data", command, *args, "--symbol", "BTCUSD", "--timeframe",
                         "1hr", "--db", cache)
    assert err.startswith("genesis: error: --timeframe: invalid timeframe '1hr'")


@pytest.mark.parametrize("command", ["export", "gaps"])
def test_data_unknown_source(capsys: pytest.CaptureFixture[str], cache: Path, tmp_path: Path,
                             command: str) -> None:
    """export wrote 0 bars and gaps printed a 1970 window, both with exit code 0."""
    args = [tmp_path / "out.csv"] if command == "export" else []
    err = one_line_error(capsys, "data", command, *args, "--symbol", "BTCUSD", "--timeframe",
                         "1h", "--source", "nope", "--db", cache)
    assert "--source: no BTCUSD 1h candles from 'nope' in" in err
    assert "(cached sources: csv)" in err


@pytest.mark.parametrize("command", ["export", "gaps"])
def test_data_end_before_start(capsys: pytest.CaptureFixture[str], cache: Path, tmp_path: Path,
                               command: str) -> None:
    args = [tmp_path / "out.csv"] if command == "export" else []
    err = one_line_error(capsys, "data", command, *args, "--symbol", "BTCUSD", "--timeframe",
                         "1h", "--start", "2013-10-20", "--end", "2013-10-10", "--db", cache)
    assert "--end 2013-10-10T00:00Z must be after --start 2013-10-20T00:00Z" in err


def test_data_import_of_a_binary_file(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    """Was: "failed: UnicodeDecodeError: 'utf-8' codec can't decode ...", no file named."""
    binary = tmp_path / "candles.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    err = one_line_error(capsys, "data", "import", binary, "--symbol", "BTCUSD", "--timeframe",
                         "1h", "--db", tmp_path / "d.db")
    assert f"{binary}: not a UTF-8 text file" in err


def test_data_empty_symbol(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = one_line_error(capsys, "data", "import", CSV, "--symbol", "", "--timeframe", "1h",
                         "--db", tmp_path / "d.db")
    assert "--symbol: must not be empty" in err


# -- genesis new, global options --------------------------------------------------------------

def test_new_plugin_in_a_folder_under_a_file(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    """Was: "failed: NotADirectoryError: ...", exit code 1."""
    (tmp_path / "afile").write_text("")
    err = one_line_error(capsys, "new", "plugin", "my_risk", "--kind", "risk", "--dir",
                         tmp_path / "afile" / "x")
    assert f"--dir {tmp_path / 'afile' / 'x'}: cannot create" in err


def test_disabling_an_unknown_plugin(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    """A misspelt --disable-plugin was ignored: the plugin stayed loaded."""
    err = one_line_error(capsys, "--disable-plugin", "strategy_ema_rsl", "plugins")
    assert "--disable-plugin: no plugin named 'strategy_ema_rsl'" in err
    assert "did you mean 'strategy_ema_rsi'?" in err


# -- genesis run -------------------------------------------------------------------------------

def test_run_fresh_with_a_folder_as_the_database(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    """Was: "failed: IsADirectoryError: ...", exit code 1."""
    (tmp_path / "state.db").mkdir()
    path = bot(tmp_path, "storage: {path: state.db}\n", data=True)
    err = one_line_error(capsys, "run", path, "--fresh", "--quiet")
    assert f"storage.path: --fresh cannot delete {tmp_path / 'state.db'}: Is a directory" in err


# -- candle files the backtest, the replay feed and the simulator read ----------------------

def test_a_binary_candle_file_is_named(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    path = bot(tmp_path, data=True)
    (tmp_path / "data" / CSV.name).write_bytes(b"\xff\xfe\x00binary")
    error = one_line_error(capsys, "backtest", path)
    assert CSV.name in error
    assert "not a UTF-8 text file" in error


def test_replay_without_a_file_for_the_symbol(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    # was "failed: LookupError", exit 1
    files = f"files=[{{symbol: BTCUSD, timeframe: 1h, path: {CSV}}}]"
    error = one_line_error(capsys, "data", "download", "--source", "replay", "--param", files,
                           "--symbol", "ETHUSD", "--timeframe", "1h", "--start", "2013-10-01",
                           "--end", "2013-10-02", "--db", tmp_path / "cache.db")
    assert "replay: no file for ETHUSD 1h" in error


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read simulator candles"),
    ("timestamp_ms,open\n1,2\n", ":2: expected the columns"),
])
def test_simulator_candle_files_are_user_errors(tmp_path: Path, content: str | None,
                                                message: str) -> None:
    from genesis_exchange_bitfinex.sim._market import load_csv

    from genesis_core import DataError

    path = tmp_path / "sim.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_csv(path)


def test_a_misspelt_alert_rule_is_an_error(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    # was accepted, and the alert the user meant to silence kept coming
    path = bot(tmp_path, "alerts:\n  disabled: [hgh_confidence]\n")
    [error] = check(capsys, path)
    assert "no alert rule 'hgh_confidence'; did you mean 'high_confidence'?" in error
    assert f"bot.yaml:{line_of(path, 'alerts:')}" in error
    path = bot(tmp_path, "alerts:\n  cooldown_seconds: {fill: 60, trade_clsed: 60}\n")
    [error] = check(capsys, path)
    assert "no alert rule 'trade_clsed'; did you mean 'trade_closed'?" in error


def test_every_alert_rule_the_runtime_raises_is_configurable() -> None:
    import re

    from genesis_core import health
    from genesis_core.config.schema import ALERT_RULES

    root = Path(health.__file__).parent
    raised = set()
    for source in [root / "health.py", *(root / "runtime").glob("*.py")]:
        raised |= set(re.findall(r'(?:_alert\(|\()"([a-z_]+)", Severity\.', source.read_text()))
    assert {"fill", "history_gap", "reconnect_storm", "maintenance"} <= raised  # the scan works
    assert raised <= set(ALERT_RULES)


def test_status_pointed_at_another_database_leaves_it_alone(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / "backtests.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
    conn.close()
    path = bot(tmp_path, "storage: {path: backtests.db}\n")
    error = one_line_error(capsys, "status", path)
    assert "backtests.db: not a Genesis bot database (it holds runs)" in error
    with sqlite3.connect(other) as conn:  # nothing added to it
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    assert ["runs"] == tables


def test_data_import_with_the_wrong_timeframe(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    # was accepted: 733 1h bars stored as 1m, and everything between them counted as gaps
    error = one_line_error(capsys, "data", "import", CSV, "--symbol", "BTCUSD", "--timeframe",
                           "1m", "--db", tmp_path / "d.db")
    assert "no two bars are 1m apart (the closest are 60 minutes apart)" in error


def test_trailing_blank_lines_of_a_csv_hold_no_bar(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    padded = tmp_path / "padded.csv"
    padded.write_text(CSV.read_text() + "\n\n")
    code, out, err = genesis(capsys, "data", "import", padded, "--symbol", "BTCUSD",
                             "--timeframe", "1h", "--db", tmp_path / "d.db")
    assert 0 == code, err
    assert "imported 733 bars" in out


def test_an_absurd_paper_fee_is_an_error(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    path = bot(tmp_path, replace=("  plugin: paper\n",
                                  "  plugin: paper\n  params: {taker_fee_bps: 20000}\n"))
    [error] = check(capsys, path)
    assert "executor.params.taker_fee_bps: must be between 0 and 1000 basis points" in error


def test_paper_without_starting_cash_is_an_error(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    path = bot(tmp_path, replace=("  plugin: paper\n",
                                  "  plugin: paper\n  params: {initial_cash: 0}\n"))
    [error] = check(capsys, path)
    assert "executor.params.initial_cash: must be > 0, got 0" in error

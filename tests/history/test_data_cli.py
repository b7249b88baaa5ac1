"""`genesis data`: download through a plugin or a bot file, import, export, gaps, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesis_core.cli import main
from genesis_core.cli.data_cmd import parse_time
from genesis_core.history import CandleCache

from .conftest import HOUR, T0, shared


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLUGIN = '''
import attrs

from genesis_core import Candles, DataSource, hookimpl, timeframe_ms


@attrs.frozen
class CountingParams:
    missing: list[int] = attrs.field(factory=list)
    interrupt_at: int = 0  # that history() call raises KeyboardInterrupt, like Ctrl-C


class Counting(DataSource):
    """Bars from a formula; counts calls."""

    name = "counting"
    Params = CountingParams
    supports_history = True
    calls = 0

    async def history(self, symbol, timeframe, start_ms, end_ms):
        type(self).calls += 1
        if type(self).calls == self.params.interrupt_at:
            raise KeyboardInterrupt
        rows = [(t, 1, 2, 0.5, 1.5, 3) for t in range(start_ms, end_ms, timeframe_ms(timeframe))
                if t not in self.params.missing]
        return Candles.from_rows(rows, symbol=symbol, timeframe=timeframe)

    async def stream(self, markets):
        yield


class LiveOnly(DataSource):
    """No history."""

    name = "live_only"

    async def stream(self, markets):
        yield


@hookimpl
def register_data_sources(register):
    register(Counting)
    register(LiveOnly)
'''


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "counting_source.py").write_text(PLUGIN)
    return folder


def genesis(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_times_are_iso_dates_in_utc_or_milliseconds() -> None:
    assert T0 == parse_time("2023-11-14") == parse_time("2023-11-14T00:00Z")
    assert T0 == parse_time("2023-11-14T01:00+01:00") == parse_time(str(T0))


def test_download_from_a_bot_file_then_export_gives_its_csv_back(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """paper-demo.yaml replays examples/data/bitfinex_BTCUSD_1h.csv: 733 bars, 7 gaps."""
    db, out = tmp_path / "data.db", tmp_path / "out.csv"
    args = ("data", "download", "--config", EXAMPLES / "paper-demo.yaml", "--start",
            "2013-10-01", "--end", "2013-10-31T22:00", "--chunk-bars", "300", "--db", db)
    code, stdout, stderr = genesis(capsys, *args)
    assert 0 == code, stderr
    assert ["replay BTCUSD 1h: 3 chunks fetched, 733 bars; [2013-10-01T00:00Z, "
            "2013-10-31T22:00Z) holds 733 bars, 7 venue gaps (9 bars), 0 unfetched ranges"] == (
        stdout.splitlines())
    assert "chunk 3/3" in stderr.splitlines()[-1]
    code, stdout, _ = genesis(capsys, *args)
    assert "replay BTCUSD 1h: already cached, nothing fetched;" in stdout
    code, stdout, _ = genesis(capsys, "data", "export", "--symbol", "BTCUSD", "--timeframe",
                              "1h", out, "--db", db)
    assert (0, "exported 733 bars of BTCUSD 1h to " + str(out)) == (code, stdout.strip())
    assert (EXAMPLES / "data" / "bitfinex_BTCUSD_1h.csv").read_bytes() == out.read_bytes()


def test_download_through_a_plugin_with_params_survives_ctrl_c(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, plugins_dir: Path) -> None:
    db = tmp_path / "data.db"
    base = ("--plugins-dir", plugins_dir, "data", "download", "--source", "counting",
            "--symbol", "BTCUSD", "--timeframe", "1h", "--start", str(T0), "--end",
            "2023-11-15", "--chunk-bars", "5", "--db", db, "--param", f"missing=[{T0 + HOUR}]")
    code, _, stderr = genesis(capsys, *base, "--param", "interrupt_at=3")
    assert 130 == code
    assert stderr.splitlines()[-1] == ("interrupted: finished chunks are stored; run the same "
                                       "command again to resume")
    assert "chunk 2/5" in stderr
    with CandleCache.open(db) as cache:
        assert [(T0, T0 + 10 * HOUR)] == cache.coverage("counting", "BTCUSD", "1h")
    code, stdout, stderr = genesis(capsys, *base)
    assert 0 == code, stderr
    assert ["chunk 1/3", "chunk 2/3", "chunk 3/3"] == [line.split(" [")[0].split(": ")[1]
                                                       for line in stderr.splitlines()]
    assert "3 chunks fetched, 14 bars; [2023-11-14T00:00Z, 2023-11-15T00:00Z) holds 23 bars, " \
           "1 venue gaps (1 bar), 0 unfetched ranges" in stdout

    code, stdout, _ = genesis(capsys, "data", "gaps", "--symbol", "BTCUSD", "--timeframe", "1h",
                              "--db", db, "--end", "2023-11-15T02:00")
    assert 0 == code
    assert ["counting BTCUSD 1h: [2023-11-14T00:00Z, 2023-11-15T02:00Z) 23 bars, 1 venue gaps "
            "(1 bar), 1 unfetched ranges (2 bars)",
            "  venue gap  2023-11-14T01:00Z  +1 bar",
            "  unfetched  2023-11-15T00:00Z  +2 bars"] == stdout.splitlines()
    code, stdout, _ = genesis(capsys, "data", "gaps", "--symbol", "BTCUSD", "--timeframe", "1h",
                              "--db", db, "--json")
    assert [{"source": "counting", "symbol": "BTCUSD", "timeframe": "1h",
             "window": [T0, T0 + 24 * HOUR], "bars": 23,
             "venue_gaps": [[T0 + HOUR, T0 + 2 * HOUR]], "unfetched": []}] == json.loads(stdout)


@pytest.mark.parametrize(("args", "message"), [
    (("--source", "live_only"), "'live_only' does not provide history (supports_history is "
                                "False)"),
    (("--source", "counting", "--param", "interrupt_at=soon"),
     "--param interrupt_at: expected int, got 'soon'"),
    (("--source", "counting", "--param", "colour=red"), "--param colour: unknown key"),
    (("--source", "nope"), "unknown data source 'nope'"),
    (("--source", "counting", "--timeframe", "2x"), "invalid timeframe '2x'"),
])
def test_download_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      plugins_dir: Path, args: tuple[str, ...],
                                      message: str) -> None:
    default = {"--symbol": "BTCUSD", "--timeframe": "1h"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    extra = [x for k, v in default.items() if k not in given for x in (k, v)]
    code, _, stderr = genesis(capsys, "--plugins-dir", plugins_dir, "data", "download",
                              *args, *extra, "--start", "2023-11-14", "--db",
                              tmp_path / "d.db")
    assert 2 == code
    assert 1 == len(stderr.splitlines()), stderr
    assert message in stderr


@pytest.mark.parametrize(("args", "message"), [
    (("download", "--start", "2023-01-01"), "give either --source PLUGIN or --config"),
    (("download", "--source", "replay", "--start", "2023-01-01"), "needs --symbol and"),
    (("download", "--source", "replay", "--symbol", "X", "--timeframe", "1h", "--start",
      "yesterday"), "expected an ISO date"),
    (("export", "--symbol", "X", "--timeframe", "1h", "out.csv"), "no candle cache here"),
    (("gaps", "--symbol", "X", "--timeframe", "1h"), "no candle cache here"),
])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                             args: tuple[str, ...], message: str) -> None:
    code, _, stderr = genesis(capsys, "data", *args, "--db", tmp_path / "none.db")
    assert 2 == code
    assert message in stderr


def test_import_then_gaps_and_export_a_slice(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    db, out = tmp_path / "data.db", tmp_path / "slice.csv"
    source = shared("bitfinex_BTCUSD_15m.csv")
    code, stdout, _ = genesis(capsys, "data", "import", source, "--symbol", "BTCUSD",
                              "--timeframe", "15m", "--db", db)
    assert (0, f"imported 95 bars of BTCUSD 15m from {source} into {db} (source csv)") == (
        code, stdout.strip())
    code, _, _ = genesis(capsys, "data", "export", "--symbol", "BTCUSD", "--timeframe", "15m",
                         out, "--start", "2021-01-07T15:00Z", "--end", "2021-01-07T16:00Z",
                         "--db", db)
    lines = source.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("1610031600000,"))
    assert [lines[0], *lines[first:first + 4]] == out.read_text().splitlines()

    bad = tmp_path / "bad.csv"
    bad.write_text(f"timestamp_ms,open,high,low,close,volume\n{T0},1,2,0.5,1.5,3\n"
                   f"{T0 + HOUR},1,0.5,0.5,1.5,3\n")
    code, _, stderr = genesis(capsys, "data", "import", bad, "--symbol", "BTCUSD",
                              "--timeframe", "1h", "--db", db)
    assert (2, [f"genesis: error: {bad}:3: high 0.5 < max(open, close)"]) == (
        code, stderr.splitlines())

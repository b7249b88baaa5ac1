"""The candle cache: coverage, venue gaps vs unfetched ranges, CSV round trips, bad input."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from genesis_core import Candles, DataError
from genesis_core.history import CandleCache, Grid, HistoryError, Span
from genesis_core.models.market import csv_number
from genesis_core.storage import Store

from .conftest import HOUR, T0, bar, shared


def candles(*timestamps: int, timeframe: str = "1h") -> Candles:
    return Candles.from_rows([bar(ts) for ts in timestamps], symbol="BTCUSD",
                             timeframe=timeframe)


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(["timestamp_ms,open,high,low,close,volume", *lines]) + "\n")
    return path


@pytest.mark.parametrize("name", ["bitfinex_BTCUSD_1h.csv", "binance_ETHUSDT_5m.csv",
                                  "bitfinex_BTCUSD_1m.csv"])
def test_csv_round_trip_is_byte_identical(cache: CandleCache, tmp_path: Path, name: str) -> None:
    source = shared(name)
    timeframe = name.rsplit("_", 1)[1].removesuffix(".csv")
    count = cache.import_csv(source, "X", timeframe)
    out = tmp_path / "out.csv"
    assert count == cache.export_csv("X", timeframe, out)
    assert source.read_bytes() == out.read_bytes()


def test_values_are_written_like_the_shared_files() -> None:
    assert ["126.5", "2", "0.00006824", "9.30124609", "65000"] == [
        csv_number(v) for v in (126.5, 2.0, 6.824e-05, 9.30124609, 65000.0)]


def test_gaps_inside_an_imported_file_are_venue_gaps(cache: CandleCache) -> None:
    """SOURCES.md: each Binance 5m file has 6 gaps, 177 missing bars, one of 46 after
    2020-12-21 14:05."""
    cache.import_csv(shared("binance_ETHUSDT_5m.csv"), "ETHUSDT", "5m")
    gaps = cache.gaps("ETHUSDT", "5m")
    five = 300_000
    assert 6 == len(gaps.venue)
    assert 177 == sum(span.bars(five) for span in gaps.venue)
    first = gaps.venue[0]
    assert ("2020-12-21T14:10Z", 46) == (format_ts(first.start), first.bars(five))
    assert [] == gaps.unfetched
    assert 65_742 == gaps.bars


def test_a_window_beyond_coverage_is_unfetched_not_a_gap(cache: CandleCache) -> None:
    cache.import_csv(shared("bitfinex_BTCUSD_1h.csv"), "BTCUSD", "1h")
    covered = cache.coverage("csv", "BTCUSD", "1h")
    assert 1 == len(covered)
    gaps = cache.gaps("BTCUSD", "1h", covered[0].start - 5 * HOUR, covered[0].end + 2 * HOUR)
    assert [Span(covered[0].start - 5 * HOUR, covered[0].start),
            Span(covered[0].end, covered[0].end + 2 * HOUR)] == gaps.unfetched
    assert (7, 9) == (len(gaps.venue), sum(s.bars(HOUR) for s in gaps.venue))  # SOURCES.md


def test_coverage_merges_touching_ranges_and_holes_stay_unfetched(cache: CandleCache) -> None:
    cache.add("v", "BTCUSD", "1h", candles(T0, T0 + HOUR), Span(T0, T0 + 2 * HOUR))
    cache.add("v", "BTCUSD", "1h", candles(T0 + 3 * HOUR), Span(T0 + 2 * HOUR, T0 + 4 * HOUR))
    cache.add("v", "BTCUSD", "1h", candles(), Span(T0 + 6 * HOUR, T0 + 8 * HOUR))
    assert [Span(T0, T0 + 4 * HOUR), Span(T0 + 6 * HOUR, T0 + 8 * HOUR)] == cache.coverage(
        "v", "BTCUSD", "1h")
    gaps = cache.gaps("BTCUSD", "1h")
    assert [Span(T0 + 2 * HOUR, T0 + 3 * HOUR), Span(T0 + 6 * HOUR, T0 + 8 * HOUR)] == gaps.venue
    assert [Span(T0 + 4 * HOUR, T0 + 6 * HOUR)] == gaps.unfetched
    # A window that starts between grid points means the bars opening inside it.
    assert Span(T0 + HOUR, T0 + 3 * HOUR) == cache.gaps("BTCUSD", "1h", T0 + 1,
                                                        T0 + 2 * HOUR + 1).window


def test_load_is_half_open_and_exact(cache: CandleCache) -> None:
    stored = candles(T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR)
    cache.add("v", "BTCUSD", "1h", stored, Span(T0, T0 + 4 * HOUR))
    loaded = cache.load("BTCUSD", "1h", T0 + HOUR, T0 + 3 * HOUR)
    assert [T0 + HOUR, T0 + 2 * HOUR] == loaded.timestamp.tolist()
    everything = cache.load("BTCUSD", "1h")
    for got, want in zip(everything.arrays(), stored.arrays(), strict=True):
        assert want.tolist() == got.tolist()
    assert ("BTCUSD", "1h") == (everything.symbol, everything.timeframe)


def test_two_sources_of_one_series_must_be_chosen_between(cache: CandleCache) -> None:
    cache.add("a", "BTCUSD", "1h", candles(T0), Span(T0, T0 + HOUR))
    cache.add("b", "BTCUSD", "1h", candles(T0 + HOUR), Span(T0 + HOUR, T0 + 2 * HOUR))
    with pytest.raises(HistoryError, match=r"several sources \(a, b\); choose one"):
        cache.load("BTCUSD", "1h")
    assert [T0 + HOUR] == cache.load("BTCUSD", "1h", source="b").timestamp.tolist()
    with pytest.raises(HistoryError, match="no ETHUSD 1h candles cached"):
        cache.gaps("ETHUSD", "1h")


def test_timeframe_spellings_share_a_series_and_weeks_open_on_mondays(
        cache: CandleCache) -> None:
    cache.add("v", "BTCUSD", "1D", candles(T0, timeframe="1D"), Span(T0, T0 + 24 * HOUR))
    assert [T0] == cache.load("BTCUSD", "1d").timestamp.tolist()
    monday = 1_699_833_600_000  # 2023-11-13T00:00Z
    assert monday == Grid.of("1W").floor(T0)
    with pytest.raises(DataError, match="not on the 1W grid"):
        cache.add("v", "BTCUSD", "1W", candles(T0, timeframe="1W"),
                  Span(monday, monday + 7 * 24 * HOUR))


def test_a_refused_chunk_writes_nothing(cache: CandleCache) -> None:
    with pytest.raises(DataError, match=r"v BTCUSD 1h bar .*: outside the requested"):
        cache.add("v", "BTCUSD", "1h", candles(T0, T0 + 2 * HOUR), Span(T0, T0 + 2 * HOUR))
    with pytest.raises(DataError, match=r"timestamp 1699920000001 is not on the 1h grid"):
        cache.add("v", "BTCUSD", "1h", candles(T0 + 1), Span(T0, T0 + 2 * HOUR))
    assert [] == cache.sources("BTCUSD", "1h")
    assert 0 == cache.db.execute("SELECT count(*) FROM candles").fetchone()[0]


def test_import_names_file_and_line_of_bad_input(cache: CandleCache, tmp_path: Path) -> None:
    good = f"{T0},1,2,0.5,1.5,3"
    nan = write(tmp_path / "nan.csv", good, f"{T0 + HOUR},1,nan,0.5,1.5,3")
    with pytest.raises(DataError, match=r"nan\.csv:3: NaN in"):
        cache.import_csv(nan, "BTCUSD", "1h")
    skewed = write(tmp_path / "skewed.csv", good, f"{T0 + HOUR + 1000},1,2,0.5,1.5,3")
    with pytest.raises(DataError, match=r"skewed\.csv:3: bar .*: timestamp \d+ is not on the "
                                        r"1h grid"):
        cache.import_csv(skewed, "BTCUSD", "1h")
    twice = write(tmp_path / "twice.csv", good, good)
    with pytest.raises(DataError, match=r"twice\.csv:3: timestamp duplicate"):
        cache.import_csv(twice, "BTCUSD", "1h")
    assert [] == cache.sources("BTCUSD", "1h")


def test_reimport_is_idempotent_but_other_values_are_refused(cache: CandleCache,
                                                              tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", f"{T0},1,2,0.5,1.5,3", f"{T0 + HOUR},1,2,0.5,1.5,3")
    assert 2 == cache.import_csv(first, "BTCUSD", "1h")
    assert 2 == cache.import_csv(first, "BTCUSD", "1h")
    revised = write(tmp_path / "b.csv", f"{T0 + HOUR},1,2,0.5,1.5,3",
                    f"{T0 + 2 * HOUR},1,2,0.5,1.5,3", f"{T0 + 3 * HOUR},1,2,0.5,1.25,3")
    assert 3 == cache.import_csv(revised, "BTCUSD", "1h")
    clash = write(tmp_path / "c.csv", f"{T0 + 3 * HOUR},1,2,0.5,1.5,3")
    with pytest.raises(DataError, match=r"c\.csv:2: bar 2023-11-14T03:00Z: close 1\.5 differs "
                                        r"from the cached 1\.25 \(csv\)"):
        cache.import_csv(clash, "BTCUSD", "1h")
    assert [Span(T0, T0 + 4 * HOUR)] == cache.coverage("csv", "BTCUSD", "1h")
    assert 4 == len(cache.load("BTCUSD", "1h"))


def test_cache_persists_and_refuses_other_databases(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    with CandleCache.open(path) as cache:
        cache.add("v", "BTCUSD", "1h", candles(T0), Span(T0, T0 + HOUR))
    with CandleCache.open(path) as cache:
        assert [T0] == cache.load("BTCUSD", "1h").timestamp.tolist()
    with Store.open(tmp_path / "bot.db"):
        pass
    with pytest.raises(HistoryError, match=r"bot\.db: not a Genesis candle cache"):
        CandleCache.open(tmp_path / "bot.db")
    (tmp_path / "junk.db").write_text("not sqlite at all, just text" * 100)
    with pytest.raises(HistoryError, match=r"junk\.db: not a Genesis candle cache"):
        CandleCache.open(tmp_path / "junk.db")
    assert "ok" == sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0]


def format_ts(ts: int) -> str:
    from genesis_core import format_ts as fmt

    return fmt(ts)

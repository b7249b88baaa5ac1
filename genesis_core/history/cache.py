"""The candle cache: bars from any data source, and the ranges fetched, in one SQLite file.

Two tables (created by the sqlite-utils migration set ``genesis_history``):

* ``candles (source, symbol, timeframe, ts, open, high, low, close, volume)``: one row per bar,
  ``ts`` its open time in ms UTC, keyed by its first four columns;
* ``coverage (source, symbol, timeframe, start_ms, end_ms)``: half-open ranges ``[start, end)``
  fetched from ``source``, merged when they touch.

A bar missing *inside* coverage is a venue gap: the range was fetched and the venue published
nothing (no trades). A range outside coverage was never fetched. Bars and the coverage they
prove are written in one transaction, so an interrupted download leaves both or neither.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import attrs
import numpy as np
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from genesis_core.errors import DataError, GenesisError
from genesis_core.models import Candles, format_ts, timeframe_ms
from genesis_core.models.market import csv_number
from genesis_core.storage.sqlite import open_database, write_transaction


DEFAULT_PATH = Path("genesis-data.db")
_WEEK_MS = 604_800_000
_MONDAY_MS = 4 * 86_400_000  # 1970-01-05 was a Monday; exchanges open weekly bars on Mondays
_FIELDS = ("open", "high", "low", "close", "volume")


class HistoryError(GenesisError):
    """The candle cache or a download cannot do what was asked."""


class Span(NamedTuple):
    """A half-open time range ``[start, end)`` in ms UTC."""

    start: int
    end: int

    def bars(self, step: int) -> int:
        """Grid points inside (the span's ends are on the grid)."""
        return (self.end - self.start) // step


@attrs.frozen
class Grid:
    """Where bars of a timeframe open: ``origin + k * step``. ``key`` names it in the cache."""

    key: str
    step: int
    origin: int

    @classmethod
    def of(cls, timeframe: str) -> Grid:
        try:
            step = timeframe_ms(timeframe)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        # One key per length spelling: `1D` (Bitfinex) and `1d` are the same series.
        key = timeframe if timeframe.endswith("m") else timeframe.lower()
        return cls(key, step, _MONDAY_MS if step % _WEEK_MS == 0 else 0)

    def floor(self, ts: int) -> int:
        return ts - (ts - self.origin) % self.step

    def ceil(self, ts: int) -> int:
        return ts + (self.origin - ts) % self.step

    def span(self, start: int, end: int) -> Span:
        """The grid-aligned span holding the same bars as ``start <= open time < end``."""
        return Span(self.ceil(start), self.ceil(end))


@attrs.frozen
class Gaps:
    """What is missing of one cached series in ``window``.

    ``venue``: runs of bars missing inside fetched coverage (the venue published none);
    ``unfetched``: ranges never fetched. Both are half-open, on the timeframe's grid.
    """

    source: str
    window: Span
    bars: int
    venue: list[Span]
    unfetched: list[Span]


def write_csv(candles: Candles, path: str | Path) -> None:
    """Write the documented format (:meth:`Candles.to_csv`), errors as one line."""
    try:
        candles.to_csv(path)
    except OSError as exc:
        raise HistoryError(f"{path}: cannot write: {exc.strerror}") from None


MIGRATIONS = Migrations("genesis_history")


_INITIAL = "0001_candles_and_coverage"


@MIGRATIONS(name=_INITIAL)
def _initial(db: Database) -> None:
    # One statement at a time: executescript() would commit the migration's transaction.
    db.execute("""CREATE TABLE candles (
        source TEXT NOT NULL, symbol TEXT NOT NULL, timeframe TEXT NOT NULL, ts INTEGER NOT NULL,
        open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
        volume REAL NOT NULL,
        PRIMARY KEY (source, symbol, timeframe, ts)) WITHOUT ROWID""")
    db.execute("""CREATE TABLE coverage (
        source TEXT NOT NULL, symbol TEXT NOT NULL, timeframe TEXT NOT NULL,
        start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL CHECK (end_ms > start_ms),
        PRIMARY KEY (source, symbol, timeframe, start_ms))""")


def _bar_name(series: str, timestamps: list[int], i: int) -> str:
    return f"{series} bar {format_ts(timestamps[i])}"


def _missing(ts: np.ndarray, span: Span, step: int) -> list[Span]:
    """Runs of grid points in ``span`` without a bar; ``ts`` sorted, on the grid, in ``span``."""
    points = np.concatenate(([span.start - step], ts, [span.end]))
    jumps = np.flatnonzero(np.diff(points) > step)
    return [Span(int(points[i]) + step, int(points[i + 1])) for i in jumps]


def _subtract(window: Span, covered: Iterable[Span]) -> list[Span]:
    """Parts of ``window`` outside the sorted, disjoint ``covered`` spans."""
    out, cursor = [], window.start
    for span in covered:
        if span.start >= window.end:
            break
        if span.start > cursor:
            out.append(Span(cursor, span.start))
        cursor = max(cursor, span.end)
    if cursor < window.end:
        out.append(Span(cursor, window.end))
    return out


class CandleCache:
    """Cached candles keyed by (source, symbol, timeframe). Build with :meth:`open`."""

    def __init__(self, db: Database, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path = DEFAULT_PATH) -> CandleCache:
        """Open (creating if needed) the cache at ``path`` and bring its schema up to date."""
        path = Path(path)

        def setup(db: Database) -> None:
            applied = {m.name for m in MIGRATIONS.applied(db)}
            foreign = set(db.table_names()) - {Migrations.migrations_table}
            if not applied and foreign:  # refuse before changing anything in someone's file
                raise HistoryError(f"{path}: not a Genesis candle cache (it holds "
                                   f"{', '.join(sorted(foreign))})")
            if applied - {_INITIAL}:
                raise HistoryError(f"{path}: written by a newer Genesis (schema "
                                   f"{len(applied)}); upgrade genesis-core to open it")
            db.enable_wal()
            # A killed process loses nothing committed; only power loss may lose the last chunk,
            # and coverage goes with its bars, so a re-run fetches it again.
            db.execute("PRAGMA synchronous=NORMAL")
            MIGRATIONS.apply(db)

        db = open_database(path, setup, error=HistoryError,
                           cannot="{path}: cannot open candle cache: {exc}",
                           invalid="{path}: not a Genesis candle cache ({exc})")
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> CandleCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------

    def sources(self, symbol: str, timeframe: str) -> list[str]:
        """Sources that fetched any range of ``symbol``/``timeframe``."""
        rows = self.db.execute(
            "SELECT DISTINCT source FROM coverage WHERE symbol = ? AND timeframe = ? "
            "ORDER BY source", [symbol, Grid.of(timeframe).key]).fetchall()
        return [r[0] for r in rows]

    def source_for(self, symbol: str, timeframe: str, source: str | None = None) -> str:
        """``source``, or the only source holding the series (else a one-line error)."""
        if source is not None:
            return source
        found = self.sources(symbol, timeframe)
        if len(found) == 1:
            return found[0]
        if not found:
            raise HistoryError(f"{self.path}: no {symbol} {timeframe} candles cached; "
                               "download or import them first")
        raise HistoryError(f"{self.path}: {symbol} {timeframe} is cached from several "
                           f"sources ({', '.join(found)}); choose one with --source")

    def coverage(self, source: str, symbol: str, timeframe: str) -> list[Span]:
        """Fetched ranges of one series, sorted and disjoint."""
        rows = self.db.execute(
            "SELECT start_ms, end_ms FROM coverage WHERE source = ? AND symbol = ? AND "
            "timeframe = ? ORDER BY start_ms", [source, symbol, Grid.of(timeframe).key])
        return [Span(*r) for r in rows.fetchall()]

    def load(self, symbol: str, timeframe: str, start: int | None = None,
             end: int | None = None, *, source: str | None = None) -> Candles:
        """Cached bars with ``start <= open time < end`` (venue gaps stay missing)."""
        source = self.source_for(symbol, timeframe, source)
        rows = self.db.execute(
            "SELECT ts, open, high, low, close, volume FROM candles WHERE source = ? AND "
            "symbol = ? AND timeframe = ? AND ts >= ? AND ts < ? ORDER BY ts",
            [source, symbol, Grid.of(timeframe).key, -(2**62) if start is None else start,
             2**62 if end is None else end]).fetchall()
        table = np.array(rows, dtype=np.float64).reshape(-1, 6)
        timestamps = np.array([r[0] for r in rows], dtype=np.int64)  # exact, not via float
        return Candles(timestamps, *table[:, 1:].T, symbol=symbol, timeframe=timeframe)

    def gaps(self, symbol: str, timeframe: str, start: int | None = None,
             end: int | None = None, *, source: str | None = None) -> Gaps:
        """Venue gaps and unfetched ranges of a series in ``[start, end)``, which defaults to
        the extent of its coverage."""
        grid = Grid.of(timeframe)
        source = self.source_for(symbol, timeframe, source)
        covered = self.coverage(source, symbol, timeframe)
        lo = covered[0].start if covered else 0
        hi = covered[-1].end if covered else lo
        window = grid.span(lo if start is None else start, hi if end is None else end)
        timestamps = np.array([r[0] for r in self.db.execute(
            "SELECT ts FROM candles WHERE source = ? AND symbol = ? AND timeframe = ? AND "
            "ts >= ? AND ts < ? ORDER BY ts",
            [source, symbol, grid.key, window.start, window.end]).fetchall()], dtype=np.int64)
        venue: list[Span] = []
        for span in covered:
            clipped = Span(max(span.start, window.start), min(span.end, window.end))
            if clipped.start < clipped.end:
                lo_i, hi_i = np.searchsorted(timestamps, clipped)
                venue += _missing(timestamps[lo_i:hi_i], clipped, grid.step)
        return Gaps(source, window, len(timestamps), venue, _subtract(window, covered))

    # -- writing -----------------------------------------------------------------------------

    def add(self, source: str, symbol: str, timeframe: str, candles: Candles, span: Span, *,
            where: Callable[[int], str] | None = None) -> None:
        """Store ``candles`` and mark ``span`` fetched from ``source``, in one transaction.

        Refuses, writing nothing, a bar off the timeframe's grid or outside ``span``, and a bar
        already cached with other values. ``where(i)`` names bar ``i`` in those errors.
        """
        grid = Grid.of(timeframe)
        timestamps = candles.timestamp.tolist()
        where = where or functools.partial(_bar_name, f"{source} {symbol} {timeframe}",
                                           timestamps)
        for i, ts in enumerate(timestamps):
            if (ts - grid.origin) % grid.step:
                raise DataError(f"{where(i)}: timestamp {ts} is not on the {timeframe} grid")
        if grid.span(*span) != span or span.start >= span.end:
            raise ValueError(f"span {span} is empty or not on the {timeframe} grid")
        for i, ts in enumerate(timestamps):
            if not span.start <= ts < span.end:
                raise DataError(f"{where(i)}: outside the requested "
                                f"[{format_ts(span.start)}, {format_ts(span.end)})")
        key = (source, symbol, grid.key)
        rows = ({"source": source, "symbol": symbol, "timeframe": grid.key, "ts": ts,
                 **{f: v for f, v in zip(_FIELDS, values, strict=True)}}
                for ts, *values in zip(timestamps, *(getattr(candles, f).tolist()
                                                     for f in _FIELDS), strict=True))
        with write_transaction(self.db):
            self._check_conflicts(key, candles, where)  # same transaction as the insert
            self.db["candles"].insert_all(rows, ignore=True, batch_size=2000)
            self._cover(key, span)

    def _check_conflicts(self, key: tuple[str, str, str], candles: Candles,
                         where: Callable[[int], str]) -> None:
        if not len(candles):
            return
        cached = {r[0]: r[1:] for r in self.db.execute(
            "SELECT ts, open, high, low, close, volume FROM candles WHERE source = ? AND "
            "symbol = ? AND timeframe = ? AND ts >= ? AND ts <= ?",
            [*key, int(candles.timestamp[0]), int(candles.timestamp[-1])]).fetchall()}
        if not cached:
            return
        for i, ts in enumerate(candles.timestamp.tolist()):
            old = cached.get(ts)
            new = tuple(float(getattr(candles, f)[i]) for f in _FIELDS)
            if old is not None and old != new:
                field, was, now = next(d for d in zip(_FIELDS, old, new, strict=True)
                                       if d[1] != d[2])
                raise DataError(f"{where(i)}: {field} {csv_number(now)} differs from the "
                                f"cached {csv_number(was)} ({key[0]})")

    def _cover(self, key: tuple[str, str, str], span: Span) -> None:
        """Record ``span`` as fetched, merged with every range it touches or overlaps."""
        where = "source = ? AND symbol = ? AND timeframe = ? AND end_ms >= ? AND start_ms <= ?"
        params = [*key, span.start, span.end]
        touching = self.db.execute(f"SELECT start_ms, end_ms FROM coverage WHERE {where}",
                                   params).fetchall()
        start = min([span.start, *(r[0] for r in touching)])
        end = max([span.end, *(r[1] for r in touching)])
        self.db.execute(f"DELETE FROM coverage WHERE {where}", params)
        self.db["coverage"].insert({"source": key[0], "symbol": key[1], "timeframe": key[2],
                                    "start_ms": start, "end_ms": end})

    # -- CSV ---------------------------------------------------------------------------------

    def import_csv(self, path: str | Path, symbol: str, timeframe: str, *,
                   source: str = "csv") -> int:
        """Import a CSV in the documented format; returns the number of bars.

        The file's span (first bar to last bar's close) counts as fetched from ``source``: the
        format leaves gaps unfilled, so a bar missing inside it is a venue gap.
        """
        grid = Grid.of(timeframe)
        candles = Candles.from_csv(path, symbol=symbol, timeframe=timeframe)
        if not len(candles):
            return 0
        timestamps = candles.timestamp.tolist()
        steps = {b - a for a, b in itertools.pairwise(timestamps)}
        if len(timestamps) >= 10 and grid.step not in steps:
            # 1h bars imported as 1m sit on the 1m grid too, but never one minute apart.
            raise DataError(f"{path}: no two bars are {timeframe} apart (the closest are "
                            f"{min(steps) / 60_000:g} minutes apart); is --timeframe right?")

        def where(i: int) -> str:
            return f"{path}:{i + 2}: bar {format_ts(timestamps[i])}"

        self.add(source, symbol, timeframe, candles,
                 Span(timestamps[0], timestamps[-1] + grid.step), where=where)
        return len(candles)

    def export_csv(self, symbol: str, timeframe: str, path: str | Path,
                   start: int | None = None, end: int | None = None, *,
                   source: str | None = None) -> int:
        """Write cached bars with ``start <= open time < end`` in the documented format;
        returns the number of bars."""
        candles = self.load(symbol, timeframe, start, end, source=source)
        write_csv(candles, path)
        return len(candles)

"""Stored backtest runs: one SQLite file (via sqlite-utils) used as a cache and a history.

Each run keeps its cache key, bot name, meta and summary JSON, plus the equity, cash and
exposure curves, timestamps and trades as zlib-compressed raw numpy bytes, so
:meth:`RunStore.load` rebuilds the :class:`~genesis_core.backtest.BacktestResult` bit for bit
and reports can be regenerated without simulating again. See docs/backtesting.md.
"""

from __future__ import annotations

import builtins
import json
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from sqlite_utils import Database

from genesis_core.backtest.report import (
    figure_rows,
    format_figure,
    jsonable,
    stamp_utc,
    text_table,
)
from genesis_core.backtest.simulator import TRADE_FIELDS, BacktestResult, Trades
from genesis_core.errors import GenesisError
from genesis_core.storage.sqlite import open_database, write_transaction


SCHEMA_VERSION = 1

_SCHEMA = f"""
BEGIN;
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES ({SCHEMA_VERSION});
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    key TEXT NOT NULL,
    bot TEXT NOT NULL,
    meta TEXT NOT NULL,
    metrics TEXT NOT NULL,
    symbols TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    initial_cash REAL NOT NULL,
    final_equity REAL NOT NULL,
    fees REAL NOT NULL,
    funding REAL NOT NULL,
    skipped_entries INTEGER NOT NULL,
    bars INTEGER NOT NULL,
    trades INTEGER NOT NULL,
    timestamp BLOB NOT NULL,
    equity BLOB NOT NULL,
    cash BLOB NOT NULL,
    exposure BLOB NOT NULL,
    trade_table BLOB NOT NULL
);
CREATE INDEX runs_key ON runs (key, id);
COMMIT;
"""
_SUMMARY = ("id, created_at, key, bot, symbols, timeframe, bars, trades, initial_cash, "
            "final_equity, json_extract(metrics, '$.metrics.equity.sharpe') AS sharpe, "
            "json_extract(metrics, '$.metrics.equity.max_drawdown') AS max_drawdown")


class RunStoreError(GenesisError):
    """The runs database cannot be used (not one, newer schema), or a run id is unknown."""


@attrs.frozen
class RunRow:
    """One line of :meth:`RunStore.list`; ``sharpe``/``max_drawdown`` are ``None`` when the
    stored metrics JSON lacks them (or they were NaN)."""

    id: int
    created_at: int
    key: str
    bot: str
    symbols: tuple[str, ...]
    timeframe: str
    bars: int
    trades: int
    initial_cash: float
    final_equity: float
    sharpe: float | None
    max_drawdown: float | None

    @property
    def total_return(self) -> float:
        return self.final_equity / self.initial_cash - 1.0


@attrs.frozen(eq=False)
class StoredRun:
    """A run read back by :meth:`RunStore.load`."""

    id: int
    created_at: int
    key: str
    bot: str
    meta: dict[str, Any]
    metrics: dict[str, Any]
    result: BacktestResult


def _pack(a: np.ndarray) -> bytes:
    # level 1: float noise barely compresses further at higher levels, but takes 2.5x longer
    return zlib.compress(np.ascontiguousarray(a).tobytes(), 1)


def _unpack(blob: bytes, dtype: Any, count: int, what: str) -> np.ndarray:
    a = np.frombuffer(zlib.decompress(blob), dtype=dtype)
    if a.size != count:
        raise RunStoreError(f"stored run is damaged: {what} has {a.size} values, "
                            f"expected {count}")
    return a.copy()  # own, writable memory (frombuffer is a read-only view of the bytes)


def _dumps(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


class RunStore:
    """Backtest runs in one SQLite file. Build with :meth:`open`; one thread at a time."""

    def __init__(self, db: Database, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> RunStore:
        """Open (creating it and its folder if needed) the runs database at ``path``."""
        path = Path(path)
        db = open_database(path, lambda db: _ensure_schema(db, path), error=RunStoreError,
                           cannot="{path}: cannot open runs database: {exc}",
                           make_folder=True)
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------

    def save(self, key: str, meta: Mapping[str, Any], result: BacktestResult,
             metrics_json: Mapping[str, Any]) -> int:
        """Store a run and return its id.

        ``key`` is the cache key the caller computed from config, data and versions;
        ``meta["bot"]`` (if any) is the bot name. ``metrics_json`` is :func:`report.to_json`'s
        output; its ``trades`` list is not kept (the trades are stored as arrays and come
        back as ``result.trades``).
        """
        t = result.trades
        table = np.column_stack([getattr(t, f).astype(np.float64) for f in TRADE_FIELDS]
                                ) if len(t) else np.empty((0, len(TRADE_FIELDS)))
        row = {
            "created_at": time.time_ns() // 1_000_000, "key": key,
            "bot": str(meta.get("bot") or ""), "meta": _dumps(meta),
            "metrics": _dumps({k: v for k, v in metrics_json.items() if k != "trades"}),
            "symbols": json.dumps(list(result.symbols)), "timeframe": result.timeframe,
            "initial_cash": result.initial_cash, "final_equity": result.final_equity,
            "fees": result.fees, "funding": result.funding,
            "skipped_entries": result.skipped_entries,
            "bars": int(result.timestamp.size), "trades": len(t),
            "timestamp": _pack(result.timestamp.astype(np.int64)),
            "equity": _pack(result.equity), "cash": _pack(result.cash),
            "exposure": _pack(result.exposure), "trade_table": _pack(table),
        }
        with write_transaction(self.db):
            return int(self.db["runs"].insert(row).last_rowid)  # type: ignore[arg-type]

    # -- reading -----------------------------------------------------------------------------

    def find(self, key: str) -> int | None:
        """The id of the latest run stored under ``key``, or ``None``."""
        row = self.db.execute("SELECT max(id) FROM runs WHERE key = ?", [key]).fetchone()
        return None if row[0] is None else int(row[0])

    def _get(self, run_id: int, columns: str) -> dict[str, Any]:
        cursor = self.db.execute(f"SELECT {columns} FROM runs WHERE id = ?", [int(run_id)])
        row = cursor.fetchone()
        if row is None:
            raise RunStoreError(f"run {run_id} not found in {self.path} "
                                "(`genesis backtest list` shows the stored runs)")
        return dict(zip([d[0] for d in cursor.description], row, strict=True))

    def load(self, run_id: int) -> StoredRun:
        """A stored run with its :class:`BacktestResult` rebuilt exactly."""
        r = self._get(run_id, "*")
        n, m = r["bars"], r["trades"]
        symbols = tuple(json.loads(r["symbols"]))
        table = _unpack(r["trade_table"], np.float64, m * len(TRADE_FIELDS), "trades")
        result = BacktestResult(
            timestamp=_unpack(r["timestamp"], np.int64, n, "timestamp"),
            symbols=symbols, timeframe=r["timeframe"], initial_cash=float(r["initial_cash"]),
            equity=_unpack(r["equity"], np.float64, n, "equity"),
            cash=_unpack(r["cash"], np.float64, n, "cash"),
            exposure=_unpack(r["exposure"], np.float64, n, "exposure"),
            trades=Trades.from_table(table.reshape(m, len(TRADE_FIELDS)), symbols),
            fees=float(r["fees"]), funding=float(r["funding"]),
            skipped_entries=int(r["skipped_entries"]))
        return StoredRun(id=int(r["id"]), created_at=int(r["created_at"]), key=r["key"],
                         bot=r["bot"], meta=json.loads(r["meta"]),
                         metrics=json.loads(r["metrics"]), result=result)

    def list(self, limit: int = 50) -> builtins.list[RunRow]:
        """The latest ``limit`` runs, newest first (summary columns only)."""
        cursor = self.db.execute(f"SELECT {_SUMMARY} FROM runs ORDER BY id DESC LIMIT ?",
                                 [int(limit)])
        names = [d[0] for d in cursor.description]
        out = []
        for values in cursor.fetchall():
            r = dict(zip(names, values, strict=True))
            r["symbols"] = tuple(json.loads(r["symbols"]))
            out.append(RunRow(**r))
        return out

    def list_table(self, limit: int = 50) -> str:
        """:meth:`list` as a text table (``genesis backtest list``)."""
        return format_runs(self.list(limit))

    def compare(self, ids: Sequence[int]) -> str:
        """A side-by-side text table of the key figures of two or more runs, followed by the
        meta entries whose values differ between them (the parameters that changed)."""
        if len(ids) < 2:
            raise RunStoreError("compare needs at least two run ids")
        runs = [self._get(i, "id, created_at, bot, key, meta, metrics") for i in ids]
        metas = [_flatten(json.loads(r["meta"])) for r in runs]
        docs = [json.loads(r["metrics"]) for r in runs]
        figures = [figure_rows(d, compact=True) for d in docs]
        rows = [["bot", *(r["bot"] or "-" for r in runs)],
                ["created (UTC)", *(stamp_utc(r["created_at"]) for r in runs)],
                ["key", *(r["key"][:12] for r in runs)],
                ["symbols", *(", ".join((d.get("run") or {}).get("symbols") or [])
                              for d in docs)]]
        rows += [[label, *(f[k][1] for f in figures)] for k, (label, _) in enumerate(figures[0])]
        keys = sorted({k for m in metas for k in m} - {"bot"})
        rows += [[f"meta: {k}", *(m.get(k, "-") for m in metas)] for k in keys
                 if len({m.get(k, "-") for m in metas}) > 1]
        return "\n".join(text_table(rows, [""] + [f"run {r['id']}" for r in runs]))


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested meta as ``{"params.fast": "9"}`` (values as short JSON text)."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return {prefix.rstrip("."): text if len(text) <= 40 else text[:39] + "…"}


def _ensure_schema(db: Database, path: Path) -> None:
    tables = set(db.table_names())
    if "schema_version" not in tables:
        if tables - {"sqlite_sequence"}:
            raise RunStoreError(f"{path}: not a Genesis runs database (it holds other tables)")
        db.conn.executescript(_SCHEMA)  # one transaction: all of the schema or none
        return
    version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    if version is None or version > SCHEMA_VERSION:
        raise RunStoreError(
            f"{path}: runs database schema version {version} is newer than this Genesis "
            f"supports ({SCHEMA_VERSION}); upgrade genesis-core to open it")
    # version < SCHEMA_VERSION: migrations go here once there is a version 2


def format_runs(rows: Sequence[RunRow]) -> str:
    """A text table of :meth:`RunStore.list` rows (for ``genesis backtest list``)."""
    if not rows:
        return "No stored runs."
    header = ["id", "created (UTC)", "bot", "symbols", "tf", "bars", "trades", "return",
              "sharpe", "max DD", "key"]
    body = [[str(r.id), stamp_utc(r.created_at), r.bot or "-", ",".join(r.symbols),
             r.timeframe, format_figure(r.bars, "int"), format_figure(r.trades, "int"),
             format_figure(r.total_return, "pct"), format_figure(r.sharpe, "ratio"),
             format_figure(r.max_drawdown, "pct"), r.key[:12]] for r in rows]
    return "\n".join(text_table(body, header, "rllllrrrrrl"))

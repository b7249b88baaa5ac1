"""The stored-runs database: real SQLite files, runs on the bundled real candles."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from genesis_core.backtest import Bars, Orders, simulate
from genesis_core.backtest.report import jsonable, render_html, to_json
from genesis_core.backtest.runs import SCHEMA_VERSION, RunStore, RunStoreError
from genesis_core.backtest.simulator import TRADE_FIELDS
from genesis_core.errors import GenesisError
from genesis_core.storage.store import Store
from genesis_core.testing import bundled_candles

from .conftest import ema_cross


@pytest.fixture(scope="module")
def bars() -> Bars:
    return Bars.from_candles(bundled_candles())


def _run(bars: Bars, fast: int = 9):
    """EMA cross with 1.5 % stops; every third bar has no confidence (NaN in the trades);
    the last position stays open (an ``end`` trade)."""
    direction = ema_cross(bars.close[:, 0], fast, 30)
    conf = np.linspace(0.3, 1.0, bars.n_bars)
    conf[::3] = np.nan
    result = simulate(bars, Orders.from_arrays(bars, direction, confidence=conf),
                      stop_loss_pct=1.5)
    meta = {"bot": "ema-cross", "params": {"fast": fast, "slow": 30}, "note": float("nan")}
    return result, meta, to_json(result, result.metrics(), meta)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_save_find_load_round_trips_bit_exactly(bars, tmp_path) -> None:
    result, meta, doc = _run(bars)
    t = result.trades
    assert {"signal", "stop", "end"} <= set(t.reason_names())
    assert np.isnan(t.confidence).any()
    path = tmp_path / "runs" / "runs.db"
    with RunStore.open(path) as store:
        run_id = store.save("key-a", meta, result, doc)
    with RunStore.open(path) as store:  # survives a reopen
        assert store.find("key-a") == run_id
        stored = store.load(run_id)
    back = stored.result
    for name in ("timestamp", "equity", "cash", "exposure"):
        assert np.array_equal(getattr(back, name), getattr(result, name))
        assert _same_bits(getattr(back, name), getattr(result, name)), name
    assert len(back.trades) == len(t)
    for name in TRADE_FIELDS:
        assert _same_bits(getattr(back.trades, name), getattr(t, name)), name
    assert back.trades.symbols == t.symbols
    assert (back.symbols, back.timeframe) == (result.symbols, result.timeframe)
    assert (back.initial_cash, back.fees, back.funding, back.skipped_entries) == (
        result.initial_cash, result.fees, result.funding, result.skipped_entries)
    assert back.reconciliation_error() < 1e-9
    assert (stored.id, stored.key, stored.bot) == (run_id, "key-a", "ema-cross")
    assert stored.meta == jsonable(meta)
    assert stored.meta["note"] is None
    assert stored.metrics == {k: v for k, v in doc.items() if k != "trades"}
    # reports regenerated from the cache are the reports of the original run
    assert render_html(back, back.metrics(), bars, meta) == render_html(
        result, result.metrics(), bars, meta)


def test_find_returns_the_latest_run_of_a_key(bars, tmp_path) -> None:
    result, meta, doc = _run(bars)
    with RunStore.open(tmp_path / "runs.db") as store:
        first = store.save("k", meta, result, doc)
        other = store.save("other", meta, result, doc)
        second = store.save("k", meta, result, doc)
        assert first < other < second
        assert store.find("k") == second
        assert store.find("other") == other
        assert store.find("missing") is None


def test_a_run_without_trades_round_trips(bars, tmp_path) -> None:
    result = simulate(bars, np.zeros(bars.n_bars, np.int8))
    with RunStore.open(tmp_path / "runs.db") as store:
        back = store.load(store.save("flat", {}, result, {})).result
    assert len(back.trades) == 0
    assert np.array_equal(back.equity, result.equity)
    assert back.trades.entry_price.dtype == np.float64


def test_list_and_compare(bars, tmp_path) -> None:
    runs = [_run(bars, fast) for fast in (5, 9, 12)]
    with RunStore.open(tmp_path / "runs.db") as store:
        ids = [store.save(f"key-{k}", meta, res, doc) for k, (res, meta, doc) in enumerate(runs)]
        rows = store.list()
        assert [r.id for r in rows] == ids[::-1]  # newest first
        assert [r.id for r in store.list(limit=2)] == ids[:0:-1]
        res, _, doc = runs[0]
        row = rows[-1]
        assert (row.bot, row.key, row.symbols, row.timeframe) == (
            "ema-cross", "key-0", ("BTCUSD",), "1h")
        assert (row.bars, row.trades) == (res.timestamp.size, len(res.trades))
        assert row.final_equity == res.final_equity
        assert row.total_return == res.final_equity / res.initial_cash - 1
        assert row.sharpe == doc["metrics"]["equity"]["sharpe"]
        assert row.max_drawdown == doc["metrics"]["equity"]["max_drawdown"]
        listing = store.list_table().splitlines()
        assert listing[0].split()[:3] == ["id", "created", "(UTC)"]
        assert [line.split()[0] for line in listing[2:]] == [str(i) for i in ids[::-1]]

        text = store.compare(ids[:2])
    lines = text.splitlines()
    assert lines[0].split() == ["run", str(ids[0]), "run", str(ids[1])]
    sharpe = next(x for x in lines if x.startswith("Sharpe")).split()
    assert sharpe[1:] == [f"{r.metrics().equity.sharpe:.3f}" for r, _, _ in runs[:2]]
    trades = next(x for x in lines if x.startswith("Trades")).split()
    assert trades[1:] == [str(len(r.trades)) for r, _, _ in runs[:2]]
    changed = [x.split() for x in lines if x.startswith("meta:")]
    assert changed == [["meta:", "params.fast", "5", "9"]]  # only what differs


def test_compare_and_load_reject_unknown_ids(bars, tmp_path) -> None:
    result, meta, doc = _run(bars)
    with RunStore.open(tmp_path / "runs.db") as store:
        run_id = store.save("k", meta, result, doc)
        with pytest.raises(RunStoreError, match=r"^run 999 not found in .*runs\.db") as exc:
            store.compare([run_id, 999])
        assert "\n" not in str(exc.value)
        assert isinstance(exc.value, GenesisError)
        with pytest.raises(RunStoreError, match="run 998 not found"):
            store.load(998)
        with pytest.raises(RunStoreError, match="at least two run ids"):
            store.compare([run_id])


def test_a_newer_schema_is_refused(tmp_path) -> None:
    path = tmp_path / "runs.db"
    RunStore.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", [SCHEMA_VERSION + 1])
    with pytest.raises(RunStoreError, match=(
            rf"schema version {SCHEMA_VERSION + 1} is newer than this Genesis supports "
            rf"\({SCHEMA_VERSION}\); upgrade genesis-core")) as exc:
        RunStore.open(path)
    assert "\n" not in str(exc.value)


def test_other_files_are_refused(tmp_path) -> None:
    bot_db = tmp_path / "bot.db"
    Store.open(bot_db).close()
    with pytest.raises(RunStoreError, match="not a Genesis runs database"):
        RunStore.open(bot_db)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all " * 100)
    with pytest.raises(RunStoreError, match="cannot open runs database"):
        RunStore.open(junk)


def test_stored_json_is_strict(bars, tmp_path) -> None:
    result, meta, doc = _run(bars)
    path = tmp_path / "runs.db"
    with RunStore.open(path) as store:
        run_id = store.save("k", meta, result, doc)
    with sqlite3.connect(path) as conn:
        meta_text, metrics_text = conn.execute(
            "SELECT meta, metrics FROM runs WHERE id = ?", [run_id]).fetchone()
    assert "NaN" not in meta_text
    assert "trades" not in json.loads(metrics_text)  # kept as arrays, not twice

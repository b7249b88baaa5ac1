"""Reports: every figure is recomputed here from the result arrays, not through the report code."""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import UTC, datetime

import numpy as np
import pytest

from genesis_core import Candles
from genesis_core.backtest import REASONS, Bars, Orders, simulate
from genesis_core.backtest.report import (
    MAX_POINTS,
    minmax_indices,
    monthly_returns,
    summary_table,
    to_json,
    write_html,
    write_trades_csv,
)
from genesis_core.testing import bundled_candles

from .conftest import ema_cross


HOUR = 3_600_000


@pytest.fixture(scope="module")
def two_symbols(btc_1h, eth_1h):
    """BTCUSDT + ETHUSDT 1h, shared cash, random entry confidences, 2 % stops."""
    first = int(np.searchsorted(btc_1h.timestamp, eth_1h.timestamp[0]))
    bars = Bars.from_candles([btc_1h[first:first + 3000], eth_1h[:3000]])
    direction = np.column_stack([ema_cross(bars.close[:, j], 9, 30) for j in range(2)])
    conf = np.random.default_rng(0).random(direction.shape)
    result = simulate(bars, Orders.from_arrays(bars, direction, size=0.4, confidence=conf),
                      stop_loss_pct=2.0)
    return bars, result, result.metrics()


@pytest.fixture(scope="module")
def closed():
    """The bundled BTCUSD candles (gaps kept), no confidences; the last position is closed by
    an exit signal, so no trade is still open at the end."""
    bars = Bars.from_candles(bundled_candles())
    direction = ema_cross(bars.close[:, 0], 9, 30)
    direction[-3:] = 0
    exit_ = np.zeros(bars.n_bars, np.int8)
    exit_[-3] = 1
    result = simulate(bars, Orders.from_arrays(bars, direction, exit=exit_))
    assert "end" not in result.trades.reason_names()
    return bars, result, result.metrics()


def _utc(ms: int, fmt: str) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, UTC).strftime(fmt)


def _figure(table: str, label: str) -> str:
    line = next(x for x in table.splitlines() if x.startswith(label + "  "))
    return line[len(label):].strip()


def _pct(x: float, digits: int = 2) -> str:
    return f"{x * 100:,.{digits}f} %"


def test_summary_table_shows_independently_computed_figures(two_symbols) -> None:
    _, res, m = two_symbols
    table = summary_table(res, m, title="EMA 9/30")
    t = res.trades
    e = np.concatenate(([res.initial_cash], res.equity))
    r = e[1:] / e[:-1] - 1.0
    per_year = 365.25 * 24
    peak = np.maximum.accumulate(e)
    below = longest = 0
    for x, p in zip(e, peak, strict=True):
        below = below + 1 if x < p else 0
        longest = max(longest, below)
    net = t.pnl - t.entry_fee - t.exit_fee - t.funding
    tail = np.sort(r)[:math.ceil(r.size * 0.05)]
    bars_per_period = res.timestamp.size

    assert table.splitlines()[:2] == ["EMA 9/30", "========"]
    assert _figure(table, "Period") == (f"{_utc(res.timestamp[0], '%Y-%m-%d %H:%M')} → "
                                        f"{_utc(res.timestamp[-1] + HOUR, '%Y-%m-%d %H:%M')} UTC")
    assert _figure(table, "Bars") == f"{bars_per_period:,} × 1h"
    assert _figure(table, "Initial equity") == "10,000.00"
    assert _figure(table, "Final equity") == f"{res.equity[-1]:,.2f}"
    assert _figure(table, "Total return") == _pct(res.equity[-1] / 10_000 - 1)
    assert _figure(table, "Annualised return") == _pct(
        (res.equity[-1] / 10_000) ** (per_year / r.size) - 1)
    assert _figure(table, "Sharpe") == f"{r.mean() / r.std(ddof=1) * math.sqrt(per_year):.3f}"
    assert _figure(table, "Max drawdown") == _pct(float(np.max(1 - e / peak)))
    assert _figure(table, "Max drawdown duration").startswith(f"{longest:,} bars (")
    assert _figure(table, "Trades") == f"{len(t):,}"
    assert _figure(table, "Win rate") == _pct(float(np.mean(net > 0)))
    assert _figure(table, "Profit factor") == f"{net[net > 0].sum() / -net[net <= 0].sum():.3f}"
    assert _figure(table, "Expectancy (per trade)") == f"{net.mean():,.2f}"
    assert _figure(table, "Average loss") == f"{net[net <= 0].mean():,.2f}"
    assert _figure(table, "Fees") == f"{(t.entry_fee + t.exit_fee).sum():,.2f}"
    assert _figure(table, "Exposure time") == _pct(float(np.mean(res.exposure > 0)))
    assert _figure(table, "VaR 95 % (per bar)") == _pct(-tail[-1], 3)
    assert _figure(table, "CVaR 95 % (per bar)") == _pct(-tail.mean(), 3)

    # the figures block is one aligned column: labels left, values flush right
    block = table.split("\n\n")[0].splitlines()[2:]
    assert len(block) > 25
    assert len({len(line) for line in block}) == 1

    lines = table.splitlines()
    for j, sym in enumerate(res.symbols):
        cells = next(x for x in lines if x.startswith(sym)).split()
        mine = net[t.symbol == j]
        assert cells[1] == str(mine.size)
        assert cells[4] == f"{mine.sum():,.2f}"
    top = next(x for x in lines if x.startswith("[0.90, 1.00]")).split()
    assert top[2] == str(int(np.count_nonzero(t.confidence >= 0.9)))


def test_summary_table_leaves_out_empty_sections(closed) -> None:
    _, res, m = closed
    table = summary_table(res, m, title="one symbol")
    assert "Per symbol" not in table
    assert "Confidence calibration" not in table  # no trade carries a confidence
    assert _figure(table, "Trades") == str(len(res.trades))


def test_json_is_plain_and_complete(two_symbols, closed) -> None:
    _, res, m = two_symbols
    meta = {"bot": "ema", "params": (9, 30), "nan": float("nan"), "n": np.int64(3),
            "when": datetime(2024, 1, 2, tzinfo=UTC)}
    doc = to_json(res, m, meta)
    text = json.dumps(doc, allow_nan=False)  # no NaN/inf and no numpy type left
    assert json.loads(text) == doc
    assert doc["meta"] == {"bot": "ema", "params": [9, 30], "nan": None, "n": 3,
                           "when": "2024-01-02 00:00:00+00:00"}
    assert doc["metrics"]["equity"]["sharpe"] == m.equity.sharpe
    assert doc["metrics"]["trades"]["kelly"] == m.trades.kelly
    assert set(doc["per_symbol"]) == {"BTCUSDT", "ETHUSDT"}
    assert doc["run"]["final_equity"] == res.final_equity
    assert sum(b["trades"] for b in doc["calibration"]) == len(res.trades)
    t = res.trades
    assert len(doc["trades"]) == len(t)
    last = doc["trades"][-1]
    assert last["net_pnl"] == float(t.net_pnl[-1])
    assert last["exit_time"] == _utc(res.timestamp[t.exit_bar[-1]], "%Y-%m-%dT%H:%M:%SZ")

    _, res, m = closed
    doc = to_json(res, m, {})
    json.dumps(doc, allow_nan=False)
    assert all(b["win_rate"] is None and b["trades"] == 0 for b in doc["calibration"])
    assert all(r["confidence"] is None for r in doc["trades"])


def test_trades_csv_is_exact_and_reconciles(closed, two_symbols, tmp_path) -> None:
    _, res, _ = closed
    t = res.trades
    path = write_trades_csv(res, tmp_path / "trades.csv")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(t) > 5
    total = math.fsum(float(r["net_pnl"]) for r in rows)
    assert total == pytest.approx(res.final_equity - res.initial_cash, rel=1e-9)
    for i, r in enumerate(rows):
        assert float(r["entry_price"]) == t.entry_price[i]  # repr: bit-exact
        assert float(r["net_pnl"]) == t.pnl[i] - t.entry_fee[i] - t.exit_fee[i] - t.funding[i]
        assert float(r["fees"]) == t.entry_fee[i] + t.exit_fee[i]
        assert r["entry_time"] == _utc(res.timestamp[t.entry_bar[i]], "%Y-%m-%dT%H:%M:%SZ")
        assert r["exit_time"] == _utc(res.timestamp[t.exit_bar[i]], "%Y-%m-%dT%H:%M:%SZ")
        assert r["reason"] == REASONS[t.reason[i]]
        assert r["confidence"] == ""

    _, res, _ = two_symbols
    with write_trades_csv(res, tmp_path / "two.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["confidence"]) for r in rows] == res.trades.confidence.tolist()
    assert {r["symbol"] for r in rows} == {"BTCUSDT", "ETHUSDT"}


def test_html_is_self_contained_and_marks_every_trade(two_symbols, tmp_path) -> None:
    bars, res, m = two_symbols
    meta = {"bot": "<script>alert(1)</script>", "params": {"fast": 9, "slow": 30}}
    text = write_html(tmp_path / "report.html", res, m, bars, meta).read_text()
    assert "http://" not in text
    assert "https://" not in text
    assert not re.search(r"<(script|link|img|iframe|object)\b", text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<svg") == 3 + len(res.symbols)  # equity, drawdown, prices, calibration
    t = res.trades
    assert text.count('class="mk-entry') == text.count('class="mk-exit') == len(t)
    for j, sym in enumerate(res.symbols):  # each symbol's chart holds its own trades
        chart = text.split(f"<h3>{sym}</h3>")[1].split("</svg>")[0]
        assert chart.count('class="mk-') == 2 * int(np.count_nonzero(t.symbol == j))
    # monthly table: one coloured cell per calendar month of the run
    months = {_utc(ts, "%Y-%m") for ts in res.timestamp}
    assert text.count('<td style="background:') == len(months)
    assert "Showing the last" not in text  # fewer than 500 trades: all listed
    assert text.count("<tr>", text.index('class="trades"')) == len(t) + 1


def test_html_of_a_long_run_stays_small(tmp_path) -> None:
    n = 200_000
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    candles = Candles(1_600_000_000_000 + np.arange(n, dtype=np.int64) * 60_000, open_,
                      np.maximum(open_, close) * 1.0005, np.minimum(open_, close) * 0.9995,
                      close, np.full(n, 10.0), symbol="SYN", timeframe="1m")
    bars = Bars.from_candles(candles)
    res = simulate(bars, ema_cross(close, 20, 80))
    path = write_html(tmp_path / "long.html", res, res.metrics(), bars, {"bot": "syn"})
    text = path.read_text()
    t = res.trades
    assert len(t) > 1000
    assert text.count('class="mk-entry') == text.count('class="mk-exit') == len(t)
    lines = re.findall(r'<(?:polyline|polygon) class="\w+" points="([^"]*)"', text)
    assert len(lines) == 3  # equity, drawdown, price
    assert all(len(p.split()) <= MAX_POINTS + 2 for p in lines)
    assert "Showing the last 500 of" in text
    assert path.stat().st_size < 1_000_000  # the series alone would be ~8 MB


def test_minmax_downsampling_keeps_spikes() -> None:
    y = np.random.default_rng(1).normal(size=100_000).cumsum()
    y[12_345], y[54_321] = 1e6, -1e6
    idx = minmax_indices(y, 2000)
    assert idx.size <= 2000
    assert idx[0] == 0
    assert idx[-1] == y.size - 1
    assert np.all(np.diff(idx) > 0)
    assert {12_345, 54_321} <= set(idx.tolist())
    assert np.array_equal(minmax_indices(np.arange(10.0)), np.arange(10))


def test_monthly_returns_chain_month_end_equity(two_symbols) -> None:
    _, res, _ = two_symbols
    month_end: dict[tuple[int, int], int] = {}
    for i, ms in enumerate(res.timestamp):
        d = datetime.fromtimestamp(int(ms) / 1000, UTC)
        month_end[(d.year, d.month)] = i
    expected, prev = [], res.initial_cash
    for (year, month), i in month_end.items():
        expected.append((year, month, res.equity[i] / prev - 1.0))
        prev = res.equity[i]
    assert monthly_returns(res) == expected
    growth = math.prod(1 + r for _, _, r in expected)
    assert growth == pytest.approx(res.final_equity / res.initial_cash, rel=1e-12)


def test_html_refuses_bars_of_another_run(two_symbols, closed, tmp_path) -> None:
    _, res, m = two_symbols
    other_bars, _, _ = closed
    with pytest.raises(ValueError, match="bars do not match"):
        write_html(tmp_path / "x.html", res, m, other_bars, {})

"""Backtest reports: a terminal summary, JSON, a trades CSV and one self-contained HTML file.

The HTML charts are inline SVG drawn here (no plotting library, no CDN, no script), so the
file opens offline and stays small: long series are reduced to at most ``MAX_POINTS`` points
per chart by min/max bucketing, which keeps every spike; trade markers are never dropped.
See docs/backtesting.md, "Reports and stored runs".
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from genesis_core.backtest.metrics import Metrics
from genesis_core.backtest.simulator import REASONS, BacktestResult, Bars
from genesis_core.models import timeframe_ms


REPORT_VERSION = 1  # bump when the JSON layout changes incompatibly
MAX_POINTS = 2000  # per chart line
TRADES_SHOWN = 500  # rows of the HTML trades table (the CSV has all of them)
TOOLTIP_TRADES = 2000  # above this many trades, markers carry no <title> (file size)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- small helpers


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: NaN/±inf → ``None``, numpy scalars and arrays → Python,
    tuples → lists, unknown objects → ``str``; ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return str(value)


def iso_utc(ms: int) -> str:
    """``2013-10-01T00:00:00Z`` (milliseconds only when there are any)."""
    t = _EPOCH + timedelta(milliseconds=int(ms))
    return t.isoformat(timespec="milliseconds" if ms % 1000 else "seconds").replace(
        "+00:00", "Z")


def stamp_utc(ms: int) -> str:
    """``2013-10-01 00:00`` (UTC, to the minute) for tables."""
    return (_EPOCH + timedelta(milliseconds=int(ms))).strftime("%Y-%m-%d %H:%M")


def _span(ms: int) -> str:
    """A duration as ``3d 4h 30m`` (zero units left out)."""
    d, rem = divmod(int(ms) // 60_000, 1440)
    h, m = divmod(rem, 60)
    parts = [f"{v}{u}" for v, u in ((d, "d"), (h, "h"), (m, "m")) if v]
    return " ".join(parts) or "0m"


def _bar_ms(timeframe: str | None) -> int:
    return timeframe_ms(timeframe) if timeframe else 0


def _nonfinite(v: float) -> str | None:
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def format_figure(value: Any, kind: str) -> str:
    """One figure as text. ``None`` (a NaN/inf that went through JSON) prints as ``n/a``."""
    if value is None:
        return "n/a"
    if kind == "int":
        return f"{int(value):,}"
    v = float(value)
    if (bad := _nonfinite(v)) is not None:
        return bad
    if kind == "money":
        return f"{v:,.2f}"
    if kind == "pct":
        return f"{v * 100:,.2f} %"
    if kind == "pct3":
        return f"{v * 100:,.3f} %"
    if kind == "ratio":
        return f"{v:,.3f}"
    if kind == "price":
        return f"{v:,.8g}"
    return f"{v:,.2f}"


def text_table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None,
               align: str = "") -> list[str]:
    """Aligned text columns; ``align`` has one ``l``/``r`` per column (default: the first
    flush left, the others flush right, as numbers read best)."""
    body = [list(r) for r in rows]
    allrows = [list(header), *body] if header else body
    if not allrows:
        return []
    ncol = len(allrows[0])
    align = align or "l" + "r" * (ncol - 1)
    widths = [max(len(r[k]) for r in allrows) for k in range(ncol)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(cells, widths, align, strict=True)).rstrip()

    out = [line(r) for r in allrows]
    if header:
        out.insert(1, "  ".join("-" * w for w in widths))
    return out


# --------------------------------------------------------------------------- the summary doc


def _run_info(result: BacktestResult) -> dict[str, Any]:
    ts = result.timestamp
    return {
        "symbols": list(result.symbols), "timeframe": result.timeframe, "bars": int(ts.size),
        "start": int(ts[0]) if ts.size else None,
        # the last bar's close time: the period covers whole bars
        "end": int(ts[-1]) + _bar_ms(result.timeframe) if ts.size else None,
        "initial_cash": result.initial_cash, "final_equity": result.final_equity,
        "fees": result.fees, "funding": result.funding,
        "skipped_entries": result.skipped_entries,
    }


def _summary_doc(result: BacktestResult, metrics: Metrics) -> dict[str, Any]:
    """Everything but the trade list, with raw floats (inf stays inf for the text table)."""
    return {
        "run": {**_run_info(result), "periods_per_year": metrics.periods_per_year},
        "metrics": {"equity": attrs.asdict(metrics.equity),
                    "trades": attrs.asdict(metrics.trades)},
        "per_symbol": {k: attrs.asdict(v) for k, v in metrics.per_symbol.items()},
        "calibration": [attrs.asdict(b) for b in metrics.calibration],
    }


# (label, section, field, format); a section is "run" or a key of doc["metrics"]
FIGURES: tuple[tuple[str, str, str, str], ...] = (
    ("Period", "run", "start", "period"),
    ("Bars", "run", "bars", "bars"),
    ("Initial equity", "run", "initial_cash", "money"),
    ("Final equity", "run", "final_equity", "money"),
    ("Total return", "equity", "total_return", "pct"),
    ("Annualised return", "equity", "annual_return", "pct"),
    ("Volatility (annualised)", "equity", "volatility", "pct"),
    ("Sharpe", "equity", "sharpe", "ratio"),
    ("Sortino", "equity", "sortino", "ratio"),
    ("Calmar", "equity", "calmar", "ratio"),
    ("Max drawdown", "equity", "max_drawdown", "pct"),
    ("Max drawdown duration", "equity", "max_drawdown_duration", "duration"),
    ("Trades", "trades", "trades", "int"),
    ("Win rate", "trades", "win_rate", "pct"),
    ("Profit factor", "trades", "profit_factor", "ratio"),
    ("Expectancy (per trade)", "trades", "expectancy", "money"),
    ("Average win", "trades", "avg_win", "money"),
    ("Average loss", "trades", "avg_loss", "money"),
    ("Payoff ratio", "trades", "payoff_ratio", "ratio"),
    ("Average bars held", "trades", "avg_bars_held", "num"),
    ("Exposure time", "equity", "exposure_time", "pct"),
    ("Fees", "run", "fees", "money"),
    ("Short funding", "run", "funding", "money"),
    ("VaR 95 % (per bar)", "equity", "var_95", "pct3"),
    ("CVaR 95 % (per bar)", "equity", "cvar_95", "pct3"),
    ("VaR 99 % (per bar)", "equity", "var_99", "pct3"),
    ("CVaR 99 % (per bar)", "equity", "cvar_99", "pct3"),
    ("Kelly fraction", "trades", "kelly", "pct"),
    ("Skipped entries", "run", "skipped_entries", "int"),
)


def figure_rows(doc: Mapping[str, Any], *, compact: bool = False) -> list[tuple[str, str]]:
    """``(label, text)`` of every key figure of a summary doc (``to_json`` output or its
    stored copy); a figure missing from the doc prints as ``n/a``. ``compact`` shortens the
    period to dates and the drawdown duration to bars (for side-by-side tables)."""
    run = doc.get("run") or {}
    out = []
    for label, section, field, kind in FIGURES:
        src = run if section == "run" else (doc.get("metrics") or {}).get(section) or {}
        value = src.get(field)
        if kind == "period":
            cut = 10 if compact else 16
            text = ("n/a" if value is None or run.get("end") is None else
                    f"{stamp_utc(value)[:cut]} → {stamp_utc(run['end'])[:cut]}"
                    + ("" if compact else " UTC"))
        elif kind == "bars":
            tf = run.get("timeframe")
            text = format_figure(value, "int") + (f" × {tf}" if tf and value is not None else "")
        elif kind == "duration":
            text = format_figure(value, "int") + " bars" if value is not None else "n/a"
            bar = _bar_ms(run.get("timeframe"))
            if bar and value is not None and not compact:
                text += f" ({_span(int(value) * bar)})"
        else:
            text = format_figure(value, kind)
        out.append((label, text))
    return out


_SYMBOL_COLUMNS = (("trades", "trades", "int"), ("win rate", "win_rate", "pct"),
                   ("net profit", "net_profit", "money"),
                   ("profit factor", "profit_factor", "ratio"),
                   ("expectancy", "expectancy", "money"), ("fees", "fees", "money"))
_CALIBRATION_COLUMNS = (("trades", "trades", "int"), ("win rate", "win_rate", "pct"),
                        ("mean confidence", "mean_confidence", "pct"),
                        ("avg net PnL", "avg_net_pnl", "money"))


def _symbol_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    return [[sym, *(format_figure(s.get(f), k) for _, f, k in _SYMBOL_COLUMNS)]
            for sym, s in (doc.get("per_symbol") or {}).items()]


def _bucket_label(b: Mapping[str, Any], last: bool) -> str:
    return f"[{b['low']:.2f}, {b['high']:.2f}{']' if last else ')'}"


def _calibration_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    buckets = doc.get("calibration") or []
    if not any(b.get("trades") for b in buckets):
        return []  # no trade carries a confidence
    return [[_bucket_label(b, k == len(buckets) - 1),
             *(format_figure(b.get(f), kind) for _, f, kind in _CALIBRATION_COLUMNS)]
            for k, b in enumerate(buckets)]


# --------------------------------------------------------------------------- text and JSON


def summary_table(result: BacktestResult, metrics: Metrics, *, title: str) -> str:
    """A plain-text report for the terminal: key figures, then the per-symbol breakdown (runs
    over several symbols) and the confidence-calibration buckets (when trades carry one)."""
    doc = _summary_doc(result, metrics)
    lines = [title, "=" * len(title), *text_table(figure_rows(doc))]
    if len(result.symbols) > 1:
        lines += ["", "Per symbol", "----------",
                  *text_table(_symbol_rows(doc), ["symbol", *(c for c, _, _ in _SYMBOL_COLUMNS)])]
    if rows := _calibration_rows(doc):
        lines += ["", "Confidence calibration", "----------------------",
                  *text_table(rows, ["confidence", *(c for c, _, _ in _CALIBRATION_COLUMNS)])]
    return "\n".join(lines)


def _trade_records(result: BacktestResult) -> list[dict[str, Any]]:
    ts = result.timestamp
    records = result.trades.records()
    for r in records:
        r["entry_time"] = iso_utc(ts[r["entry_bar"]])
        r["exit_time"] = iso_utc(ts[r["exit_bar"]])
    return records


def to_json(result: BacktestResult, metrics: Metrics, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The whole report as JSON data: ``meta``, ``run`` (period, cash, costs), ``metrics``
    (``equity`` and ``trades`` figures), ``per_symbol``, ``calibration`` and ``trades`` (one
    record per trade, with ISO UTC ``entry_time``/``exit_time``). NaN and ±inf are ``None``."""
    doc = {"report_version": REPORT_VERSION, "meta": dict(meta),
           **_summary_doc(result, metrics), "trades": _trade_records(result)}
    return jsonable(doc)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- CSV


CSV_COLUMNS = ("trade", "symbol", "side", "entry_time", "exit_time", "entry_bar", "exit_bar",
               "signal_bar", "entry_price", "exit_price", "amount", "pnl", "entry_fee",
               "exit_fee", "fees", "funding", "net_pnl", "return_pct", "reason", "confidence")


def _exact(x: float) -> str:
    # repr() is the shortest text that parses back to the same float; no confidence → empty
    return "" if math.isnan(x) else repr(float(x))


def write_trades_csv(result: BacktestResult, path: str | Path) -> Path:
    """One row per trade (exit order) under a header row: ISO UTC entry/exit times (the open
    time of the fill bar), prices, fees, funding, net PnL and return, exit reason and entry
    confidence; floats are written exactly (``repr``), a missing confidence as an empty cell."""
    path = Path(path)
    t = result.trades
    ts = result.timestamp
    fees, net, ret = t.fees, t.net_pnl, t.return_pct
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for i in range(len(t)):
            w.writerow([
                i + 1, t.symbols[t.symbol[i]], "long" if t.side[i] > 0 else "short",
                iso_utc(ts[t.entry_bar[i]]), iso_utc(ts[t.exit_bar[i]]),
                int(t.entry_bar[i]), int(t.exit_bar[i]), int(t.signal_bar[i]),
                *(_exact(a[i]) for a in (t.entry_price, t.exit_price, t.amount, t.pnl,
                                         t.entry_fee, t.exit_fee, fees, t.funding, net, ret)),
                REASONS[t.reason[i]], _exact(t.confidence[i])])
    return path


# --------------------------------------------------------------------------- series helpers


def minmax_indices(values: ArrayLike, max_points: int = MAX_POINTS) -> NDArray[np.int64]:
    """Sorted indices of at most ``max_points`` points that keep the shape of ``values``: the
    first and last point plus the minimum and maximum of each of ``(max_points - 2) / 2``
    equal buckets, so no spike or crash disappears from a downsampled line."""
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    buckets = max(1, (max_points - 2) // 2)
    size = -(-n // buckets)
    padded = np.full(buckets * size, y[-1])
    padded[:n] = y
    rows = padded.reshape(buckets, size)
    base = np.arange(buckets, dtype=np.int64) * size
    idx = np.concatenate(([0, n - 1], base + rows.argmin(1), base + rows.argmax(1)))
    return np.unique(np.minimum(idx, n - 1))


def monthly_returns(result: BacktestResult) -> list[tuple[int, int, float]]:
    """``(year, month, return)`` per calendar month (UTC) of the run: the equity at the close
    of the month's last bar over that of the previous month (the initial cash for the first)."""
    if not result.timestamp.size:
        return []
    months = result.timestamp.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    last = np.append(np.flatnonzero(np.diff(months)), months.size - 1)
    end = result.equity[last]
    start = np.concatenate(([result.initial_cash], end[:-1]))
    return [(int(m // 12 + 1970), int(m % 12 + 1), float(r))
            for m, r in zip(months[last], end / start - 1.0, strict=True)]


# --------------------------------------------------------------------------- SVG


def _e(value: Any) -> str:
    return html.escape(str(value))


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def _points(xs: np.ndarray, ys: np.ndarray) -> str:
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs.tolist(), ys.tolist(), strict=True))


class _Plot:
    """Maps data to the pixels of one chart: x is time (ms), y a value axis with round ticks."""

    W, L, R, T, B = 960, 76, 14, 10, 24

    def __init__(self, t_lo: float, t_hi: float, y_lo: float, y_hi: float,
                 height: int) -> None:
        if not y_hi - y_lo > 1e-9 * max(abs(y_lo), abs(y_hi)):  # (nearly) flat: make room
            pad = abs(y_lo) * 0.01 or 1.0
            y_lo, y_hi = y_lo - pad, y_hi + pad
        pad = (y_hi - y_lo) * 0.04
        self.t_lo, self.t_hi = t_lo, max(t_hi, t_lo + 1)
        self.y_lo, self.y_hi = y_lo - pad, y_hi + pad
        self.height = height

    def x(self, t: Any) -> Any:
        return self.L + (np.asarray(t, np.float64) - self.t_lo) / (self.t_hi - self.t_lo) * (
            self.W - self.L - self.R)

    def y(self, v: Any) -> Any:
        return self.T + (self.y_hi - np.asarray(v, np.float64)) / (self.y_hi - self.y_lo) * (
            self.height - self.T - self.B)

    def _frame(self, unit: str) -> str:
        out = []
        step = _nice_step(self.y_hi - self.y_lo, 6)
        first = math.ceil(self.y_lo / step)
        for k in range(first, min(math.floor(self.y_hi / step), first + 12) + 1):
            v = k * step  # an integer multiple: no drift, always round labels
            y = float(self.y(v))
            out.append(f'<line class="grid" x1="{self.L}" x2="{self.W - self.R}" '
                       f'y1="{y:.1f}" y2="{y:.1f}"/><text x="{self.L - 6}" y="{y + 4:.1f}" '
                       f'text-anchor="end">{_e(f"{v:,.6g}{unit}")}</text>')
        short = self.t_hi - self.t_lo < 3 * 86_400_000
        for k in range(6):
            t = self.t_lo + (self.t_hi - self.t_lo) * k / 5
            stamp = stamp_utc(int(t))
            label = stamp[5:] if short else stamp[:10]
            anchor = "start" if k == 0 else "end" if k == 5 else "middle"
            out.append(f'<text x="{float(self.x(t)):.1f}" y="{self.height - 6}" '
                       f'text-anchor="{anchor}">{_e(label)}</text>')
        return "".join(out)

    def svg(self, body: str, label: str, unit: str = "") -> str:
        return (f'<svg viewBox="0 0 {self.W} {self.height}" role="img" '
                f'aria-label="{_e(label)}"><g class="axis">{self._frame(unit)}</g>{body}'
                f'<rect class="border" x="{self.L}" y="{self.T}" '
                f'width="{self.W - self.L - self.R}" height="{self.height - self.T - self.B}"/>'
                "</svg>")


def _equity_svg(result: BacktestResult) -> str:
    idx = minmax_indices(result.equity)
    t, e = result.timestamp[idx], result.equity[idx]
    p = _Plot(t[0], t[-1], min(e.min(), result.initial_cash),
              max(e.max(), result.initial_cash), 280)
    y0 = float(p.y(result.initial_cash))
    body = (f'<line class="ref" x1="{p.L}" x2="{p.W - p.R}" y1="{y0:.1f}" y2="{y0:.1f}"/>'
            f'<polyline class="eq" points="{_points(p.x(t), p.y(e))}"/>')
    return p.svg(body, "equity curve")


def _drawdown_svg(result: BacktestResult) -> str:
    peak = np.maximum.accumulate(np.concatenate(([result.initial_cash], result.equity)))[1:]
    dd = (result.equity / peak - 1.0) * 100.0
    idx = minmax_indices(dd)
    t, d = result.timestamp[idx], dd[idx]
    p = _Plot(t[0], t[-1], min(float(d.min()), -0.01), 0.0, 180)
    xs, ys = p.x(t), p.y(d)
    y0 = float(p.y(0.0))
    pts = f"{xs[0]:.1f},{y0:.1f} {_points(xs, ys)} {xs[-1]:.1f},{y0:.1f}"
    return p.svg(f'<polygon class="dd" points="{pts}"/>', "drawdown", " %")


def _marker(cls: str, x: float, y: float, shape: str, tip: str | None) -> str:
    d = {"up": f"M{x:.1f} {y:.1f}l-4.5 8h9z", "down": f"M{x:.1f} {y:.1f}l-4.5 -8h9z",
         "diamond": f"M{x:.1f} {y - 4:.1f}l4 4-4 4-4-4z"}[shape]
    if tip is None:
        return f'<path class="{cls}" d="{d}"/>'
    return f'<path class="{cls}" d="{d}"><title>{_e(tip)}</title></path>'


def _price_svg(result: BacktestResult, bars: Bars, j: int) -> str:
    close = bars.close[:, j]
    valid = np.flatnonzero(~np.isnan(close))
    if not valid.size:
        return "<p>No bars.</p>"
    idx = valid[minmax_indices(close[valid])]
    t = result.trades
    mine = np.flatnonzero(t.symbol == j)
    ts = result.timestamp
    prices = np.concatenate((close[idx], t.entry_price[mine], t.exit_price[mine]))
    # the whole run's time axis, so every chart lines up under the equity curve
    p = _Plot(ts[0], ts[-1], float(prices.min()), float(prices.max()), 300)
    tips = len(t) <= TOOLTIP_TRADES
    net = t.net_pnl
    parts = [f'<polyline class="px" points="{_points(p.x(ts[idx]), p.y(close[idx]))}"/>']
    ex, ey = p.x(ts[t.exit_bar[mine]]), p.y(t.exit_price[mine])
    nx, ny = p.x(ts[t.entry_bar[mine]]), p.y(t.entry_price[mine])
    for k, i in enumerate(mine.tolist()):
        side = "long" if t.side[i] > 0 else "short"
        win = "win" if net[i] > 0 else "loss"
        parts.append(_marker(
            f"mk-entry {side}", nx[k], ny[k], "up" if side == "long" else "down",
            f"#{i + 1} {side} entry {stamp_utc(ts[t.entry_bar[i]])} @ {t.entry_price[i]:,.8g}"
            if tips else None))
        parts.append(_marker(
            f"mk-exit {win}", ex[k], ey[k], "diamond",
            f"#{i + 1} exit ({REASONS[t.reason[i]]}) {stamp_utc(ts[t.exit_bar[i]])} @ "
            f"{t.exit_price[i]:,.8g}, net {net[i]:,.2f}" if tips else None))
    return p.svg("".join(parts), f"{bars.symbols[j]} price and trades")


def _calibration_svg(doc: Mapping[str, Any]) -> str:
    buckets = doc.get("calibration") or []
    width, height, left, bottom, top = 960, 240, 76, 40, 10
    band = (width - left - 14) / max(len(buckets), 1)

    def y(v: float) -> float:
        return top + (1.0 - v) * (height - top - bottom)

    axis, out = [], []
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        axis.append(f'<line class="grid" x1="{left}" x2="{width - 14}" y1="{y(v):.1f}" '
                   f'y2="{y(v):.1f}"/><text x="{left - 6}" y="{y(v) + 4:.1f}" '
                   f'text-anchor="end">{v * 100:.0f} %</text>')
    for k, b in enumerate(buckets):
        x = left + k * band
        mid = x + band / 2
        label = _bucket_label(b, k == len(buckets) - 1)
        out.append(f'<text x="{mid:.1f}" y="{height - 22}" text-anchor="middle">'
                   f'{_e(label)}</text><text x="{mid:.1f}" y="{height - 6}" '
                   f'text-anchor="middle">n={b.get("trades") or 0}</text>')
        if not b.get("trades") or b.get("win_rate") is None:
            continue
        wr, mc = float(b["win_rate"]), b.get("mean_confidence")
        out.append(f'<rect class="wr" x="{x + band * 0.2:.1f}" y="{y(wr):.1f}" '
                   f'width="{band * 0.6:.1f}" height="{y(0.0) - y(wr):.1f}">'
                   f"<title>win rate {wr * 100:.1f} %</title></rect>")
        if mc is not None and math.isfinite(mc):
            out.append(f'<circle class="mc" cx="{mid:.1f}" cy="{y(float(mc)):.1f}" r="4.5">'
                       f"<title>mean confidence {float(mc) * 100:.1f} %</title></circle>")
    return (f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="confidence '
            f'calibration"><g class="axis">{"".join(axis)}</g>{"".join(out)}</svg>')


# --------------------------------------------------------------------------- HTML


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0 auto;
max-width:1020px;padding:12px 20px 40px}
h1{font-size:22px;margin:16px 0 4px}h2{font-size:17px;margin:30px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:3px}h3{font-size:14px;margin:14px 0 4px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:4px 0}
td,th{padding:2px 9px;text-align:right;border-bottom:1px solid #eee;white-space:nowrap}
td:first-child,th:first-child{text-align:left}th{font-weight:600;background:#f6f6f6}
.figs{display:flex;gap:40px;flex-wrap:wrap}.meta td{text-align:left;white-space:normal}
.note{color:#666;font-size:13px}.legend span{margin-right:16px}
svg{display:block;width:100%;height:auto;margin:4px 0 10px}
.axis text,svg text{font-size:11px;fill:#666}.grid{stroke:#eee}
.border{fill:none;stroke:#ccc}.ref{stroke:#999;stroke-dasharray:4 3}
.eq{fill:none;stroke:#1f6fb4;stroke-width:1.3}.px{fill:none;stroke:#555;stroke-width:1}
.dd{fill:#e45756;fill-opacity:.35;stroke:#c0392b;stroke-width:1}
.mk-entry.long{fill:#1a9850}.mk-entry.short{fill:#d73027}
.mk-exit{stroke:#333;stroke-width:.6}.mk-exit.win{fill:#a6d96a}.mk-exit.loss{fill:#f4a582}
.wr{fill:#6baed6}.mc{fill:#fd8d3c;stroke:#333;stroke-width:.6}
.monthly td{min-width:52px}.trades td{font-size:12.5px}
"""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _html_table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None,
                cls: str = "") -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{_e(cls)}">{head}{body}</table>'


def _meta_html(meta: Mapping[str, Any]) -> str:
    rows = [(str(k), v if isinstance(v, str) else json.dumps(jsonable(v), sort_keys=True))
            for k, v in meta.items()]
    return _html_table(rows, cls="meta") if rows else ""


def _cell_colour(r: float, scale: float) -> str:
    a = min(abs(r) / scale, 1.0) * 0.75 + 0.05 if scale > 0 else 0.05
    rgb = "26,152,80" if r >= 0 else "215,48,39"
    return f"background:rgba({rgb},{a:.2f})"


def _monthly_html(result: BacktestResult) -> str:
    months = monthly_returns(result)
    if not months:
        return "<p>No bars.</p>"
    table: dict[int, dict[int, float]] = {}
    for year, month, r in months:
        table.setdefault(year, {})[month] = r
    scale = max(abs(r) for _, _, r in months if math.isfinite(r)) if months else 0.0
    head = "<tr><th>Year</th>" + "".join(f"<th>{m}</th>" for m in _MONTHS) + "<th>Year</th></tr>"
    rows = []
    for year, got in sorted(table.items()):
        cells = []
        for m in range(1, 13):
            if m in got:
                cells.append(f'<td style="{_cell_colour(got[m], scale)}">'
                             f"{_e(format_figure(got[m], 'pct'))}</td>")
            else:
                cells.append("<td></td>")
        total = math.prod(1.0 + r for r in got.values()) - 1.0
        rows.append(f"<tr><th>{year}</th>{''.join(cells)}"
                    f"<th>{_e(format_figure(total, 'pct'))}</th></tr>")
    return f'<table class="monthly">{head}{"".join(rows)}</table>'


def _trades_html(result: BacktestResult) -> str:
    t = result.trades
    n = len(t)
    if not n:
        return "<p>No trades.</p>"
    first = max(0, n - TRADES_SHOWN)
    ts = result.timestamp
    net, ret = t.net_pnl, t.return_pct
    rows = [[str(i + 1), t.symbols[t.symbol[i]], "long" if t.side[i] > 0 else "short",
             stamp_utc(ts[t.entry_bar[i]]), stamp_utc(ts[t.exit_bar[i]]),
             format_figure(t.entry_price[i], "price"), format_figure(t.exit_price[i], "price"),
             f"{t.amount[i]:,.6g}", format_figure(net[i], "money"), f"{ret[i]:,.2f} %",
             format_figure(t.entry_fee[i] + t.exit_fee[i], "money"), REASONS[t.reason[i]],
             "" if math.isnan(t.confidence[i]) else f"{t.confidence[i]:.3f}"]
            for i in range(first, n)]
    note = (f'<p class="note">Showing the last {TRADES_SHOWN:,} of {n:,} trades; the CSV '
            "export has all of them.</p>" if first else "")
    header = ["#", "symbol", "side", "entry (UTC)", "exit (UTC)", "entry price", "exit price",
              "amount", "net PnL", "return", "fees", "reason", "confidence"]
    return note + _html_table(rows, header, "trades")


def _figures_html(doc: Mapping[str, Any]) -> str:
    rows = figure_rows(doc)
    half = (len(rows) + 1) // 2
    return (f'<div class="figs">{_html_table(rows[:half])}{_html_table(rows[half:])}</div>')


def render_html(result: BacktestResult, metrics: Metrics, bars: Bars,
                meta: Mapping[str, Any]) -> str:
    """The HTML report as a string (see :func:`write_html`)."""
    if bars.symbols != result.symbols or bars.n_bars != result.timestamp.size:
        raise ValueError("report: bars do not match the result (symbols or bar count)")
    if not bars.n_bars:
        raise ValueError("report: the run has no bars")
    doc = _summary_doc(result, metrics)
    title = str(meta.get("title") or (f"Backtest: {meta['bot']}" if meta.get("bot")
                                      else "Backtest"))
    legend = ('<p class="legend note"><span>▲ long entry</span><span>▼ short entry</span>'
              "<span>◆ exit (green: net win, red: net loss)</span></p>")
    sections = [f"<h1>{_e(title)}</h1>", _meta_html(meta),
                "<h2>Summary</h2>", _figures_html(doc)]
    if len(result.symbols) > 1:
        sections += ["<h3>Per symbol</h3>", _html_table(
            _symbol_rows(doc), ["symbol", *(c for c, _, _ in _SYMBOL_COLUMNS)])]
    sections += ["<h2>Equity</h2>", _equity_svg(result),
                 "<h2>Drawdown (underwater)</h2>", _drawdown_svg(result),
                 "<h2>Prices and trades</h2>", legend]
    for j, sym in enumerate(bars.symbols):
        sections += [f"<h3>{_e(sym)}</h3>", _price_svg(result, bars, j)]
    sections += ["<h2>Monthly returns</h2>", _monthly_html(result),
                 "<h2>Confidence calibration</h2>"]
    if rows := _calibration_rows(doc):
        sections += ['<p class="note">Bars: win rate per entry-confidence bucket; dots: the '
                     "bucket's mean confidence. A calibrated strategy's bars reach its dots."
                     "</p>", _calibration_svg(doc), _html_table(
                         rows, ["confidence", *(c for c, _, _ in _CALIBRATION_COLUMNS)])]
    else:
        sections.append("<p>No trade carries an entry confidence.</p>")
    sections += ["<h2>Trades</h2>", _trades_html(result)]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(sections) + "\n</body></html>\n")


def write_html(path: str | Path, result: BacktestResult, metrics: Metrics, bars: Bars,
               meta: Mapping[str, Any]) -> Path:
    """Write one self-contained HTML report (opens offline: inline CSS and SVG, no script):
    summary figures, equity and drawdown charts, each symbol's price with every entry and
    exit marked, monthly returns, confidence calibration and the last trades."""
    path = Path(path)
    path.write_text(render_html(result, metrics, bars, meta), encoding="utf-8")
    return path

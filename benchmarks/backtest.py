"""Backtest throughput: full EMA-cross pipeline, a 100-combination grid, first-call cost.

Usage (from the repo root)::

    python benchmarks/backtest.py                # 1M bars, vectorbt too if installed
    python benchmarks/backtest.py --bars 200000 --no-vectorbt --no-first-call

(a) one EMA-cross bot on N bars: indicators (two EMAs), cross signals, simulation with taker
    fees, slippage, 2 % stop-loss and 4 % take-profit; in bars/s.
(b) a grid of 100 (fast, slow) EMA pairs on the same data: EMAs, signals and simulations; in
    combinations × bars / s.
(c) first call in a fresh process: import + compile/load + one small simulation, with an empty
    numba cache (cold) and with the cache filled (warm), for ``simulate`` and for ``grid``.
(d) a whole bot file through ``backtest_bot``: the ema_rsi strategy plugin, the consensus and
    four risk_basic policies (kill_switch, max_open_positions, ATR stops, fixed_fraction)
    called in Python once per entry signal, exactly as live; in bars/s and µs per decision.

vectorbt, when installed, runs on *identical* signals (our EMA arrays, shifted one bar and
filled at the open, which is our convention), with the same fees, slippage and stops. Each
figure is the median / minimum of ``--repeat`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _data import make_data


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FAST = list(range(5, 55, 5))  # 10 values
SLOW = list(range(60, 260, 20))  # 10 values -> 100 pairs
FEE, SLIP, SL, TP = 0.001, 0.0005, 0.02, 0.04


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    out = fn()  # warm-up (and compile)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), out


def fmt(rate: float) -> str:
    return f"{rate / 1e6:,.1f} M"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-vectorbt", action="store_true")
    ap.add_argument("--no-first-call", action="store_true")
    ap.add_argument("--no-bot", action="store_true")
    ap.add_argument("--vbt-grid-combos", type=int, default=100,
                    help="combinations vectorbt runs in (b) (its memory grows with this)")
    args = ap.parse_args()

    from genesis_core import Candles
    from genesis_core.backtest import Bars, Costs, Orders, ema_cross_directions, grid, simulate
    from genesis_core.indicators import ema

    d = make_data(args.bars)
    candles = Candles(d["ts"], d["open"], d["high"], d["low"], d["close"], d["volume"],
                      symbol="RW", timeframe="1m")
    bars = Bars.from_candles(candles)
    costs = Costs(taker_fee_bps=FEE * 1e4, maker_fee_bps=FEE * 1e4, slippage_bps=SLIP * 1e4)
    n = args.bars
    fast_buf, slow_buf = np.empty(n), np.empty(n)

    def signals() -> np.ndarray:
        ema(bars.close[:, 0], 12, out=fast_buf)
        ema(bars.close[:, 0], 26, out=slow_buf)
        diff = fast_buf - slow_buf
        sign = np.sign(diff)
        out = np.zeros(n, np.int8)
        turn = (sign[1:] != sign[:-1]) & (sign[1:] != 0) & ~np.isnan(diff[:-1])
        out[1:][turn] = sign[1:][turn]
        return out

    def pipeline() -> object:
        return simulate(bars, Orders.from_arrays(bars, signals()), costs=costs,
                        stop_loss_pct=SL * 100, take_profit_pct=TP * 100)

    print(f"{n:,} bars, {os.cpu_count()} cores, numpy {np.__version__}")
    med, best, res = timed(pipeline, args.repeat)
    sig = signals()
    sim_med, sim_best, _ = timed(lambda: simulate(
        bars, Orders.from_arrays(bars, sig), costs=costs, stop_loss_pct=SL * 100,
        take_profit_pct=TP * 100), args.repeat)
    print(f"(a) pipeline ours: {med * 1e3:.1f} / {best * 1e3:.1f} ms = {fmt(n / best)} bars/s "
          f"({len(res.trades):,} trades); simulation alone {sim_med * 1e3:.1f} / "
          f"{sim_best * 1e3:.1f} ms")
    results: dict[str, float] = {"ours_pipeline_s": best, "ours_sim_s": sim_best}

    dirs_holder: dict[str, np.ndarray] = {}

    def run_grid() -> object:
        dirs, _ = ema_cross_directions(bars.close[:, 0], FAST, SLOW)
        dirs_holder["d"] = dirs
        return grid(bars, dirs, costs=costs, stop_loss_pct=SL * 100,
                    take_profit_pct=TP * 100)

    g_med, g_best, g = timed(run_grid, max(1, args.repeat // 2))
    combos = len(g.final_equity)
    print(f"(b) grid ours: {combos} combos {g_med:.2f} / {g_best:.2f} s = "
          f"{fmt(combos * n / g_best)} combo·bars/s")
    results["ours_grid_s"] = g_best

    vbt = None
    if not args.no_vectorbt:
        try:
            import pandas as pd
            import vectorbt as vbt
        except ImportError:
            print("vectorbt not installed: skipped")
    if vbt is not None:
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        close_s, open_s = pd.Series(bars.close[:, 0]), pd.Series(bars.open[:, 0])

        def vbt_run(directions: np.ndarray) -> object:
            entries = np.zeros(directions.shape, bool)
            exits = np.zeros(directions.shape, bool)
            entries[..., 1:] = directions[..., :-1] > 0
            exits[..., 1:] = directions[..., :-1] < 0
            if directions.ndim == 2:
                entries, exits = entries.T, exits.T
            return vbt.Portfolio.from_signals(
                close_s, entries, exits, price=open_s, open=open_s,
                high=pd.Series(bars.high[:, 0]), low=pd.Series(bars.low[:, 0]),
                fees=FEE, slippage=SLIP, sl_stop=SL, tp_stop=TP, direction="both",
                init_cash=10_000.0)

        v_med, v_best, _ = timed(lambda: vbt_run(signals()), args.repeat)
        vs_med, vs_best, _ = timed(lambda: vbt_run(sig), args.repeat)
        print(f"(a) pipeline vectorbt (same signals): {v_med * 1e3:.1f} / {v_best * 1e3:.1f} ms "
              f"= {fmt(n / v_best)} bars/s; simulation alone {vs_med * 1e3:.1f} / "
              f"{vs_best * 1e3:.1f} ms")
        print(f"    ours/vectorbt throughput: pipeline {v_best / best:.1f}×, "
              f"simulation {vs_best / sim_best:.1f}×")
        k = min(args.vbt_grid_combos, combos)
        sub = dirs_holder["d"][:k]

        def vbt_grid() -> object:
            dirs, _ = ema_cross_directions(bars.close[:, 0], FAST, SLOW)  # same signal cost
            return vbt_run(dirs[:k])

        vg_med, vg_best, _ = timed(vbt_grid, 1)
        rate = k * n / vg_best
        print(f"(b) grid vectorbt: {k} combos {vg_med:.2f} / {vg_best:.2f} s = {fmt(rate)} "
              f"combo·bars/s; ours/vectorbt {combos * n / g_best / rate:.1f}×")
        results.update(vbt_pipeline_s=v_best, vbt_sim_s=vs_best, vbt_grid_s=vg_best,
                       vbt_grid_combos=k)
        del sub

    if not args.no_bot:
        bot_s, decisions = bot_pipeline(candles, max(1, args.repeat // 2))
        print(f"(d) bot file with Python risk policies: {bot_s:.2f} s = {fmt(n / bot_s)} bars/s, "
              f"{decisions:,} risk decisions ({bot_s / max(decisions, 1) * 1e6:.0f} µs per "
              "decision, everything included)")
        results.update(bot_s=bot_s, bot_decisions=decisions)
        if "vbt_pipeline_s" in results:
            print(f"    ours/vectorbt throughput: {results['vbt_pipeline_s'] / bot_s:.2f}× "
                  "(vectorbt runs its simpler EMA-cross pipeline with no risk policies)")

    if not args.no_first_call:
        for what in ("simulate", "grid"):
            with tempfile.TemporaryDirectory() as cache:
                cold = first_call(what, cache)
                warm = [first_call(what, cache) for _ in range(3)]
            print(f"(c) first call {what}: cold {cold:.2f} s, warm "
                  f"{min(warm):.2f}–{max(warm):.2f} s")
            results[f"first_{what}_cold_s"] = cold
            results[f"first_{what}_warm_s"] = min(warm)
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))


BOT = """
name: bench
mode: backtest
markets: [{symbol: RW, timeframes: [1m], min_amount: "0.0001"}]
data_source: {plugin: replay, params: {files: []}}
executor: {plugin: paper, params: {taker_fee_bps: 10, slippage_bps: 5}}
strategies: [{plugin: ema_rsi}]
risk:
  - plugin: kill_switch
  - plugin: max_open_positions
  - plugin: stops
    params: {mode: atr}
  - plugin: fixed_fraction
    params: {fraction: "0.5"}
"""


def bot_pipeline(candles: object, repeat: int) -> tuple[float, int]:
    """Best time of ``backtest_bot`` on the candles, and its number of risk decisions."""
    from genesis_core.backtest import backtest_bot
    from genesis_core.config import load_config
    from genesis_core.plugins import load_plugins

    plugins = load_plugins()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bot.yaml"
        path.write_text(BOT)
        config = load_config(path, plugins)
    data = {("RW", "1m"): candles}
    backtest_bot(config, plugins, candles={k: v[:5000] for k, v in data.items()})
    best, decisions = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        run = backtest_bot(config, plugins, candles=data)
        best = min(best, time.perf_counter() - t0)
        decisions = len(run.decisions)
    return best, decisions


FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from genesis_core import Candles
from genesis_core.backtest import Bars, Orders, ema_cross_directions, grid, simulate
n = 2000
close = 100 + np.cumsum(np.sin(np.arange(n) / 20.0))
c = Candles(np.arange(n) * 60000, close, close + 1, close - 1, close, np.ones(n),
            symbol="X", timeframe="1m")
bars = Bars.from_candles(c)
if {what!r} == "simulate":
    d = np.zeros(n, np.int8); d[100::200] = 1; d[200::200] = -1
    simulate(bars, Orders.from_arrays(bars, d), stop_loss_pct=2.0).metrics()
else:
    dirs, _ = ema_cross_directions(close, [5, 10], [20, 40])
    grid(bars, dirs, stop_loss_pct=2.0)
print(time.perf_counter() - t0)
"""


def first_call(what: str, cache: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", FIRST_CALL.format(what=what)], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()

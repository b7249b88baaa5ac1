#!/usr/bin/env python3
"""Benchmark genesis_core.indicators against TA-Lib and pandas.

    python benchmarks/indicators.py            # 1M and 10M bars
    python benchmarks/indicators.py --quick    # 1M bars only

Every indicator runs through its public wrapper into preallocated ``out=`` buffers on a
seeded random walk; each timing is the median and minimum of several runs after one warm-up
call. TA-Lib (``pip install ta-lib``) and pandas are optional. Cold and warm import+compile
times of the whole kernel set are measured in subprocesses with a temporary NUMBA_CACHE_DIR.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _data import make_data  # noqa: E402

import genesis_core.indicators as gi  # noqa: E402


try:
    import talib
except ImportError:  # optional
    talib = None
try:
    import pandas as pd
except ImportError:  # optional
    pd = None

Fn = Callable[[], object]


def cases(d: dict[str, np.ndarray]) -> list[tuple[str, Fn, Fn | None, Fn | None]]:
    """(name, ours, TA-Lib, pandas) callables; ours write into preallocated buffers."""
    h, lo, c, v, ts = d["high"], d["low"], d["close"], d["volume"], d["ts"]
    n = c.size

    def bufs(k: int) -> tuple[np.ndarray, ...]:
        return tuple(np.empty(n) for _ in range(k))

    b1, b2, b3, b5 = bufs(1)[0], bufs(2), bufs(3), bufs(5)
    fvg_out = (np.empty(n, np.int8), *bufs(3))
    ta = talib
    s = pd.Series(c) if pd is not None else None
    rows: list[tuple[str, Fn, Fn | None, Fn | None]] = [
        ("SMA(20)", lambda: gi.sma(c, 20, out=b1),
         ta and (lambda: ta.SMA(c, 20)), s is not None and (lambda: s.rolling(20).mean())),
        ("EMA(20)", lambda: gi.ema(c, 20, out=b1),
         ta and (lambda: ta.EMA(c, 20)),
         s is not None and (lambda: s.ewm(span=20, adjust=False).mean())),
        ("WMA(20)", lambda: gi.wma(c, 20, out=b1), ta and (lambda: ta.WMA(c, 20)), None),
        ("RSI(14)", lambda: gi.rsi(c, 14, out=b1), ta and (lambda: ta.RSI(c, 14)), None),
        ("TRANGE", lambda: gi.true_range(h, lo, c, out=b1),
         ta and (lambda: ta.TRANGE(h, lo, c)), None),
        ("ATR(14)", lambda: gi.atr(h, lo, c, 14, out=b1),
         ta and (lambda: ta.ATR(h, lo, c, 14)), None),
        ("ADX(14) +DI -DI", lambda: gi.adx(h, lo, c, 14, out=b3),
         ta and (lambda: ta.ADX(h, lo, c, 14)), None),
        ("BBANDS(20,2)", lambda: gi.bbands(c, 20, out=b5),
         ta and (lambda: ta.BBANDS(c, 20, 2.0, 2.0)), None),
        ("STDDEV(20)", lambda: gi.stddev(c, 20, out=b1),
         ta and (lambda: ta.STDDEV(c, 20)), s is not None and (lambda: s.rolling(20).std(ddof=0))),
        ("MACD(12,26,9)", lambda: gi.macd(c, out=b3), ta and (lambda: ta.MACD(c)), None),
        ("STOCH(5,3,3)", lambda: gi.stoch(h, lo, c, out=b2),
         ta and (lambda: ta.STOCH(h, lo, c)), None),
        ("STOCHRSI(14,5,3)", lambda: gi.stochrsi(c, out=b2), ta and (lambda: ta.STOCHRSI(c)),
         None),
        ("OBV", lambda: gi.obv(c, v, out=b1), ta and (lambda: ta.OBV(c, v)), None),
        ("Donchian(20)", lambda: gi.donchian(h, lo, 20, out=b3),
         ta and (lambda: (ta.MAX(h, 20), ta.MIN(lo, 20))),
         pd is not None and (lambda: (pd.Series(h).rolling(20).max(),
                                      pd.Series(lo).rolling(20).min()))),
        ("zscore(20)", lambda: gi.zscore(c, 20, out=b1), None,
         s is not None and (lambda: (s - s.rolling(20).mean()) / s.rolling(20).std(ddof=0))),
        ("EMA-Z(20)", lambda: gi.ema_zscore(c, 20, out=b1), None, None),
        ("VWAP rolling(20)", lambda: gi.vwap(h, lo, c, v, 20, out=b1), None, None),
        ("VWAP session", lambda: gi.session_vwap(ts, h, lo, c, v, out=b1), None, None),
        ("swings(2,2)", lambda: gi.swings(h, lo, 2, 2, out=b2), None, None),
        ("regime(14,50)", lambda: gi.regime(h, lo, c, out=b1), None, None),
        ("FVG", lambda: gi.fvg(h, lo, out=fvg_out), None, None),
        ("FVG gaps+mitigation", lambda: gi.fvg_gaps(h, lo), None, None),
    ]
    return [(name, ours, t or None, p or None) for name, ours, t, p in rows]


def timeit(fn: Fn, repeat: int) -> tuple[float, float]:
    fn()  # compile / load cache / fault pages in
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, min(times) * 1e3


def fmt(t: tuple[float, float] | None) -> str:
    return "–" if t is None else f"{t[0]:.2f} / {t[1]:.2f}"


def drift_check(c: np.ndarray, p: int = 20, last: int = 100) -> str:
    """Largest relative error of SMA/WMA/STDDEV over the last bars against windows summed
    exactly (math.fsum): shows that nothing drifts over the whole series."""
    import math

    sma, wma, std = gi.sma(c, p), gi.wma(c, p), gi.stddev(c, p)
    w = np.arange(1.0, p + 1)
    err = [0.0, 0.0, 0.0]
    for i in range(c.size - last, c.size):
        win = c[i - p + 1 : i + 1]
        m = math.fsum(win.tolist()) / p
        wm = math.fsum((w * win).tolist()) / (p * (p + 1) / 2)  # products rounded once
        sd = math.sqrt(math.fsum(((win - m) ** 2).tolist()) / p)
        for k, (ours, exact) in enumerate(((sma[i], m), (wma[i], wm), (std[i], sd))):
            err[k] = max(err[k], abs(ours - exact) / exact)
    return (f"drift check, last {last} bars of {c.size:,} (p={p}), max relative error vs exact "
            f"window sums: SMA {err[0]:.1e}, WMA {err[1]:.1e}, STDDEV {err[2]:.1e}")


def run_size(n: int, repeat: int, only: list[str] | None = None) -> list[str]:
    rows = [
        f"\n### {n:,} bars (median / min of {repeat} runs, ms)\n",
        "| indicator | ours | TA-Lib | ours/TA-Lib (min) | pandas |",
        "|---|---:|---:|---:|---:|",
    ]
    print("\n".join(rows), flush=True)
    data = make_data(n)
    for name, ours, ta, pdf in cases(data):
        if only and not any(o.lower() in name.lower() for o in only):
            continue
        t_ours = timeit(ours, repeat)
        t_ta = timeit(ta, repeat) if ta else None
        t_pd = timeit(pdf, repeat) if pdf else None
        ratio = f"{t_ours[1] / t_ta[1]:.2f}×" if t_ta else "–"
        rows.append(f"| {name} | {fmt(t_ours)} | {fmt(t_ta)} | {ratio} | {fmt(t_pd)} |")
        print(rows[-1], flush=True)
    rows.append("\n" + drift_check(data["close"]))
    print(rows[-1], flush=True)
    return rows


COMPILE_SNIPPET = """
import time
t0 = time.perf_counter()
import sys; sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from indicators import make_data, cases
for _, ours, _, _ in cases(make_data(64)):
    ours()
print(time.perf_counter() - t0)
"""


def compile_times() -> tuple[float, float]:
    """(cold, warm) seconds to import and compile/load every kernel, in fresh processes."""
    code = COMPILE_SNIPPET.format(root=str(ROOT), bench=str(Path(__file__).parent))
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = []
        for _ in range(2):
            res = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            out.append(float(res.stdout.strip().splitlines()[-1]))
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1M bars only")
    ap.add_argument("--repeat", type=int, default=7, help="runs per timing at 1M bars")
    ap.add_argument(
        "--only", nargs="+", metavar="NAME",
        help="only indicators whose name contains one of these (case-insensitive)",
    )
    ap.add_argument("--no-compile", action="store_true", help="skip the compile-time measurement")
    args = ap.parse_args()
    import numba

    print(f"# Indicator benchmark — {time.strftime('%Y-%m-%d')}")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; Python "
        f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
        f"TA-Lib {getattr(talib, '__version__', 'absent')}, "
        f"pandas {getattr(pd, '__version__', 'absent')}"
    )
    if not args.no_compile:
        cold, warm = compile_times()
        print(f"\nimport + compile of all kernels: cold {cold:.2f} s, warm (cached) {warm:.2f} s")
    run_size(1_000_000, args.repeat, args.only)
    if not args.quick:
        run_size(10_000_000, max(3, args.repeat // 2), args.only)


if __name__ == "__main__":
    main()

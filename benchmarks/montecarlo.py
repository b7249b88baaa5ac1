"""Monte Carlo throughput: compiled runs against a plain-numpy reference, and the first call.

Usage (from the repo root)::

    python benchmarks/montecarlo.py                 # 10,000 runs of 500 trades
    python benchmarks/montecarlo.py --runs 100000 --trades 1000 --no-first-call

(a) ``monte_carlo`` (bootstrap and shuffle) on all cores and on one thread, warm; in runs/s
    and ns per trade step.
(b) the same computation written as vectorised numpy (``cumprod`` / ``maximum.accumulate``
    over a (runs, trades) matrix), timed in the same process; the ratio numpy / compiled.
    It draws different random numbers, so its percentiles are printed for comparison only.
(c) first call in a fresh process: compile (empty numba cache, cold) or load from the cache
    (warm) plus one call; the import of ``genesis_core.backtest.montecarlo`` is shown apart.

Each figure is the minimum / median of ``--repeat`` runs after one warm-up run.
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
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) seconds of ``repeat`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def numpy_reference(r: np.ndarray, runs: int, method: str,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Final returns and maximum drawdowns with the same path arithmetic, vectorised."""
    if method == "shuffle":
        seq = rng.permuted(np.tile(r, (runs, 1)), axis=1)
    else:
        seq = r[rng.integers(0, r.size, (runs, r.size))]
    path = np.cumprod(np.maximum(1.0 + seq, 0.0), axis=1)
    peak = np.maximum(np.maximum.accumulate(path, axis=1), 1.0)
    return path[:, -1] - 1.0, np.max(1.0 - path / peak, axis=1)


FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from genesis_core.backtest.montecarlo import monte_carlo
t1 = time.perf_counter()
r = np.random.default_rng(0).normal(0.002, 0.02, {trades})
monte_carlo(r, runs={runs})
print(t1 - t0, time.perf_counter() - t1)
"""


def first_call(cache: str, runs: int, trades: int) -> tuple[float, float]:
    """(import seconds, first-call seconds) in a fresh process."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(REPO))
    code = FIRST_CALL.format(runs=runs, trades=trades)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    imp, call = out.stdout.strip().splitlines()[-1].split()
    return float(imp), float(call)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--trades", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-first-call", action="store_true")
    args = ap.parse_args()

    import numba

    from genesis_core.backtest.montecarlo import monte_carlo

    runs, n = args.runs, args.trades
    r = np.random.default_rng(0).normal(0.002, 0.02, n)
    threads = numba.get_num_threads()
    print(f"{runs:,} runs of {n} trades, numba {numba.__version__}, {threads} threads, "
          f"numpy {np.__version__}")
    results: dict[str, float] = {"runs": runs, "trades": n, "threads": threads}
    for method in ("bootstrap", "shuffle"):
        run = partial(monte_carlo, r, runs=runs, method=method)
        best, med = timed(run, args.repeat)
        numba.set_num_threads(1)
        best1, _ = timed(run, args.repeat)
        numba.set_num_threads(threads)
        np_best, np_med = timed(partial(numpy_reference, r, runs, method,
                                        np.random.default_rng(1)), max(3, args.repeat // 4))
        print(f"(a) {method}: {best * 1e3:.1f} / {med * 1e3:.1f} ms = {runs / best:,.0f} runs/s "
              f"({best / (runs * n) * 1e9 * threads:.2f} ns per trade step per thread); "
              f"1 thread {best1 * 1e3:.1f} ms = {runs / best1:,.0f} runs/s")
        print(f"(b) {method} numpy: {np_best * 1e3:.1f} / {np_med * 1e3:.1f} ms = "
              f"{runs / np_best:,.0f} runs/s; numpy / compiled {np_best / best:.0f}× "
              f"({np_best / best1:.0f}× on one thread)")
        ours = monte_carlo(r, runs=runs, method=method)
        ref_final, ref_dd = numpy_reference(r, runs, method, np.random.default_rng(2))
        q = (5, 50, 95)
        print(f"    p5/p50/p95 final return ours {np.percentile(ours.final_return, q).round(3)}"
              f" numpy {np.percentile(ref_final, q).round(3)}; max drawdown ours "
              f"{np.percentile(ours.max_drawdown, q).round(3)} numpy "
              f"{np.percentile(ref_dd, q).round(3)}")
        results.update({f"{method}_s": best, f"{method}_1thread_s": best1,
                        f"{method}_numpy_s": np_best, f"{method}_runs_per_s": runs / best})
    if not args.no_first_call:
        with tempfile.TemporaryDirectory() as cache:
            cold_import, cold = first_call(cache, runs, n)
            warm = [first_call(cache, runs, n) for _ in range(3)]
        warm_import, warm_call = min(w[0] for w in warm), min(w[1] for w in warm)
        print(f"(c) first call in a fresh process (compile or load + one call): cold "
              f"{cold:.2f} s, warm {warm_call:.3f} s; the import before it "
              f"{min(cold_import, warm_import):.2f} s")
        results.update(first_cold_s=cold, first_warm_s=warm_call, import_s=warm_import)
    print(json.dumps({k: round(v, 5) for k, v in results.items()}))


if __name__ == "__main__":
    main()

"""Synthetic candles shared by the benchmarks: the same seeded random walk everywhere."""

from __future__ import annotations

import numpy as np


def make_data(n: int, seed: int = 42) -> dict[str, np.ndarray]:
    """Random-walk candles (log-price walk, so prices stay positive)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 5e-4, (2, n))) * close
    return {
        "ts": np.arange(n, dtype=np.int64) * 60_000 + 1_600_000_000_000,
        "open": open_,
        "high": np.maximum(open_, close) + spread[0],
        "low": np.minimum(open_, close) - spread[1],
        "close": close,
        "volume": rng.gamma(2.0, 50.0, n),
    }

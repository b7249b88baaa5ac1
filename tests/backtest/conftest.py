"""Fixtures for the backtest tests: slices of the shared real candles."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from genesis_core import Candles


DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@cache
def _candles(name: str, symbol: str, timeframe: str) -> Candles:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"shared data file {path} not present")
    return Candles.from_csv(path, symbol=symbol, timeframe=timeframe)


@pytest.fixture(scope="session")
def btc_1h() -> Candles:
    return _candles("binance_BTCUSDT_1h.csv", "BTCUSDT", "1h")


@pytest.fixture(scope="session")
def eth_1h() -> Candles:
    return _candles("binance_ETHUSDT_1h.csv", "ETHUSDT", "1h")


def ema_cross(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """+1/-1 on the bar where sign(EMA fast - EMA slow) turns up/down (our own indicators)."""
    from genesis_core.indicators import ema

    diff = ema(close, fast) - ema(close, slow)
    sign = np.sign(diff)
    out = np.zeros(close.size, np.int8)
    ok = ~np.isnan(diff[1:]) & ~np.isnan(diff[:-1])
    turn = ok & (sign[1:] != sign[:-1]) & (sign[1:] != 0)
    out[1:][turn] = sign[1:][turn]
    return out

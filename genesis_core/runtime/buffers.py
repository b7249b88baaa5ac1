"""Growing candle history per (symbol, timeframe), viewed as ``Candles`` without copying."""

from __future__ import annotations

import numpy as np

from genesis_core.models import Candle, Candles


class CandleBuffer:
    def __init__(self, symbol: str, timeframe: str, capacity: int = 1024) -> None:
        self.symbol = symbol
        self.timeframe = timeframe
        self._n = 0
        self._ts = np.empty(capacity, dtype=np.int64)
        self._ohlcv = np.empty((5, capacity), dtype=np.float64)

    def __len__(self) -> int:
        return self._n

    def last_timestamp(self) -> int | None:
        """Open time of the newest bar, or ``None`` while empty."""
        return int(self._ts[self._n - 1]) if self._n else None

    def append(self, candle: Candle) -> None:
        if self._n == self._ts.shape[0]:
            self._ts = np.concatenate([self._ts, np.empty_like(self._ts)])
            self._ohlcv = np.concatenate([self._ohlcv, np.empty_like(self._ohlcv)], axis=1)
        self._ts[self._n] = candle.timestamp
        self._ohlcv[:, self._n] = (candle.open, candle.high, candle.low, candle.close,
                                   candle.volume)
        self._n += 1

    def view(self) -> Candles:
        """The history so far (validated once per call, so malformed live bars are caught)."""
        n = self._n
        return Candles(self._ts[:n].copy(), *(row[:n].copy() for row in self._ohlcv),
                       symbol=self.symbol, timeframe=self.timeframe)

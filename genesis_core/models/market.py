"""Market data: timeframes, candles (struct of numpy arrays), tickers, trades, market rules."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from genesis_core.errors import DataError


_TIMEFRAME_RE = re.compile(r"^(\d+)([mhdwMHDW])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
CSV_HEADER = ("timestamp_ms", "open", "high", "low", "close", "volume")


def timeframe_ms(timeframe: str) -> int:
    """Return the length of ``timeframe`` (``1m``, ``5m``, ``1h``, ``1D``, ``1W`` ...) in ms.

    Minutes are lower-case ``m``; hours, days and weeks accept either case (Bitfinex writes ``1D``).
    """
    match = _TIMEFRAME_RE.match(timeframe) if isinstance(timeframe, str) else None
    if not match or int(match.group(1)) <= 0 or match.group(2) == "M":
        raise ValueError(
            f"invalid timeframe {timeframe!r}: expected a count and a unit m/h/D/W, "
            "e.g. '5m' or '1h'"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2).lower()]


def format_ts(ts_ms: int) -> str:
    """Render a millisecond UTC timestamp as ``2021-01-07T14:30Z`` for messages."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")


@attrs.frozen
class Candle:
    """One closed bar. ``timestamp`` is the bar's open time in ms UTC, as in the CSV files."""

    timestamp: int
    open: float
    high: float
    low: float
    close: float
    volume: float


def _float_array(values: Any) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _int_array(values: Any) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.int64)


@attrs.frozen(eq=False)
class Candles:
    """A series of bars as a struct of numpy arrays: int64 ms timestamps, float64 OHLCV.

    Construction validates the series and raises :class:`~genesis_core.errors.DataError` naming the
    first bad row: timestamps strictly increasing (sorted, unique), no NaN or infinity,
    ``high >= max(open, close)``, ``low <= min(open, close)``, ``volume >= 0``. The arrays are
    made read-only, so a ``Candles`` can be shared between strategies without copies.
    Gaps (missing bars) are allowed: exchanges skip intervals without trades.
    """

    timestamp: np.ndarray = attrs.field(converter=_int_array)
    open: np.ndarray = attrs.field(converter=_float_array)
    high: np.ndarray = attrs.field(converter=_float_array)
    low: np.ndarray = attrs.field(converter=_float_array)
    close: np.ndarray = attrs.field(converter=_float_array)
    volume: np.ndarray = attrs.field(converter=_float_array)
    symbol: str = ""
    timeframe: str = ""

    def __attrs_post_init__(self) -> None:
        self._validate()
        for array in self.arrays():
            array.setflags(write=False)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.timestamp, self.open, self.high, self.low, self.close, self.volume)

    def __len__(self) -> int:
        return int(self.timestamp.shape[0])

    def __getitem__(self, index: slice) -> Candles:
        if not isinstance(index, slice):
            raise TypeError("Candles supports slicing only; use .candle(i) for one bar")
        return attrs.evolve(self, **{f: getattr(self, f)[index] for f in _ARRAY_FIELDS})

    def close_time(self, i: int) -> int:
        """Close time (ms) of bar ``i``: when its values become known. Needs ``timeframe``."""
        if not self.timeframe:
            raise ValueError("close_time needs candles with a timeframe")
        return int(self.timestamp[i]) + timeframe_ms(self.timeframe)

    def candle(self, i: int) -> Candle:
        """Return bar ``i`` as a :class:`Candle`."""
        return Candle(*(a[i].item() for a in self.arrays()))

    def _where(self, i: int) -> str:
        label = " ".join(p for p in (self.symbol, self.timeframe) if p)
        stamp = format_ts(int(self.timestamp[i]))
        return f"candles{' ' + label if label else ''} row {i} ({stamp})"

    def _validate(self) -> None:
        n = len(self.timestamp)
        for name in _ARRAY_FIELDS:
            array = getattr(self, name)
            if array.ndim != 1 or array.shape[0] != n:
                raise DataError(f"candles: {name} has shape {array.shape}, expected ({n},)")
        if n == 0:
            return
        bad = np.flatnonzero(np.diff(self.timestamp) <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            kind = "duplicate" if self.timestamp[i] == self.timestamp[i - 1] else "out of order"
            raise DataError(f"{self._where(i)}: timestamp {kind} after row {i - 1}")
        for name in ("open", "high", "low", "close", "volume"):
            bad = np.flatnonzero(~np.isfinite(getattr(self, name)))
            if bad.size:
                value = getattr(self, name)[bad[0]]
                raise DataError(f"{self._where(int(bad[0]))}: {name} is {value}")
        checks = (
            (self.high < np.maximum(self.open, self.close), "high {high} < max(open, close)"),
            (self.low > np.minimum(self.open, self.close), "low {low} > min(open, close)"),
            (self.volume < 0, "volume {volume} is negative"),
        )
        for mask, template in checks:
            bad = np.flatnonzero(mask)
            if bad.size:
                i = int(bad[0])
                values = {f: getattr(self, f)[i] for f in ("high", "low", "volume")}
                raise DataError(f"{self._where(i)}: {template.format(**values)}")

    @classmethod
    def from_rows(
        cls, rows: Iterable[Sequence[float]], *, symbol: str = "", timeframe: str = ""
    ) -> Candles:
        """Build from ``(timestamp_ms, open, high, low, close, volume)`` rows."""
        table = np.asarray(list(rows), dtype=np.float64).reshape(-1, 6)
        return cls(table[:, 0].astype(np.int64), *table[:, 1:].T, symbol=symbol,
                   timeframe=timeframe)

    @classmethod
    def from_csv(cls, path: str | Path, *, symbol: str = "", timeframe: str = "") -> Candles:
        """Read the documented CSV format: header ``timestamp_ms,open,high,low,close,volume``.

        Errors name the file and line, e.g. ``data.csv:19: high 1.0 < max(open, close)``.
        """
        path = Path(path)
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                header = tuple(next(reader, ()))
                if header != CSV_HEADER:
                    raise DataError(f"{path}:1: expected header {','.join(CSV_HEADER)}")
                # Blank lines (an editor's trailing newline or two) hold no bar: skipped.
                rows = [_parse_row(path, n, row) for n, row in enumerate(reader, start=2)
                        if row]
        except OSError as exc:
            raise DataError(f"{path}: cannot read candles: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise DataError(f"{path}: not a UTF-8 text file (expected CSV candles)") from None
        try:
            return cls.from_rows(rows, symbol=symbol, timeframe=timeframe)
        except DataError as exc:
            match = re.search(r"row (\d+)", str(exc))
            line = f":{int(match.group(1)) + 2}" if match else ""
            raise DataError(f"{path}{line}: {str(exc).split(': ', 1)[-1]}") from None

    def to_csv(self, path: str | Path) -> None:
        """Write the documented CSV format (the inverse of :meth:`from_csv`): header, one bar
        a line, ``\n`` line ends, floats in shortest round-trip digits without exponent or a
        trailing ``.0`` — byte-identical to the files under ``../shared/data``."""
        columns = [self.timestamp.tolist(), *(a.tolist() for a in self.arrays()[1:])]
        lines = [",".join(CSV_HEADER)]
        lines += [f"{ts}," + ",".join(map(csv_number, values))
                  for ts, *values in zip(*columns, strict=True)]
        Path(path).write_text("\n".join(lines) + "\n", newline="")


def csv_number(value: float) -> str:
    """A float as the CSV format writes it (``126.5``, ``2``, ``0.00006824``)."""
    text = repr(value)
    if "e" in text:
        return np.format_float_positional(value, trim="-")
    return text[:-2] if text.endswith(".0") else text


_ARRAY_FIELDS = ("timestamp", "open", "high", "low", "close", "volume")


def _parse_row(path: Path, line: int, row: list[str]) -> tuple[float, ...]:
    if len(row) != 6:
        raise DataError(f"{path}:{line}: expected 6 columns, got {len(row)}")
    try:
        values = (float(int(row[0])), *(float(v) for v in row[1:]))
    except ValueError:
        raise DataError(f"{path}:{line}: not a number in {','.join(row)!r}") from None
    if any(math.isnan(v) for v in values):
        raise DataError(f"{path}:{line}: NaN in {','.join(row)!r}")
    return values


@attrs.frozen
class Ticker:
    """Best bid/ask and last price of one symbol at ``timestamp`` (ms UTC)."""

    symbol: str
    timestamp: int
    bid: float
    ask: float
    last: float
    volume_24h: float = 0.0


@attrs.frozen
class Trade:
    """One public trade. ``amount`` is positive; ``side`` is the aggressor (``buy``/``sell``)."""

    symbol: str
    timestamp: int
    trade_id: str
    price: float
    amount: float
    side: str


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@attrs.frozen
class Market:
    """Trading rules of one symbol: order size limits and price/amount precision.

    Prices are rounded to ``price_significant`` significant digits (Bitfinex uses 5) and/or
    ``price_decimals`` decimals, whichever is stricter; amounts are truncated (never rounded up,
    so a sized order never exceeds its budget) to ``amount_decimals``.
    """

    symbol: str
    base: str
    quote: str
    min_amount: Decimal = attrs.field(default=Decimal(0), converter=_decimal)
    max_amount: Decimal | None = attrs.field(
        default=None, converter=attrs.converters.optional(_decimal)
    )
    amount_decimals: int = 8
    price_significant: int | None = 5
    price_decimals: int | None = None

    def round_amount(self, amount: Decimal | float) -> Decimal:
        """Truncate ``amount`` towards zero to the market's amount precision."""
        step = Decimal(1).scaleb(-self.amount_decimals)
        return _decimal(amount).quantize(step, rounding=ROUND_DOWN)

    def round_price(self, price: Decimal | float) -> Decimal:
        """Round ``price`` half-even to the market's price precision."""
        value = _decimal(price)
        if value <= 0:
            raise ValueError(f"{self.symbol}: price must be positive, got {value}")
        exponents = []
        if self.price_significant is not None:
            exponents.append(value.adjusted() - self.price_significant + 1)
        if self.price_decimals is not None:
            exponents.append(-self.price_decimals)
        if not exponents:
            return value
        return value.quantize(Decimal(1).scaleb(max(exponents)), rounding=ROUND_HALF_EVEN)

    def check_amount(self, amount: Decimal) -> str | None:
        """Return why ``amount`` cannot be ordered, or ``None`` if it can."""
        if amount != self.round_amount(amount):
            return f"amount {amount} has more than {self.amount_decimals} decimals"
        if amount < self.min_amount:
            return f"amount {amount} is below the minimum {self.min_amount}"
        if self.max_amount is not None and amount > self.max_amount:
            return f"amount {amount} is above the maximum {self.max_amount}"
        return None

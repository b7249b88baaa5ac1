"""The backtest simulator: typed inputs and outputs around the compiled kernel in ``_sim``.

See ``docs/backtesting.md`` for the fill model (shared with the paper executor), the exit
rules, costs, the reconciliation identity and the risk-hook seam.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from genesis_core.models import (
    Candles,
    Lot,
    PortfolioSnapshot,
    Position,
    Signal,
    SignalSide,
    timeframe_ms,
)


SizeType = Literal["equity", "amount", "value"]
OnOpposite = Literal["reverse", "close"]
SIZE_TYPES = {"equity": 0, "amount": 1, "value": 2}
ENTRY_TYPES = {"market": 0, "limit": 1, "stop": 2}
ENTRY_TYPE_NAMES = {code: name for name, code in ENTRY_TYPES.items()}
REASONS = ("signal", "stop", "take", "end")
BPS = 1e-4
DAY_MS = 86_400_000


def _k() -> Any:
    # Deferred so that importing genesis_core.backtest does not import numba.
    from genesis_core.backtest import _sim

    return _sim


# --------------------------------------------------------------------------- costs


@attrs.frozen
class Costs:
    """Fees, slippage and short funding. Rates are in basis points (1 bp = 0.01 %).

    Slippage moves taker fills against the trader by the sum of three parts, capped at
    ``max_slippage_bps``: a fixed ``slippage_bps``; ``volume_slippage_bps`` per unit of the
    order's fraction of the fill bar's volume (``amount / volume``); and a square-root impact
    ``impact_k * sigma * sqrt(amount / volume)`` where ``sigma`` is the standard deviation of
    close-to-close log returns over the ``impact_window`` bars before the fill bar. A bar with
    zero volume gets the cap when a volume-based part is enabled. Maker fills (limit prices
    reached inside the bar, take-profits) have no slippage.

    ``short_funding_bps`` is charged on every bar a short is held, on its value at the close
    (a borrow rate per bar: for 0.01 % per 8 h on 1 h bars pass 0.01/8 × 100 = 0.125 bps).
    """

    taker_fee_bps: float = 20.0
    maker_fee_bps: float = 10.0
    slippage_bps: float = 0.0
    volume_slippage_bps: float = 0.0
    impact_k: float = 0.0
    impact_window: int = 20
    max_slippage_bps: float = 500.0
    short_funding_bps: float = 0.0

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(Costs):
            value = getattr(self, field.name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"costs: {field.name} must be a finite number >= 0, "
                                 f"got {value!r}")
        if self.impact_window < 2:
            raise ValueError("costs: impact_window must be at least 2 bars")

    @classmethod
    def from_paper(cls, params: Any, **overrides: float) -> Costs:
        """The costs of a :class:`~genesis_core.default_plugins.paper.PaperParams`."""
        values = {"taker_fee_bps": float(params.taker_fee_bps),
                  "maker_fee_bps": float(params.maker_fee_bps),
                  "slippage_bps": float(params.slippage_bps)}
        values.update(overrides)
        return cls(**values)


# --------------------------------------------------------------------------- market data


def _grid(values: Any, n: int, s: int, dtype: Any, name: str, fill: float) -> np.ndarray:
    """A (rows, cols) C-contiguous array with rows in {1, n} and cols in {1, s}."""
    if values is None:
        return np.full((1, 1), fill, dtype=dtype)
    a = np.asarray(values, dtype=dtype)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        if s == 1 and a.shape[0] == n:
            a = a.reshape(n, 1)
        elif a.shape[0] == s:
            a = a.reshape(1, s)
        else:
            raise ValueError(f"{name}: 1-D length {a.shape[0]} matches neither {n} bars nor "
                             f"{s} symbols")
    if a.ndim != 2 or a.shape[0] not in (1, n) or a.shape[1] not in (1, s):
        raise ValueError(f"{name}: shape {np.shape(values)} does not broadcast to ({n}, {s})")
    return np.ascontiguousarray(a)


@attrs.frozen(eq=False)
class Bars:
    """Candles of one or several symbols on one timestamp index: 2-D ``(bars, symbols)`` float64.

    A symbol without a bar at a timestamp (a gap, or before its history starts) has NaN there;
    nothing fills or exits on such a bar and orders wait for the symbol's next bar.
    ``timestamp`` is each bar's open time in ms UTC, like :class:`~genesis_core.models.Candles`.
    """

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    symbols: tuple[str, ...]
    timeframe: str = ""

    def __attrs_post_init__(self) -> None:
        n, s = self.close.shape
        if self.timestamp.shape != (n,) or len(self.symbols) != s:
            raise ValueError("bars: timestamp/symbols do not match the price arrays")
        for name in ("open", "high", "low", "close", "volume"):
            a = getattr(self, name)
            if a.shape != (n, s) or a.dtype != np.float64 or not a.flags.c_contiguous:
                raise ValueError(f"bars: {name} must be C-contiguous float64 of shape {(n, s)}")
        if not np.array_equal(np.isnan(self.open), np.isnan(self.close)):
            raise ValueError("bars: open and close must have gaps (NaN) on the same bars")

    @property
    def n_bars(self) -> int:
        return int(self.timestamp.shape[0])

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    def close_times(self) -> np.ndarray:
        """Close time (ms) of every bar: the timestamp a signal computed on it carries."""
        if not self.timeframe:
            raise ValueError("bars: close times need a timeframe")
        return self.timestamp + timeframe_ms(self.timeframe)

    @classmethod
    def from_candles(cls, candles: Candles | Sequence[Candles]) -> Bars:
        """Align one or several :class:`Candles` on the union of their timestamps."""
        items = [candles] if isinstance(candles, Candles) else list(candles)
        if not items:
            raise ValueError("bars: no candles")
        symbols = tuple(c.symbol or f"s{i}" for i, c in enumerate(items))
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"bars: duplicate symbols {symbols}")
        frames = {c.timeframe for c in items}
        if len(frames) != 1:
            raise ValueError(f"bars: candles of different timeframes {sorted(frames)}")
        if len(items) == 1:
            ts = items[0].timestamp
            cols = [np.ascontiguousarray(a, dtype=np.float64).reshape(-1, 1)
                    for a in items[0].arrays()[1:]]
            return cls(ts.copy(), *cols, symbols=symbols, timeframe=items[0].timeframe)
        ts = np.unique(np.concatenate([c.timestamp for c in items]))
        arrays = [np.full((ts.size, len(items)), np.nan) for _ in range(5)]
        for j, c in enumerate(items):
            at = np.searchsorted(ts, c.timestamp)
            for a, src in zip(arrays, c.arrays()[1:], strict=True):
                a[at, j] = src
        return cls(ts, *arrays, symbols=symbols, timeframe=items[0].timeframe)


# --------------------------------------------------------------------------- orders


@attrs.frozen(eq=False)
class Orders:
    """Per-bar order arrays, one column per symbol; row t holds what bar t's close decided.

    Each array is ``(bars, symbols)`` or broadcasts to it (one row for every bar, one column
    for every symbol). ``direction``: +1 enter long, -1 enter short, 0 nothing. ``exit``:
    non-zero closes the position at the next open. ``size``: see ``size_type`` of
    :func:`simulate`. ``stop_loss``/``take_profit``: absolute prices, NaN for none.
    ``entry_type``: 0 market, 1 limit, 2 stop, at ``entry_price``. ``confidence``: the
    entry signal's confidence, carried into the trade records for calibration.
    """

    direction: np.ndarray
    exit: np.ndarray
    size: np.ndarray
    stop_loss: np.ndarray
    take_profit: np.ndarray
    entry_price: np.ndarray
    entry_type: np.ndarray
    confidence: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        bars: Bars,
        direction: ArrayLike,
        *,
        exit: ArrayLike | None = None,
        size: ArrayLike = 1.0,
        stop_loss: ArrayLike | None = None,
        take_profit: ArrayLike | None = None,
        entry_price: ArrayLike | None = None,
        entry_type: ArrayLike | str = "market",
        confidence: ArrayLike | None = None,
    ) -> Orders:
        n, s = bars.n_bars, bars.n_symbols
        d = np.asarray(direction)
        if d.dtype != np.int8 and d.size and not np.isin(d, (-1, 0, 1)).all():
            raise ValueError("orders: direction must hold only -1, 0 and +1")
        d = _grid(d, n, s, np.int8, "direction", 0)
        if d.size and (d.min() < -1 or d.max() > 1):
            raise ValueError("orders: direction must hold only -1, 0 and +1")
        if d.shape != (n, s):
            raise ValueError(f"orders: direction must have one value per bar, shape {(n, s)}")
        if isinstance(entry_type, str):
            if entry_type not in ENTRY_TYPES:
                raise ValueError(f"orders: entry_type must be one of {sorted(ENTRY_TYPES)}")
            entry_type = ENTRY_TYPES[entry_type]
        et = _grid(entry_type, n, s, np.int8, "entry_type", 0)
        ep = _grid(entry_price, n, s, np.float64, "entry_price", np.nan)
        need = (d != 0) & (et != 0) if et.any() else None
        if need is not None and np.isnan(np.broadcast_to(ep, (n, s))[need]).any():
            raise ValueError("orders: limit/stop entries need an entry_price")
        return cls(
            direction=d,
            exit=_grid(exit, n, s, np.int8, "exit", 0),
            size=_grid(size, n, s, np.float64, "size", 1.0),
            stop_loss=_grid(stop_loss, n, s, np.float64, "stop_loss", np.nan),
            take_profit=_grid(take_profit, n, s, np.float64, "take_profit", np.nan),
            entry_price=ep,
            entry_type=et,
            confidence=_grid(confidence, n, s, np.float64, "confidence", np.nan),
        )

    @classmethod
    def from_signals(cls, bars: Bars, signals: Sequence[Signal], *,
                     size: ArrayLike = 1.0) -> Orders:
        """Order arrays from strategy signals (``Signal.timestamp`` = the bar's close time).

        BUY → +1, SELL → -1, HOLD ignored; the signal's stop-loss, take-profit and confidence
        are carried over. Two non-HOLD signals on one bar and symbol are an error (combine them
        first, as the runtime's consensus does).
        """
        n, s = bars.n_bars, bars.n_symbols
        closes = bars.close_times()
        column = {name: j for j, name in enumerate(bars.symbols)}
        d = np.zeros((n, s), np.int8)
        sl = np.full((n, s), np.nan)
        tp = np.full((n, s), np.nan)
        conf = np.full((n, s), np.nan)
        for sig in signals:
            if sig.side is SignalSide.HOLD:
                continue
            j = column.get(sig.symbol, 0 if s == 1 else None)
            if j is None:
                raise ValueError(f"orders: signal for unknown symbol {sig.symbol!r}")
            i = int(np.searchsorted(closes, sig.timestamp))
            if i >= n or closes[i] != sig.timestamp or np.isnan(bars.close[i, j]):
                raise ValueError(f"orders: signal {sig.id} does not close a bar of the data")
            if d[i, j]:
                raise ValueError(f"orders: two signals for {sig.symbol} on bar {i}")
            d[i, j] = 1 if sig.side is SignalSide.BUY else -1
            sl[i, j] = np.nan if sig.stop_loss is None else sig.stop_loss
            tp[i, j] = np.nan if sig.take_profit is None else sig.take_profit
            conf[i, j] = sig.confidence
        return cls.from_arrays(bars, d, size=size, stop_loss=sl, take_profit=tp,
                               confidence=conf)

    def full(self, n: int, s: int) -> Orders:
        """A writable copy with every array expanded to ``(n, s)`` (used by the risk hook)."""
        return Orders(**{f.name: np.ascontiguousarray(
            np.broadcast_to(getattr(self, f.name), (n, s))).copy()
            for f in attrs.fields(Orders)})


# --------------------------------------------------------------------------- results


TRADE_FIELDS = ("symbol", "side", "entry_bar", "exit_bar", "entry_price", "exit_price",
                "amount", "entry_fee", "exit_fee", "funding", "pnl", "reason", "confidence",
                "signal_bar")
_INT_FIELDS = {"symbol", "side", "entry_bar", "exit_bar", "reason", "signal_bar"}


@attrs.frozen(eq=False)
class Trades:
    """Trade records as parallel arrays (one element per trade, in exit order).

    ``side`` is +1 long / -1 short; ``amount`` is positive (base units); ``pnl`` is the price
    PnL ``side × amount × (exit_price − entry_price)`` before costs; ``net_pnl`` subtracts both
    fees and short funding. ``reason`` indexes ``REASONS`` (signal, stop, take, end): an END
    trade is a position still open after the last bar, marked at its last close with no exit fee.
    ``signal_bar`` is the bar whose close produced the entry.
    """

    symbols: tuple[str, ...]
    symbol: NDArray[np.int64]
    side: NDArray[np.int64]
    entry_bar: NDArray[np.int64]
    exit_bar: NDArray[np.int64]
    entry_price: NDArray[np.float64]
    exit_price: NDArray[np.float64]
    amount: NDArray[np.float64]
    entry_fee: NDArray[np.float64]
    exit_fee: NDArray[np.float64]
    funding: NDArray[np.float64]
    pnl: NDArray[np.float64]
    reason: NDArray[np.int64]
    confidence: NDArray[np.float64]
    signal_bar: NDArray[np.int64]

    @classmethod
    def from_table(cls, table: np.ndarray, symbols: tuple[str, ...]) -> Trades:
        cols = {}
        for k, name in enumerate(TRADE_FIELDS):
            col = np.ascontiguousarray(table[:, k])
            cols[name] = col.astype(np.int64) if name in _INT_FIELDS else col
        return cls(symbols=symbols, **cols)

    def __len__(self) -> int:
        return int(self.symbol.shape[0])

    @property
    def fees(self) -> NDArray[np.float64]:
        return self.entry_fee + self.exit_fee

    @property
    def net_pnl(self) -> NDArray[np.float64]:
        return self.pnl - self.entry_fee - self.exit_fee - self.funding

    @property
    def return_pct(self) -> NDArray[np.float64]:
        """Net PnL in percent of the entry value."""
        return self.net_pnl / (self.amount * self.entry_price) * 100.0

    def reason_names(self) -> list[str]:
        return [REASONS[r] for r in self.reason]

    def records(self) -> list[dict[str, Any]]:
        """One dict per trade, symbol and reason as names (for printing and JSON)."""
        out = []
        for i in range(len(self)):
            row = {name: getattr(self, name)[i].item() for name in TRADE_FIELDS}
            row["symbol"] = self.symbols[row["symbol"]]
            row["reason"] = REASONS[row["reason"]]
            row["net_pnl"] = float(self.net_pnl[i])
            out.append(row)
        return out


@attrs.frozen(eq=False)
class BacktestResult:
    """What :func:`simulate` returns. Per-bar arrays are valued at each bar's close."""

    timestamp: np.ndarray
    symbols: tuple[str, ...]
    timeframe: str
    initial_cash: float
    equity: NDArray[np.float64]
    cash: NDArray[np.float64]
    exposure: NDArray[np.float64]
    trades: Trades
    fees: float
    funding: float
    skipped_entries: int

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if self.equity.size else self.initial_cash

    def reconciliation_error(self) -> float:
        """Relative gap of ``final equity == initial cash + Σ pnl − Σ fees − Σ funding``."""
        t = self.trades
        expected = (self.initial_cash + float(np.sum(t.pnl)) - float(np.sum(t.fees))
                    - float(np.sum(t.funding)))
        return abs(self.final_equity - expected) / max(abs(expected), 1e-300)

    def metrics(self, **kwargs: Any) -> Any:
        """All metrics of :mod:`genesis_core.backtest.metrics` for this run."""
        from genesis_core.backtest.metrics import compute

        return compute(self, **kwargs)


# --------------------------------------------------------------------------- risk hook


@attrs.frozen
class OrderProposal:
    """An entry the simulator is about to place, as the risk hook sees it.

    Fills happen at the next bar's open, so ``price`` (the signal bar's close) is the best
    estimate of the fill price available at decision time, exactly as in live trading.
    Return it unchanged to approve, ``attrs.evolve(p, size=...)`` (or new stops) to resize,
    or ``None`` to reject. ``size`` is in the run's ``size_type`` unit.
    """

    symbol: str
    symbol_index: int
    bar: int
    timestamp: int
    side: int
    price: float
    size: float
    size_type: str
    stop_loss: float | None
    take_profit: float | None
    entry_type: str
    entry_price: float | None
    confidence: float | None
    reversal: bool


@attrs.frozen
class PortfolioState:
    """The simulated portfolio at the close of the signal bar (exact, not estimated).

    ``positions`` are signed amounts (only open ones), ``entry_prices`` their fill prices,
    ``prices`` the last close of every symbol. Entries decided at the same bar do not see each
    other (they are all evaluated against this state; the cash check at the fill still applies).
    """

    bar: int
    timestamp: int
    cash: float
    equity: float
    peak_equity: float
    positions: Mapping[str, float]
    entry_prices: Mapping[str, float]
    prices: Mapping[str, float]
    #: Trades closed since the previous hook call, as rows of ``TRADE_FIELDS`` (``symbol``
    #: indexes the run's symbols), so a caller can replay every fill to stateful policies.
    closed: np.ndarray = attrs.field(factory=lambda: np.empty((0, len(TRADE_FIELDS))))
    #: Open positions: symbol -> (entry bar, entry fill price, entry fee).
    entries: Mapping[str, tuple[int, float, float]] = attrs.field(factory=dict)
    #: Protective orders resting per open position (stop-loss and/or take-profit).
    protective_orders: int = 0
    #: Equity at the close of the first bar that opened on this UTC day (the runtime's mark).
    day_start_equity: float = float("nan")

    def to_snapshot(self, quote_currency: str = "USD") -> PortfolioSnapshot:
        """The same state as a :class:`~genesis_core.models.PortfolioSnapshot` (Decimal)."""

        def dec(x: float) -> Decimal:
            return Decimal(repr(float(x)))

        positions = {sym: Position(sym, (Lot(dec(a), dec(self.entry_prices[sym])),))
                     for sym, a in self.positions.items()}
        prices = {sym: dec(p) for sym, p in self.prices.items() if np.isfinite(p)}
        return PortfolioSnapshot(timestamp=self.timestamp, cash=dec(self.cash),
                                 equity=dec(self.equity), positions=positions, prices=prices,
                                 peak_equity=dec(self.peak_equity),
                                 quote_currency=quote_currency)


RiskHook = Callable[[OrderProposal, PortfolioState], "OrderProposal | None"]


# --------------------------------------------------------------------------- simulate


def _sigma(bars: Bars, window: int) -> np.ndarray:
    """Per-bar std of log close returns over the ``window`` bars *before* each bar."""
    from genesis_core.indicators import stddev

    out = np.full(bars.close.shape, np.nan)
    for j in range(bars.n_symbols):
        valid = np.flatnonzero(~np.isnan(bars.close[:, j]))
        if valid.size < window + 2:
            continue
        logret = np.diff(np.log(bars.close[valid, j]))
        sd = stddev(logret, window)  # sd[k] covers returns up to valid[k + 1]'s close
        out[valid[2:], j] = sd[:-1]  # known before bar valid[k + 2] opens
    return np.nan_to_num(out, nan=0.0)


def _config(costs: Costs, size_type: str, on_opposite: str, stops_on_entry_bar: bool,
            entry_ttl: int, stop_loss_pct: float | None,
            take_profit_pct: float | None) -> np.ndarray:
    k = _k()
    if size_type not in SIZE_TYPES:
        raise ValueError(f"size_type must be one of {sorted(SIZE_TYPES)}, got {size_type!r}")
    if on_opposite not in ("reverse", "close"):
        raise ValueError(f"on_opposite must be 'reverse' or 'close', got {on_opposite!r}")
    if entry_ttl < 0:
        raise ValueError("entry_ttl must be >= 0 (0: until filled or replaced)")
    for name, pct in (("stop_loss_pct", stop_loss_pct), ("take_profit_pct", take_profit_pct)):
        if pct is not None and not (0 < pct < 100):
            raise ValueError(f"{name} must be in (0, 100), got {pct!r}")
    cfg = np.zeros(k.NCFG)
    cfg[k.C_TAKER] = costs.taker_fee_bps * BPS
    cfg[k.C_MAKER] = costs.maker_fee_bps * BPS
    cfg[k.C_SLIP] = costs.slippage_bps * BPS
    cfg[k.C_VSLIP] = costs.volume_slippage_bps * BPS
    cfg[k.C_IMPACT] = costs.impact_k
    cfg[k.C_MAXSLIP] = costs.max_slippage_bps * BPS
    cfg[k.C_FUNDING] = costs.short_funding_bps * BPS
    cfg[k.C_SIZETYPE] = SIZE_TYPES[size_type]
    cfg[k.C_REVERSE] = on_opposite == "reverse"
    cfg[k.C_ENTRYBAR] = bool(stops_on_entry_bar)
    cfg[k.C_TTL] = entry_ttl
    cfg[k.C_SLFRAC] = (stop_loss_pct or 0.0) / 100
    cfg[k.C_TPFRAC] = (take_profit_pct or 0.0) / 100
    return cfg


def _as_bars(data: Bars | Candles | Sequence[Candles]) -> Bars:
    return data if isinstance(data, Bars) else Bars.from_candles(data)


def simulate(
    data: Bars | Candles | Sequence[Candles],
    orders: Orders | Sequence[Signal] | ArrayLike,
    *,
    initial_cash: float = 10_000.0,
    costs: Costs | None = None,
    size_type: SizeType = "equity",
    on_opposite: OnOpposite = "reverse",
    stops_on_entry_bar: bool = False,
    entry_ttl: int = 0,
    stop_loss_pct: float | None = None,
    take_profit_pct: float | None = None,
    on_signal: RiskHook | None = None,
) -> BacktestResult:
    """Simulate ``orders`` on ``data`` with one cash balance shared by all symbols.

    Args:
        data: :class:`Bars`, one :class:`Candles` or a list of them (aligned by timestamp).
        orders: :class:`Orders`, a list of :class:`Signal`, or a direction array (+1/-1/0).
        initial_cash: starting balance in the quote currency.
        costs: fees, slippage and funding (default: ``Costs()``, the paper executor's fees).
        size_type: ``equity`` — size is a fraction of equity at the fill bar's open, fee
            included (1.0 = all-in); ``amount`` — base units; ``value`` — quote currency, fee
            included. Long entries are capped by the cash not reserved by open shorts.
        on_opposite: ``reverse`` closes and enters the other way at the next open;
            ``close`` only closes (what the live runner does today).
        stops_on_entry_bar: let stops/take-profits trigger on the bar the entry filled on
            (the paper executor places them after the fill, so by default they are live
            from the next bar).
        entry_ttl: bars a limit/stop entry rests before it is cancelled (0: until filled or
            replaced by the symbol's next signal).
        stop_loss_pct / take_profit_pct: stops as a percentage of the signal bar's close,
            used where the orders give no absolute level.
        on_signal: risk hook ``(OrderProposal, PortfolioState) -> OrderProposal | None``,
            called once per signal that would open a position (see docs/backtesting.md).
    """
    k = _k()
    bars = _as_bars(data)
    n, ns = bars.n_bars, bars.n_symbols
    if not isinstance(orders, Orders):
        seq = orders if isinstance(orders, list | tuple) else None
        if seq is not None and (not seq or isinstance(seq[0], Signal)):
            orders = Orders.from_signals(bars, seq)
        else:
            orders = Orders.from_arrays(bars, orders)
    costs = Costs() if costs is None else costs
    if not (np.isfinite(initial_cash) and initial_cash > 0):
        raise ValueError(f"initial_cash must be positive, got {initial_cash!r}")
    cfg = _config(costs, size_type, on_opposite, stops_on_entry_bar, entry_ttl,
                  stop_loss_pct, take_profit_pct)
    sigma = _sigma(bars, costs.impact_window) if costs.impact_k > 0 else np.zeros((1, 1))
    if on_signal is not None:
        orders = orders.full(n, ns)
    cap = int(np.count_nonzero(orders.direction)) + ns + 1
    pos = np.empty((ns, k.NPOS))
    pend = np.empty((ns, k.NPEND))
    acc = np.empty(k.NACC)
    tr = np.empty((cap, k.NTR))
    equity, cash, exposure = np.empty(n), np.empty(n), np.empty(n)
    k.init_state(pos, pend, acc, float(initial_cash))
    args = (bars.open, bars.high, bars.low, bars.close, bars.volume, sigma, orders.direction,
            orders.exit, orders.size, orders.stop_loss, orders.take_profit, orders.entry_price,
            orders.entry_type, orders.confidence, cfg, pos, pend, acc, tr, equity, cash,
            exposure)
    if n:
        if on_signal is None:
            k.run_nb(*args, 0, False, False)
        else:
            stamps = bars.close_times() if bars.timeframe else bars.timestamp
            t, resume, seen = 0, False, [0]
            while (t := k.run_nb(*args, t, resume, True)) < n:
                _ask_hook(on_signal, bars, stamps, orders, t, pos, acc, equity, size_type,
                          on_opposite == "reverse", tr, seen)
                resume = True
    else:
        equity = cash = exposure = np.empty(0)
    count = int(acc[k.A_NTR])
    if acc[k.A_OVERFLOW] or count > cap:  # cannot happen: every trade consumes a signal
        raise RuntimeError("backtest: trade buffer overflow")
    return BacktestResult(
        timestamp=bars.timestamp, symbols=bars.symbols, timeframe=bars.timeframe,
        initial_cash=float(initial_cash), equity=equity, cash=cash, exposure=exposure,
        trades=Trades.from_table(tr[:count], bars.symbols), fees=float(acc[k.A_FEES]),
        funding=float(acc[k.A_FUND]), skipped_entries=int(acc[k.A_SKIPPED]))


def _entry_follows(d: int, x: int, amt: float, reverse: bool) -> bool:
    """Python twin of ``_sim.entry_follows``: does signal d (exit flag x) open a position?"""
    if d == 0:
        return False
    current = 0 if x or amt == 0 else (1 if amt > 0 else -1)
    return current == 0 or (current != d and reverse)


def _ask_hook(hook: RiskHook, bars: Bars, stamps: np.ndarray, orders: Orders, t: int,
              pos: np.ndarray, acc: np.ndarray, equity: np.ndarray, size_type: str,
              reverse: bool, tr: np.ndarray, seen: list[int]) -> None:
    """Run the hook for every signal of bar t that would open a position; write back."""
    k = _k()
    names = bars.symbols
    open_ = [j for j in range(len(names)) if pos[j, k.P_AMT]]
    count = int(acc[k.A_NTR])
    closed, seen[0] = tr[seen[0]:count].copy(), count
    state = PortfolioState(
        bar=t,
        timestamp=int(stamps[t]),
        cash=float(acc[k.A_CASH]), equity=float(equity[t]), peak_equity=float(acc[k.A_PEAK]),
        positions={names[j]: float(pos[j, k.P_AMT]) for j in open_},
        entry_prices={names[j]: float(pos[j, k.P_PRICE]) for j in open_},
        prices={names[j]: float(pos[j, k.P_LAST]) for j in range(len(names))},
        closed=closed,
        entries={names[j]: (int(pos[j, k.P_BAR]), float(pos[j, k.P_PRICE]),
                            float(pos[j, k.P_FEE])) for j in open_},
        protective_orders=sum(int(not np.isnan(pos[j, f])) for j in open_
                              for f in (k.P_SL, k.P_TP)),
        day_start_equity=float(equity[np.searchsorted(
            bars.timestamp, bars.timestamp[t] // DAY_MS * DAY_MS)]))
    o = orders
    for j in range(len(names)):
        d = int(o.direction[t, j])
        amt = float(pos[j, k.P_AMT])
        if np.isnan(bars.close[t, j]) or not _entry_follows(d, int(o.exit[t, j]), amt,
                                                            reverse):
            continue

        def opt(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        proposal = OrderProposal(
            symbol=names[j], symbol_index=j, bar=t, timestamp=state.timestamp, side=d,
            price=float(bars.close[t, j]), size=float(o.size[t, j]), size_type=size_type,
            stop_loss=opt(o.stop_loss[t, j]), take_profit=opt(o.take_profit[t, j]),
            entry_type=ENTRY_TYPE_NAMES[int(o.entry_type[t, j])],
            entry_price=opt(o.entry_price[t, j]),
            confidence=opt(o.confidence[t, j]), reversal=amt != 0 and (amt > 0) != (d > 0))
        decided = hook(proposal, state)
        if decided is None or not decided.size > 0:
            o.direction[t, j] = 0
            if proposal.reversal:
                o.exit[t, j] = 1  # the closing half of a reversal is not the hook's to veto
            continue
        o.size[t, j] = decided.size
        o.stop_loss[t, j] = np.nan if decided.stop_loss is None else decided.stop_loss
        o.take_profit[t, j] = np.nan if decided.take_profit is None else decided.take_profit
        o.entry_type[t, j] = ENTRY_TYPES[decided.entry_type]
        o.entry_price[t, j] = np.nan if decided.entry_price is None else decided.entry_price


# --------------------------------------------------------------------------- grid


@attrs.frozen(eq=False)
class GridResult:
    """Summary figures per combination (one element each), computed inside the kernel.

    ``sharpe`` is annualised with ``periods`` bars per year from the per-bar returns;
    ``max_drawdown`` is a fraction of the peak; trade figures use net PnL.
    """

    final_equity: NDArray[np.float64]
    trades: NDArray[np.int64]
    win_rate: NDArray[np.float64]
    profit_factor: NDArray[np.float64]
    max_drawdown: NDArray[np.float64]
    max_drawdown_duration: NDArray[np.int64]
    sharpe: NDArray[np.float64]
    fees: NDArray[np.float64]
    initial_cash: float

    @property
    def total_return(self) -> NDArray[np.float64]:
        return self.final_equity / self.initial_cash - 1.0

    def best(self, by: str = "final_equity") -> int:
        """Index of the best combination by a field (NaN ranks last)."""
        values = np.asarray(getattr(self, by), dtype=np.float64)
        return int(np.nanargmax(values)) if np.isfinite(values).any() else 0


def grid(
    data: Bars | Candles,
    directions: ArrayLike,
    *,
    exit: ArrayLike | None = None,
    initial_cash: float = 10_000.0,
    costs: Costs | None = None,
    size: float = 1.0,
    size_type: SizeType = "equity",
    on_opposite: OnOpposite = "reverse",
    stops_on_entry_bar: bool = False,
    stop_loss_pct: ArrayLike | None = None,
    take_profit_pct: ArrayLike | None = None,
    periods: float | None = None,
) -> GridResult:
    """Run many signal sets over one symbol in parallel (numba ``prange``, all cores).

    ``directions`` is ``(combinations, bars)`` int8 (+1/-1/0 per bar, as in :class:`Orders`);
    ``stop_loss_pct``/``take_profit_pct`` may be one value or one per combination. Each
    combination runs the same kernel as :func:`simulate` (identical fills and costs) but keeps
    only summary figures, so memory stays at the size of ``directions``.
    """
    from genesis_core.backtest.metrics import periods_per_year

    k = _k()
    bars = _as_bars(data)
    if bars.n_symbols != 1:
        raise ValueError("grid: one symbol only")
    n = bars.n_bars
    dirs = np.ascontiguousarray(directions, dtype=np.int8)
    if dirs.ndim != 2 or dirs.shape[1] != n:
        raise ValueError(f"grid: directions must have shape (combinations, {n})")
    ncomb = dirs.shape[0]
    costs = Costs() if costs is None else costs
    sl = np.broadcast_to(np.asarray(0.0 if stop_loss_pct is None else stop_loss_pct,
                                    dtype=np.float64), (ncomb,))
    tp = np.broadcast_to(np.asarray(0.0 if take_profit_pct is None else take_profit_pct,
                                    dtype=np.float64), (ncomb,))
    cfgs = np.empty((ncomb, k.NCFG))
    for c in range(ncomb):
        cfgs[c] = _config(costs, size_type, on_opposite, stops_on_entry_bar, 0,
                          float(sl[c]) or None, float(tp[c]) or None)
    sigma = _sigma(bars, costs.impact_window) if costs.impact_k > 0 else np.zeros((1, 1))
    one = Orders.from_arrays(bars, np.zeros(n, np.int8), exit=exit, size=size)
    stats = np.empty((ncomb, k.NACC + 1))
    if ncomb:
        k.grid_nb(bars.open, bars.high, bars.low, bars.close, bars.volume, sigma, dirs,
                  one.exit, one.size, one.stop_loss, one.take_profit, one.entry_price,
                  one.entry_type, one.confidence, cfgs, float(initial_cash), stats)
    if periods is None:
        periods = periods_per_year(bars.timeframe) if bars.timeframe else 1.0
    nret = np.maximum(stats[:, k.A_NRET], 1.0)
    mean = stats[:, k.A_SUMR] / nret
    var = (stats[:, k.A_SUMR2] - nret * mean * mean) / np.maximum(nret - 1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / np.sqrt(np.maximum(var, 0.0)) * np.sqrt(periods)
        ntr = stats[:, k.A_NTR]
        win_rate = stats[:, k.A_WINS] / ntr
        profit_factor = stats[:, k.A_GWIN] / stats[:, k.A_GLOSS]
    return GridResult(
        final_equity=stats[:, k.NACC].copy(), trades=ntr.astype(np.int64),
        win_rate=win_rate, profit_factor=profit_factor,
        max_drawdown=stats[:, k.A_MAXDD].copy(),
        max_drawdown_duration=stats[:, k.A_MAXDDLEN].astype(np.int64), sharpe=sharpe,
        fees=stats[:, k.A_FEES].copy(), initial_cash=float(initial_cash))


def ema_cross_directions(close: ArrayLike, fast: Sequence[int], slow: Sequence[int]
                         ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Directions for every (fast, slow) pair with fast < slow: +1/-1 on the bar where
    ``sign(EMA fast − EMA slow)`` turns positive/negative (our TA-Lib-seeded EMA).

    Returns the ``(combinations, bars)`` int8 matrix for :func:`grid` and the pairs.
    """
    from genesis_core.indicators import ema

    k = _k()
    x = np.ascontiguousarray(close, dtype=np.float64)
    pairs = [(f, s) for f in fast for s in slow if f < s]
    periods = sorted({p for pair in pairs for p in pair})
    row_of = {p: i for i, p in enumerate(periods)}
    table = np.empty((len(periods), x.size))
    for p in periods:
        ema(x, p, out=table[row_of[p]])
    fi = np.array([row_of[f] for f, _ in pairs], dtype=np.int64)
    si = np.array([row_of[s] for _, s in pairs], dtype=np.int64)
    out = np.empty((len(pairs), x.size), np.int8)
    if pairs:
        k.cross_grid_nb(table, table, fi, si, np.zeros(len(pairs), np.int64), out)
    return out, pairs

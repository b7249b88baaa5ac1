"""Backtesting a bot file: the live bot's strategies, consensus, intents and risk chain, replayed
over history by the compiled simulator.

The pieces are the runtime's own: ``runtime.build`` makes the components, strategies run in
batch (bar-by-bar evaluation of a causal strategy equals its batch evaluation), signals pass
through the same :class:`~genesis_core.consensus.Consensus` in the order the live runner would
see them, and every entry goes through ``runtime.risk.evaluate`` with a portfolio snapshot
kept by the runtime's :class:`~genesis_core.runtime.ledger.Ledger`, fed with the simulator's
fills. Only the per-bar loop (fills, stops, marks) is compiled.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import numpy as np

from genesis_core.backtest.metrics import TradeStats, trade_stats
from genesis_core.backtest.simulator import (
    TRADE_FIELDS,
    BacktestResult,
    Bars,
    Costs,
    OrderProposal,
    Orders,
    PortfolioState,
    simulate,
)
from genesis_core.config.schema import BotConfig
from genesis_core.contracts import RiskPolicy
from genesis_core.errors import ConfigError
from genesis_core.indicators import atr
from genesis_core.models import (
    Candles,
    Fill,
    Liquidity,
    OrderSide,
    PortfolioSnapshot,
    RiskAction,
    Signal,
    SignalSide,
    timeframe_ms,
)
from genesis_core.plugins import Plugins
from genesis_core.runtime.build import Components, build
from genesis_core.runtime.intents import NO_SHORTS, atr_features, entry_intent
from genesis_core.runtime.ledger import RETURNS_KEPT, Ledger
from genesis_core.runtime.risk import evaluate


FAR_FUTURE = 2**62
_COL = {name: i for i, name in enumerate(TRADE_FIELDS)}


@attrs.frozen
class Decision:
    """What the risk chain decided for one entry signal."""

    signal: Signal
    action: RiskAction
    reason: str
    amount: Decimal | None = None


@attrs.frozen(eq=False)
class BotBacktest:
    """A backtested bot: the simulation and everything that led to each order."""

    config: BotConfig
    result: BacktestResult
    bars: Bars
    candles: Mapping[tuple[str, str], Candles]
    signals: list[Signal]
    decisions: list[Decision]
    costs: Costs
    #: (symbol, signal close time) -> the vote that led the consensus (``strategy@tf``).
    leads: Mapping[tuple[str, int], str] = attrs.field(factory=dict)

    def per_strategy(self) -> dict[str, TradeStats]:
        """Trade statistics per leading strategy vote (who the consensus followed)."""
        t = self.result.trades
        closes = self.bars.close_times()
        labels = np.array([self.leads.get((self.bars.symbols[int(s)], int(closes[b])), "?")
                           for s, b in zip(t.symbol, t.signal_bar, strict=True)], dtype=object)
        net, held = t.net_pnl, t.exit_bar - t.entry_bar
        return {str(label): trade_stats(net[labels == label], fees=t.fees[labels == label],
                                        bars_held=held[labels == label])
                for label in sorted(set(labels.tolist()))}


# --------------------------------------------------------------------------- history


def load_history(components: Components, start_ms: int = 0,
                 end_ms: int = FAR_FUTURE, *,
                 cache: Path | None = None) -> dict[tuple[str, str], Candles]:
    """Candles of every configured market: from a ``genesis data`` cache when ``cache`` is
    given, else through the bot's data source ``history()``."""
    if cache is not None:
        return _from_cache(components, cache, start_ms, end_ms)
    source = components.data_source
    if not source.supports_history:
        raise ConfigError([f"data_source: plugin {source.name!r} provides no history to "
                           "backtest on (use `replay` with CSV files, or `genesis data "
                           "download` and the cache)"])

    async def fetch() -> dict[tuple[str, str], Candles]:
        try:
            return {(s.symbol, s.timeframe): await source.history(s.symbol, s.timeframe,
                                                                  start_ms, end_ms)
                    for s in components.specs}
        finally:
            await source.aclose()

    candles = anyio.run(fetch)
    for (symbol, timeframe), c in candles.items():
        if not len(c):
            raise ConfigError([f"backtest: no {symbol} {timeframe} candles in the requested "
                               "period"])
    return candles


def _from_cache(components: Components, path: Path, start_ms: int,
                end_ms: int) -> dict[tuple[str, str], Candles]:
    from genesis_core.history import CandleCache

    if not path.exists():
        raise ConfigError([f"backtest.candles_db: {path} does not exist (fill it with "
                           "`genesis data download`)"])
    with CandleCache.open(path) as cache:
        candles = {(s.symbol, s.timeframe): cache.load(s.symbol, s.timeframe, start_ms, end_ms)
                   for s in components.specs}
    for (symbol, timeframe), c in candles.items():
        if not len(c):
            raise ConfigError([f"backtest.candles_db: no {symbol} {timeframe} candles in {path} "
                               "for the requested period"])
    return {k: attrs.evolve(c, symbol=k[0], timeframe=k[1]) for k, c in candles.items()}


def execution_bars(components: Components,
                   candles: Mapping[tuple[str, str], Candles]) -> Bars:
    """Fills happen on each symbol's smallest timeframe, which must be the same for all."""
    finest: dict[str, str] = {}
    for spec in components.specs:
        best = finest.get(spec.symbol)
        if best is None or timeframe_ms(spec.timeframe) < timeframe_ms(best):
            finest[spec.symbol] = spec.timeframe
    frames = set(finest.values())
    if len(frames) != 1:
        raise ConfigError([f"markets: a backtest needs one smallest timeframe shared by all "
                           f"symbols, got {dict(sorted(finest.items()))}"])
    return Bars.from_candles([candles[(symbol, tf)] for symbol, tf in finest.items()])


# --------------------------------------------------------------------------- signals


def combined_signals(components: Components, candles: Mapping[tuple[str, str], Candles]
                     ) -> tuple[list[Signal], list[Signal], dict[tuple[str, int], str]]:
    """Every strategy signal, the consensus signals the runner would act on, and for each of
    those the leading vote (``strategy@timeframe``) by (symbol, close time).

    Signals reach the consensus in the live runner's order: by bar close time, then market
    (config order, as the replay feed merges them), then strategy (config order). Only the
    first non-HOLD consensus signal per symbol and bar is acted on, as in the runner.
    """
    order = {(s.symbol, s.timeframe): n for n, s in enumerate(components.specs)}
    heap: list[tuple[int, int, int, int, Signal]] = []
    for k, slot in enumerate(components.strategies):
        for spec in slot.markets:
            for seq, signal in enumerate(slot.strategy.generate(candles[(spec.symbol,
                                                                         spec.timeframe)])):
                tagged = attrs.evolve(signal, strategy=slot.label)
                heap.append((signal.timestamp, order[(spec.symbol, spec.timeframe)], k, seq,
                             tagged))
    heapq.heapify(heap)
    raw: list[Signal] = []
    acted: list[Signal] = []
    leads: dict[tuple[str, int], str] = {}
    decided: set[tuple[str, int]] = set()
    while heap:
        signal = heapq.heappop(heap)[-1]
        raw.append(signal)
        combined = components.consensus.update(signal)
        if combined is None or combined.side is SignalSide.HOLD:
            continue
        key = (combined.symbol, combined.timestamp)
        if key not in decided:
            decided.add(key)
            acted.append(combined)
            lead = components.consensus.leads[combined.symbol]
            leads[key] = f"{lead.strategy}@{lead.timeframe}"
    return raw, acted, leads


def _atr_at_close(candles: Mapping[tuple[str, str], Candles]
                  ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per (symbol, timeframe): bar close times, ATR(14) and closes (the runner's features)."""
    return {(symbol, tf): (c.timestamp + timeframe_ms(tf), atr(c.high, c.low, c.close, 14),
                           c.close)
            for (symbol, tf), c in candles.items()}


def _features_at(series: tuple[np.ndarray, np.ndarray, np.ndarray],
                 close_ms: int) -> dict[str, float]:
    closes, atrs, prices = series
    i = int(np.searchsorted(closes, close_ms))
    if i == len(closes) or closes[i] != close_ms:
        return {}
    return atr_features(float(atrs[i]), float(prices[i]))


# --------------------------------------------------------------------------- risk


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


class RiskChain:
    """The simulator's ``on_signal`` hook: the bot's risk policies, exactly as live.

    Before each decision it replays the fills the simulator made since the previous one into a
    runtime :class:`Ledger` (and each policy's ``on_fill``), so stateful policies (cooldowns,
    kill-switch streaks, Kelly statistics) see the same history as in paper and live trading.
    """

    def __init__(self, config: BotConfig, components: Components, bars: Bars,
                 signals: list[Signal], candles: Mapping[tuple[str, str], Candles],
                 cash: Decimal) -> None:
        self.config = config
        self.c = components
        self.bars = bars
        self.quote = config.trading.quote_currency
        self.ledger = Ledger(cash, self.quote)
        self.signals = {(s.symbol, s.timestamp): s for s in signals}
        self.features = _atr_at_close(candles)
        self.decisions: list[Decision] = []
        self._entered: dict[str, int] = {}
        self._synced_bar = -1
        self._pending: dict[str, Decimal] = {}  # entries approved on this bar, not yet filled
        # Only policies that override on_fill need a snapshot after every fill.
        self._observers = [p for p in components.risk
                           if type(p).on_fill is not RiskPolicy.on_fill]
        self._fills = 0

    def __call__(self, proposal: OrderProposal, state: PortfolioState) -> OrderProposal | None:
        if state.bar != self._synced_bar:  # one state per bar, however many symbols signal
            self._synced_bar = state.bar
            self._pending.clear()  # last bar's entries have filled (or were skipped) by now
            self._sync(state)
        signal = self.signals[(proposal.symbol, proposal.timestamp)]
        if not self.config.trading.auto_trading:
            return self._refuse(signal, "runtime: auto-trading paused")
        if proposal.side < 0 and not self.c.executor.can_short():
            return self._refuse(signal, f"runtime: {NO_SHORTS}")
        intent = entry_intent(signal, self.c.markets[signal.symbol], _features_at(
            self.features[(signal.symbol, signal.timeframe)], signal.timestamp))
        snapshot = attrs.evolve(self._snapshot(state), pending_entries=dict(self._pending))
        verdict = evaluate(self.c.risk, intent, snapshot)
        if verdict.action is RiskAction.CONFIRM:
            return self._refuse(signal, f"{verdict.reason} (nobody confirms in a backtest)",
                                RiskAction.CONFIRM)
        if verdict.action is RiskAction.REJECT:
            return self._refuse(signal, verdict.reason)
        market = self.c.markets[signal.symbol]
        amount = market.round_amount(verdict.intent.amount)
        problem = market.check_amount(amount)
        if problem is not None:
            return self._refuse(signal, f"runtime: {problem}")
        self.decisions.append(Decision(signal, RiskAction.APPROVE, verdict.reason, amount))
        self._pending[signal.symbol] = amount * (1 if proposal.side > 0 else -1)
        final = verdict.intent
        return attrs.evolve(
            proposal, size=float(amount),
            stop_loss=None if final.stop_loss is None else float(final.stop_loss),
            take_profit=None if final.take_profit is None else float(final.take_profit))

    def _refuse(self, signal: Signal, reason: str,
                action: RiskAction = RiskAction.REJECT) -> None:
        self.decisions.append(Decision(signal, action, reason))

    # -- the portfolio the policies see ----------------------------------------------------
    def _snapshot(self, state: PortfolioState) -> PortfolioSnapshot:
        b, t = self.bars, state.bar
        for j, symbol in enumerate(b.symbols):
            if not np.isnan(b.close[t, j]) or symbol not in self.ledger.marks:
                price = state.prices.get(symbol, np.nan)
                if np.isfinite(price):
                    self.ledger.marks[symbol] = _dec(price)
        return PortfolioSnapshot(
            timestamp=state.timestamp, cash=self.ledger.cash, equity=self.ledger.equity(),
            positions=dict(self.ledger.positions), prices=dict(self.ledger.marks),
            open_orders=state.protective_orders, day_start_equity=_dec(state.day_start_equity),
            peak_equity=max(self.ledger.initial_cash, _dec(state.peak_equity)),
            quote_currency=self.quote, returns=_Returns(b, t))

    # -- fills since the previous decision ---------------------------------------------------
    def _sync(self, state: PortfolioState) -> None:
        fills: list[tuple[int, int, Fill]] = []
        for row in state.closed:
            symbol = self.bars.symbols[int(row[_COL["symbol"]])]
            side, amount = int(row[_COL["side"]]), float(row[_COL["amount"]])
            entry_bar = int(row[_COL["entry_bar"]])
            if self._entered.pop(symbol, None) != entry_bar:
                fills.append(self._fill(symbol, side, entry_bar, row[_COL["entry_price"]],
                                        amount, row[_COL["entry_fee"]], "entry"))
            if row[_COL["reason"]] != 3:  # an END trade was never sold
                fills.append(self._fill(symbol, -side, int(row[_COL["exit_bar"]]),
                                        row[_COL["exit_price"]], amount,
                                        row[_COL["exit_fee"]], "exit"))
        for symbol, (bar, price, fee) in state.entries.items():
            if self._entered.get(symbol) != bar:
                self._entered[symbol] = bar
                amount = state.positions[symbol]
                fills.append(self._fill(symbol, 1 if amount > 0 else -1, bar, price,
                                        abs(amount), fee, "entry"))
        for _, _, fill in sorted(fills, key=lambda f: (f[0], f[1])):
            self.ledger.apply(fill)
            if self._observers:
                snapshot = self.ledger.snapshot(fill.timestamp, 0)
                for policy in self._observers:
                    policy.on_fill(fill, snapshot)

    def _fill(self, symbol: str, side: int, bar: int, price: float, amount: float, fee: float,
              leg: str) -> tuple[int, int, Fill]:
        self._fills += 1
        at = int(self.bars.timestamp[bar])
        fill = Fill(f"bt-fill-{self._fills}", f"bt-{symbol}-{bar}-{leg}", symbol,
                    OrderSide.BUY if side > 0 else OrderSide.SELL, _dec(amount), _dec(price),
                    _dec(fee), self.quote, at, Liquidity.TAKER)
        return at, self._fills, fill


class _Returns(Mapping[str, tuple[float, ...]]):
    """Each symbol's recent close-to-close returns, computed only if a policy asks (the
    correlation guard does; most chains never look)."""

    def __init__(self, bars: Bars, t: int) -> None:
        self._bars, self._t = bars, t

    def __getitem__(self, symbol: str) -> tuple[float, ...]:
        if symbol not in self._bars.symbols:
            raise KeyError(symbol)
        j = self._bars.symbols.index(symbol)
        closes = self._bars.close[max(0, self._t - RETURNS_KEPT):self._t + 1, j]
        closes = closes[~np.isnan(closes)].tolist()
        return tuple(y / x - 1 for x, y in itertools.pairwise(closes))

    def __iter__(self) -> Iterator[str]:
        return iter(self._bars.symbols)

    def __len__(self) -> int:
        return len(self._bars.symbols)


# --------------------------------------------------------------------------- the run


def costs_of(config: BotConfig) -> tuple[Costs, float]:
    """Fees and starting cash: ``backtest.costs``/``initial_cash`` if set, else the paper
    executor's own (so paper and backtest charge the same), else Bitfinex's base tier."""
    params = config.executor.params
    paper = config.executor.plugin == "paper"
    cash = config.backtest.initial_cash
    if cash is None:
        cash = getattr(params, "initial_cash", Decimal(10_000)) if paper else Decimal(10_000)
    if config.backtest.costs is not None:
        return Costs(**attrs.asdict(config.backtest.costs)), float(cash)
    return (Costs.from_paper(params) if paper else Costs()), float(cash)


def backtest_bot(config: BotConfig, plugins: Plugins, *,
                 candles: Mapping[tuple[str, str], Candles] | None = None,
                 start_ms: int = 0, end_ms: int = FAR_FUTURE,
                 trade_from_ms: int = 0) -> BotBacktest:
    """Backtest ``config`` on its data source's history (or on ``candles``).

    Bars before ``trade_from_ms`` only warm the strategies up: no entry is taken on them.
    """
    components = build(config, plugins)
    if candles is None:
        candles = load_history(components, start_ms, end_ms)
    missing = [f"{s.symbol} {s.timeframe}" for s in components.specs
               if (s.symbol, s.timeframe) not in candles]
    if missing:
        raise ConfigError([f"backtest: no candles for {', '.join(missing)}"])
    bars = execution_bars(components, candles)
    _, acted, leads = combined_signals(components, candles)
    acted = [s for s in acted if s.timestamp >= trade_from_ms]
    costs, cash = costs_of(config)
    chain = RiskChain(config, components, bars, acted, candles, _dec(cash))
    orders = Orders.from_signals(bars, acted, size=0.0)
    result = simulate(bars, orders, initial_cash=cash, costs=costs, size_type="amount",
                      on_opposite="close", on_signal=chain)
    return BotBacktest(config, result, bars, candles, acted, chain.decisions, costs, leads)


# --------------------------------------------------------------------------- research glue


def apply_params(config: BotConfig, params: Mapping[str, Any]) -> BotConfig:
    """``config`` with dotted overrides applied: ``strategies.<label>.<param>`` and
    ``risk.<label>.<param>``, labels as in the runtime (plugin name, then ``name_2`` ...).

    A component's overrides are applied together, so rules that tie its parameters to each
    other (``slow`` above ``fast``) judge the candidate, not a half-changed one."""
    strategies, risk = list(config.strategies), list(config.risk)
    changes: dict[tuple[str, int], dict[str, Any]] = {}
    for dotted, value in params.items():
        problem = param_path_problem(config, dotted)
        if problem is not None:
            raise ConfigError([f"backtest.optimize.params.{dotted}: {problem}"])
        section, label, field = dotted.split(".")
        refs = strategies if section == "strategies" else risk
        index = _labels(refs)[label]
        ref = refs[index]
        try:
            typed = _like(getattr(ref.params, field), value)
        except (TypeError, ValueError) as exc:
            raise ConfigError([f"backtest.optimize.params.{dotted}: {value!r}: {exc}"]) from None
        changes.setdefault((section, index), {})[field] = typed
    for (section, index), fields in changes.items():
        refs = strategies if section == "strategies" else risk
        try:
            new = attrs.evolve(refs[index].params, **fields)
        except (TypeError, ValueError) as exc:
            label = next(k for k, i in _labels(refs).items() if i == index)
            shown = ", ".join(f"{k}={v!r}" for k, v in fields.items())
            raise ConfigError([f"backtest.optimize.params.{section}.{label}: {shown}: {exc}"]
                              ) from None
        refs[index] = attrs.evolve(refs[index], params=new)
    return attrs.evolve(config, strategies=strategies, risk=risk)


def param_path_problem(config: BotConfig, dotted: str) -> str | None:
    """Why ``dotted`` names no parameter of ``config``, or ``None`` when it does."""
    parts = dotted.split(".")
    if len(parts) != 3 or parts[0] not in ("strategies", "risk"):
        return "expected strategies.<label>.<param> or risk.<label>.<param>"
    section, label, field = parts
    refs = list(config.strategies if section == "strategies" else config.risk)
    index = _labels(refs).get(label)
    if index is None:
        kind = "risk policy" if section == "risk" else "strategy"
        return f"no {kind} labelled {label!r} (have {', '.join(_labels(refs)) or 'none'})"
    if not hasattr(refs[index].params, field):
        return f"{refs[index].plugin} has no parameter {field!r}"
    return None


def _labels(refs: list[Any]) -> dict[str, int]:
    seen: dict[str, int] = {}
    labels = {}
    for i, ref in enumerate(refs):
        seen[ref.plugin] = seen.get(ref.plugin, 0) + 1
        labels[ref.plugin if seen[ref.plugin] == 1 else f"{ref.plugin}_{seen[ref.plugin]}"] = i
    return labels


def _like(old: Any, value: Any) -> Any:
    """``value`` in the type of the parameter it replaces (YAML ranges give ints/floats)."""
    if isinstance(old, bool) or old is None:
        return value
    if isinstance(old, int):
        if float(value) != int(float(value)):
            raise ValueError("expected a whole number")
        return int(float(value))
    if isinstance(old, Decimal):
        return Decimal(str(value))
    if isinstance(old, float):
        return float(value)
    return value


def slice_candles(candles: Mapping[tuple[str, str], Candles], start_ms: int,
                  end_ms: int) -> dict[tuple[str, str], Candles]:
    """Bars opening in ``[start_ms, end_ms)`` of every series."""
    out = {}
    for key, c in candles.items():
        lo, hi = np.searchsorted(c.timestamp, [start_ms, end_ms])
        out[key] = c[int(lo):int(hi)]
    return out


def data_fingerprint(candles: Mapping[tuple[str, str], Candles]) -> str:
    """A digest of every bar, so a cached result is only reused on identical data."""
    digest = hashlib.sha256()
    for (symbol, timeframe), c in sorted(candles.items()):
        digest.update(f"{symbol}/{timeframe}/{len(c)}".encode())
        for array in c.arrays():
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def cache_key(config: BotConfig, plugins: Plugins,
              candles: Mapping[tuple[str, str], Candles]) -> str:
    """What decides a backtest's outcome: config, data, and the code versions that ran it."""
    from genesis_core.config.converter import make_converter

    relevant = make_converter(Path(".")).unstructure(config)
    for noise in ("notifiers", "storage", "metrics", "alerts"):
        relevant.pop(noise, None)
    relevant["backtest"] = {k: relevant["backtest"].get(k) for k in ("start", "end",
                                                                      "initial_cash", "costs")}
    versions = sorted((i.origin.distribution, i.origin.version) for i in plugins.info())
    blob = json.dumps([relevant, versions, data_fingerprint(candles)], sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@attrs.frozen
class BotEvaluator:
    """A picklable ``params -> metrics`` function for parameter searches in worker processes.

    Each process loads the plugins, the bot file and the candles once, then backtests every
    parameter set it is given on bars ``[start, end)`` of the execution timeframe.
    """

    config_path: str
    plugins_dir: str | None = None
    disabled: tuple[str, ...] = ()
    start_ms: int = 0
    end_ms: int = FAR_FUTURE
    warmup_bars: int = 200

    def __call__(self, params: Mapping[str, Any], start: int | None = None,
                 end: int | None = None) -> dict[str, float]:
        config, plugins, candles, bars = _worker_state(self)
        config = apply_params(config, params)
        if start is not None or end is not None:
            lo = int(bars.timestamp[start or 0])
            hi = int(bars.timestamp[end]) if end is not None and end < bars.n_bars else (
                FAR_FUTURE)
            warm = int(bars.timestamp[max(0, (start or 0) - self.warmup_bars)])
            run = backtest_bot(config, plugins, candles=slice_candles(candles, warm, hi),
                               trade_from_ms=lo)
        else:
            run = backtest_bot(config, plugins, candles=candles)
        return summary_figures(run.result)

    def n_bars(self) -> int:
        """Execution bars in the evaluated period (what walk-forward windows index)."""
        return int(_worker_state(self)[3].n_bars)


_WORKER: dict[BotEvaluator, tuple[Any, ...]] = {}


def _worker_state(ev: BotEvaluator) -> tuple[Any, ...]:
    if ev not in _WORKER:
        from genesis_core.config import load_config
        from genesis_core.plugins import load_plugins

        plugins = load_plugins(plugins_dir=ev.plugins_dir, disabled=ev.disabled)
        config = load_config(ev.config_path, plugins)
        components = build(config, plugins)
        candles = load_history(components, ev.start_ms, ev.end_ms,
                               cache=candles_db(config, ev.config_path))
        _WORKER[ev] = (config, plugins, candles, execution_bars(components, candles))
    return _WORKER[ev]


def summary_figures(result: BacktestResult) -> dict[str, float]:
    """The flat metric figures a search ranks by (every EquityStats and TradeStats field)."""
    m = result.metrics()
    figures = {**attrs.asdict(m.equity), **attrs.asdict(m.trades)}
    return {k: float(v) for k, v in figures.items() if isinstance(v, int | float)}


def candles_db(config: BotConfig, config_path: str | Path) -> Path | None:
    """``backtest.candles_db`` resolved beside the bot file, or ``None``."""
    path = config.backtest.candles_db
    if path is None or path.is_absolute():
        return path
    return Path(config_path).resolve().parent / path

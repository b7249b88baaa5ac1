"""The bot runner: data source → executor fills → strategies → consensus → risk → order path.

Everything happens in one event loop, one market event at a time, in this order:

1. the executor sees the event first (a simulated executor fills resting orders against it);
2. the runner settles: every order update and fill the event caused is applied to the books;
3. the bar is appended to its history and each strategy on that market evaluates it (bar-by-bar
   evaluation of a causal strategy equals its batch evaluation: see genesis_core.testing);
4. new signals go through the consensus, the risk chain and the order path.

Notifiers run in their own tasks behind bounded queues, so a slow one never delays trading.

State goes to SQLite in whole units (a market event, an executor report), so a killed bot's
database is always at a consistency point; ``genesis run`` on such a database resumes the run
(see :mod:`genesis_core.runtime.recovery` and docs/runtime.md#crash-recovery).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TextIO

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs

from genesis_core.alerts import AlertRouter
from genesis_core.config.schema import BotConfig
from genesis_core.contracts import CandleClosed, MarketEvent, RiskPolicy
from genesis_core.errors import OrderError
from genesis_core.health import ConnectionWatch, PerformanceWatch, Raised
from genesis_core.indicators.streaming import ATRStream
from genesis_core.metrics import Metrics
from genesis_core.models import (
    Alert,
    Balance,
    Candle,
    Candles,
    ConnectionStatus,
    Fill,
    Health,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    RiskAction,
    Severity,
    Signal,
    SignalSide,
    TradeIntent,
    format_ts,
    timeframe_ms,
)
from genesis_core.models.signals import resolve_id
from genesis_core.plugins import Plugins
from genesis_core.runtime import recovery
from genesis_core.runtime.buffers import CandleBuffer
from genesis_core.runtime.build import Components, build
from genesis_core.runtime.control import RunnerControl
from genesis_core.runtime.intents import NO_SHORTS, atr_features, entry_intent, side_of
from genesis_core.runtime.ledger import Ledger
from genesis_core.runtime.orders import Booked, Bracket, OrderPath, Reconciled
from genesis_core.runtime.recorder import Recorder
from genesis_core.runtime.report import Reporter, Summary
from genesis_core.runtime.risk import evaluate
from genesis_core.storage import Store


NOTIFY_QUEUE = 1_000
# Longest wait for another bar of the same close time before deciding (multi-symbol bots).
SAME_CLOSE_GRACE = 0.05
# Longest wait for the data source's history before a market's first live bar.
HISTORY_TIMEOUT = 60.0
# Rejections by these policies mean trading is halted, not just that one trade was refused.
HALTING_POLICIES = frozenset({"kill_switch", "max_daily_loss", "drawdown_guard"})


@attrs.define
class Counts:
    bars: int = 0
    signals: int = 0
    orders: int = 0
    fills: int = 0
    closed: int = 0
    wins: int = 0


class Bot:
    """One running bot. ``run()`` returns its :class:`Summary`."""

    def __init__(self, config: BotConfig, plugins: Plugins, *, out: TextIO | None = None,
                 quiet: bool = False, record: bool = True) -> None:
        self.config = config
        self.plugins = plugins
        self.c: Components = build(config, plugins)
        self.report = Reporter(out, quiet)
        self.counts = Counts()
        self.ledger = Ledger(Decimal(0))
        self.orders = OrderPath(config.name, self.c.executor, self._order_changed,
                                self._bracket_changed, clock=lambda: self.now)
        self.orders.on_problem = self._order_problem
        self.buffers = {(s.symbol, s.timeframe): CandleBuffer(s.symbol, s.timeframe)
                        for s in self.c.specs}
        self.atr = {(s.symbol, s.timeframe): ATRStream(14) for s in self.c.specs}
        self._backfilled: set[tuple[str, str]] = set()  # markets whose history gap is closed
        self.features: dict[tuple[str, str], dict[str, float]] = {}
        self.auto_trading = config.trading.auto_trading
        self.emergency = False
        self.pending: dict[str, tuple[Signal, TradeIntent, int]] = {}
        # The close time of the last bar each symbol acted on: one decision per symbol per bar.
        self.decided: dict[str, int] = {}
        self.recent: deque[Signal] = deque(maxlen=100)
        self.alerts = AlertRouter(config.alerts)
        self.connections = ConnectionWatch(config.alerts)
        self.performance = PerformanceWatch(config.alerts)
        self._last_event = time.monotonic()
        self.recorder: Recorder | None = None
        self.saved: recovery.Saved | None = None  # set when the database holds a run to resume
        if record:
            store = Store.open(config.storage.path)
            try:
                self.saved = recovery.load(store, config)
            except BaseException:
                store.close()
                raise
            self.recorder = Recorder(store)
        self.cursor: dict[recovery.MarketKey, int] = {}  # last bar processed, per market
        self._fill_ids: set[str] = set()
        self._booked: dict[str, Booked] = {}  # what booked fills cover, per client order id
        self._depth = 0  # units of work under way (see _unit)
        self._cut_short = False  # a unit ended by an exception or a cancellation
        self.metrics = Metrics(config.name)
        self._metrics_server: Any = None
        self.now = 0
        self._pump_idle: anyio.Event | None = None
        self._queues: list[tuple[Any, Any, Any]] = []
        self.on_signal: Callable[[Signal], None] | None = None
        # Seconds from receiving a closed candle to submitting the order it caused.
        self.latencies: deque[float] = deque(maxlen=100_000)
        self._candle_seen = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self) -> Summary:
        executor = self.c.executor
        await executor.connect()
        try:
            quote = self.config.trading.quote_currency
            if self.saved is None:
                balances = await executor.balances()
                cash = sum((b.total for b in balances if b.currency == quote), Decimal(0))
                self.ledger = Ledger(cash, quote)
            else:
                self._restore(self.saved, quote)
            self.orders.quote = self.ledger.quote
            if self.recorder is not None and not executor.in_process:
                self.orders.write_ahead = self.recorder.commit_now
            self.plugins.hook.bot_started(config=self.config)
            if self.config.metrics.enabled:
                self._metrics_server = self.metrics.serve(self.config.metrics.host,
                                                          self.config.metrics.port)
            if self.saved is None:
                self._record_start()
            async with anyio.create_task_group() as tg:
                if self.recorder is not None:
                    tg.start_soon(self.recorder.run)
                self._start_notifiers(tg)
                control = RunnerControl(self)
                for notifier in self.c.notifiers:
                    tg.start_soon(notifier.serve, control)
                tg.start_soon(self._pump_executor)
                if self.config.alerts.feed_stale_seconds > 0:
                    tg.start_soon(self._watch_feed)
                if self.saved is not None:
                    await self._reconcile()
                await self._drive(tg)
                tg.cancel_scope.cancel()
            reason = "finished"
        except BaseException as exc:
            reason = "signal" if isinstance(exc, anyio.get_cancelled_exc_class()) else str(exc)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self._close(reason)
        return self.summary()

    async def _close(self, reason: str) -> None:
        if self._cut_short and self.c.executor.in_process and self.recorder is not None:
            # A market event cut short: its venue dies with us, so keep the database at the
            # last checkpoint and let a resumed run process that event again, whole.
            self.recorder.discard_unfinished()
        # Deliver what is still queued (the delivery tasks were cancelled with the task group),
        # each notifier bounded so a dead one cannot hold the shutdown forever.
        self._deliver_all(self.alerts.flush(self.now, force=True))
        for notifier, send, receive in self._queues:
            with anyio.move_on_after(10):
                while True:
                    try:
                        alert = receive.receive_nowait()
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                    await self._notify(notifier, alert)
            send.close()
            receive.close()
        for component in (self.c.data_source, self.c.executor, *self.c.notifiers):
            await component.aclose()
        if self.recorder is not None:
            self._write(lambda s: s.audit(self.now, "bot", self.config.name, f"stopped: {reason}"))
            await anyio.to_thread.run_sync(self.recorder.close)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        self.plugins.hook.bot_stopped(config=self.config, reason=reason)

    def _write(self, fn: Any) -> None:
        if self.recorder is not None:
            self.recorder.write(fn)

    @contextlib.contextmanager
    def _unit(self) -> Iterator[None]:
        # A market event or an executor report, handled whole: when none is under way any more
        # the state queued so far is consistent and may be committed.
        self._depth += 1
        try:
            yield
        except BaseException:
            self._cut_short = True
            raise
        finally:
            self._depth -= 1
        if self._depth == 0 and self.recorder is not None:
            self.recorder.checkpoint()

    def _checkpoint(self) -> recovery.Checkpoint:
        ledger = self.ledger
        return recovery.Checkpoint(self.now, dict(self.cursor), ledger.peak, ledger.day_start,
                                   ledger.day, self.counts.signals, self._risk_state())

    def _risk_keys(self) -> Iterator[tuple[str, RiskPolicy]]:
        # Position and name: a reordered or edited chain gives a policy nothing not its own.
        for index, policy in enumerate(self.c.risk):
            yield f"{index}:{policy.name}", policy

    def _risk_state(self) -> dict[str, Any]:
        kept = {key: policy.state() for key, policy in self._risk_keys()}
        return {key: dict(state) for key, state in kept.items() if state is not None}

    def summary(self) -> Summary:
        return Summary(
            bot=self.config.name, bars=self.counts.bars, signals=self.counts.signals,
            orders=self.counts.orders, fills=self.counts.fills, closed_trades=self.counts.closed,
            winning_trades=self.counts.wins, realized_pnl=self.ledger.realized(),
            fees=self.ledger.fees, initial_equity=self.ledger.initial_cash,
            final_equity=self.ledger.equity(),
            open_positions=sum(p.is_open for p in self.ledger.positions.values()))

    # -- crash recovery ----------------------------------------------------------------------
    def _record_start(self) -> None:
        cash, config = self.ledger.cash, self.config
        run = {**recovery.identity(config), "initial_cash": str(cash)}
        checkpoint = self._checkpoint().to_data()
        self._write(lambda s: s.set_flag("auto_trading", self.auto_trading, 0))
        self._write(lambda s: s.audit(0, "bot", config.name, "started",
                                      {"cash": str(cash), "mode": config.mode.value}))
        self._write(lambda s: s.save_runtime(recovery.RUN, run, 0))
        self._write(lambda s: s.save_runtime(recovery.CHECKPOINT, checkpoint, 0))
        if self.recorder is not None:
            self.recorder.checkpoint()

    def _restore(self, saved: recovery.Saved, quote: str) -> None:
        """Take the run back from the database: books, history, orders, switches."""
        self.ledger = Ledger(saved.initial_cash, quote)
        for fill in saved.fills:
            self._book(fill)
        self._warm_up(saved)
        point = saved.checkpoint
        self.ledger.restore_day(point.peak, point.day_start, point.day)
        for key, policy in self._risk_keys():  # after the fill replay, which rebuilt the rest
            if key in point.risk:
                policy.restore(point.risk[key])
        self.now, self.cursor = point.now, dict(point.cursor)
        self.orders.restore(saved.orders, saved.brackets)
        self.counts.bars, self.counts.orders = saved.bars, len(saved.orders)
        voted = [s for s in saved.signals if s.strategy != self.c.consensus.name]
        self.counts.signals = point.signals
        for signal in voted:
            with contextlib.suppress(KeyError):  # a strategy no longer configured
                self.c.consensus.update(signal)
        self.recent.extendleft(voted)  # newest first; the deque keeps the latest 100
        for waiting, signal, decisions in saved.confirmations:
            intent = recovery.parked_intent(signal, self.c.markets[signal.symbol], decisions)
            self.pending[signal.id] = (signal, intent, waiting.expires_at)
        self.emergency = saved.emergency
        self.auto_trading = self.auto_trading and saved.auto_trading
        executor = self.c.executor
        if executor.in_process:  # its venue died with the last process: seed it again
            acknowledged = [o for o in saved.orders
                            if o.status not in (OrderStatus.PENDING, OrderStatus.SUBMITTED)]
            executor.restore(acknowledged, saved.fills, saved.initial_cash, point.now)
        skip = getattr(self.c.data_source, "skip_through", None)
        if callable(skip) and self.cursor:
            skip(dict(self.cursor))

    def _warm_up(self, saved: recovery.Saved) -> None:
        # Strategies see the history they had; the ledger gets its marks and recent returns
        # back, replayed in the feed's order (close time, then market order).
        timed = []
        for n, spec in enumerate(self.c.specs):
            key = (spec.symbol, spec.timeframe)
            candles = saved.candles[key]
            for i in range(len(candles)):
                candle = candles.candle(i)
                self.buffers[key].append(candle)
                atr = self.atr[key].update(candle.high, candle.low, candle.close)
                self.features[key] = atr_features(atr, candle.close)
                timed.append((candles.close_time(i), n, candle))
        for _, n, candle in sorted(timed, key=lambda t: t[:2]):
            self.ledger.mark(self.c.specs[n].symbol, candle.close, candle.timestamp)

    async def _reconcile(self) -> None:
        """Bring the restored orders in line with the venue, then say what was found."""
        with self._unit():
            found: Reconciled = await self.orders.reconcile(self._booked, self._fill)
            await self._settle()  # reports the look-ups caused, applied before we sum up
            found.note_changes(self.orders.orders)
            balances = await self.c.executor.balances()
            data = {**found.as_data(),
                    "open_orders": sum(not o.status.is_final
                                       for o in self.orders.orders.values()),
                    "open_positions": {s: str(p.amount) for s, p in
                                       self.ledger.positions.items() if p.is_open},
                    "ledger_cash": str(self.ledger.cash),
                    "venue_balances": {b.currency: str(b.total) for b in balances},
                    "emergency_stop": self.emergency, "auto_trading": self.auto_trading,
                    "pending_confirmations": sorted(self.pending),
                    "resume_after": format_ts(self.now) if self.now else None}
            told = (f"{found.checked} order(s) checked, {len(found.changed)} changed, "
                    f"{len(found.resubmitted)} resubmitted, {len(found.lost)} lost, "
                    f"{len(found.unknown)} unknown to the venue")
            self._write(lambda s, now=self.now: s.audit(now, "bot", self.config.name,
                                                        f"resumed: {told}", data))
            self.report.line(self.now, f"RESUME {self.config.name}: {told}")
            if found.lost or found.unknown:
                self._alert("order_rejected", Severity.WARNING, "orders needing attention "
                            "after a restart", f"lost {found.lost}, unknown {found.unknown}")

    # -- market events -----------------------------------------------------------------------
    async def _drive(self, tg: Any) -> None:
        """Feed market events through the bot.

        With several symbols, bars closing at the same time are first all shown to the
        executor (fills, marks) and only then to the strategies, so a decision on one symbol
        sees the fills another symbol's bar brought, as in a backtest. Bars of one close time
        arrive together (a replay yields them back to back, a live venue within
        milliseconds); the runner waits at most ``SAME_CLOSE_GRACE`` seconds for the next.
        """
        stream = self.c.data_source.stream(self.c.specs)
        if len({s.symbol for s in self.c.specs}) == 1:
            async for event in stream:
                with self._unit():
                    await self._on_market(event, decide=True)
            return
        send, receive = anyio.create_memory_object_stream[MarketEvent](1024)

        async def produce() -> None:
            async with send:
                async for event in stream:
                    await send.send(event)

        tg.start_soon(produce)
        due: list[CandleClosed] = []
        group = contextlib.ExitStack()
        try:
            async with receive:
                while True:
                    try:
                        with anyio.fail_after(SAME_CLOSE_GRACE if due else None):
                            event = await receive.receive()
                    except TimeoutError:
                        await self._decide_all(due, group)
                        continue
                    except anyio.EndOfStream:
                        break
                    if due and _close_of(event) != _close_of(due[0]):
                        await self._decide_all(due, group)
                    if not due:
                        group.enter_context(self._unit())
                    closed = await self._on_market(event, decide=False)
                    if closed is not None:
                        due.append(closed)
                    elif not due:
                        group.close()
            await self._decide_all(due, group)
        except BaseException:
            self._cut_short = True
            raise

    async def _decide_all(self, due: list[CandleClosed], group: contextlib.ExitStack) -> None:
        for event in due:
            await self._decide(event)
        due.clear()
        group.close()  # the close time is handled whole: its state may be committed

    async def _on_market(self, event: MarketEvent, *, decide: bool) -> CandleClosed | None:
        """The executor and the books see ``event``; strategies run now if ``decide``,
        otherwise the bar is returned for :meth:`_decide`."""
        if isinstance(event, ConnectionStatus):
            self._health(event)
            return None
        if isinstance(event, CandleClosed) and event.candle.timestamp <= self.cursor.get(
                (event.symbol, event.timeframe), -1):
            return None  # processed before a restart
        closed = await self._on_market_event(event)
        if closed is not None and decide:
            await self._decide(closed)
            return None
        return closed

    async def _on_market_event(self, event: MarketEvent) -> CandleClosed | None:
        self._candle_seen = time.perf_counter()
        self._last_event = time.monotonic()
        self.connections.alive(self.c.data_source.name)
        self.metrics.market_event(getattr(getattr(event, "candle", None), "timestamp", None))
        await self.c.executor.on_market(event)
        await self._settle()
        if self.orders.unsettled or self.orders.cancels_due:
            await self.orders.settle()
            await self._settle()
        if not isinstance(event, CandleClosed):
            return None
        key = (event.symbol, event.timeframe)
        candle = event.candle
        if key not in self._backfilled:
            self._backfilled.add(key)
            await self._backfill(key, candle.timestamp)
        self.counts.bars += 1
        self._append(key, candle)
        history = self.buffers[key].view()
        close_ms = history.close_time(len(history) - 1)
        self.now = close_ms
        self._expire_confirmations()
        await self._poll_commands()
        self._deliver_all(self.alerts.flush(close_ms))
        equity = self._track_equity()
        for raised in self.performance.on_equity(close_ms, equity):
            self._raise(raised)
        return event

    def _append(self, key: tuple[str, str], candle: Candle) -> None:
        """A closed bar joins the books, the history and the database."""
        self.ledger.mark(key[0], candle.close, candle.timestamp)
        self.buffers[key].append(candle)
        self._write(lambda s, c=candle: s.record_candles(Candles.from_rows(
            [(c.timestamp, c.open, c.high, c.low, c.close, c.volume)], symbol=key[0],
            timeframe=key[1])))
        atr = self.atr[key].update(candle.high, candle.low, candle.close)
        self.features[key] = atr_features(atr, candle.close)

    async def _backfill(self, key: tuple[str, str], first_ms: int) -> None:
        """Load the history a market lacks before its first live bar (opening at
        ``first_ms``): the last ``warmup_bars`` bars on a fresh start, the bars that closed
        while the bot was down after a restart. Strategies see them as history; nothing is
        decided on them, their moment has passed. A replay has no such gap."""
        wanted, source = self.config.trading.warmup_bars, self.c.data_source
        last = self.buffers[key].last_timestamp()
        step = timeframe_ms(key[1])
        start = first_ms - wanted * step if last is None else last + step
        if wanted == 0 or not source.supports_history or start >= first_ms:
            return
        try:
            with anyio.fail_after(HISTORY_TIMEOUT):
                got = await source.history(key[0], key[1], start, first_ms)
        except Exception as exc:  # any venue failure: trade on without it, and say so
            self._alert("history_gap", Severity.WARNING, f"{key[0]} {key[1]}: no history",
                        f"{source.name} history failed ({type(exc).__name__}: {exc}); "
                        "strategies start without the missing bars", key[0], first_ms)
            return
        bars = [got.candle(i) for i in range(len(got))
                if start <= int(got.timestamp[i]) < first_ms]
        for candle in bars:
            self._append(key, candle)
        if bars:
            told = (f"{len(bars)} bar(s) of history loaded before the first live bar "
                    f"({format_ts(bars[0].timestamp)} .. {format_ts(bars[-1].timestamp)})")
            self._write(lambda s: s.audit(first_ms, "market", f"{key[0]} {key[1]}", told))
            self.report.line(first_ms, f"HISTORY {key[0]} {key[1]}: {told}")

    async def _decide(self, event: CandleClosed) -> None:
        """Strategies on the closed bar, then its checkpoint."""
        key = (event.symbol, event.timeframe)
        candle = event.candle
        history = self.buffers[key].view()
        close_ms = history.close_time(len(history) - 1)
        for slot in self.c.strategies:
            if any((m.symbol, m.timeframe) == key for m in slot.markets):
                for signal in slot.strategy.latest(history):
                    if signal.timestamp == close_ms:
                        await self._signal(attrs.evolve(signal, strategy=slot.label))
        self.cursor[key] = candle.timestamp
        checkpoint = self._checkpoint().to_data()
        self._write(lambda s: s.save_runtime(recovery.CHECKPOINT, checkpoint, close_ms))

    async def _settle(self) -> None:
        # Let the executor pump apply every update the last event caused before strategies run:
        # yield once so it wakes, then wait until it is back waiting for the executor.
        await anyio.lowlevel.checkpoint()
        if self._pump_idle is not None:
            await self._pump_idle.wait()

    # -- signals -----------------------------------------------------------------------------
    async def _signal(self, signal: Signal) -> None:
        self.counts.signals += 1
        self.recent.appendleft(signal)
        self.report.signal(signal)
        self.metrics.signal(signal.strategy, signal.side.value)
        self._write(lambda s: s.record_signal(signal))
        self._write(lambda s: s.audit(self.now, "signal", signal.id, signal.reason))
        self.plugins.hook.signal_produced(config=self.config, signal=signal)
        if self.on_signal is not None:
            self.on_signal(signal)
        if signal.confidence > self.config.alerts.high_confidence:
            self._alert("high_confidence", Severity.HIGH, f"{signal.side.value} signal "
                        f"{signal.confidence:.2f}", signal.reason, signal.symbol)
        combined = self.c.consensus.update(signal)
        if combined is not None and "; conflict: " in combined.reason:
            self._alert("signal_conflict", Severity.WARNING, "strategies or timeframes disagree",
                        combined.reason, signal.symbol)
        if combined is not None and combined.side is not SignalSide.HOLD:
            self._write(lambda s: s.record_signal(combined))
            await self._act(combined)

    async def _act(self, signal: Signal) -> None:
        # Later consensus updates of the same bar (another strategy or timeframe closing at
        # the same time) must not stack a second entry or exit on the first decision.
        if self.decided.get(signal.symbol) == signal.timestamp:
            self.report.decision(self.now, signal, "ignored: already decided on this bar")
            return
        self.decided[signal.symbol] = signal.timestamp
        side = side_of(signal)
        position = self.ledger.positions.get(signal.symbol)
        if position is not None and position.is_open:
            if (position.amount > 0) == (side is OrderSide.BUY):
                return  # no pyramiding: already positioned this way
            self.report.decision(self.now, signal, "exit on opposite signal")
            await self.orders.close(signal.symbol, abs(position.amount), side, signal.id)
            self.latencies.append(time.perf_counter() - self._candle_seen)
            return
        if self.emergency or not self.auto_trading:
            why = "emergency stop engaged" if self.emergency else "auto-trading paused"
            self.report.decision(self.now, signal, f"REJECT: runtime: {why}")
            return
        if side is OrderSide.SELL and not self.c.executor.can_short():
            self.report.decision(self.now, signal, f"REJECT: runtime: {NO_SHORTS}")
            return
        intent = entry_intent(signal, self.c.markets[signal.symbol],
                              self.features.get((signal.symbol, signal.timeframe), {}))
        open_orders = sum(not o.status.is_final for o in self.orders.orders.values())
        snapshot = attrs.evolve(self.ledger.snapshot(self.now, open_orders),
                                pending_entries=self.orders.pending_entries())
        verdict = evaluate(self.c.risk, intent, snapshot)
        self.report.decision(self.now, signal, f"{verdict.action.value}: {verdict.reason}")
        self._write(lambda s: s.record_decisions(signal.id, list(verdict.decisions)))
        self._write(lambda s, now=self.now: s.audit(
            now, "risk", signal.id, f"{verdict.action.value}: {verdict.reason}"))
        for decision in verdict.decisions:
            if decision.action is RiskAction.REJECT:
                self.metrics.rejection(decision.policy)
                if decision.policy in HALTING_POLICIES:
                    self._alert("risk_halt", Severity.HIGH, f"{decision.policy} blocks entries",
                                decision.reason, signal.symbol)
        if verdict.action is RiskAction.CONFIRM:
            expires = self.now + self.config.trading.confirmation_minutes * 60_000
            self.pending[signal.id] = (signal, verdict.intent, expires)
            self._write(lambda s, now=self.now: s.request_confirmation(signal.id, now, expires))
            self._alert("confirmation_needed", Severity.WARNING, "signal needs confirmation",
                        f"confirm with: genesis confirm {signal.short_id} (or /confirm "
                        f"{signal.short_id} in chat; full id {signal.id}) "
                        f"before {format_ts(expires)}", signal.symbol)
        elif verdict.action is RiskAction.APPROVE:
            await self._place(signal, verdict.intent)

    async def _place(self, signal: Signal, final: TradeIntent) -> None:
        market = self.c.markets[signal.symbol]
        amount = market.round_amount(final.amount)
        problem = market.check_amount(amount)
        if problem is not None:
            self.report.decision(self.now, signal, f"REJECT: runtime: {problem}")
            return
        request = OrderRequest(self.orders.make_id(signal.id, "entry"), signal.symbol,
                               final.side, OrderType.MARKET, amount, signal_id=signal.id)
        try:
            await self.orders.open(request, final.stop_loss, final.take_profit)
        except OrderError:  # refused before it left: recorded REJECTED and alerted; trade on
            return
        self.latencies.append(time.perf_counter() - self._candle_seen)
        self.metrics.candle_to_order(self.latencies[-1])

    # -- commands from outside (CLI) and equity tracking ---------------------------------------
    async def _poll_commands(self) -> None:
        # `genesis confirm/stop/resume` write to the bot's database; the bot reads them here,
        # once per bar, so a command takes effect at the next bar close.
        if self.recorder is None:
            return
        store = self.recorder.store
        for signal_id in list(self.pending):
            found = await anyio.to_thread.run_sync(store.confirmation, signal_id)
            if found is not None and found.status == "confirmed":
                await self.confirm(signal_id)
        wanted = await anyio.to_thread.run_sync(store.get_flag, "emergency_stop_request")
        if wanted and not self.emergency:
            await self.emergency_stop(flatten=wanted == "flatten")
        elif wanted is False and self.emergency:
            self.emergency = False
            self._write(lambda s, now=self.now: s.set_flag("emergency_stop", False, now))
            self._alert("emergency_stop", Severity.WARNING, "emergency stop cleared", "")

    def _track_equity(self) -> Decimal:
        """Export equity, PnL and drawdown to the metrics; return the equity."""
        equity = self.ledger.equity()
        peak = self.ledger.peak or equity
        self.metrics.equity(
            float(equity), realized_pnl=float(self.ledger.realized()),
            unrealized_pnl=float(self.ledger.unrealized()),
            drawdown=float((peak - equity) / peak) if peak else 0.0,
            open_positions=sum(p.is_open for p in self.ledger.positions.values()))
        return equity

    # -- auto-trading controls ----------------------------------------------------------------
    def _expire_confirmations(self) -> None:
        for signal_id, (signal, _, expires) in list(self.pending.items()):
            if self.now >= expires:
                del self.pending[signal_id]
                self.report.decision(self.now, signal, "confirmation expired")

    async def confirm(self, signal_id: str) -> str:
        with self._unit():
            return await self._confirm(signal_id)

    async def _confirm(self, given: str) -> str:
        signal_id = resolve_id(given, self.pending)
        waiting = None if signal_id is None else self.pending.pop(signal_id)
        if waiting is None:
            return f"no signal {given} is waiting for confirmation"
        signal, intent, _ = waiting
        if self.emergency:
            return "emergency stop engaged: nothing opens until it is cleared"
        self.report.decision(self.now, signal, "CONFIRMED by a human")
        await self._place(signal, intent)
        return f"confirmed {signal_id}: {signal.side.value} {signal.symbol}"

    def set_auto_trading(self, enabled: bool) -> None:
        """Pause or resume opening trades; the switch survives a restart."""
        with self._unit():
            self.auto_trading = enabled
            self._write(lambda s, now=self.now: s.set_flag("auto_trading", enabled, now))
            self._write(lambda s, now=self.now: s.audit(
                now, "control", "auto_trading", "resumed" if enabled else "paused"))

    async def emergency_stop(self, flatten: bool) -> str:
        with self._unit():
            return await self._emergency_stop(flatten)

    async def _emergency_stop(self, flatten: bool) -> str:
        self.emergency = True
        self._write(lambda s, now=self.now: s.set_flag("emergency_stop", True, now))
        self._write(lambda s, now=self.now: s.audit(now, "control", "emergency_stop",
                                                    f"engaged, flatten={flatten}"))
        await self.orders.cancel_all()
        closed, tag = 0, self._emergency_tag()
        if flatten:
            for symbol, position in self.ledger.positions.items():
                if position.is_open:
                    side = OrderSide.SELL if position.amount > 0 else OrderSide.BUY
                    await self.orders.close(symbol, abs(position.amount), side, tag)
                    closed += 1
        self._alert("emergency_stop", Severity.CRITICAL, "emergency stop",
                    f"open orders cancelled, {closed} position(s) being closed")
        return f"emergency stop engaged; {closed} position(s) being closed"

    def _emergency_tag(self) -> str:
        # Unique per stop: a second stop (two operators at once, or one after a refused exit)
        # has just cancelled the first one's exits, so it must not find them again by id.
        attempt = 0
        while any(self.orders.make_id(f"emergency-{self.now}-{attempt}", symbol, "exit")
                  in self.orders.orders for symbol in self.ledger.positions):
            attempt += 1
        return f"emergency-{self.now}-{attempt}"

    # -- executor events ---------------------------------------------------------------------
    async def _pump_executor(self) -> None:
        events = self.c.executor.events()
        while True:
            idle = self._pump_idle = self._pump_idle or anyio.Event()
            idle.set()
            event = await anext(events)
            self._pump_idle = anyio.Event()
            with self._unit():
                if isinstance(event, Fill):
                    await self._fill(event)
                elif isinstance(event, Order):
                    await self.orders.update(event)
                elif isinstance(event, ConnectionStatus):
                    self._health(event)

    # -- health ------------------------------------------------------------------------------
    def _health(self, status: ConnectionStatus) -> None:
        """A data source or executor reported its connection's health."""
        if status.health is Health.RECONNECTING:
            self.metrics.reconnect(status.source)
        self._write(lambda s, now=self.now: s.audit(
            now, "health", status.source, f"{status.health.value}: {status.detail}"))
        for raised in self.connections.on_status(status, int(time.time() * 1000)):
            self._raise(raised)

    async def _watch_feed(self) -> None:
        # No market event for feed_stale_seconds beyond the smallest bar: the feed is stale.
        # Wall-clock based, so a replay slower than real time can trip it (documented).
        limit = self.stale_after()
        while True:
            await anyio.sleep(min(limit / 4, 30.0))
            quiet = time.monotonic() - self._last_event
            if quiet >= limit:
                with self._unit():
                    for raised in self.connections.stale(self.c.data_source.name, quiet):
                        self._raise(raised)

    def stale_after(self) -> float:
        """Seconds of silence after which the feed counts as stale."""
        bar = min(timeframe_ms(s.timeframe) for s in self.c.specs) / 1000
        return self.config.alerts.feed_stale_seconds + bar

    def _raise(self, raised: Raised) -> None:
        self._alert(raised.rule, raised.severity, raised.title, raised.message)

    def _order_problem(self, client_order_id: str, why: str) -> None:
        # The venue did not answer: the order path settles it by client id on the next event.
        self._write(lambda s, now=self.now: s.audit(now, "order", client_order_id, why))
        self._alert("order_unknown", Severity.HIGH, "order outcome unknown", why)

    def _bracket_changed(self, bracket: Bracket) -> None:
        data = bracket.to_data()  # a copy: the bracket changes on before the writer runs
        self._write(lambda s, now=self.now: s.save_bracket(
            data["entry_id"], data["symbol"], data["closed"], data, now))

    async def _order_changed(self, order: Order, previous: Order | None) -> None:
        if previous is None:
            self.counts.orders += 1
        self.report.order(order)
        self.metrics.order(order.status.value)
        self._write(lambda s: s.record_order(order, previous))
        self.plugins.hook.order_updated(config=self.config, order=order, previous=previous)
        if order.status is OrderStatus.REJECTED:
            self._alert("order_rejected", Severity.WARNING, "order rejected", order.reason,
                        order.request.symbol)

    async def _fill(self, fill: Fill) -> None:
        if not self._admit(fill):
            return
        position, closed_pnl = self._book(fill)
        self.report.fill(fill)
        self.metrics.fill(fill.symbol, fill.side.value)
        self._alert("fill", Severity.INFO, f"{fill.side.value} {fill.amount} @ {fill.price}",
                    f"fee {fill.fee} {fill.fee_currency}", fill.symbol)
        cash = self.ledger.cash
        self._write(lambda s: s.record_fill(fill))
        self._write(lambda s: s.save_position(position, fill.timestamp))
        self._write(lambda s: s.record_balances(fill.timestamp, [
            Balance(self.ledger.quote, cash, cash)]))
        self._write(lambda s: s.audit(fill.timestamp, "fill", fill.client_order_id,
                                      f"{fill.side.value} {fill.amount} @ {fill.price} "
                                      f"fee {fill.fee}"))
        self.plugins.hook.fill_received(config=self.config, fill=fill)
        if closed_pnl is not None:
            self._alert("trade_closed", Severity.INFO, f"trade closed, PnL {closed_pnl:.2f}", "",
                        fill.symbol)
        await self.orders.on_fill(fill)

    def _admit(self, fill: Fill) -> bool:
        """Whether ``fill`` is new: venues repeat reports (reconnects, recovery lookups)."""
        if fill.fill_id in self._fill_ids:
            return False
        order = self.orders.orders.get(fill.client_order_id)
        booked = self._booked.get(fill.client_order_id, Booked())
        if order is None or booked.amount + fill.amount <= order.request.amount:
            return True
        # More than the order's amount: the same execution booked under another id (a fill
        # derived while recovering, then reported by the venue after all). Booked once only.
        self._write(lambda s: s.audit(fill.timestamp, "fill", fill.client_order_id,
                                      f"ignored fill {fill.fill_id}: it would fill the order "
                                      "beyond its amount (already booked)"))
        return False

    def _book(self, fill: Fill) -> tuple[Position, Decimal | None]:
        """Apply ``fill`` to the ledger, the risk policies and the counters; return the new
        position and, if the fill closed it, the trade's realised PnL."""
        self.counts.fills += 1
        self._fill_ids.add(fill.fill_id)
        booked = self._booked.setdefault(fill.client_order_id, Booked())
        booked.amount += fill.amount
        booked.notional += fill.notional
        before = self.ledger.positions.get(fill.symbol)
        position = self.ledger.apply(fill)
        snapshot = self.ledger.snapshot(fill.timestamp, 0)
        for policy in self.c.risk:
            policy.on_fill(fill, snapshot)
        if before is None or not before.is_open or position.is_open:
            return position, None
        pnl = position.realized_pnl - before.realized_pnl
        self.counts.closed += 1
        self.counts.wins += pnl > 0
        return position, pnl

    # -- alerts ------------------------------------------------------------------------------
    def _start_notifiers(self, tg: Any) -> None:
        from genesis_core.default_plugins.console import ConsoleNotifier, ConsoleParams

        notifiers = list(self.c.notifiers)
        if not any(isinstance(n, ConsoleNotifier) for n in notifiers):
            notifiers.append(ConsoleNotifier(ConsoleParams(min_severity=Severity.WARNING)))
        for notifier in notifiers:
            send, receive = anyio.create_memory_object_stream[Alert](NOTIFY_QUEUE)
            self._queues.append((notifier, send, receive))
            tg.start_soon(self._deliver, notifier, receive)

    async def _deliver(self, notifier: Any, receive: Any) -> None:
        async for alert in receive:
            await self._notify(notifier, alert)

    @staticmethod
    async def _notify(notifier: Any, alert: Alert) -> None:
        try:
            await notifier.notify(alert)
        except Exception as exc:  # a failing notifier must never stop trading
            print(f"notifier {notifier.name} failed: {type(exc).__name__}", file=sys.stderr)

    def _alert(self, rule: str, severity: Severity, title: str, message: str,
               symbol: str | None = None, at_ms: int | None = None) -> None:
        self._deliver_all(self.alerts.route(Alert(rule, severity, title, message,
                                                  self.now if at_ms is None else at_ms, symbol)))

    def _deliver_all(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self._deliver_one(alert)

    def _deliver_one(self, alert: Alert) -> None:
        self.plugins.hook.alert_raised(config=self.config, alert=alert)
        self._write(lambda s: s.record_alert(alert))
        for notifier, send, _ in self._queues:
            try:
                send.send_nowait(alert)
            except anyio.WouldBlock:
                print(f"notifier {notifier.name} is {NOTIFY_QUEUE} alerts behind; dropped one",
                      file=sys.stderr)


def _close_of(event: MarketEvent) -> int | None:
    if isinstance(event, CandleClosed):
        return event.candle.timestamp + timeframe_ms(event.timeframe)
    return None

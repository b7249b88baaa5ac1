"""Property tests: random signals, fills and price paths through a full policy chain.

The chain evaluator below is the test's own (the runtime's arrives with issues #5/#6): policies
run in order, the first REJECT stops the chain, a RESIZE passes its amount and stops on, and a
CONFIRM is taken as confirmed by a human. A small simulator turns approved intents into fills
(``Position.apply``), moves prices, and checks after every decision that the limits hold. The
invariants are computed by the simulator itself, not read from the policies, so a chain missing
a guard is caught (see the last tests).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_core import (
    Fill,
    Market,
    OrderSide,
    PortfolioSnapshot,
    Position,
    RiskAction,
    RiskPolicy,
    Signal,
    TradeIntent,
)
from genesis_risk_basic import (
    ConfidenceBands,
    ConfidenceScaled,
    Cooldown,
    CorrelationGuard,
    DrawdownGuard,
    ExposureCap,
    FixedFraction,
    Kelly,
    KillSwitch,
    MaxDailyLoss,
    MaxOpenPositions,
    RiskPerTrade,
    Stops,
    VolatilityFilter,
    VolatilityTarget,
)
from genesis_risk_basic.guards import (
    KillSwitchParams,
    MaxOpenPositionsParams,
    VolatilityFilterParams,
)
from genesis_risk_basic.sizing import FixedFractionParams, KellyParams

from ._support import DAY, MINUTE, T0, D


SYMBOLS = ("BTCUSD", "ETHUSD", "XRPUSD")
MARKETS = {
    "BTCUSD": Market("BTCUSD", "BTC", "USD", min_amount=D("0.001"), max_amount=D("5"),
                     amount_decimals=4),
    "ETHUSD": Market("ETHUSD", "ETH", "USD", min_amount=D("0.01"), amount_decimals=3),
    "XRPUSD": Market("XRPUSD", "XRP", "USD", min_amount=D("10"), amount_decimals=0),
}
START_PRICES = {"BTCUSD": D("30000"), "ETHUSD": D("2000"), "XRPUSD": D("0.5")}
MAX_POSITIONS = 2
SYMBOL_CAP = D("0.20")  # ExposureCap defaults
TOTAL_CAP = D("0.50")
DAILY_LOSS = D("0.05")  # MaxDailyLoss default
MAX_LOSSES = 3
FEE_RATE = D("0.001")


def run_chain(policies: Sequence[RiskPolicy], intent: TradeIntent,
              portfolio: PortfolioSnapshot) -> TradeIntent | None:
    """Apply ``policies`` in order: the approved (possibly resized) intent, or ``None``."""
    for policy in policies:
        decision = policy.check(intent, portfolio)
        assert decision.reason, f"{policy.name} gave no reason"
        if decision.action is RiskAction.REJECT:
            return None
        if decision.action is RiskAction.RESIZE:
            amount = decision.amount
            assert amount is not None, decision
            assert amount.is_finite(), decision
            assert amount >= 0, decision
            intent = attrs.evolve(
                intent, amount=amount,
                stop_loss=decision.stop_loss if decision.stop_loss is not None
                else intent.stop_loss,
                take_profit=decision.take_profit if decision.take_profit is not None
                else intent.take_profit)
    return intent


class Simulator:
    """Cash, FIFO positions and prices; the day start and peak a runtime would maintain."""

    def __init__(self, policies: Sequence[RiskPolicy], flag: Path) -> None:
        self.policies = policies
        self.flag = flag
        self.cash = D("10000")
        self.positions: dict[str, Position] = {}
        self.prices = dict(START_PRICES)
        self.returns: dict[str, list[float]] = {s: [] for s in SYMBOLS}
        self.time = T0
        self.day = T0 // DAY
        self.day_start = self.equity()
        self.peak = self.equity()
        self.orders = 0
        # what the simulator itself knows, independently of the policies
        self.streak = 0
        self.killed = False
        self.halted_day: int | None = None
        self.approved_entries = 0

    def equity(self) -> Decimal:
        return self.cash + sum((p.amount * self.prices[s] for s, p in self.positions.items()),
                               Decimal(0))

    def exposure(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return Decimal(0) if position is None else abs(position.amount) * self.prices[symbol]

    def snapshot(self) -> PortfolioSnapshot:
        return PortfolioSnapshot(
            timestamp=self.time, cash=self.cash, equity=self.equity(),
            positions=dict(self.positions), prices=dict(self.prices),
            day_start_equity=self.day_start, peak_equity=self.peak,
            returns={s: tuple(r[-60:]) for s, r in self.returns.items()})

    # -- events --

    def tick(self, minutes: int, moves: Sequence[int]) -> None:
        self.time += minutes * MINUTE
        if self.time // DAY != self.day:
            self.day, self.day_start = self.time // DAY, self.equity()
        for symbol, move in zip(SYMBOLS, moves, strict=True):
            price = (self.prices[symbol] * (100 + move) / 100).quantize(D("0.0001"))
            self.prices[symbol] = max(price, D("0.0001"))
            self.returns[symbol].append(move / 100)
        self.peak = max(self.peak, self.equity())

    def signal(self, symbol: str, side: str, confidence: float, atr_pct: float) -> None:
        self.same_bar((symbol, side, confidence, atr_pct))

    def same_bar(self, *signals: tuple[str, str, float, float]) -> None:
        """Signals of one bar: each judged before any of them fills (entries decided earlier
        on the bar are ``pending_entries``), then all fill together, as in the runtime."""
        pending: dict[str, Decimal] = {}
        before_total = self._total()
        equity = self.equity()
        for symbol, side, confidence, atr_pct in signals:
            if symbol in pending:
                continue  # one decision per symbol and bar
            final = self._judge(symbol, side, confidence, atr_pct, pending)
            if final is not None:
                pending[symbol] = final.side.sign * final.amount
                committed = {s for s, q in self.positions.items() if q.is_open} | set(pending)
                assert len(committed) <= MAX_POSITIONS, "position cap with pending entries"
        for symbol, amount in pending.items():
            self._fill(symbol, "BUY" if amount > 0 else "SELL", abs(amount))
        assert len([q for q in self.positions.values() if q.is_open]) <= MAX_POSITIONS
        assert self._total() <= max(TOTAL_CAP * equity, before_total) + D("0.01"), "total cap"

    def _judge(self, symbol: str, side: str, confidence: float, atr_pct: float,
               pending: dict[str, Decimal]) -> TradeIntent | None:
        portfolio = attrs.evolve(self.snapshot(), pending_entries=dict(pending))
        loss = (self.day_start - portfolio.equity) / self.day_start
        if loss >= DAILY_LOSS:
            self.halted_day = self.day
        signal = Signal.make(symbol=symbol, timeframe="1h", side=side, confidence=confidence,
                             timestamp=self.time, price=float(self.prices[symbol]),
                             strategy="prop")
        intent = TradeIntent(signal=signal, symbol=symbol, side=OrderSide(side), amount=D("1"),
                             price=self.prices[symbol], market=MARKETS[symbol],
                             features={"atr_pct": atr_pct,
                                       "atr": atr_pct * float(self.prices[symbol]) / 100})
        before_symbol = self.exposure(symbol)
        final = run_chain(self.policies, intent, portfolio)
        if final is None:
            return None
        self.approved_entries += 1
        assert not self.flag.exists(), "entry approved while the kill-switch flag file exists"
        assert not self.killed, f"entry approved after {self.streak} losing trades in a row"
        assert self.halted_day != self.day, "entry approved after the daily-loss halt"
        amount = final.amount
        assert amount.is_finite(), amount
        assert amount > 0, amount
        assert MARKETS[symbol].check_amount(amount) is None, MARKETS[symbol].check_amount(amount)
        held = self.positions.get(symbol, Position(symbol)).amount
        after = abs(held + final.side.sign * amount) * self.prices[symbol]
        assert after <= max(SYMBOL_CAP * portfolio.equity, before_symbol), "symbol cap"
        return final

    def exit(self, symbol: str) -> None:
        position = self.positions.get(symbol)
        if position is None or not position.is_open:
            return
        side = "SELL" if position.amount > 0 else "BUY"
        signal = Signal.make(symbol=symbol, timeframe="1h", side=side, confidence=0.0,
                             timestamp=self.time, price=float(self.prices[symbol]),
                             strategy="prop")
        intent = TradeIntent(signal=signal, symbol=symbol, side=OrderSide(side),
                             amount=abs(position.amount), price=self.prices[symbol],
                             reduce_only=True, market=MARKETS[symbol])
        final = run_chain(self.policies, intent, self.snapshot())
        assert final is not None, "an exit was blocked"
        assert abs(position.amount) == final.amount, "an exit was resized"
        self._fill(symbol, side, final.amount)

    def set_flag(self, on: bool) -> None:
        if on:
            self.flag.touch()
        else:
            self.flag.unlink(missing_ok=True)

    # -- plumbing --

    def _total(self) -> Decimal:
        return sum((self.exposure(s) for s in self.positions), Decimal(0))

    def _fill(self, symbol: str, side: str, amount: Decimal) -> None:
        self.orders += 1
        price = self.prices[symbol]
        fee = (amount * price * FEE_RATE).quantize(D("0.00000001"))
        fill = Fill(fill_id=f"f{self.orders}", client_order_id=f"o{self.orders}", symbol=symbol,
                    side=side, amount=amount, price=price, fee=fee, fee_currency="USD",
                    timestamp=self.time)
        before = self.positions.get(symbol, Position(symbol))
        after = before.apply(fill)
        self.positions[symbol] = after
        self.cash -= fill.side.sign * amount * price + fee
        if before.amount != 0 and (before.amount > 0) != (fill.side.sign > 0):
            pnl = after.realized_pnl - before.realized_pnl - fee
            self.streak = self.streak + 1 if pnl < 0 else 0
            self.killed = self.killed or self.streak >= MAX_LOSSES
        self.peak = max(self.peak, self.equity())
        portfolio = self.snapshot()
        for policy in self.policies:
            policy.on_fill(fill, portfolio)

    def run(self, events: Sequence[tuple]) -> None:
        for event in events:
            kind, *args = event
            getattr(self, kind)(*args)


SIZERS = {
    "fixed_fraction": lambda: FixedFraction(FixedFractionParams(fraction=D("0.15"))),
    "confidence_scaled": ConfidenceScaled,
    "risk_per_trade": RiskPerTrade,
    "volatility_target": VolatilityTarget,
    "kelly": lambda: Kelly(KellyParams(min_trades=3, kelly_multiplier=D("1"))),
}


def chain(flag: Path, sizer: str) -> list[RiskPolicy]:
    """The documented order: halts, filters, stops, sizing, scaling, then the caps."""
    return [
        KillSwitch(KillSwitchParams(flag_file=flag, max_consecutive_losses=MAX_LOSSES)),
        MaxDailyLoss(),
        ConfidenceBands(),
        VolatilityFilter(VolatilityFilterParams(max_atr_pct=8.0)),
        CorrelationGuard(),
        Cooldown(),
        Stops(),
        SIZERS[sizer](),
        DrawdownGuard(),
        MaxOpenPositions(MaxOpenPositionsParams(max_positions=MAX_POSITIONS)),
        ExposureCap(),
    ]


_symbols = st.sampled_from(SYMBOLS)
_signal = st.tuples(_symbols, st.sampled_from(["BUY", "SELL"]), st.floats(0.5, 1.0),
                   st.floats(0.1, 10.0))
_event_kinds = {
    "same_bar": st.lists(_signal, min_size=2, max_size=3).map(lambda s: ("same_bar", *s)),
    "tick": st.tuples(st.just("tick"), st.integers(1, 180),
                      st.tuples(*[st.integers(-12, 10)] * 3)),
    "signal": st.tuples(st.just("signal"), _symbols, st.sampled_from(["BUY", "SELL"]),
                        st.floats(0.5, 1.0), st.floats(0.1, 10.0)),
    "exit": st.tuples(st.just("exit"), _symbols),
    "crash": st.tuples(st.just("tick"), st.integers(1, 30),
                       st.tuples(*[st.integers(-30, -10)] * 3)),
    "set_flag": st.tuples(st.just("set_flag"), st.sampled_from([True, False, False, False])),
}
# signals are the most common event, the flag file the rarest
_events = st.lists(
    st.sampled_from(["tick"] * 3 + ["signal"] * 5 + ["same_bar"] * 2 + ["exit"] * 2
                    + ["crash", "set_flag"]).flatmap(
        _event_kinds.__getitem__),
    min_size=10, max_size=60)


@pytest.fixture(scope="module")
def flag_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@settings(max_examples=400, deadline=None)
@given(events=_events, sizer=st.sampled_from(sorted(SIZERS)))
def test_random_sessions_never_break_a_limit(flag_dir: Path, events: list[tuple],
                                             sizer: str) -> None:
    flag = flag_dir / "genesis.halt"
    flag.unlink(missing_ok=True)
    simulator = Simulator(chain(flag, sizer), flag)
    simulator.run(events)


def _busy_session() -> list[tuple]:
    """Entries in every symbol, then losing round trips, then more entries."""
    events: list[tuple] = []
    for i in range(4):
        for symbol in SYMBOLS:
            events += [("signal", symbol, "BUY", 0.95, 1.0), ("tick", 10, (-3, -3, -3)),
                       ("exit", symbol)]
        events.append(("tick", 120, (0, 0, 0)))
        events.append(("tick", 60 * 24, (1, 1, 1)) if i == 1 else ("tick", 1, (0, 0, 0)))
    return events


def test_strong_signals_on_one_bar_never_open_more_than_the_cap(flag_dir: Path) -> None:
    flag = flag_dir / "unused.halt"
    simulator = Simulator(chain(flag, "fixed_fraction"), flag)
    simulator.run([("tick", 10, (0, 0, 0)),
                   ("same_bar", *[(s, "BUY", 0.95, 1.0) for s in SYMBOLS])])
    assert simulator.approved_entries == MAX_POSITIONS  # the third waits for room
    assert sum(p.is_open for p in simulator.positions.values()) == MAX_POSITIONS


def test_the_busy_session_exercises_entries_and_the_kill_switch(flag_dir: Path) -> None:
    flag = flag_dir / "unused.halt"
    simulator = Simulator(chain(flag, "fixed_fraction"), flag)
    simulator.run(_busy_session())
    assert simulator.approved_entries >= 3
    assert simulator.killed


def test_a_chain_without_the_exposure_cap_is_caught(flag_dir: Path) -> None:
    flag = flag_dir / "unused.halt"
    policies = [p for p in chain(flag, "fixed_fraction") if p.name != "exposure_cap"]
    policies[policies.index(next(p for p in policies if p.name == "fixed_fraction"))] = (
        FixedFraction(FixedFractionParams(fraction=D("0.3"))))
    with pytest.raises(AssertionError, match="symbol cap"):
        Simulator(policies, flag).run(_busy_session())


def test_a_chain_without_the_kill_switch_is_caught(flag_dir: Path) -> None:
    flag = flag_dir / "unused.halt"
    policies = [p for p in chain(flag, "fixed_fraction") if p.name != "kill_switch"]
    with pytest.raises(AssertionError, match="losing trades in a row"):
        Simulator(policies, flag).run(_busy_session())


def test_a_chain_without_the_daily_loss_halt_is_caught(flag_dir: Path) -> None:
    flag = flag_dir / "unused.halt"
    policies = [p for p in chain(flag, "fixed_fraction")
                if p.name not in ("max_daily_loss", "drawdown_guard")]
    events = [("signal", "BTCUSD", "BUY", 0.95, 1.0), ("signal", "ETHUSD", "BUY", 0.95, 1.0),
              ("tick", 10, (-40, -40, 0)), ("signal", "BTCUSD", "BUY", 0.95, 1.0)]
    with pytest.raises(AssertionError, match="daily-loss halt"):
        Simulator(policies, flag).run(events)

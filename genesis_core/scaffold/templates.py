"""Templates for ``genesis new plugin`` (``str.format`` fields; literal braces doubled)."""

PYPROJECT = '''
[project]
name = "{dist}"
version = "0.1.0"
description = "A Genesis {kind} plugin"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["genesis-core>=0.1,<0.2"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points.genesis_core]
{entry} = "{package}.plugin"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/{package}"]
'''

README = '''
# {dist}

A Genesis {kind} plugin. Install it next to genesis-core and it is found automatically:

```bash
pip install -e .
genesis plugins          # lists {entry} with the components it provides
pytest tests             # the generated tests use genesis_core.testing
```

Use it in a bot file by its registered name `{name}` (see `genesis config schema` for its params).
'''

INIT = '''
"""{dist}: a Genesis {kind} plugin."""

from {package}.component import {Name}


__all__ = ["{Name}"]
'''

PLUGIN = '''
"""Hook implementations: only registration, so loading the plugin stays cheap."""

from genesis_core import hookimpl

from {package}.component import {Name}


@hookimpl
def {hook}(register):
    register({Name})
'''

STRATEGY = '''
"""A moving-average breakout strategy (replace the rules with yours)."""

import attrs
from genesis_core import Candles, Signal, Strategy, doc


@attrs.frozen
class {Name}Params:
    period: int = doc("Moving-average period.", default=20, validator=attrs.validators.ge(2))
    confidence: float = doc("Confidence given to each signal.", default=0.7)


class {Name}(Strategy):
    """Buy when the close crosses above its moving average, sell when it crosses below."""

    name = "{name}"
    Params = {Name}Params

    def warmup(self) -> int:
        return self.params.period

    def generate(self, candles: Candles) -> list[Signal]:
        from genesis_core.indicators import sma

        average = sma(candles.close, self.params.period)
        above = candles.close > average
        signals = []
        for i in range(self.params.period, len(candles)):
            if above[i] != above[i - 1]:
                signals.append(Signal.make(
                    symbol=candles.symbol, timeframe=candles.timeframe,
                    side="BUY" if above[i] else "SELL", confidence=self.params.confidence,
                    timestamp=candles.close_time(i), price=float(candles.close[i]),
                    strategy=self.name, reason=f"close crossed SMA{{self.params.period}}"))
        return signals
'''

STRATEGY_TEST = '''
from genesis_core.testing import check_strategy

from {package} import {Name}


def test_signals_on_real_candles(genesis_candles):
    signals = {Name}({Name}.Params()).generate(genesis_candles)
    assert signals, "expected crossings on a month of hourly candles"
    assert {{s.side.value for s in signals}} <= {{"BUY", "SELL"}}


def test_no_lookahead_live_parity_determinism(genesis_candles):
    check_strategy(lambda: {Name}({Name}.Params()), genesis_candles, live_start=600)


def test_runs_in_a_paper_bot(genesis_paper):
    bot = genesis_paper("strategies: [{{plugin: {name}}}]")
    assert bot.summary().signals > 0
'''

INDICATOR = '''
"""Momentum: close minus the close ``period`` bars earlier (batch and streaming)."""

from collections import deque

import attrs
import numpy as np
from genesis_core import Candle, Candles, Indicator, doc


@attrs.frozen
class {Name}Params:
    period: int = doc("Bars back.", default=10, validator=attrs.validators.ge(1))


class _Stream:
    def __init__(self, period: int) -> None:
        self._closes = deque(maxlen=period + 1)

    def update(self, candle: Candle) -> dict:
        self._closes.append(candle.close)
        full = len(self._closes) == self._closes.maxlen
        return {{"value": self._closes[-1] - self._closes[0] if full else float("nan")}}


class {Name}(Indicator):
    """Close minus the close ``period`` bars earlier."""

    name = "{name}"
    Params = {Name}Params
    outputs = ("value",)

    def warmup(self) -> int:
        return self.params.period

    def compute(self, candles: Candles) -> dict:
        p = self.params.period
        value = np.full(len(candles), np.nan)
        value[p:] = candles.close[p:] - candles.close[:-p]
        return {{"value": value}}

    def stream(self) -> _Stream:
        return _Stream(self.params.period)
'''

INDICATOR_TEST = '''
import math

from {package} import {Name}


def test_streaming_equals_batch(genesis_candles):
    indicator = {Name}({Name}.Params(period=5))
    batch = indicator.compute(genesis_candles)["value"]
    state = indicator.stream()
    for i in range(len(genesis_candles)):
        live = state.update(genesis_candles.candle(i))["value"]
        assert (math.isnan(live) and math.isnan(batch[i])) or live == batch[i]
    assert indicator.warmup() == 5
'''

RISK = '''
"""Reject entries whose notional exceeds a cap."""

from decimal import Decimal

import attrs
from genesis_core import PortfolioSnapshot, RiskDecision, RiskPolicy, TradeIntent, doc


@attrs.frozen
class {Name}Params:
    max_notional: Decimal = doc("Largest entry value in the quote currency.",
                                default=Decimal("1000"))


class {Name}(RiskPolicy):
    """Reject entries worth more than max_notional; exits always pass."""

    name = "{name}"
    Params = {Name}Params

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, "exit")
        notional = intent.amount * intent.price
        if notional > self.params.max_notional:
            return RiskDecision.reject(
                self.name, f"notional {{notional}} above {{self.params.max_notional}}")
        return RiskDecision.approve(self.name, f"notional {{notional}}")
'''

RISK_TEST = '''
from decimal import Decimal

from genesis_core import PortfolioSnapshot, RiskAction, Signal, TradeIntent
from genesis_core.testing import check_risk_policy

from {package} import {Name}


def intent(amount, reduce_only=False):
    signal = Signal.make(symbol="BTCUSD", timeframe="1h", side="BUY", confidence=0.9,
                         timestamp=0, price=100.0, strategy="test")
    return TradeIntent(signal, "BTCUSD", "BUY", Decimal(amount), Decimal(100),
                       reduce_only=reduce_only)


def test_contract_and_cap():
    policy = {Name}({Name}.Params(max_notional=Decimal(500)))
    book = PortfolioSnapshot(0, Decimal(1000), Decimal(1000))
    check_risk_policy(policy, [(intent(i), book) for i in ("1", "6")] + [(intent(9, True), book)])
    assert RiskAction.REJECT == policy.check(intent("6"), book).action
    assert RiskAction.APPROVE == policy.check(intent("5"), book).action
'''

NOTIFIER = '''
"""Append alerts to a text file, one line each."""

from pathlib import Path

import attrs
from genesis_core import Alert, Notifier, doc, format_ts


@attrs.frozen
class {Name}Params:
    path: Path = doc("File to append to (relative to the bot file).")


class {Name}(Notifier):
    """Append each alert to a file."""

    name = "{name}"
    Params = {Name}Params

    async def notify(self, alert: Alert) -> None:
        with self.params.path.open("a", encoding="utf-8") as handle:
            handle.write(f"{{format_ts(alert.timestamp)}} {{alert.severity.value}} "
                         f"{{alert.rule}}: {{alert.title}}\\n")
'''

NOTIFIER_TEST = '''
import anyio
from genesis_core import Alert

from {package} import {Name}


def test_writes_one_line_per_alert(tmp_path):
    notifier = {Name}({Name}.Params(path=tmp_path / "alerts.log"))
    anyio.run(notifier.notify, Alert("fill", "info", "bought", "", 0))
    assert "1970-01-01T00:00Z info fill: bought\\n" == (tmp_path / "alerts.log").read_text()
'''

EXECUTOR = '''
"""Fill market orders at the next bar's open, without fees (replace with a venue client)."""

from decimal import Decimal

import attrs
from genesis_core import (
    Balance, CandleClosed, Executor, Fill, Order, OrderError, OrderStatus, doc,
)


@attrs.frozen
class {Name}Params:
    cash: Decimal = doc("Starting balance.", default=Decimal("10000"))


class {Name}(Executor):
    """Fill market orders at the next bar's open."""

    name = "{name}"
    Params = {Name}Params

    def __init__(self, params=None) -> None:
        super().__init__(params)
        self._orders: dict[str, Order] = {{}}
        self._events: list = []
        self.cash = self.params.cash

    async def submit(self, request):
        if request.client_order_id in self._orders:
            return self._orders[request.client_order_id]
        if request.type.value != "MARKET":
            raise OrderError(f"{{self.name}} only takes MARKET orders")
        order = Order(request).transition(OrderStatus.SUBMITTED, at=0).transition(
            OrderStatus.OPEN, at=0)
        self._orders[request.client_order_id] = order
        return order

    async def on_market(self, event) -> None:
        if not isinstance(event, CandleClosed):
            return
        for order in list(self._orders.values()):
            if order.status is OrderStatus.OPEN and order.request.symbol == event.symbol:
                price = Decimal(repr(event.candle.open))
                r = order.request
                fill = Fill(f"fill-{{r.client_order_id}}", r.client_order_id, r.symbol, r.side,
                            r.amount, price, Decimal(0), "USD", event.candle.timestamp)
                self.cash -= r.side.sign * fill.notional
                done = order.transition(OrderStatus.FILLED, at=event.candle.timestamp,
                                        filled_amount=r.amount, average_price=price)
                self._orders[r.client_order_id] = done
                self._events += [fill, done]

    async def cancel(self, client_order_id):
        order = self._orders[client_order_id]
        if not order.status.is_final:
            order = order.transition(OrderStatus.CANCELED, at=0)
            self._orders[client_order_id] = order
        return order

    async def order(self, client_order_id):
        return self._orders.get(client_order_id)

    async def open_orders(self):
        return [o for o in self._orders.values() if not o.status.is_final]

    async def balances(self):
        return [Balance("USD", self.cash, self.cash)]

    async def events(self):
        import anyio

        while True:
            while self._events:
                yield self._events.pop(0)
            await anyio.sleep(0.01)
'''

EXECUTOR_TEST = '''
from decimal import Decimal

import anyio
from genesis_core import Candle, CandleClosed, OrderRequest, OrderStatus

from {package} import {Name}


def test_market_order_fills_at_next_open():
    async def scenario():
        executor = {Name}({Name}.Params(cash=Decimal(1000)))
        request = OrderRequest("c1", "BTCUSD", "BUY", "MARKET", Decimal(2))
        await executor.submit(request)
        assert await executor.submit(request) is not None   # idempotent
        await executor.on_market(CandleClosed("BTCUSD", "1h", Candle(0, 100, 101, 99, 100, 1)))
        return executor

    executor = anyio.run(scenario)
    order = anyio.run(executor.order, "c1")
    assert OrderStatus.FILLED == order.status
    assert Decimal(800) == executor.cash
'''

DATA_SOURCE = '''
"""A seeded random-walk market (replace with a venue feed)."""

import random

import attrs
from genesis_core import Candle, CandleClosed, DataSource, doc, timeframe_ms


@attrs.frozen
class {Name}Params:
    bars: int = doc("Bars to emit per market.", default=100)
    seed: int = doc("Random seed.", default=1)
    start_ms: int = doc("Open time of the first bar.", default=1_700_000_000_000)


class {Name}(DataSource):
    """Emit a seeded random walk as closed candles."""

    name = "{name}"
    Params = {Name}Params

    async def stream(self, markets):
        rng = random.Random(self.params.seed)
        prices = {{m.symbol: 100.0 for m in markets}}
        for i in range(self.params.bars):
            for market in markets:
                step = timeframe_ms(market.timeframe)
                open_ = prices[market.symbol]
                close = max(0.01, open_ * (1 + rng.gauss(0, 0.01)))
                high, low = max(open_, close) * 1.002, min(open_, close) * 0.998
                prices[market.symbol] = close
                yield CandleClosed(market.symbol, market.timeframe, Candle(
                    self.params.start_ms + i * step, open_, high, low, close, 1.0))
'''

DATA_SOURCE_TEST = '''
import anyio
from genesis_core import Candles, MarketSpec

from {package} import {Name}


def test_emits_valid_candles():
    async def collect():
        source = {Name}({Name}.Params(bars=50))
        return [e async for e in source.stream([MarketSpec("BTCUSD", "1h")])]

    events = anyio.run(collect)
    candles = Candles.from_rows([(e.candle.timestamp, e.candle.open, e.candle.high,
                                  e.candle.low, e.candle.close, e.candle.volume)
                                 for e in events])
    assert 50 == len(candles)
'''

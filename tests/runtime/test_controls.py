"""Auto-trading rules through the BotControl a command channel gets: confirm, expiry, pause,
emergency stop."""

from __future__ import annotations

import io
from pathlib import Path

import anyio
import attrs

from genesis_core import (
    Candles,
    Notifier,
    OrderStatus,
    Signal,
    Strategy,
    doc,
    hookimpl,
    load_config,
    load_plugins,
)
from genesis_core.runtime import Bot


DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "bitfinex_BTCUSD_1h.csv"


@attrs.frozen
class ScriptParams:
    bars: list[int] = doc("Bar indexes that signal.", factory=list)
    confidence: float = doc("Confidence of each signal.", default=0.7)


class Script(Strategy):
    """Signals BUY at the listed bars."""

    name = "script"
    Params = ScriptParams

    def generate(self, candles: Candles) -> list[Signal]:
        return [Signal.make(symbol=candles.symbol, timeframe=candles.timeframe, side="BUY",
                            confidence=self.params.confidence, timestamp=candles.close_time(i),
                            price=float(candles.close[i]), strategy=self.name)
                for i in self.params.bars if i < len(candles)]


class Operator(Notifier):
    """A chat user: reacts to alerts through the control it was given."""

    name = "operator"
    action = "none"

    def __init__(self, params=None) -> None:
        super().__init__(params)
        self.control = None
        self.outcomes: list[str] = []
        self.alerts = []

    async def serve(self, control) -> None:
        self.control = control

    async def notify(self, alert) -> None:
        self.alerts.append(alert)
        if alert.rule == "confirmation_needed" and self.action == "confirm":
            pending = await self.control.pending_confirmations()
            # typed the way a human would: the short id the alert shows
            assert pending[0].short_id in alert.message
            self.outcomes.append(await self.control.confirm(pending[0].short_id))
        if self.action == "stop" and alert.rule == "confirmation_needed":
            self.outcomes.append(await self.control.emergency_stop(flatten=True))
        if self.action == "stop twice" and alert.rule == "fill" and not self.outcomes:
            # Two operators (the CLI and a chat, say) stop the bot at once.
            for _ in range(2):
                self.outcomes.append(await self.control.emergency_stop(flatten=True))


class Plugin:
    __name__ = "controls_test"

    @hookimpl
    def register_strategies(self, register):
        register(Script)

    @hookimpl
    def register_notifiers(self, register):
        register(Operator)


BOT = f"""
name: controls
mode: paper
markets: [{{symbol: BTCUSD, timeframes: [1h]}}]
data_source:
  plugin: replay
  params: {{files: [{{symbol: BTCUSD, timeframe: 1h, path: {DATA}}}]}}
executor: {{plugin: paper}}
strategies: [{{plugin: script, params: {{bars: [40, 200, 400], confidence: 0.7}}}}]
trading: {{confirmation_minutes: %d}}
storage: {{path: state.db}}
risk:
  - {{plugin: confidence_bands}}
  - {{plugin: fixed_fraction}}
notifiers: [{{plugin: operator}}]
"""


def run(tmp_path: Path, action: str, minutes: int = 600, bars: str = "[40, 200, 400]",
        confidence: float = 0.7) -> tuple[Bot, Operator, str]:
    Operator.action = action
    path = tmp_path / "bot.yaml"
    path.write_text((BOT % minutes).replace("[40, 200, 400]", bars)
                    .replace("confidence: 0.7", f"confidence: {confidence}"))
    plugins = load_plugins(extra=[Plugin()])
    out = io.StringIO()
    bot = Bot(load_config(path, plugins), plugins, out=out)
    anyio.run(bot.run)
    operator = next(n for n in bot.c.notifiers if isinstance(n, Operator))
    return bot, operator, out.getvalue()


def entries(bot: Bot) -> list:
    return [o for o in bot.orders.orders.values() if o.request.signal_id]


def test_manual_band_waits_for_a_human_and_trades_when_confirmed(tmp_path) -> None:
    bot, operator, log = run(tmp_path, "confirm", bars="[40]")
    assert 1 == log.count("RISK   BTCUSD BUY: CONFIRM: confidence_bands:")
    signal_id = f"consensus:BTCUSD:1h:{bot.buffers[('BTCUSD', '1h')].view().close_time(40)}"
    assert [f"confirmed {signal_id}: BUY BTCUSD"] == operator.outcomes
    assert 1 == log.count("CONFIRMED by a human")
    [entry] = entries(bot)
    assert (signal_id, OrderStatus.FILLED) == (entry.request.signal_id, entry.status)


def test_unconfirmed_signals_expire_and_never_trade(tmp_path) -> None:
    bot, _, log = run(tmp_path, "none", minutes=120)
    assert 3 == log.count("confirmation expired")
    assert [] == entries(bot)


def test_emergency_stop_cancels_flattens_and_blocks_entries(tmp_path) -> None:
    bot, operator, _ = run(tmp_path, "stop")
    assert operator.outcomes[0].startswith("emergency stop engaged")
    assert bot.emergency
    assert all(o.status.is_final for o in bot.orders.orders.values())
    assert not any(p.is_open for p in bot.ledger.positions.values())
    assert "emergency_stop" in [a.rule for a in operator.alerts]
    assert [] == [o for o in entries(bot) if o.status is OrderStatus.FILLED]


def test_a_second_emergency_stop_still_flattens(tmp_path) -> None:
    # The second stop cancels the first one's exit, so it must send an exit of its own.
    bot, operator, _ = run(tmp_path, "stop twice", bars="[40]", confidence=0.9)
    assert 2 == len(operator.outcomes)
    assert not any(p.is_open for p in bot.ledger.positions.values())
    exits = [o for o in bot.orders.orders.values()
             if o.request.reduce_only and o.request.parent_id is None]
    assert [OrderStatus.CANCELED, OrderStatus.FILLED] == [o.status for o in exits]


def test_pause_rejects_new_entries(tmp_path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text((BOT % 600).replace("trading: {confirmation_minutes: 600}",
                                        "trading: {auto_trading: false}"))
    plugins = load_plugins(extra=[Plugin()])
    out = io.StringIO()
    bot = Bot(load_config(path, plugins), plugins, out=out)
    anyio.run(bot.run)
    assert 3 == out.getvalue().count("REJECT: runtime: auto-trading paused")
    assert [] == entries(bot)


def test_risk_halts_and_fills_raise_alerts(tmp_path) -> None:
    """A kill-switch rejection is a risk_halt alert; every fill is a fill alert."""
    from genesis_core.testing import RecordingNotifier, run_paper

    flag = tmp_path / "halt"
    flag.touch()
    run_paper(f"""
        strategies: [{{plugin: ema_rsi}}]
        risk:
          - {{plugin: kill_switch, params: {{flag_file: {flag}}}}}
          - {{plugin: fixed_fraction}}
        notifiers: [{{plugin: recording}}]
    """)
    rules = [a.rule for a in RecordingNotifier.received]
    assert "risk_halt" in rules
    assert "fill" not in rules
    bot = run_paper("""
        strategies: [{plugin: ema_rsi}]
        risk: [{plugin: fixed_fraction}]
        notifiers: [{plugin: recording}]
    """)
    fills = [a for a in RecordingNotifier.received if a.rule == "fill"]
    assert bot.summary().fills == len(fills)

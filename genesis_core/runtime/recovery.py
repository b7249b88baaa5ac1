"""Crash recovery: what a resumed bot takes back from its database, and the checks before.

Two runtime documents make a run resumable: ``run`` (written once, at the first start: what must
not change, and the cash the run began with) and ``checkpoint`` (written with every market
event: the last bar processed per market, the peak and start-of-day equity). Everything else is
rebuilt from the rows the bot already keeps: the ledger from its fills, orders and brackets from
their tables, the strategies' history from the candles, the consensus from recent signals.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from genesis_core.config.schema import BotConfig
from genesis_core.errors import GenesisError
from genesis_core.models import (
    Candles,
    Fill,
    Market,
    Order,
    RiskAction,
    RiskDecision,
    Signal,
    TradeIntent,
)
from genesis_core.runtime.intents import entry_intent
from genesis_core.runtime.orders import Bracket
from genesis_core.runtime.risk import resized
from genesis_core.storage import Confirmation, Store


RUN = "run"
CHECKPOINT = "checkpoint"
# Bars per market loaded back into the strategies' history. Indicators over a longer window than
# this (or recursive ones not yet converged after it) would see a shorter history than before.
WARMUP_BARS = 10_000

MarketKey = tuple[str, str]


def identity(config: BotConfig) -> dict[str, Any]:
    """What a resumed run must share with the one it continues."""
    return {"executor": config.executor.plugin, "quote": config.trading.quote_currency,
            "markets": sorted(f"{m.symbol} {tf}" for m in config.markets for tf in m.timeframes)}


def check_compatible(saved: Mapping[str, Any], config: BotConfig, path: Path) -> None:
    """Refuse, in one line, to resume under a config that changed what the books mean."""
    now = identity(config)
    for key, what in (("executor", "executor"), ("quote", "quote currency"),
                      ("markets", "markets")):
        if saved.get(key) != now[key]:
            raise GenesisError(
                f"{path}: cannot resume: the {what} changed since this run started "
                f"({_show(saved.get(key))} -> {_show(now[key])}); restore the bot file or start "
                "over with `genesis run --fresh`")


def _show(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


@attrs.frozen
class Checkpoint:
    """The runner's own state at its last consistency point."""

    now: int
    cursor: dict[MarketKey, int]  # open time of the last bar processed, per market
    peak: Decimal
    day_start: Decimal
    day: int
    signals: int  # strategy signals seen (several may share an id, so the table can't say)
    risk: dict[str, Any] = attrs.Factory(dict)  # RiskPolicy.state() by "index:name"

    def to_data(self) -> dict[str, Any]:
        return {"now": self.now, "cursor": [[s, tf, ts] for (s, tf), ts in self.cursor.items()],
                "peak": str(self.peak), "day_start": str(self.day_start), "day": self.day,
                "signals": self.signals, "risk": self.risk}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(int(data["now"]), {(s, tf): int(ts) for s, tf, ts in data["cursor"]},
                   Decimal(data["peak"]), Decimal(data["day_start"]), int(data["day"]),
                   int(data["signals"]), dict(data.get("risk", {})))


@attrs.frozen
class Saved:
    """Everything a resumed bot takes back from its database."""

    initial_cash: Decimal
    checkpoint: Checkpoint
    orders: list[Order]
    brackets: list[Bracket]
    fills: list[Fill]
    signals: list[Signal]
    candles: dict[MarketKey, Candles]
    confirmations: list[tuple[Confirmation, Signal, list[RiskDecision]]]
    emergency: bool
    auto_trading: bool
    bars: int


def load(store: Store, config: BotConfig) -> Saved | None:
    """The saved state of the run in ``store``, or ``None`` when there is none to resume."""
    run = store.load_runtime(RUN)
    if run is None:
        if store.load_signals() or store.load_fills():
            raise GenesisError(f"{store.path} holds a run recorded before crash recovery "
                               "existed; start over with `genesis run --fresh`")
        return None
    check_compatible(run, config, store.path)
    signals = store.load_signals()
    by_id = {s.id: s for s in signals}
    waiting = [(c, by_id[c.signal_id], store.load_decisions(c.signal_id))
               for c in store.pending_confirmations() if c.signal_id in by_id]
    return Saved(
        initial_cash=Decimal(run["initial_cash"]),
        checkpoint=Checkpoint.from_data(store.load_runtime(CHECKPOINT) or {
            "now": 0, "cursor": [], "peak": run["initial_cash"],
            "day_start": run["initial_cash"], "day": -1, "signals": 0}),
        orders=store.load_orders(open_only=False),
        brackets=[Bracket.from_data(d) for d in store.load_brackets().values()],
        fills=store.load_fills(),
        signals=signals,
        candles={(m.symbol, tf): store.load_candles(m.symbol, tf, limit=WARMUP_BARS)
                 for m in config.markets for tf in m.timeframes},
        confirmations=waiting,
        emergency=store.get_flag("emergency_stop", False) is True,
        auto_trading=store.get_flag("auto_trading", True) is not False,
        bars=store.count("candles"),
    )


def parked_intent(signal: Signal, market: Market,
                  decisions: list[RiskDecision]) -> TradeIntent:
    """The trade a signal waiting for confirmation would place, from its stored verdicts
    (folded the way the risk chain folds them)."""
    intent = entry_intent(signal, market, {})
    for decision in decisions:
        if decision.action is RiskAction.RESIZE:
            intent = resized(intent, decision)
    return intent

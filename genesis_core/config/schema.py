"""The bot configuration: what one YAML file describes.

Every field carries ``metadata={"doc": ...}``; ``genesis config schema`` and
``docs/configuration.md`` are generated from these, so the docs cannot drift from the code.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import attrs

from genesis_core.models.market import timeframe_ms


def doc(text: str, **kwargs: Any) -> Any:
    """An attrs field with documentation (shorthand used by every config class)."""
    return attrs.field(metadata={"doc": text}, **kwargs)


def positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"'{attribute.name}' must be > 0, got {value!r}")


def valid_timeframes(instance: object, attribute: attrs.Attribute, value: list[str]) -> None:
    for index, timeframe in enumerate(value):
        try:
            timeframe_ms(timeframe)
        except ValueError as exc:
            raise ValueError(f"'{attribute.name}[{index}]' {exc}") from None


def identifier(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
        raise ValueError(f"'{attribute.name}' must be 1-64 letters, digits, '_', '-' or '.', "
                         f"got {value!r}")


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"
    BACKTEST = "backtest"


@attrs.frozen
class ComponentConfig:
    """A component chosen by name, with its own params (validated by the component's Params)."""

    plugin: str = doc("Registered name of the component, as listed by `genesis plugins`.")
    params: Any = doc("Parameters, checked against the component's own Params class.",
                      factory=dict)


@attrs.frozen
class StrategyConfig:
    """A strategy, how much its vote counts, and where it runs."""

    plugin: str = doc("Registered strategy name.")
    params: Any = doc("Strategy parameters.", factory=dict)
    weight: float = doc("Weight of this strategy's vote in the consensus signal.", default=1.0,
                        validator=positive)
    timeframes: list[str] = doc("Timeframes it runs on; empty means every market timeframe.",
                                factory=list, validator=valid_timeframes)
    symbols: list[str] = doc("Symbols it runs on; empty means every market.", factory=list)


@attrs.frozen
class MarketConfig:
    """A traded symbol and the candle timeframes the bot follows for it."""

    symbol: str = doc("Symbol as the data source and executor name it, e.g. BTCUSD.")
    timeframes: list[str] = doc("Candle timeframes, e.g. [5m, 1h].", validator=valid_timeframes)
    min_amount: Decimal = doc("Smallest order amount, in the base currency.",
                              default=Decimal(0))
    amount_decimals: int = doc("Decimals allowed in order amounts.", default=8)
    price_significant: int = doc("Significant digits allowed in prices (Bitfinex: 5).",
                                 default=5)


def _unit(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"'{attribute.name}' must be in [0, 1], got {value!r}")


@attrs.frozen
class ConsensusConfig:
    """How the signals of several strategies and timeframes become one (see consensus.py)."""

    timeframe_weights: dict[str, float] = doc(
        "Weight per timeframe, e.g. {1m: 0.3, 5m: 0.4, 1h: 0.3}; unlisted timeframes weigh 1.",
        factory=dict)
    min_score: float = doc("Weighted score (0-1) the winning side needs to emit a signal.",
                           default=0.5, validator=_unit)
    fresh_bars: int = doc("Bars of its own timeframe for which a vote stays valid.", default=1)


@attrs.frozen
class TradingConfig:
    """Auto-trading rules applied after the risk chain."""

    auto_trading: bool = doc("Open trades automatically (false: only exits and protection run).",
                             default=True)
    quote_currency: str = doc("Currency the bot accounts in (its cash); fees charged in any "
                              "other currency reduce the position instead.", default="USD")
    confirmation_minutes: int = doc(
        "How long a signal waiting for manual confirmation stays confirmable.", default=15,
        validator=attrs.validators.ge(1))


@attrs.frozen
class AlertsConfig:
    """Alert rules (rule names: high_confidence, signal_conflict, confirmation_needed, fill,
    trade_closed, order_rejected, risk_halt, emergency_stop)."""

    high_confidence: float = doc("Signals above this confidence raise high_confidence.",
                                 default=0.90)
    disabled: list[str] = doc("Rules that never alert.", factory=list)
    cooldown_seconds: dict[str, int] = doc(
        "Per rule: suppress an identical alert repeated within this many seconds.",
        factory=dict)
    burst_limit: int = doc("Alerts of one rule delivered per burst window before the rest "
                           "are summarised.", default=5)
    burst_seconds: int = doc("Burst window length in seconds.", default=60)
    escalate_after: int = doc("Critical alerts of one rule within an hour before escalating.",
                              default=3)


@attrs.frozen
class StorageConfig:
    """Where the bot keeps its state."""

    path: Path = doc("SQLite database file, relative to the YAML file.",
                     default=Path("genesis.db"))


@attrs.frozen
class MetricsConfig:
    """The Prometheus endpoint."""

    enabled: bool = doc("Serve /metrics and /health over HTTP.", default=False)
    host: str = doc("Address to bind; keep loopback unless a scraper needs more.",
                    default="127.0.0.1")
    port: int = doc("TCP port.", default=9108)


@attrs.frozen
class BotConfig:
    """One bot."""

    name: str = doc("Bot name: used in client order ids, logs and metrics.",
                    validator=identifier)
    mode: Mode = doc("paper (simulated fills on live or replayed data), live, or backtest.")
    markets: list[MarketConfig] = doc("What the bot trades.")
    data_source: ComponentConfig = doc("Where candles come from.")
    executor: ComponentConfig = doc("Where orders go.")
    strategies: list[StrategyConfig] = doc("Strategies whose signals are combined.")
    risk: list[ComponentConfig] = doc("Risk policies, evaluated in this order; all must approve.",
                                      factory=list)
    notifiers: list[ComponentConfig] = doc("Where alerts go (the console always gets them).",
                                           factory=list)
    consensus: ConsensusConfig = doc("Combining strategies and timeframes.",
                                     factory=ConsensusConfig)
    trading: TradingConfig = doc("Auto-trading rules.", factory=TradingConfig)
    alerts: AlertsConfig = doc("Alert rules, cooldowns and aggregation.", factory=AlertsConfig)
    storage: StorageConfig = doc("State database.", factory=StorageConfig)
    metrics: MetricsConfig = doc("Prometheus metrics.", factory=MetricsConfig)

    def components(self) -> list[tuple[str, tuple[str | int, ...], Any]]:
        """Every component reference as ``(kind, yaml path, config)``."""
        found: list[tuple[str, tuple[str | int, ...], Any]] = [
            ("data_source", ("data_source",), self.data_source),
            ("executor", ("executor",), self.executor),
        ]
        found += [("strategy", ("strategies", i), s) for i, s in enumerate(self.strategies)]
        found += [("risk_policy", ("risk", i), r) for i, r in enumerate(self.risk)]
        found += [("notifier", ("notifiers", i), n) for i, n in enumerate(self.notifiers)]
        return found

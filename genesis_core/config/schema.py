"""The bot configuration: what one YAML file describes.

Every field carries ``metadata={"doc": ...}``; ``genesis config schema`` and
``docs/configuration.md`` are generated from these, so the docs cannot drift from the code.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import attrs

from genesis_core.models.market import timeframe_ms


def doc(text: str, **kwargs: Any) -> Any:
    """An attrs field with documentation (shorthand used by every config class)."""
    return attrs.field(metadata={"doc": text}, **kwargs)


def positive(instance: object, attribute: attrs.Attribute, value: float | Decimal) -> None:
    if not value > 0:  # str(): a Decimal reads "0", not "Decimal('0')"
        raise ValueError(f"'{attribute.name}' must be > 0, got {value}")


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


def _moment(instance: object, attribute: attrs.Attribute, value: str | None) -> None:
    # Checked here so that `genesis config check` finds it (with its line), not the backtest.
    if value is None or value.isdigit():
        return
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{attribute.name}' must be an ISO date/time (UTC unless it says "
                         f"otherwise) or epoch ms, got {value!r}") from None


def _monte_carlo_method(instance: object, attribute: attrs.Attribute, value: str) -> None:
    from genesis_core.backtest.montecarlo import METHODS

    if value not in METHODS:
        raise ValueError(f"'{attribute.name}' must be one of {', '.join(METHODS)}, "
                         f"got {value!r}")


_NON_NEGATIVE = attrs.validators.ge(0)


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
    amount_decimals: int = doc("Decimals allowed in order amounts.", default=8,
                               validator=_NON_NEGATIVE)
    price_significant: int = doc("Significant digits allowed in prices (Bitfinex: 5).",
                                 default=5, validator=attrs.validators.ge(1))


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
    warmup_bars: int = doc(
        "History loaded from the data source before each market's first live bar, in bar "
        "intervals (a venue skips intervals without trades, so fewer bars may come), so "
        "strategies start warm; after a restart the bars that closed while the bot was down "
        "are loaded instead. Nothing is traded on them. 0: none.", default=300,
        validator=attrs.validators.ge(0))


ALERT_RULES = (
    "high_confidence", "signal_conflict", "confirmation_needed", "fill", "trade_closed",
    "order_rejected", "order_unknown", "risk_halt", "emergency_stop", "performance_change",
    "feed_stale", "reconnecting", "reconnected", "reconnect_storm", "circuit_open",
    "circuit_closed", "maintenance", "history_gap",
)


def _alert_rules(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    # A misspelt rule (hgh_confidence) would otherwise be ignored: the alert keeps coming.
    for rule in value:
        if rule not in ALERT_RULES:
            close = difflib.get_close_matches(str(rule), ALERT_RULES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"'{attribute.name}': no alert rule {rule!r}{hint} "
                             f"(rules: {', '.join(ALERT_RULES)})")


@attrs.frozen
class AlertsConfig:
    """Alert rules (rule names: high_confidence, signal_conflict, confirmation_needed, fill,
    trade_closed, order_rejected, order_unknown, risk_halt, emergency_stop, performance_change,
    feed_stale, reconnecting, reconnected, reconnect_storm, circuit_open, circuit_closed,
    maintenance, history_gap)."""

    high_confidence: float = doc("Signals above this confidence raise high_confidence.",
                                 default=0.90)
    disabled: list[str] = doc("Rules that never alert.", factory=list, validator=_alert_rules)
    cooldown_seconds: dict[str, int] = doc(
        "Per rule: suppress an identical alert repeated within this many seconds.",
        factory=dict, validator=_alert_rules)
    burst_limit: int = doc("Alerts of one rule delivered per burst window before the rest "
                           "are summarised.", default=5)
    burst_seconds: int = doc("Burst window length in seconds.", default=60)
    escalate_after: int = doc("Critical alerts of one rule within an hour before escalating.",
                              default=3)
    reconnect_storm: int = doc("Reconnects within reconnect_storm_minutes that raise "
                               "reconnect_storm (critical).", default=5, validator=positive)
    reconnect_storm_minutes: int = doc("Window of the reconnect count.", default=10,
                                       validator=positive)
    feed_stale_seconds: int = doc("Live and paper bots: seconds without any market event "
                                  "before feed_stale is raised (0: off).", default=300)
    performance_change_pct: float = doc(
        "Equity change (in %, either way) within performance_window_minutes that raises "
        "performance_change (0: off).", default=5.0)
    performance_window_minutes: int = doc("Window of the equity change.", default=1440,
                                          validator=positive)


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
    port: int = doc("TCP port.", default=9108,
                    validator=[attrs.validators.ge(0), attrs.validators.le(65535)])


class SearchMethod(StrEnum):
    GRID = "grid"
    RANDOM = "random"


@attrs.frozen
class OptimizeConfig:
    """A parameter search: which parameters vary, how, and what ranks the results."""

    params: dict[str, Any] = doc(
        "Dotted parameter paths (strategies.<label>.<param>, risk.<plugin>.<param>) mapped to "
        "{range: [start, stop, step]}, {values: [...]}, or for random search "
        "{uniform|log_uniform|int_uniform: [low, high]}.")
    method: SearchMethod = doc("grid: every combination; random: `samples` draws.",
                               default=SearchMethod.GRID)
    samples: int = doc("Draws for random search.", default=50, validator=positive)
    objective: str = doc("Metric to maximise (sharpe, sortino, calmar, profit_factor, "
                         "total_return, ...); prefix '-' to minimise (-max_drawdown).",
                         default="sharpe")
    seed: int = doc("Seed of random search.", default=0)
    workers: int | None = doc("Processes; empty means one per CPU core.", default=None,
                              validator=attrs.validators.optional(attrs.validators.ge(1)))


@attrs.frozen
class WalkForwardConfig:
    """Rolling train/test windows: the best in-sample parameters traded out of sample."""

    train_bars: int = doc("Bars in each training window.", validator=positive)
    test_bars: int = doc("Bars in each out-of-sample window that follows it.",
                         validator=positive)
    step_bars: int | None = doc("Bars between window starts; empty means test_bars.",
                                default=None)
    anchored: bool = doc("Every training window starts at the first bar.", default=False)


@attrs.frozen
class MonteCarloConfig:
    """Resampling of the trade sequence for return and drawdown distributions."""

    runs: int = doc("Simulated trade sequences.", default=10_000, validator=positive)
    method: str = doc("bootstrap (draw trades with replacement) or shuffle (reorder them).",
                      default="bootstrap", validator=_monte_carlo_method)
    seed: int = doc("Seed, so results are reproducible.", default=0)


@attrs.frozen
class CostsConfig:
    """Fees and slippage of a backtest (a paper executor's own fees are used by default)."""

    # >= 0 as the simulator requires, so `genesis config check` reports it with its line.
    taker_fee_bps: float = doc("Taker fee in basis points.", default=20.0,
                               validator=_NON_NEGATIVE)
    maker_fee_bps: float = doc("Maker fee in basis points.", default=10.0,
                               validator=_NON_NEGATIVE)
    slippage_bps: float = doc("Fixed adverse move on taker fills, in basis points.",
                              default=0.0, validator=_NON_NEGATIVE)
    volume_slippage_bps: float = doc("Extra basis points per unit of order size / bar volume.",
                                     default=0.0, validator=_NON_NEGATIVE)
    impact_k: float = doc("Square-root impact coefficient (× volatility × √(size/volume)).",
                          default=0.0, validator=_NON_NEGATIVE)
    short_funding_bps: float = doc("Borrow cost of shorts per bar, in basis points.",
                                   default=0.0, validator=_NON_NEGATIVE)


@attrs.frozen
class BacktestConfig:
    """What `genesis backtest` runs on and writes."""

    start: str | None = doc("First bar (ISO date or time, UTC); empty means all history.",
                            default=None, validator=_moment)
    end: str | None = doc("End of the period (exclusive, ISO date or time, UTC).",
                          default=None, validator=_moment)
    initial_cash: Decimal | None = doc("Starting cash; empty means the paper executor's.",
                                       default=None, validator=attrs.validators.optional(positive))
    costs: CostsConfig | None = doc("Fees and slippage; empty means the paper executor's.",
                                    default=None)
    candles_db: Path | None = doc(
        "Read candles from this `genesis data` cache (relative to the YAML file) instead of "
        "asking the data source; empty means the data source's history.", default=None)
    report_dir: Path = doc("Folder for HTML reports and trade CSVs, relative to the YAML file.",
                           default=Path("backtests"))
    runs_db: Path = doc("SQLite file of stored runs (the cache), relative to the YAML file.",
                        default=Path("backtests.db"))
    optimize: OptimizeConfig | None = doc("Parameter search (`genesis backtest --optimize`).",
                                          default=None)
    walk_forward: WalkForwardConfig | None = doc(
        "Walk-forward analysis of the `optimize` search (`--walk-forward`).", default=None)
    monte_carlo: MonteCarloConfig = doc("Monte Carlo of the trade list (`--monte-carlo`).",
                                        factory=MonteCarloConfig)


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
    backtest: BacktestConfig = doc("Backtest period, costs, reports and research.",
                                   factory=BacktestConfig)

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

"""Build component instances from a validated config and a plugin set."""

from __future__ import annotations

from typing import Any

import attrs

from genesis_core.config.schema import BotConfig
from genesis_core.consensus import Consensus, Voter
from genesis_core.contracts import (
    DataSource,
    Executor,
    MarketSpec,
    Notifier,
    RiskPolicy,
    Strategy,
)
from genesis_core.models import Market
from genesis_core.plugins import Plugins


@attrs.define
class StrategySlot:
    """One configured strategy instance and the markets it runs on."""

    label: str
    strategy: Strategy
    weight: float
    markets: list[MarketSpec]


@attrs.define
class Components:
    data_source: DataSource
    executor: Executor
    strategies: list[StrategySlot]
    risk: list[RiskPolicy]
    notifiers: list[Notifier]
    consensus: Consensus
    markets: dict[str, Market]
    specs: list[MarketSpec]


def _instance(plugins: Plugins, kind: str, ref: Any) -> Any:
    cls = plugins.registry.get(kind, ref.plugin).cls
    return cls(ref.params)


def build(config: BotConfig, plugins: Plugins) -> Components:
    specs = [MarketSpec(m.symbol, tf) for m in config.markets for tf in m.timeframes]
    markets = {m.symbol: Market(m.symbol, "", "", min_amount=m.min_amount,
                                amount_decimals=m.amount_decimals,
                                price_significant=m.price_significant)
               for m in config.markets}
    slots = []
    seen: dict[str, int] = {}
    for ref in config.strategies:
        seen[ref.plugin] = seen.get(ref.plugin, 0) + 1
        label = ref.plugin if seen[ref.plugin] == 1 else f"{ref.plugin}_{seen[ref.plugin]}"
        runs_on = [s for s in specs
                   if (not ref.timeframes or s.timeframe in ref.timeframes)
                   and (not ref.symbols or s.symbol in ref.symbols)]
        slots.append(StrategySlot(label, _instance(plugins, "strategy", ref), ref.weight, runs_on))
    voters = [Voter(slot.label, spec.timeframe, slot.weight)
              for slot in slots for spec in {MarketSpec("", s.timeframe) for s in slot.markets}]
    consensus = Consensus(voters, timeframe_weights=config.consensus.timeframe_weights,
                          min_score=config.consensus.min_score,
                          fresh_bars=config.consensus.fresh_bars)
    return Components(
        data_source=_instance(plugins, "data_source", config.data_source),
        executor=_instance(plugins, "executor", config.executor),
        strategies=slots,
        risk=[_instance(plugins, "risk_policy", ref) for ref in config.risk],
        notifiers=[_instance(plugins, "notifier", ref) for ref in config.notifiers],
        consensus=consensus,
        markets=markets,
        specs=specs,
    )

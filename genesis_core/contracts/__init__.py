"""The six component contracts plugins implement."""

from genesis_core.contracts.base import Component, NoParams
from genesis_core.contracts.control import BotControl
from genesis_core.contracts.data_source import CandleClosed, DataSource, MarketEvent, MarketSpec
from genesis_core.contracts.executor import Executor
from genesis_core.contracts.indicator import Indicator, IndicatorStream
from genesis_core.contracts.notifier import Notifier
from genesis_core.contracts.risk import RiskPolicy
from genesis_core.contracts.strategy import Strategy


KINDS: dict[str, type[Component]] = {
    "data_source": DataSource,
    "indicator": Indicator,
    "strategy": Strategy,
    "risk_policy": RiskPolicy,
    "executor": Executor,
    "notifier": Notifier,
}

__all__ = [
    "KINDS",
    "BotControl",
    "CandleClosed",
    "Component",
    "DataSource",
    "Executor",
    "Indicator",
    "IndicatorStream",
    "MarketEvent",
    "MarketSpec",
    "NoParams",
    "Notifier",
    "RiskPolicy",
    "Strategy",
]

"""Describe config classes (fields, types, defaults, docs) for `genesis config schema` and docs."""

from __future__ import annotations

import enum
import types
import typing
from pathlib import PurePath
from typing import Any

import attrs

from genesis_core.config.schema import BotConfig


def _type_name(tp: Any) -> str:
    if isinstance(tp, str):
        return tp
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " | ".join(str(m.value) for m in tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        rendered = " | ".join(_type_name(a) for a in members)
        return f"{rendered} or null" if len(members) < len(typing.get_args(tp)) else rendered
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _default(field: attrs.Attribute) -> Any:
    default = field.default
    if default is attrs.NOTHING:
        return None
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        value = default.factory()
        return _plain(attrs.asdict(value)) if attrs.has(type(value)) else value
    return _plain(getattr(default, "value", default))


def _plain(value: Any) -> Any:
    """Defaults as a YAML author would write them (paths as text)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    return getattr(value, "value", value)


def describe(cls: type) -> list[dict[str, Any]]:
    """One dict per field: name, type, required, default, doc."""
    hints = typing.get_type_hints(cls)
    return [
        {
            "name": field.name,
            "type": _type_name(hints.get(field.name, field.type)),
            "required": field.default is attrs.NOTHING,
            "default": _default(field),
            "doc": field.metadata.get("doc", ""),
        }
        for field in attrs.fields(cls)
    ]


def config_classes() -> dict[str, type]:
    """The bot file's own sections, by name."""
    from genesis_core.config import schema

    return {
        "bot": BotConfig,
        "markets[]": schema.MarketConfig,
        "data_source / executor / risk[] / notifiers[]": schema.ComponentConfig,
        "strategies[]": schema.StrategyConfig,
        "consensus": schema.ConsensusConfig,
        "trading": schema.TradingConfig,
        "alerts": schema.AlertsConfig,
        "storage": schema.StorageConfig,
        "metrics": schema.MetricsConfig,
        "backtest": schema.BacktestConfig,
        "backtest.costs": schema.CostsConfig,
        "backtest.optimize": schema.OptimizeConfig,
        "backtest.walk_forward": schema.WalkForwardConfig,
        "backtest.monte_carlo": schema.MonteCarloConfig,
    }


def markdown_reference() -> str:
    """The config reference tables for docs/configuration.md (checked by the tests)."""
    out: list[str] = []
    for section, cls in config_classes().items():
        out += [f"### `{section}`", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for field in describe(cls):
            default = "**required**" if field["required"] else f"`{field['default']!r}`"
            out.append(f"| `{field['name']}` | {field['type']} | {default} | {field['doc']} |")
        out.append("")
    return "\n".join(out)

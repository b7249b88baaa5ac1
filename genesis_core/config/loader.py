"""YAML file → validated :class:`BotConfig`, with errors that name the YAML path and line."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import cattrs

from genesis_core.config.converter import flatten_errors, make_converter
from genesis_core.config.schema import BotConfig
from genesis_core.config.secrets import ENV_REF, lookup_env, read_secrets_file
from genesis_core.config.yaml_source import PathKey, YamlDocument, format_path, read_yaml
from genesis_core.errors import ConfigError
from genesis_core.models.market import timeframe_ms


if TYPE_CHECKING:
    from genesis_core.plugins import Plugins


class _Errors:
    """Collects located, one-line error messages."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.items: list[str] = []

    def add(self, path: PathKey, message: str) -> None:
        line = f"{format_path(path)}: {message} ({self.doc.locate(path)})"
        if line not in self.items:
            self.items.append(line)

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)


def _interpolate(value: Any, path: PathKey, secrets: Mapping[str, str], errors: _Errors) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), secrets, errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), secrets, errors) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: Any) -> str:
        name, default = match.group(1), match.group(2)
        found = lookup_env(name, secrets)
        if found is None and default is None:
            errors.add(path, f"environment variable {name} is not set "
                             "(set it, or put it in the secrets file)")
            return ""
        return found if found is not None else default

    rest = ENV_REF.sub("", value)
    if "${" in rest:
        # Otherwise `${BFX KEY}` or `${KEY` stays in the value as literal text, silently.
        bad = rest[rest.index("${"):]
        bad = bad[:bad.index("}") + 1] if "}" in bad else bad[:40]
        errors.add(path, f"malformed reference {bad!r}: write ${{NAME}} or ${{NAME:-default}}, "
                         "NAME of letters, digits and _")
        return value
    return ENV_REF.sub(replace, value)


def _did_you_mean(cls: type, key: str) -> str:
    if not attrs.has(cls):
        return ""
    # str(): YAML keys may be numbers (`1: x`), which difflib cannot compare (a TypeError).
    close = difflib.get_close_matches(str(key), [f.name for f in attrs.fields(cls)], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _class_at(root: type, path: PathKey) -> type:
    """The attrs class that holds the last element of ``path`` (for did-you-mean hints)."""
    cls: Any = root
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        field = attrs.fields_dict(cls).get(part) if attrs.has(cls) else None
        if field is None:
            return cls
        cls = field.type
        args = getattr(cls, "__args__", None)
        if args:
            cls = args[0]
    return cls


def _structure(
    converter: cattrs.Converter, data: Any, cls: type, path: PathKey, errors: _Errors
) -> Any:
    if not isinstance(data, dict):
        errors.add(path, f"expected a mapping, got {type(data).__name__}")
        return None
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        found = flatten_errors(exc)
    misspelt = {}
    for sub_path, message in found:
        if message == "required key missing":
            # cattrs stops before checking extra keys; a close unknown key is the likelier story.
            typo = _close_unknown_key(data, cls, sub_path)
            if typo is not None:
                misspelt[sub_path] = typo
    for sub_path, message in found:
        if sub_path in misspelt:
            sub_path, message = misspelt[sub_path], "unknown key"
        if message == "unknown key":
            message = f"unknown key{_did_you_mean(_class_at(cls, sub_path), sub_path[-1])}"
        errors.add((*path, *sub_path), message)
    return None


def _close_unknown_key(data: Any, cls: type, missing: PathKey) -> PathKey | None:
    holder: Any = data
    for part in missing[:-1]:
        try:
            holder = holder[part]
        except (KeyError, IndexError, TypeError):
            return None
    if not isinstance(holder, dict):
        return None
    owner = _class_at(cls, missing)
    known = {f.name for f in attrs.fields(owner)} if attrs.has(owner) else set()
    unknown = [k for k in holder if k not in known]
    close = difflib.get_close_matches(str(missing[-1]), unknown, n=1)
    return (*missing[:-1], close[0]) if close else None


def _check_params(config: BotConfig, plugins: Plugins, converter: cattrs.Converter,
                  errors: _Errors) -> BotConfig:
    """Structure each component's params with that component's own Params class."""
    replaced: dict[tuple[str | int, ...], Any] = {}
    for kind, path, ref in config.components():
        if ref.plugin not in plugins.registry.names(kind):
            errors.add((*path, "plugin"), plugins.registry.unknown_message(kind, ref.plugin))
            continue
        params_cls = plugins.registry.get(kind, ref.plugin).cls.Params
        params = _structure(converter, ref.params if ref.params is not None else {},
                            params_cls, (*path, "params"), errors)
        if params is not None:
            replaced[path] = attrs.evolve(ref, params=params)
    if errors.items:
        return config

    def pick(path: tuple[str | int, ...], ref: Any) -> Any:
        return replaced.get(path, ref)

    return attrs.evolve(
        config,
        data_source=pick(("data_source",), config.data_source),
        executor=pick(("executor",), config.executor),
        strategies=[pick(("strategies", i), s) for i, s in enumerate(config.strategies)],
        risk=[pick(("risk", i), r) for i, r in enumerate(config.risk)],
        notifiers=[pick(("notifiers", i), n) for i, n in enumerate(config.notifiers)],
    )


def _check_consistency(config: BotConfig, errors: _Errors) -> None:
    if not config.markets:
        errors.add(("markets",), "at least one market is required")
    if not config.strategies:
        errors.add(("strategies",), "at least one strategy is required")
    seen: set[str] = set()
    for i, market in enumerate(config.markets):
        if market.symbol in seen:
            errors.add(("markets", i, "symbol"), f"market {market.symbol!r} is listed twice")
        seen.add(market.symbol)
        if not market.timeframes:
            errors.add(("markets", i, "timeframes"), "at least one timeframe is required")
        for j, timeframe in enumerate(market.timeframes):
            if timeframe in market.timeframes[:j]:
                errors.add(("markets", i, "timeframes", j),
                           f"timeframe {timeframe!r} is listed twice")
    followed = {tf for m in config.markets for tf in m.timeframes}
    for timeframe in config.consensus.timeframe_weights:
        if timeframe not in followed:
            errors.add(("consensus", "timeframe_weights", timeframe),
                       f"timeframe {timeframe!r} is not followed by any market")
    for i, strategy in enumerate(config.strategies):
        for j, timeframe in enumerate(strategy.timeframes):
            if timeframe not in followed:
                errors.add(("strategies", i, "timeframes", j),
                           f"timeframe {timeframe!r} is not followed by any market "
                           f"(markets follow: {', '.join(sorted(followed, key=timeframe_ms))})")
        for j, symbol in enumerate(strategy.symbols):
            if symbol not in seen:
                errors.add(("strategies", i, "symbols", j), f"symbol {symbol!r} is not a market")


def _check_search(config: BotConfig, errors: _Errors) -> None:
    """``backtest.optimize.params``: every path names a parameter, every spec parses, so
    ``genesis config check`` finds these mistakes before a search starts."""
    spec = config.backtest.optimize
    if spec is None:
        return
    import numpy as np

    from genesis_core.backtest.bot import apply_params, param_path_problem
    from genesis_core.backtest.metrics import EquityStats, TradeStats
    from genesis_core.backtest.optimize import GRID_LIMIT, ParamSpace

    # The search found these only after evaluating every candidate, or reported each
    # candidate as failed and exited 0.
    metrics = sorted(f.name for cls in (EquityStats, TradeStats) for f in attrs.fields(cls))
    if spec.objective.lstrip("+-") not in metrics:
        errors.add(("backtest", "optimize", "objective"),
                   f"{spec.objective!r} is not a metric (one of {', '.join(metrics)}; "
                   "prefix '-' to minimise)")
    if not spec.params:
        errors.add(("backtest", "optimize", "params"), "expected at least one parameter to "
                                                       "search, e.g. strategies.<label>.<param>")
    size = 1
    for key, value in spec.params.items():
        path = ("backtest", "optimize", "params", key)
        problem = param_path_problem(config, str(key))
        if problem is not None:
            errors.add(path, problem)
            continue
        try:
            (dim,) = ParamSpace.from_mapping({key: value}, where="").dimensions
        except ConfigError as exc:
            for message in exc.errors:
                errors.add(path, message.split(": ", 1)[-1])
            continue
        if not dim.discrete and spec.method.value == "grid":
            errors.add(path, f"{dim.kind} has no grid; use `method: random`, or range/values")
            continue
        size *= len(dim.values) if dim.discrete else 1
        # a long range holds one kind of number: its ends and a few values tell
        probes = ((*dim.values[:10], *dim.values[-1:]) if dim.discrete
                  else (dim.low, dim.high, dim.draw(np.random.default_rng(spec.seed))))
        for probe in probes:
            try:
                apply_params(config, {key: probe})
            except ConfigError as exc:
                # Only this value's own type; rules tying it to other params (fast < slow)
                # judge whole candidates, which the search reports.
                own = f"backtest.optimize.params.{key}: "
                found = [m.removeprefix(own) for m in exc.errors if m.startswith(own)]
                if found:
                    hint = "" if dim.discrete else f" ({dim.kind} draws such values)"
                    errors.add(path, found[0] + hint)
                    break
    if spec.method.value == "grid" and size > GRID_LIMIT:
        errors.add(("backtest", "optimize", "params"), f"the grid has {size} combinations "
                                                       f"(limit {GRID_LIMIT}); narrow it or "
                                                       "use `method: random`")


def load_config(
    path: str | Path,
    plugins: Plugins,
    *,
    secrets_file: str | Path | None = None,
) -> BotConfig:
    """Load and fully validate a bot file, including every component's params.

    ``${NAME}`` (or ``${NAME:-default}``) in any string is replaced from the environment, then
    from ``secrets_file`` (default: ``$GENESIS_SECRETS_FILE``). Raises :class:`ConfigError`
    listing every problem found, each as ``path: message (file:line)``.
    """
    path = Path(path)
    doc = read_yaml(path)
    errors = _Errors(doc)
    if not isinstance(doc.data, dict):
        errors.add((), "expected a mapping of settings at the top level")
        errors.raise_if_any()
    secrets_file = secrets_file or os.environ.get("GENESIS_SECRETS_FILE")
    secrets = read_secrets_file(secrets_file) if secrets_file else {}
    data = _interpolate(doc.data, (), secrets, errors)
    errors.raise_if_any()
    converter = make_converter(path.resolve().parent)
    config = _structure(converter, data, BotConfig, (), errors)
    errors.raise_if_any()
    _check_consistency(config, errors)
    config = _check_params(config, plugins, converter, errors)
    errors.raise_if_any()
    _check_search(config, errors)
    errors.raise_if_any()
    storage = config.storage.path
    if not storage.is_absolute():  # the default, which the converter never saw
        config = attrs.evolve(config, storage=attrs.evolve(
            config.storage, path=path.resolve().parent / storage))
    return config

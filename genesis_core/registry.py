"""Registries of component classes, one per kind, filled by the registration hooks."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

import attrs

from genesis_core.contracts import KINDS, Component
from genesis_core.contracts.base import NAME_RE
from genesis_core.errors import PluginError


# Methods a class must override to be a usable component of each kind.
REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "data_source": ("stream",),
    "indicator": ("warmup", "compute"),
    "strategy": ("generate",),
    "risk_policy": ("check",),
    "executor": ("submit", "cancel", "order", "open_orders", "balances", "events"),
    "notifier": ("notify",),
}

REGISTER_HOOKS = {
    "data_source": "register_data_sources",
    "indicator": "register_indicators",
    "strategy": "register_strategies",
    "risk_policy": "register_risk_policies",
    "executor": "register_executors",
    "notifier": "register_notifiers",
}

KIND_LABELS = {
    "data_source": "data source",
    "indicator": "indicator",
    "strategy": "strategy",
    "risk_policy": "risk policy",
    "executor": "executor",
    "notifier": "notifier",
}


@attrs.frozen
class Origin:
    """Which plugin (and distribution) provided something."""

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        version = "" if self.version == "-" else f" {self.version}"
        return f"plugin {self.plugin!r} ({self.distribution}{version})"


@attrs.frozen
class Entry:
    kind: str
    name: str
    cls: type[Component]
    origin: Origin


class Registry:
    """Component classes by kind and name. Names are unique per kind: a clash is an error, never
    a silent override, because silently swapping which executor trades is a financial bug."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}

    def add(self, kind: str, cls: object, origin: Origin) -> None:
        label = KIND_LABELS[kind]
        base = KINDS[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"{origin}: {REGISTER_HOOKS[kind]}() got {cls!r}, "
                              f"expected a subclass of genesis_core.{base.__name__}")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PluginError(f"{origin}: {label} class {cls.__qualname__} needs a `name` of "
                              f"lower-case letters, digits and _ (got {name!r})")
        missing = [m for m in REQUIRED_METHODS[kind] if getattr(cls, m) is getattr(base, m)]
        if missing:
            raise PluginError(f"{origin}: {label} {name!r} ({cls.__qualname__}) does not "
                              f"implement {', '.join(m + '()' for m in missing)}")
        if not attrs.has(cls.Params):
            raise PluginError(f"{origin}: {label} {name!r}: Params must be an attrs class")
        existing = self._entries[kind].get(name)
        if existing is not None:
            raise PluginError(f"{label} name {name!r} is registered twice: by {existing.origin} "
                              f"and by {origin}")
        self._entries[kind][name] = Entry(kind, name, cls, origin)

    def get(self, kind: str, name: str) -> Entry:
        """Return the entry or raise :class:`PluginError` with a did-you-mean suggestion."""
        try:
            return self._entries[kind][name]
        except KeyError:
            raise PluginError(self.unknown_message(kind, name)) from None

    def unknown_message(self, kind: str, name: object) -> str:
        known = sorted(self._entries[kind])
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(known) if known else "none installed"
        return f"unknown {KIND_LABELS[kind]} {name!r}{hint} (available: {listing})"

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def __iter__(self) -> Iterator[Entry]:
        for kind in KINDS:
            yield from self._entries[kind].values()

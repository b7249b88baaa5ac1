"""Finding and loading plugins: entry points, a local folder, objects handed in, defaults.

Entry-point group: ``genesis_core`` (the same string as the hook marker). Loading order:
installed entry points (unless disabled), ``*.py`` files of a plugins folder, plugins handed in
directly (tests), then the core's own default plugins. Every implementation is checked against
the specs before it is registered, so a misspelt hook or argument fails at start-up, naming the
plugin and its distribution.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pluggy

from genesis_core import hookspecs
from genesis_core.contracts import KINDS
from genesis_core.errors import PluginError
from genesis_core.registry import REGISTER_HOOKS, Origin, Registry


ENTRY_POINT_GROUP = "genesis_core"
DEFAULT_PLUGINS = (
    "genesis_core.default_plugins.console",
    "genesis_core.default_plugins.replay",
    "genesis_core.default_plugins.paper",
    "genesis_core.default_plugins.indicators",
)
CORE_DIST = "genesis-core"


def _core_version() -> str:
    try:
        return importlib.metadata.version(CORE_DIST)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


@attrs.frozen
class PluginInfo:
    """One loaded plugin: where it came from, which hooks it implements, what it registered."""

    origin: Origin
    hooks: tuple[str, ...]
    components: dict[str, list[str]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.origin.plugin,
            "distribution": self.origin.distribution,
            "version": self.origin.version,
            "hooks": list(self.hooks),
            "components": {k: v for k, v in self.components.items() if v},
        }


class Plugins:
    """A loaded plugin set: the pluggy manager (for event hooks) and the component registry."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self._origins: dict[str, Origin] = {}
        self._specs = hookspecs.spec_names()
        # Every plugin name load_plugins() came across, disabled ones included.
        self.found: set[str] = set()

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def add(self, plugin: object, origin: Origin) -> None:
        """Validate and register one plugin object (module, class or instance)."""
        if origin.plugin in self._origins:
            raise PluginError(f"{origin}: a plugin named {origin.plugin!r} is already loaded "
                              f"from {self._origins[origin.plugin]}")
        self._validate(plugin, origin)
        self.pm.register(plugin, name=origin.plugin)
        self._origins[origin.plugin] = origin

    def _validate(self, plugin: object, origin: Origin) -> None:
        for attr_name in dir(plugin):
            func = getattr(plugin, attr_name, None)
            opts = getattr(func, f"{hookspecs.PROJECT}_impl", None)
            if opts is None:
                continue
            hook_name = opts.get("specname") or attr_name
            if hook_name not in self._specs:
                raise PluginError(f"{origin}: {attr_name}() is marked @hookimpl but "
                                  f"{hook_name!r} is not a Genesis hook; "
                                  f"{_did_you_mean(hook_name, self._specs)}")
            params = tuple(inspect.signature(func).parameters)
            unknown = [p for p in params if p not in self._specs[hook_name]]
            if unknown:
                raise PluginError(f"{origin}: hook {hook_name}() takes argument(s) "
                                  f"{', '.join(unknown)} that the spec does not have "
                                  f"(allowed: {', '.join(self._specs[hook_name])})")

    def register_components(self) -> None:
        """Run every registration hook, attributing each class to its plugin."""
        for kind in KINDS:
            caller = getattr(self.pm.hook, REGISTER_HOOKS[kind])
            for impl in caller.get_hookimpls():  # oldest registration first
                origin = self._origins[impl.plugin_name]

                def register(cls: object, *, _kind: str = kind, _origin: Origin = origin) -> None:
                    self.registry.add(_kind, cls, _origin)

                try:
                    impl.function(register=register)
                except PluginError:
                    raise
                except Exception as exc:
                    raise PluginError(f"{origin}: {REGISTER_HOOKS[kind]}() failed: "
                                      f"{type(exc).__name__}: {exc}") from exc
        self.pm.check_pending()

    def info(self) -> list[PluginInfo]:
        """Describe every loaded plugin, in load order."""
        result = []
        for name, origin in self._origins.items():
            plugin = self.pm.get_plugin(name)
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or []))
            components: dict[str, list[str]] = {kind: [] for kind in KINDS}
            for entry in self.registry:
                if entry.origin.plugin == name:
                    components[entry.kind].append(entry.name)
            result.append(PluginInfo(origin, hooks, components))
        return result


def _did_you_mean(name: str, options: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean {close[0]!r}?" if close else "see docs/hooks.md for the list"


def _entry_points(eps: list[importlib.metadata.EntryPoint],
                  only: Sequence[str] | None) -> list[importlib.metadata.EntryPoint]:
    if only is None:
        return eps
    wanted = {name.strip() for name in only if name.strip()}
    return [ep for ep in eps if ep.dist is not None and ep.dist.name in wanted]


def _load_entry_point(ep: importlib.metadata.EntryPoint) -> tuple[object, Origin]:
    dist = ep.dist
    origin = Origin(ep.name, dist.name if dist else "?", dist.version if dist else "?")
    try:
        return ep.load(), origin
    except Exception as exc:
        raise PluginError(f"{origin}: failed to import {ep.value}: "
                          f"{type(exc).__name__}: {exc}") from exc


def _load_file(path: Path) -> tuple[ModuleType, Origin]:
    name = f"genesis_local_plugin_{path.stem}"
    origin = Origin(path.stem, f"local file {path}", "-")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{origin}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise PluginError(f"{origin}: failed to import: {type(exc).__name__}: {exc}") from exc
    sys.modules[name] = module
    return module, origin


def load_plugins(
    *,
    entry_points: bool = True,
    plugins_dir: str | Path | None = None,
    extra: Iterable[object] = (),
    disabled: Iterable[str] = (),
) -> Plugins:
    """Load a plugin set.

    :param entry_points: load installed plugins from the ``genesis_core`` entry-point group.
        ``GENESIS_LOAD_PLUGINS`` (comma-separated distribution names) restricts which.
    :param plugins_dir: a folder whose ``*.py`` files are loaded as plugins.
    :param extra: plugin objects handed in directly (tests); named after their ``__name__``.
    :param disabled: plugin names to skip (also ``GENESIS_DISABLE_PLUGINS``).
    """
    plugins = Plugins()
    blocked = set(disabled) | set(filter(None, os.environ.get("GENESIS_DISABLE_PLUGINS", "")
                                         .split(",")))
    eps = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    plugins.found.update(ep.name for ep in eps)
    plugins.found.update(DEFAULT_PLUGINS)
    if entry_points:
        only = os.environ.get("GENESIS_LOAD_PLUGINS")
        for ep in _entry_points(eps, only.split(",") if only is not None else None):
            if ep.name not in blocked:
                plugins.add(*_load_entry_point(ep))
    if plugins_dir is not None:
        folder = Path(plugins_dir)
        if not folder.is_dir():
            raise PluginError(f"plugins folder {folder} does not exist")
        for path in sorted(folder.glob("*.py")):
            plugins.found.add(path.stem)
            if path.stem not in blocked:
                plugins.add(*_load_file(path))
    for obj in extra:
        name = getattr(obj, "__name__", None) or type(obj).__name__
        plugins.add(obj, Origin(name, "handed in", "-"))
    for module_name in DEFAULT_PLUGINS:
        if module_name not in blocked:
            plugins.add(importlib.import_module(module_name),
                        Origin(module_name, CORE_DIST, _core_version()))
    plugins.register_components()
    return plugins

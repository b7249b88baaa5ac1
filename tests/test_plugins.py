"""The plugin manager: registration, validation and the errors a plugin author sees."""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs
import pytest

from genesis_core import (
    Candles,
    Notifier,
    PluginError,
    Signal,
    Strategy,
    hookimpl,
    load_plugins,
)

from .conftest import LOCAL_PLUGINS


class Echo(Strategy):
    """Never signals."""

    name = "echo"

    def generate(self, candles: Candles) -> list[Signal]:
        return []


class EchoPlugin:
    __name__ = "echo_plugin"

    @hookimpl
    def register_strategies(self, register):
        register(Echo)


def test_defaults_are_registered_through_the_same_hooks() -> None:
    """The paper executor, replay source and console notifier come from default plugins."""
    plugins = load_plugins(entry_points=False)
    infos = {i.origin.plugin: i for i in plugins.info()}
    assert ["console"] == infos["genesis_core.default_plugins.console"].components["notifier"]
    assert ("register_executors",) == infos["genesis_core.default_plugins.paper"].hooks
    assert {"genesis-core"} == {i.origin.distribution for i in infos.values()}
    assert ["paper"] == plugins.registry.names("executor")


def test_a_plugin_handed_in_registers_its_strategy() -> None:
    plugins = load_plugins(entry_points=False, extra=[EchoPlugin()])
    entry = plugins.registry.get("strategy", "echo")
    assert Echo is entry.cls
    assert "echo_plugin" == entry.origin.plugin


def test_clashing_names_name_both_plugins() -> None:
    class Again(EchoPlugin):
        __name__ = "again"

    with pytest.raises(PluginError) as info:
        load_plugins(entry_points=False, extra=[EchoPlugin(), Again()])
    assert ("strategy name 'echo' is registered twice: by plugin 'echo_plugin' (handed in) "
            "and by plugin 'again' (handed in)") == str(info.value)


def test_unknown_hook_name_is_refused_at_load_time(tmp_path: Path) -> None:
    shutil.copy(LOCAL_PLUGINS / "misspelled_hook.py.txt", tmp_path / "typo.py")
    with pytest.raises(PluginError) as info:
        load_plugins(entry_points=False, plugins_dir=tmp_path)
    assert str(info.value) == (
        f"plugin 'typo' (local file {tmp_path / 'typo.py'}): register_stratgies() is marked "
        "@hookimpl but 'register_stratgies' is not a Genesis hook; did you mean "
        "'register_strategies'?")


def test_wrong_argument_name_is_refused_at_load_time() -> None:
    class Bad:
        __name__ = "bad_args"

        @hookimpl
        def fill_received(self, fill, portfolio):
            pass

    with pytest.raises(PluginError) as info:
        load_plugins(entry_points=False, extra=[Bad()])
    assert str(info.value) == (
        "plugin 'bad_args' (handed in): hook fill_received() takes argument(s) portfolio "
        "that the spec does not have (allowed: config, fill)")


def test_a_subset_of_spec_arguments_is_fine() -> None:
    seen = []

    class Listener:
        __name__ = "listener"

        @hookimpl
        def alert_raised(self, alert):
            seen.append(alert)

    plugins = load_plugins(entry_points=False, extra=[Listener()])
    plugins.hook.alert_raised(config=None, alert="x")
    assert ["x"] == seen


@pytest.mark.parametrize(
    ("registered", "message"),
    [
        (object, "register_strategies() got <class 'object'>, expected a subclass of "
                 "genesis_core.Strategy"),
        (type("NoName", (Strategy,), {"generate": lambda self, c: []}),
         "strategy class NoName needs a `name` of lower-case letters, digits and _ (got None)"),
        (type("Lazy", (Strategy,), {"name": "lazy"}),
         "strategy 'lazy' (Lazy) does not implement generate()"),
        (type("BadParams", (Notifier,), {"name": "bad", "notify": None, "Params": dict}),
         "notifier 'bad': Params must be an attrs class"),
    ],
)
def test_invalid_components_are_refused_with_the_plugin_named(registered, message) -> None:
    kind = "strategies" if issubclass(registered, Strategy) or registered is object else (
        "notifiers")

    class Plugin:
        __name__ = "broken"

    def register_hook(self, register):
        register(registered)

    setattr(Plugin, f"register_{kind}", hookimpl(register_hook, specname=f"register_{kind}"))
    with pytest.raises(PluginError) as info:
        load_plugins(entry_points=False, extra=[Plugin()])
    assert f"plugin 'broken' (handed in): {message}" == str(info.value)


def test_an_exception_inside_a_registration_hook_is_attributed() -> None:
    class Exploding:
        __name__ = "exploding"

        @hookimpl
        def register_notifiers(self, register):
            raise RuntimeError("boom")

    with pytest.raises(PluginError, match=r"plugin 'exploding' \(handed in\): "
                                          r"register_notifiers\(\) failed: RuntimeError: boom"):
        load_plugins(entry_points=False, extra=[Exploding()])


def test_local_plugins_folder_and_import_errors(tmp_path: Path) -> None:
    shutil.copy(LOCAL_PLUGINS / "my_strategy.py", tmp_path / "my_strategy.py")
    plugins = load_plugins(entry_points=False, plugins_dir=tmp_path)
    assert "rising" in plugins.registry.names("strategy")
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(PluginError, match=r"plugin 'broken' \(local file .*broken.py\): "
                                          r"failed to import: ModuleNotFoundError"):
        load_plugins(entry_points=False, plugins_dir=tmp_path)
    plugins = load_plugins(entry_points=False, plugins_dir=tmp_path, disabled=["broken"])
    assert "rising" in plugins.registry.names("strategy")


def test_unknown_component_suggests_the_closest_name() -> None:
    plugins = load_plugins(entry_points=False, extra=[EchoPlugin()])
    with pytest.raises(PluginError, match=r"unknown strategy 'ecko'; did you mean 'echo'\? "
                                          r"\(available: echo\)"):
        plugins.registry.get("strategy", "ecko")


def test_params_must_be_attrs_but_may_be_omitted() -> None:
    plugins = load_plugins(entry_points=False, extra=[EchoPlugin()])
    params_cls = plugins.registry.get("strategy", "echo").cls.Params
    assert attrs.has(params_cls)
    assert () == attrs.fields(params_cls)

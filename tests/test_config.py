"""YAML bot files: structure, interpolation, and exact located error messages."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from genesis_core import ConfigError, Mode, Secret, load_config, load_plugins

from .conftest import LOCAL_PLUGINS


@pytest.fixture(scope="module")
def local_plugins():
    return load_plugins(entry_points=False, plugins_dir=LOCAL_PLUGINS)


VALID = """
name: demo
mode: paper
markets:
  - symbol: BTCUSD
    timeframes: [1h]
data_source:
  plugin: replay
  params:
    files:
      - {symbol: BTCUSD, timeframe: 1h, path: data/btc.csv}
executor:
  plugin: paper
  params: {initial_cash: "2500.50", taker_fee_bps: 20}
strategies:
  - plugin: rising
    weight: 2
    params:
      confidence: 0.75
notifiers:
  - plugin: console
    params: {min_severity: warning}
"""


def errors_of(path: Path, plugins) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, plugins)
    return info.value.errors


def test_a_valid_file_structures_every_params_class(write_yaml, local_plugins) -> None:
    path = write_yaml(VALID)
    config = load_config(path, local_plugins)
    assert Mode.PAPER == config.mode
    assert Decimal("2500.50") == config.executor.params.initial_cash
    assert 0.75 == config.strategies[0].params.confidence
    assert 2.0 == config.strategies[0].weight
    assert path.parent / "data/btc.csv" == config.data_source.params.files[0].path
    assert "warning" == config.notifiers[0].params.min_severity.value


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("confidence: 0.75", "confidence: ten",
         "strategies[0].params.confidence: expected a finite number, got 'ten' (bot.yaml:18)"),
        ("weight: 2", "wieght: 2",
         "strategies[0].wieght: unknown key; did you mean 'weight'? (bot.yaml:16)"),
        ("confidence: 0.75", "confidnce: 0.75",
         "strategies[0].params.confidnce: unknown key; did you mean 'confidence'? (bot.yaml:18)"),
        ("  - plugin: rising\n", "  - plugn: rising\n",
         "strategies[0].plugn: unknown key; did you mean 'plugin'? (bot.yaml:15)"),
        ("plugin: rising", "plugin: risng",
         "strategies[0].plugin: unknown strategy 'risng'; did you mean 'rising'? "
         "(available: rising) (bot.yaml:15)"),
        ("plugin: paper", "plugin: papr",
         "executor.plugin: unknown executor 'papr'; did you mean 'paper'? (available: paper) "
         "(bot.yaml:12)"),
        ("mode: paper", "mode: papr",
         "mode: expected one of paper, live, backtest, got 'papr' (bot.yaml:2)"),
        ("timeframes: [1h]", "timeframes: [1hour]",
         "markets[0].timeframes[0]: invalid timeframe '1hour': expected a count and a unit "
         "m/h/D/W, e.g. '5m' or '1h' (bot.yaml:5)"),
        ("weight: 2", "weight: -1",
         "strategies[0].weight: must be > 0, got -1.0 (bot.yaml:16)"),
        ("{initial_cash: \"2500.50\", taker_fee_bps: 20}", "{initial_cash: lots}",
         "executor.params.initial_cash: expected a decimal number, got 'lots' (bot.yaml:13)"),
        ("{min_severity: warning}", "{min_severity: loud}",
         "notifiers[0].params.min_severity: expected one of info, warning, high, critical, "
         "got 'loud' (bot.yaml:21)"),
        ("    weight: 2\n", "    weight: 2\n    timeframes: [5m]\n",
         "strategies[0].timeframes[0]: timeframe '5m' is not followed by any market "
         "(markets follow: 1h) (bot.yaml:17)"),
    ],
)
def test_each_mistake_gets_one_located_line(write_yaml, local_plugins, old, new, expected):
    """Type errors, unknown keys, unknown plugins, bad values: path, message, file:line."""
    assert old in VALID
    path = write_yaml(VALID.replace(old, new, 1))
    errors = errors_of(path, local_plugins)
    assert [expected.replace("bot.yaml", str(path))] == errors


def test_missing_required_key_names_the_key(write_yaml, local_plugins) -> None:
    path = write_yaml(VALID.replace("name: demo\n", ""))
    assert [f"name: required key missing ({path}:1)"] == errors_of(path, local_plugins)


def test_every_error_is_reported_not_just_the_first(write_yaml, local_plugins) -> None:
    text = VALID.replace("weight: 2", "weight: heavy").replace("mode: paper", "mode: papr")
    path = write_yaml(text)
    errors = errors_of(path, local_plugins)
    assert 2 == len(errors)
    assert str(ConfigError(errors)).endswith("(and 1 more)")


def test_environment_interpolation_and_missing_variables(write_yaml, monkeypatch) -> None:
    plugins = load_plugins(entry_points=False, plugins_dir=LOCAL_PLUGINS)
    text = VALID.replace('"2500.50"', '"${GENESIS_TEST_CASH}"').replace(
        "{min_severity: warning}", "{min_severity: '${GENESIS_TEST_SEVERITY:-high}'}")
    path = write_yaml(text)
    monkeypatch.delenv("GENESIS_TEST_CASH", raising=False)
    assert [f"executor.params.initial_cash: environment variable GENESIS_TEST_CASH is not set "
            f"(set it, or put it in the secrets file) ({path}:13)"] == errors_of(path, plugins)
    monkeypatch.setenv("GENESIS_TEST_CASH", "99.5")
    config = load_config(path, plugins)
    assert Decimal("99.5") == config.executor.params.initial_cash
    assert "high" == config.notifiers[0].params.min_severity.value


def test_secrets_file_supplies_variables_and_values_stay_hidden(tmp_path, write_yaml, monkeypatch):
    """A secrets file fills ${VAR}; the Secret type never shows its value."""
    import attrs

    from genesis_core import Notifier, doc, hookimpl

    @attrs.frozen
    class VaultParams:
        token: Secret = doc("API token")

    class Vault(Notifier):
        name = "vault"
        Params = VaultParams

        async def notify(self, alert):
            pass

    class Plugin:
        __name__ = "vault_plugin"

        @hookimpl
        def register_notifiers(self, register):
            register(Vault)

    plugins = load_plugins(entry_points=False, plugins_dir=LOCAL_PLUGINS, extra=[Plugin()])
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# test secrets\nexport GENESIS_TEST_TOKEN='s3cr3t-value'\n")
    monkeypatch.delenv("GENESIS_TEST_TOKEN", raising=False)
    path = write_yaml(VALID.replace("plugin: console\n    params: {min_severity: warning}",
                                    "plugin: vault\n    params: {token: '${GENESIS_TEST_TOKEN}'}"))
    config = load_config(path, plugins, secrets_file=secrets)
    token = config.notifiers[0].params.token
    assert "s3cr3t-value" == token.reveal()
    assert "s3cr3t-value" not in repr(config)
    assert "s3cr3t-value" not in str(config)
    secrets.write_text("GENESIS_TEST_TOKEN s3cr3t-value\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, plugins, secrets_file=secrets)
    assert f"{secrets}:1: expected KEY=VALUE" == str(info.value)


def test_malformed_yaml_reports_line_and_column(write_yaml, local_plugins) -> None:
    path = write_yaml(VALID.replace("mode: paper", "mode: paper: live"))
    assert [f"{path}:2:12: invalid YAML: mapping values are not allowed here"] == errors_of(
        path, local_plugins)


def test_duplicate_keys_are_errors(write_yaml, local_plugins) -> None:
    path = write_yaml(VALID.replace("mode: paper\n", "mode: paper\nmode: live\n"))
    assert [f"mode: duplicate key (first on line 2) ({path}:3)"] == errors_of(path, local_plugins)


def test_wrong_shapes_are_explained(write_yaml, local_plugins) -> None:
    path = write_yaml("- just\n- a list\n")
    assert [f"(top level): expected a mapping of settings at the top level ({path}:1)"] == (
        errors_of(path, local_plugins))
    path = write_yaml(VALID.replace("params:\n      confidence: 0.75", "params: [0.75]"))
    assert [f"strategies[0].params: expected a mapping, got list ({path}:17)"] == errors_of(
        path, local_plugins)


def test_strict_types_do_not_coerce(write_yaml, local_plugins) -> None:
    """'yes' is not a bool and 3 is not text: no silent coercion."""
    path = write_yaml(VALID + "metrics: {enabled: 'yes', port: '9108'}\n")
    assert [f"metrics.enabled: expected true or false, got 'yes' ({path}:22)",
            f"metrics.port: expected int, got '9108' ({path}:22)"] == errors_of(path, local_plugins)


def test_unreadable_file(tmp_path, local_plugins) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read: No such file"):
        load_config(tmp_path / "nope.yaml", local_plugins)

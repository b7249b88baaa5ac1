"""Plugins as strangers ship them: own distribution, pip-installed, found by entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


PYPROJECT = """
[project]
name = "{dist}"
version = "0.3.1"
dependencies = []

[project.entry-points.genesis_core]
{name} = "{package}.plugin"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]
"""

PLUGIN = '''
import attrs
from genesis_core import Candles, RiskDecision, RiskPolicy, Signal, Strategy, doc, hookimpl


@attrs.frozen
class FlatParams:
    lookback: int = doc("Bars to look back.", default=5)


class Flat(Strategy):
    """Signals nothing, carefully."""

    name = "flat_line"
    Params = FlatParams

    def generate(self, candles: Candles) -> list[Signal]:
        return []


class Never(RiskPolicy):
    """Rejects everything."""

    name = "never"

    def check(self, intent, portfolio):
        return RiskDecision.reject(self.name, "never trade")


@hookimpl
def register_strategies(register):
    register(Flat)


@hookimpl
def register_risk_policies(register):
    register(Never)
'''

BOT = """
name: stranger
mode: paper
markets: [{symbol: BTCUSD, timeframes: [1h]}]
data_source: {plugin: replay, params: {files: []}}
executor: {plugin: paper}
strategies:
  - plugin: flat_line
    params: {lookback: %s}
risk: [{plugin: never}]
"""


def build_and_install(tmp_path: Path, dist: str, name: str, package: str, code: str) -> Path:
    """Write a plugin project and pip-install it (a real wheel build) into a target folder."""
    project = tmp_path / dist
    (project / package).mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        PYPROJECT.format(dist=dist, name=name, package=package))
    (project / package / "__init__.py").write_text("")
    (project / package / "plugin.py").write_text(textwrap.dedent(code))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(site), str(project)],
        check=True, capture_output=True)
    return site


def genesis(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "genesis_core", *args], env=env, text=True,
                          capture_output=True, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    return build_and_install(tmp_path_factory.mktemp("dist"), "genesis-strategy-flat",
                             "strategy_flat", "genesis_strategy_flat", PLUGIN)


def test_installed_plugin_is_listed_with_its_distribution(installed) -> None:
    result = genesis(installed, "plugins", "--json")
    assert 0 == result.returncode, result.stderr
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert {
        "name": "strategy_flat",
        "distribution": "genesis-strategy-flat",
        "version": "0.3.1",
        "hooks": ["register_risk_policies", "register_strategies"],
        "components": {"strategy": ["flat_line"], "risk_policy": ["never"]},
    } == listed["strategy_flat"]


def test_installed_plugin_is_usable_and_validated_from_yaml(installed, tmp_path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(BOT % 7)
    result = genesis(installed, "config", "check", str(good))
    assert 0 == result.returncode, result.stderr
    assert "strategies: flat_line" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(BOT % "seven")
    result = genesis(installed, "config", "check", str(bad))
    assert 2 == result.returncode
    assert (f"error: strategies[0].params.lookback: expected int, got 'seven' ({bad}:9)\n"
            == result.stderr)
    result = genesis(installed, "config", "schema", "--json")
    flat = json.loads(result.stdout)["components"]["strategy"]["flat_line"]
    assert "genesis-strategy-flat" == flat["distribution"]
    assert [{"name": "lookback", "type": "int", "required": False, "default": 5,
             "doc": "Bars to look back."}] == flat["params"]


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(tmp_path) -> None:
    site = build_and_install(tmp_path, "genesis-broken", "broken_thing", "genesis_broken",
                             "import definitely_not_installed_module\n")
    result = genesis(site, "plugins")
    assert 2 == result.returncode
    assert result.stderr.startswith(
        "genesis: error: plugin 'broken_thing' (genesis-broken 0.3.1): failed to import "
        "genesis_broken.plugin: ModuleNotFoundError")
    assert "Traceback" not in result.stderr
    assert 0 == genesis(site, "--disable-plugin", "broken_thing", "plugins").returncode


def test_a_plugin_with_a_bad_hook_signature_is_refused(tmp_path) -> None:
    code = ("from genesis_core import hookimpl\n\n"
            "@hookimpl\ndef fill_received(fill, pnl):\n    pass\n")
    site = build_and_install(tmp_path, "genesis-badsig", "badsig", "genesis_badsig", code)
    result = genesis(site, "plugins")
    assert 2 == result.returncode
    assert ("genesis: error: plugin 'badsig' (genesis-badsig 0.3.1): hook fill_received() takes "
            "argument(s) pnl that the spec does not have (allowed: config, fill)\n"
            == result.stderr)

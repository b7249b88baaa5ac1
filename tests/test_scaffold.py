"""`genesis new plugin`: every kind installs as its own distribution and passes its own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from genesis_core import GenesisError
from genesis_core.scaffold import KINDS, scaffold


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_scaffolded_plugin_installs_registers_and_passes_its_tests(kind, tmp_path) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "genesis_core", "new", "plugin", "--kind", kind, "my_thing",
         "--dir", str(tmp_path)], capture_output=True, text=True, check=False)
    assert 0 == created.returncode, created.stderr
    project = tmp_path / f"genesis-{kind}-my-thing"
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "--target",
                    str(site), str(project)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    listed = subprocess.run([sys.executable, "-m", "genesis_core", "plugins", "--json"],
                            env=env, capture_output=True, text=True, check=True)
    mine = {p["name"]: p for p in json.loads(listed.stdout)}[f"{kind.replace('-', '_')}_my_thing"]
    assert f"genesis-{kind}-my-thing" == mine["distribution"]
    assert ["my_thing"] == next(iter(mine["components"].values()))
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(project / "tests")], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=False)
    assert 0 == tests.returncode, tests.stdout + tests.stderr
    assert " passed" in tests.stdout


def test_bad_names_and_kinds_are_refused(tmp_path) -> None:
    with pytest.raises(GenesisError, match="use 2-31 lower-case letters"):
        scaffold("strategy", "My-Thing", tmp_path)
    with pytest.raises(GenesisError, match="unknown plugin kind 'exchange'"):
        scaffold("exchange", "thing", tmp_path)
    scaffold("risk", "twice", tmp_path)
    with pytest.raises(GenesisError, match="already exists"):
        scaffold("risk", "twice", tmp_path)

"""The repo's plugins are written like third-party plugins: public genesis_core API only."""

from __future__ import annotations

import ast

import genesis_core

from .conftest import REPO


PUBLIC_MODULES = {"genesis_core", "genesis_core.indicators", "genesis_core.testing"}


def _imports(path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_plugins_import_only_the_public_api() -> None:
    offenders = []
    for path in sorted((REPO / "plugins").glob("*/src/**/*.py")):
        for module in _imports(path):
            if module.startswith("genesis_core") and module not in PUBLIC_MODULES:
                offenders.append(f"{path.relative_to(REPO)}: {module}")
    assert [] == offenders


def test_the_checker_catches_a_private_import(tmp_path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from genesis_core.runtime.orders import OrderPath\n")
    assert ["genesis_core.runtime.orders"] == _imports(sample)


def test_public_names_exist() -> None:
    missing = [name for name in genesis_core.__all__ if not hasattr(genesis_core, name)]
    assert [] == missing

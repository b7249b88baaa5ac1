"""Shared fixtures for the core tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from genesis_core import Plugins, load_plugins


REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
EXAMPLES = REPO / "examples"
LOCAL_PLUGINS = Path(__file__).resolve().parent / "plugins"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def plugins() -> Plugins:
    """Installed plugins plus the core defaults, loaded once."""
    return load_plugins()


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str], Path]:
    """Write a dedented YAML text to ``bot.yaml`` in a temp folder and return its path."""

    def write(text: str, name: str = "bot.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return write

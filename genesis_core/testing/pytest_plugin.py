"""pytest fixtures for plugin authors, registered through the ``pytest11`` entry point."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def genesis_candles() -> Any:
    """Real BTCUSD 1h candles shipped with genesis-core."""
    from genesis_core.testing import bundled_candles

    return bundled_candles()


@pytest.fixture
def genesis_paper() -> Any:
    """``run_paper(yaml_body, extra=(plugin,))``: a paper bot on the bundled candles."""
    from genesis_core.testing import run_paper

    return run_paper

"""Fixtures: the fake Bot API server and a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._fake_telegram import FakeTelegram
from ._support import TOKEN, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeTelegram]:
    """The server stamps accepted messages with the virtual clock."""
    with FakeTelegram(TOKEN, clock=clock) as server:
        yield server

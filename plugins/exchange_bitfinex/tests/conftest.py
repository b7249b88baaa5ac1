"""Fixtures: a simulator on 127.0.0.1 (port 0) replaying a small, fully controlled CSV."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from genesis_exchange_bitfinex._auth import Credentials, NonceSource
from genesis_exchange_bitfinex._rest import BitfinexRestClient
from genesis_exchange_bitfinex._ws import BitfinexWsClient, WsEvent
from genesis_exchange_bitfinex.sim import BitfinexSimulator, MarketSpec, SimConfig


START = 1_700_000_000_000 - 240 * 60_000  # candle 240 (the cursor) opens at 1700000000000
SYMBOL = "tTESTBTC:TESTUSD"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "soak: the long fault-injection soak (GENESIS_SOAK_ORDERS scales it)")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def write_csv(path: Path, rows: int = 400) -> Path:
    """Flat 30000 for the warm-up, then candles spanning 29900..30100 (volume 2)."""
    lines = ["timestamp_ms,open,high,low,close,volume"]
    for i in range(rows):
        high, low = ("30010", "29990") if i <= 240 else ("30100", "29900")
        lines.append(f"{START + i * 60_000},30000,{high},{low},30000,{1 if i <= 240 else 2}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "candles.csv")


@pytest.fixture
def make_config(csv_path: Path) -> Callable[..., SimConfig]:
    def build(**overrides: Any) -> SimConfig:
        values: dict[str, Any] = {
            "markets": (
                MarketSpec(
                    SYMBOL,
                    str(csv_path),
                    min_order_size=Decimal("0.0002"),
                    max_order_size=Decimal("100"),
                ),
                MarketSpec("tBTCUSD", str(csv_path)),
            ),
            "book_depth": 5,
            "flow_amount": Decimal("0.2"),
            "heartbeat_interval": 0.2,
            "seed": 7,
        }
        values.update(overrides)
        return SimConfig(**values)

    return build


@pytest.fixture
async def sim(make_config: Callable[..., SimConfig]) -> AsyncIterator[BitfinexSimulator]:
    async with BitfinexSimulator(make_config()) as simulator:
        yield simulator


@pytest.fixture
def creds() -> Credentials:
    return Credentials("TEST_API_KEY", "TEST_API_SECRET")


@pytest.fixture
def nonce(tmp_path: Path) -> NonceSource:
    return NonceSource(tmp_path / "nonce.txt")


@pytest.fixture
async def rest(
    sim: BitfinexSimulator, creds: Credentials, nonce: NonceSource
) -> AsyncIterator[BitfinexRestClient]:
    async with BitfinexRestClient(
        sim.rest_url, credentials=creds, nonce=nonce, retries=0
    ) as client:
        yield client


@pytest.fixture
def ws_factory(
    sim: BitfinexSimulator, creds: Credentials, nonce: NonceSource
) -> Callable[..., BitfinexWsClient]:
    def build(authenticated: bool = True, **kwargs: Any) -> BitfinexWsClient:
        from genesis_exchange_bitfinex._resilience import Backoff

        kwargs.setdefault("backoff", Backoff(base=0.01, cap=0.05))
        return BitfinexWsClient(
            sim.ws_url, credentials=creds if authenticated else None, nonce=nonce, **kwargs
        )

    return build


async def wait_for(
    client: BitfinexWsClient,
    predicate: Callable[[WsEvent], bool],
    seen: list[WsEvent] | None = None,
    limit: float = 10.0,
) -> WsEvent:
    """Next event matching ``predicate``; the limit only guards against hangs."""

    async def scan() -> WsEvent:
        while True:
            event = await client.next_event()
            if seen is not None:
                seen.append(event)
            if predicate(event):
                return event

    return await asyncio.wait_for(scan(), limit)


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_for

"""``BitfinexSimulator``: the REST and WS servers plus the market clock, in one object."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from genesis_exchange_bitfinex.sim._engine import Exchange
from genesis_exchange_bitfinex.sim._http import HttpServer
from genesis_exchange_bitfinex.sim._rest_app import RestApp
from genesis_exchange_bitfinex.sim._ws_server import WsServer
from genesis_exchange_bitfinex.sim.config import SimConfig
from genesis_exchange_bitfinex.sim.faults import Faults


class BitfinexSimulator:
    """A local Bitfinex (REST v2 + WS v2) on loopback.

    Use as ``async with BitfinexSimulator(config) as sim:``; then point clients at
    ``sim.rest_url`` (``http://host:port/v2``) and ``sim.ws_url`` (``ws://host:port/ws/2``).
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.faults = Faults()
        self.exchange = Exchange(config)
        self.rest = RestApp(self.exchange, self.faults)
        self.ws = WsServer(self.exchange, self.faults, config.host, config.ws_port)
        self.rest.after_request = self.ws.publish
        self._http = HttpServer(self.rest, config.host, config.rest_port)
        self._ticker: asyncio.Task[None] | None = None
        self.steps = 0
        self.replay_done = asyncio.Event()  # set once the clock has replayed replay_candles
        self.faults.attach(self.ws)

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self._http.port}/v2"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.ws.port}/ws/2"

    async def start(self) -> None:
        await self._http.start()
        await self.ws.start()
        if self.config.step_interval > 0:
            self._ticker = asyncio.create_task(self._auto_step())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.ws.stop()
        await self._http.stop()

    async def __aenter__(self) -> BitfinexSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def step(self, candles: int = 1) -> None:
        """Replay the next ``candles`` candles: trades, fills, book/ticker/candle updates."""
        for _ in range(candles):
            self.exchange.step()
            self.steps += 1
            self.ws.publish(stepped=True)

    def set_maintenance(self, on: bool) -> None:
        """Platform status 0/1 plus info 20060/20061 on every WS connection."""
        self.exchange.platform_status = 0 if on else 1
        self.ws.broadcast_info(20060 if on else 20061)

    async def _auto_step(self) -> None:
        limit = self.config.replay_candles
        while limit <= 0 or self.steps < limit:
            await asyncio.sleep(self.config.step_interval)
            self.step()
        self.replay_done.set()

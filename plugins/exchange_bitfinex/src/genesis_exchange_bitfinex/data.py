"""``bitfinex`` data source: candle history over REST v2, closed candles over WebSocket v2.

**History.** ``history()`` pages through ``candles/trade:{TF}:{SYMBOL}/hist`` (oldest first) and
returns only bars Bitfinex published.  Bitfinex publishes no candle for an interval without
trades, so gaps are left missing, never filled or invented; :meth:`BitfinexDataSource.gaps` (or
:func:`find_gaps`) lists the missing intervals for tools such as ``genesis data download``.
The still-open bar is never returned: with ``close_by_clock`` a bar counts as closed once its
close time has passed; without it the newest bar the venue has is taken to be the open one.

**The closed-candle rule of the stream.** Bitfinex's candle channel sends the open bar again
and again as trades arrive.  A bar is emitted exactly once, as :class:`CandleClosed`, when

1. a bar with a later open time (MTS) arrives on the same channel, or
2. (``close_by_clock``, default on) its close time plus ``close_grace_ms`` has passed on this
   machine's clock; checked on every frame and at least once a second.

Updates for a bar that was already emitted are dropped (logged at DEBUG), so values of an open
bar never leak and nothing is emitted twice.  The first snapshot of a subscription only sets
the starting point (use ``history()`` for warm-up); after a reconnect the new snapshot's bars
that closed meanwhile are emitted.  Bars of all subscribed markets are released in close-time
order (ties: in the order of ``markets``) once every channel has moved past that time, like the
replay source.  With ``sequence_check`` the socket asks for sequence numbers and reconnects when
one is skipped (a lost frame); the new snapshot then fills the hole.

**Simulator.** With ``simulator:`` the data source leases an in-process simulator (shared with
an executor given the same block), reads it over loopback REST and WebSocket like the real
venue, and ends the stream once the simulator has replayed ``replay`` candles and the last of
them has arrived (it is the still-open bar, so it is not emitted).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import attrs

from genesis_core import (
    CandleClosed,
    Candles,
    ConnectionStatus,
    DataError,
    DataSource,
    MarketEvent,
    MarketSpec,
    timeframe_ms,
)

from . import _wire as w
from ._convert import SymbolMap, find_gaps, genesis_candle, to_candles, venue_timeframe
from ._resilience import Backoff
from ._rest import BitfinexRestClient
from ._ws import OB_CHECKSUM, SEQ_ALL, BitfinexWsClient, Subscription, WsEvent, health_of
from .config import DataParams
from .errors import BitfinexError


log = logging.getLogger(__name__)
_TICK_S = 1.0
STATUS_SOURCE = "bitfinex market data"  # ConnectionStatus.source of the data source
_NEVER = -(2**62)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@attrs.define
class _Channel:
    index: int
    market: MarketSpec
    tf_ms: int
    open_bar: w.Candle | None = None
    last_closed: int | None = None  # MTS of the newest bar queued or emitted
    clock_frontier: int = _NEVER  # the clock rule has closed every bar closing by then
    snapshots: int = 0

    def frontier(self) -> int:
        """Every bar of this channel that closes at or before this time is already queued."""
        known = self.clock_frontier
        if self.open_bar is not None:  # later bars close after the open one
            known = max(known, self.open_bar.mts + self.tf_ms - 1)
        elif self.last_closed is not None:
            known = max(known, self.last_closed + 2 * self.tf_ms - 1)
        return known


class BarCloser:
    """Turns candle-channel frames into closed bars, released in close-time order.

    Pure: time comes in as ``now_ms`` arguments (``None`` disables the clock rule).
    """

    def __init__(self, markets: Sequence[MarketSpec], *, grace_ms: int = 5_000) -> None:
        self.channels = [_Channel(i, m, timeframe_ms(m.timeframe)) for i, m in enumerate(markets)]
        self.grace_ms = grace_ms
        self._pending: list[tuple[int, int, int, w.Candle]] = []

    def snapshot(self, index: int, rows: Sequence[w.Candle], now_ms: int | None = None) -> None:
        ch = self.channels[index]
        ch.snapshots += 1
        merged = {c.mts: c for c in rows}
        if not merged:
            return
        newest = max(merged)
        if ch.snapshots == 1 and ch.last_closed is None and ch.open_bar is None:
            ch.open_bar, ch.last_closed = merged[newest], newest - 1
        else:
            if ch.open_bar is not None and ch.open_bar.mts not in merged:
                merged[ch.open_bar.mts] = ch.open_bar
                newest = max(merged)
            floor = ch.last_closed if ch.last_closed is not None else _NEVER
            for mts in sorted(merged):
                if mts <= floor:
                    continue
                if mts < newest:
                    self._close(ch, merged[mts])
                else:
                    ch.open_bar = merged[mts]
        self.tick(now_ms)

    def update(self, index: int, bar: w.Candle, now_ms: int | None = None) -> None:
        ch = self.channels[index]
        if ch.last_closed is not None and bar.mts <= ch.last_closed:
            log.debug("dropping update of closed bar %s %s @%d", ch.market.symbol,
                      ch.market.timeframe, bar.mts)
        elif ch.open_bar is None or bar.mts == ch.open_bar.mts:
            ch.open_bar = bar
        elif bar.mts > ch.open_bar.mts:
            self._close(ch, ch.open_bar)
            ch.open_bar = bar
        else:
            log.debug("dropping out-of-order bar %s %s @%d", ch.market.symbol,
                      ch.market.timeframe, bar.mts)
        self.tick(now_ms)

    def tick(self, now_ms: int | None) -> None:
        """Apply the clock rule (when ``now_ms`` is given)."""
        if now_ms is None:
            return
        horizon = now_ms - self.grace_ms
        for ch in self.channels:
            bar = ch.open_bar
            if bar is not None and bar.mts + ch.tf_ms <= horizon:
                self._close(ch, bar)
                ch.open_bar = None
            ch.clock_frontier = max(ch.clock_frontier, horizon)

    def _close(self, ch: _Channel, bar: w.Candle) -> None:
        ch.last_closed = bar.mts
        heapq.heappush(self._pending, (bar.mts + ch.tf_ms, ch.index, bar.mts, bar))

    def release(self) -> list[CandleClosed]:
        """Closed bars whose close time every channel has passed, oldest close first."""
        watermark = min(ch.frontier() for ch in self.channels) if self.channels else _NEVER
        out = []
        while self._pending and self._pending[0][0] <= watermark:
            _, index, _, bar = heapq.heappop(self._pending)
            market = self.channels[index].market
            out.append(CandleClosed(market.symbol, market.timeframe, genesis_candle(bar)))
        return out


class BitfinexDataSource(DataSource):
    """Bitfinex candles: REST history with gaps left missing, live closed bars over WebSocket."""

    name = "bitfinex"
    Params = DataParams
    supports_history = True

    def __init__(self, params: DataParams | None = None) -> None:
        super().__init__(params)
        self.params: DataParams
        self.symbols = SymbolMap(self.params.symbols)
        self.clock_ms: Callable[[], int] = wall_clock_ms
        self._rest: BitfinexRestClient | None = None
        self._sockets: set[BitfinexWsClient] = set()
        self._sim: Any = None  # an embedded simulator lease (sim.embedded)

    async def _endpoints(self) -> tuple[str, str]:
        """``rest_url``/``ws_url``, or those of the embedded simulator (started on demand)."""
        if self.params.simulator is None:
            return self.params.rest_url, self.params.ws_url
        if self._sim is None:
            from .sim import embedded  # the simulator is only imported when asked for

            spec = embedded.spec_for(self.params.simulator, self.symbols.venue)
            self._sim = await embedded.acquire(spec)
        return self._sim.rest_url, self._sim.ws_url

    @property
    def _clock_rule(self) -> bool:
        # A simulator replays past candles faster than real time: only newer bars close bars.
        return self.params.close_by_clock and self.params.simulator is None

    async def _client(self) -> BitfinexRestClient:
        if self._rest is None:
            params = self.params
            rest_url, _ = await self._endpoints()
            self._rest = BitfinexRestClient(rest_url, timeout=params.request_timeout,
                                            retries=params.retries)
        return self._rest

    # -- history -----------------------------------------------------------------------------
    async def history(self, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> Candles:
        """Closed bars with ``start_ms <= open time < end_ms``; gaps stay missing."""
        tf = venue_timeframe(timeframe)
        venue = self.symbols.venue(symbol)
        if end_ms <= start_ms:
            return to_candles([], symbol, timeframe)
        try:
            rest = await self._client()
            rows = await rest.candles_range(
                venue, tf, start_ms, end_ms - 1, page_limit=self.params.history_page_limit)
            newest = None
            if not self._clock_rule and rows:
                newest = await rest.candle_last(venue, tf)
        except BitfinexError as exc:
            raise DataError(f"bitfinex: cannot fetch {symbol} {timeframe} candles: {exc}") from None
        step = timeframe_ms(timeframe)
        if self._clock_rule:
            now = self.clock_ms()
            rows = [c for c in rows if c.mts + step <= now]
        elif newest is not None:
            rows = [c for c in rows if c.mts < newest.mts]
        return to_candles(rows, symbol, timeframe)

    def gaps(self, candles: Candles, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Missing bars of ``candles`` in ``[start_ms, end_ms)`` as half-open ms intervals."""
        return find_gaps([int(t) for t in candles.timestamp], candles.timeframe, start_ms, end_ms)

    # -- stream ------------------------------------------------------------------------------
    async def stream(self, markets: Sequence[MarketSpec]) -> AsyncIterator[MarketEvent]:
        """Closed bars of ``markets`` (see the module doc for the rule), until closed."""
        subs: dict[Subscription, int] = {}
        for index, market in enumerate(markets):
            key = f"trade:{venue_timeframe(market.timeframe)}:{self.symbols.venue(market.symbol)}"
            subs[Subscription("candles", key=key)] = index
        closer = BarCloser(markets, grace_ms=self.params.close_grace_ms)
        _, ws_url = await self._endpoints()
        flags = OB_CHECKSUM | (SEQ_ALL if self.params.sequence_check else 0)
        ws = BitfinexWsClient(ws_url, heartbeat_timeout=self.params.heartbeat_timeout,
                              backoff=Backoff(base=0.5, cap=30.0), flags=flags)
        self._sockets.add(ws)
        try:
            await ws.start()
            for sub in subs:
                await ws.subscribe(sub)
            while not self._replay_over(closer):
                try:
                    event = await asyncio.wait_for(ws.next_event(), _TICK_S)
                except TimeoutError:
                    event = None
                now = self.clock_ms() if self._clock_rule else None
                if event is None:
                    closer.tick(now)
                else:
                    self._on_event(closer, subs, event, now)
                    health = health_of(event)
                    if health is not None:
                        yield ConnectionStatus(STATUS_SOURCE, *health, wall_clock_ms())
                for closed in closer.release():
                    yield closed
        finally:
            self._sockets.discard(ws)
            await ws.stop()

    def _replay_over(self, closer: BarCloser) -> bool:
        """True once the embedded simulator stopped and every channel has its final bar."""
        sim = self._sim
        if sim is None or not sim.replay_done.is_set():
            return False
        for channel in closer.channels:
            venue = self.symbols.venue(channel.market.symbol)
            rows = sim.exchange.markets[venue].candles(venue_timeframe(channel.market.timeframe))
            if rows and (channel.open_bar is None or channel.open_bar.mts < rows[-1].mts):
                return False
        return True

    @staticmethod
    def _on_event(closer: BarCloser, subs: dict[Subscription, int], event: WsEvent,
                  now: int | None) -> None:
        index = subs.get(event.subscription) if event.subscription is not None else None
        if event.kind == "candles_snapshot" and index is not None:
            closer.snapshot(index, event.data, now)
        elif event.kind == "candle" and index is not None:
            closer.update(index, event.data, now)
        elif event.kind == "error" and index is not None:
            key = event.subscription.key if event.subscription else "?"
            raise DataError(f"bitfinex: cannot subscribe to {key}: {event.data}")
        else:
            if event.kind in ("error", "disconnected", "stale", "seq_gap"):
                log.warning("bitfinex data stream: %s %s", event.kind, event.data)
            closer.tick(now)

    async def aclose(self) -> None:
        for ws in list(self._sockets):
            await ws.stop()
        self._sockets.clear()
        if self._rest is not None:
            await self._rest.aclose()
            self._rest = None
        if self._sim is not None:
            from .sim import embedded

            await embedded.release(self._sim)
            self._sim = None


__all__ = ["BarCloser", "BitfinexDataSource", "find_gaps"]

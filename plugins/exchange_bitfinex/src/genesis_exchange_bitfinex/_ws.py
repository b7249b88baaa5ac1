"""Async WebSocket v2 client: public channels, account channel 0, order inputs, reconnects.

Everything the socket delivers is turned into ``WsEvent`` objects on one queue; read them with
``async for event in client.events()`` or ``await client.next_event()``.  A frame that does not
parse becomes a ``WsEvent("error", ...)`` carrying a ``WireFormatError``: the loop never dies on
bad input.  Subscriptions are remembered and re-sent after every reconnect (chanIds change).

**Sequence numbers.** With ``SEQ_ALL`` in ``flags`` every public channel frame ends with one
per-connection counter (§3.3.2).  On a socket without credentials the client checks it: a jump
means a frame was lost, so it emits ``seq_gap``, drops the rest of that connection and
reconnects (fresh snapshots; the counter restarts).  The first number seen is the baseline and
frames without a number are accepted, so a server that numbers differently degrades to no
checking rather than to reconnect loops.  On authenticated sockets the layout on channel 0
(``PUB_SEQ, AUTH_SEQ``) is UNVERIFIED (§7 #8), so numbers there are neither required nor checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import attrs
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from genesis_core import Health

from . import _wire as w
from ._auth import Credentials, NonceSource, ws_auth_message
from ._book import LocalBook
from ._jsonnum import dumps, loads, loads_raw_numbers, plain_decimal
from ._logging import RedactingLogger
from ._resilience import Backoff
from ._wire_fields import _int
from .errors import (
    AuthenticationError,
    BitfinexError,
    MaintenanceError,
    WireFormatError,
    error_for_code,
    parse_error_payload,
)
from .orders import OrderRequest


log = logging.getLogger(__name__)
TIMESTAMP, SEQ_ALL, OB_CHECKSUM, BULK_UPDATES = 32768, 65536, 131072, 536870912


@attrs.frozen
class Subscription:
    """A public channel request; stable across reconnects (the chanId is not)."""

    channel: str  # "ticker" | "trades" | "candles" | "book"
    symbol: str | None = None
    key: str | None = None  # candles: "trade:1m:tBTCUSD"
    prec: str = "P0"
    length: int = 25
    freq: str = "F0"

    def request(self, sub_id: str) -> dict[str, Any]:
        msg: dict[str, Any] = {"event": "subscribe", "channel": self.channel}
        if self.channel == "candles":
            msg["key"] = self.key
        else:
            msg["symbol"] = self.symbol
        if self.channel == "book":
            msg.update(prec=self.prec, freq=self.freq, len=str(self.length))
        msg["subId"] = sub_id
        return msg


@attrs.frozen
class WsEvent:
    """One decoded happening. ``kind`` names it; ``channel`` is the channel or account abbrev.

    kinds: connected, disconnected, stale, info, maintenance, auth, subscribed, unsubscribed,
    ticker, trades_snapshot, trade, candles_snapshot, candle, book_snapshot, book,
    checksum_mismatch, seq_gap, order, account_trade, wallet, position, balance, notification,
    account_other, error.
    """

    kind: str
    channel: str | None = None
    subscription: Subscription | None = None
    data: Any = None
    paused: bool = False  # the client's maintenance pause when the event was emitted


@attrs.define
class _SubState:
    sub: Subscription
    sub_id: str
    chan_id: int | None = None
    snapshot_seen: bool = False
    book: LocalBook | None = None


class BitfinexWsClient:
    """Bitfinex WebSocket v2 client with automatic reconnect, resubscribe and re-auth."""

    def __init__(
        self,
        url: str = "wss://api.bitfinex.com/ws/2",
        *,
        credentials: Credentials | None = None,
        nonce: NonceSource | None = None,
        dms: bool = False,
        auth_filters: list[str] | None = None,
        flags: int = OB_CHECKSUM,
        heartbeat_timeout: float = 35.0,
        backoff: Backoff | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._creds = credentials
        self._nonce = nonce or NonceSource()
        self._dms = dms
        self._filters = auth_filters
        self.flags = flags
        self.heartbeat_timeout = heartbeat_timeout
        self._backoff = backoff or Backoff(base=1.0, factor=1.618, cap=60.0, rng=random.Random())
        self._open_timeout = open_timeout
        self._queue: asyncio.Queue[WsEvent] = asyncio.Queue()
        self._subs: dict[str, _SubState] = {}
        self._by_chan: dict[int, _SubState] = {}
        self._next_sub = 0
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_rx = 0.0
        self.connected = asyncio.Event()
        self.authenticated = asyncio.Event()
        self.paused = False  # maintenance (20060) until 20061
        self.connections = 0
        self.seq_gaps = 0
        self._check_seq = bool(flags & SEQ_ALL) and credentials is None
        self._seq_last: int | None = None
        self._dropping = False  # after a SEQ gap: ignore the rest of this connection
        secrets = (credentials.api_key, credentials.api_secret) if credentials else ()
        self._frame_log = RedactingLogger(logging.getLogger("websockets.client"), secrets)

    def __repr__(self) -> str:
        return f"BitfinexWsClient(url={self.url!r}, credentials={self._creds!r})"

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the connection loop (returns at once; await ``connected`` if needed)."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="bitfinex-ws")

    async def stop(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aenter__(self) -> BitfinexWsClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def events(self) -> AsyncIterator[WsEvent]:
        while True:
            yield await self._queue.get()

    async def next_event(self) -> WsEvent:
        return await self._queue.get()

    def reconnect(self) -> None:
        """Drop the current connection; the loop reconnects with back-off."""
        if self._ws is not None:
            self._ws.transport.abort()

    # --- subscriptions ------------------------------------------------------------------------
    async def subscribe(self, sub: Subscription) -> None:
        for state in self._subs.values():
            if state.sub == sub:
                return
        self._next_sub += 1
        state = _SubState(sub, f"s{self._next_sub}")
        if sub.channel == "book":
            state.book = LocalBook(raw=sub.prec == "R0")
        self._subs[state.sub_id] = state
        await self._send_sub(state)

    async def subscribe_ticker(self, symbol: str) -> Subscription:
        return await self._sub(Subscription("ticker", symbol=symbol))

    async def subscribe_trades(self, symbol: str) -> Subscription:
        return await self._sub(Subscription("trades", symbol=symbol))

    async def subscribe_candles(self, symbol: str, timeframe: str) -> Subscription:
        return await self._sub(Subscription("candles", key=f"trade:{timeframe}:{symbol}"))

    async def subscribe_book(
        self, symbol: str, prec: str = "P0", length: int = 25, freq: str = "F0"
    ) -> Subscription:
        return await self._sub(
            Subscription("book", symbol=symbol, prec=prec, length=length, freq=freq)
        )

    async def _sub(self, sub: Subscription) -> Subscription:
        await self.subscribe(sub)
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        for sub_id, state in list(self._subs.items()):
            if state.sub == sub:
                del self._subs[sub_id]
                if state.chan_id is not None:
                    self._by_chan.pop(state.chan_id, None)
                    await self._send({"event": "unsubscribe", "chanId": state.chan_id})

    def book(self, sub: Subscription) -> LocalBook | None:
        for state in self._subs.values():
            if state.sub == sub:
                return state.book
        return None

    async def _send_sub(self, state: _SubState) -> None:
        state.chan_id, state.snapshot_seen = None, False
        if self._ws is not None and self.connected.is_set():
            await self._send(state.sub.request(state.sub_id))

    async def _resubscribe(self, state: _SubState) -> None:
        if state.chan_id is not None:
            self._by_chan.pop(state.chan_id, None)
            await self._send({"event": "unsubscribe", "chanId": state.chan_id})
        await self._send_sub(state)

    # --- order inputs -------------------------------------------------------------------------
    async def submit_order(self, request: OrderRequest) -> None:
        """Send ``on``; the outcome arrives as ``notification`` + ``order`` events."""
        await self._input("on", request.to_body())

    async def update_order(self, order_id: int, **changes: Any) -> None:
        body = {"id": order_id, **{k: _plain(v) for k, v in changes.items() if v is not None}}
        await self._input("ou", body)

    async def cancel_order(
        self, order_id: int | None = None, *, cid: int | None = None, cid_date: str | None = None
    ) -> None:
        if order_id is not None:
            await self._input("oc", {"id": order_id})
        elif cid is not None and cid_date is not None:
            await self._input("oc", {"cid": cid, "cid_date": cid_date})
        else:
            raise ValueError("cancel_order needs an id, or a cid with its cid_date")

    async def cancel_orders(
        self,
        *,
        ids: list[int] | None = None,
        gids: list[int] | None = None,
        cids: list[tuple[int, str]] | None = None,
        all_orders: bool = False,
    ) -> None:
        if all_orders:
            body: dict[str, Any] = {"all": 1}
        else:
            body = {
                k: v
                for k, v in (
                    ("id", ids),
                    ("gid", gids),
                    ("cid", [list(c) for c in cids or []] or None),
                )
                if v
            }
        await self._input("oc_multi", body)

    async def _input(self, abbrev: str, body: dict[str, Any]) -> None:
        if self.paused:
            raise MaintenanceError(20060, "exchange in maintenance; inputs paused")
        if not self.authenticated.is_set() or self._ws is None:
            raise AuthenticationError(10100, "not authenticated on the websocket")
        await self._send([0, abbrev, None, body])

    async def _send(self, message: Any) -> None:
        if self._ws is None:
            return
        text = dumps(message)
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(text)

    # --- connection loop ----------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._closing:
            reason = "closed"
            try:
                async with connect(
                    self.url,
                    compression=None,
                    ping_interval=None,
                    open_timeout=self._open_timeout,
                    max_size=2**24,
                    logger=self._frame_log,
                ) as ws:
                    self._ws = ws
                    reason = await self._session(ws)
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
                self.connected.clear()
                self.authenticated.clear()
                self._by_chan.clear()
            if self._closing:
                break
            self._emit("disconnected", data=reason)
            delay = self._backoff.next_delay()
            log.info("websocket down (%s); reconnecting in %.2fs", reason, delay)
            await asyncio.sleep(delay)

    async def _session(self, ws: ClientConnection) -> str:
        self._seq_last, self._dropping = None, False  # SEQ counts per connection
        first = await asyncio.wait_for(ws.recv(), self._open_timeout)
        self._last_rx = asyncio.get_running_loop().time()
        await self._handle_async(first if isinstance(first, str) else first.decode())
        self.connections += 1
        self._backoff.reset()
        await self._send({"event": "conf", "flags": self.flags})
        if self._creds is not None:
            nonce = self._nonce.next()
            log.debug("sending auth (nonce %d)", nonce)
            await self._send(
                ws_auth_message(self._creds, nonce, dms=self._dms, filters=self._filters)
            )
        self.connected.set()
        self._emit("connected", data=self.connections)
        for state in list(self._subs.values()):
            await self._send_sub(state)
        watchdog = asyncio.create_task(self._watchdog(ws))
        try:
            async for message in ws:
                self._last_rx = asyncio.get_running_loop().time()
                await self._handle_async(message if isinstance(message, str) else message.decode())
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        return f"closed with code {ws.close_code}"

    async def _watchdog(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.heartbeat_timeout / 4)
            if loop.time() - self._last_rx > self.heartbeat_timeout:
                log.warning("no data for %.1fs: reconnecting", self.heartbeat_timeout)
                self._emit("stale", data=f"no frame for {self.heartbeat_timeout:g} s")
                ws.transport.abort()
                return

    # --- inbound ------------------------------------------------------------------------------
    def _emit(
        self,
        kind: str,
        channel: str | None = None,
        sub: Subscription | None = None,
        data: Any = None,
    ) -> None:
        self._queue.put_nowait(WsEvent(kind, channel, sub, data, self.paused))

    async def _handle_async(self, text: str) -> None:
        follow_up = self._handle_text(text)
        if follow_up is not None:
            await follow_up

    def _handle_text(self, text: str) -> Any:
        """Decode one frame; returns an awaitable for follow-up sends (or None)."""
        try:
            msg = loads(text)
        except ValueError:
            self._emit("error", data=WireFormatError("FRAME", "<json>", text, "not JSON"))
            return None
        try:
            if isinstance(msg, dict):
                return self._on_event(msg)
            if isinstance(msg, list) and msg and isinstance(msg[0], int):
                return self._on_channel(msg, text)
            raise WireFormatError("FRAME", "<shape>", msg, "expected an event or a channel array")
        except BitfinexError as exc:
            self._emit("error", data=exc)
        except (IndexError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            self._emit("error", data=WireFormatError("FRAME", type(exc).__name__, text, str(exc)))
        return None

    def _on_event(self, msg: dict[str, Any]) -> Any:
        event = msg.get("event")
        if event == "info":
            return self._on_info(msg)
        if event == "subscribed":
            state = self._subs.get(str(msg.get("subId")))
            if state is not None:
                state.chan_id = int(msg["chanId"])
                self._by_chan[state.chan_id] = state
                self._emit("subscribed", sub=state.sub, data=state.chan_id)
            elif msg.get("subId") is not None and "chanId" in msg:
                # Our subId, but unsubscribed before this ack came (no chanId to send then):
                # drop the channel now, or the server keeps it (and refuses it again as a dup).
                return self._send({"event": "unsubscribe", "chanId": int(msg["chanId"])})
        elif event == "unsubscribed":
            self._emit("unsubscribed", data=msg.get("chanId"))
        elif event == "auth":
            if msg.get("status") == "OK":
                self.authenticated.set()
                self._emit("auth", data=msg.get("userId"))
            else:
                err = error_for_code(msg.get("code"), str(msg.get("msg", "auth failed")))
                self._emit("auth", data=err)
                # An unauthenticated account socket is useless: start over with back-off
                # (and a fresh nonce, which cures "nonce: small" from a concurrent signer).
                self.reconnect()
        elif event == "error":
            err = parse_error_payload(msg)
            state = self._subs.get(str(msg.get("subId")))
            self._emit("error", sub=state.sub if state else None, data=err)
        elif event == "conf" and msg.get("status") != "OK":
            self._check_seq = False  # no numbers will come: nothing to check
            self._emit("error", data=BitfinexError(None, f"conf refused: {msg}"))
        return None

    def _on_info(self, msg: dict[str, Any]) -> Any:
        code = msg.get("code")
        if "version" in msg and msg["version"] != 2:
            self._emit("error", data=BitfinexError(None, f"unsupported version {msg['version']}"))
        self._emit("info", data=msg)
        platform = msg.get("platform")
        if isinstance(platform, dict) and "status" in platform:
            # Each connection states the platform status: it ends a pause whose 20061 was
            # missed (the server restarted during maintenance) and starts one on status 0.
            self._set_paused(platform["status"] == 0)
        if code == 20051:
            self.reconnect()
        elif code == 20060:
            self.paused = True
            self._emit("maintenance", data=True)
        elif code == 20061:
            self.paused = False
            self._emit("maintenance", data=False)
            return self._resubscribe_all()
        return None

    def _set_paused(self, paused: bool) -> None:
        if paused != self.paused:
            self.paused = paused
            self._emit("maintenance", data=paused)

    async def _resubscribe_all(self) -> None:
        for state in list(self._subs.values()):
            await self._resubscribe(state)

    def _on_channel(self, frame: list[Any], text: str) -> Any:
        chan_id = frame[0]
        if chan_id == 0:
            self._on_account(frame)
            return None
        if self._dropping or (self._check_seq and self._seq_gap(frame)):
            return None
        state = self._by_chan.get(chan_id)
        if state is None or len(frame) < 2:
            return None  # unknown/unsubscribed channel: frames in flight are ignored
        head = frame[1]
        if head == "hb":
            return None
        if state.sub.channel == "book":
            return self._on_book(state, frame, text)
        sub = state.sub
        if sub.channel == "trades":
            if head in ("te", "tu"):
                self._emit("trade", head, sub, w.parse_public_trade(frame[2]))
            else:
                self._emit(
                    "trades_snapshot",
                    None,
                    sub,
                    w.parse_many(w.parse_public_trade, head, "PUBLIC_TRADE"),
                )
        elif sub.channel == "ticker":
            self._emit("ticker", None, sub, w.parse_ticker(head, sub.symbol))
        elif sub.channel == "candles":
            if not state.snapshot_seen:
                state.snapshot_seen = True
                self._emit(
                    "candles_snapshot", None, sub, w.parse_many(w.parse_candle, head, "CANDLE")
                )
            elif w.is_sequence_of_arrays(head):
                for row in head:
                    self._emit("candle", None, sub, w.parse_candle(row))
            else:
                self._emit("candle", None, sub, w.parse_candle(head))
        return None

    def _seq_gap(self, frame: list[Any]) -> bool:
        """Track the connection's SEQ; on a jump, emit ``seq_gap`` and reconnect."""
        seq = seq_of(frame)
        if seq is None:
            return False
        last = self._seq_last
        self._seq_last = seq if last is None else max(seq, last)
        if last is None or seq <= last + 1:
            if last is not None and seq <= last:
                log.debug("SEQ %d after %d (repeated or reordered); accepted", seq, last)
            return False
        self.seq_gaps += 1
        self._dropping = True
        log.warning("SEQ jumped from %d to %d: a frame was lost; resyncing", last, seq)
        self._emit("seq_gap", data=(last + 1, seq))
        self.reconnect()
        return True

    def _on_book(self, state: _SubState, frame: list[Any], text: str) -> Any:
        book = state.book
        assert book is not None
        if frame[1] == "cs":
            expected = _int("BOOK", "checksum", frame[2])
            actual = book.checksum()
            if actual != expected:
                self._emit("checksum_mismatch", None, state.sub, (expected, actual))
                return self._resubscribe(state)
            return None
        raw = loads_raw_numbers(text)[1]  # exact number text, needed for checksums
        if not isinstance(raw, list):
            raise WireFormatError("BOOK", "<payload>", raw, "expected an array")
        if not state.snapshot_seen:
            state.snapshot_seen = True
            book.apply_snapshot(raw)
            self._emit("book_snapshot", None, state.sub, book)
        elif raw and isinstance(raw[0], list):
            for row in raw:  # BULK_UPDATES
                book.apply_update(row)
            self._emit("book", None, state.sub, book)
        else:
            book.apply_update(raw)
            self._emit("book", None, state.sub, book)
        return None

    def _on_account(self, frame: list[Any]) -> None:
        abbrev = frame[1] if len(frame) > 1 else None
        if abbrev == "hb" or not isinstance(abbrev, str):
            return
        payload = frame[2] if len(frame) > 2 else None
        if abbrev == "os":
            self._emit("order", abbrev, data=w.parse_many(w.parse_order, payload, "ORDER"))
        elif abbrev in ("on", "ou", "oc"):
            self._emit("order", abbrev, data=w.parse_order(payload))
        elif abbrev in ("te", "tu"):
            self._emit("account_trade", abbrev, data=w.parse_account_trade(payload))
        elif abbrev == "ws":
            self._emit("wallet", abbrev, data=w.parse_many(w.parse_wallet, payload, "WALLET"))
        elif abbrev == "wu":
            self._emit("wallet", abbrev, data=w.parse_wallet(payload))
        elif abbrev == "ps":
            self._emit("position", abbrev, data=w.parse_many(w.parse_position, payload, "POSITION"))
        elif abbrev in ("pn", "pu", "pc"):
            self._emit("position", abbrev, data=w.parse_position(payload))
        elif abbrev == "bu":
            self._emit("balance", abbrev, data=w.parse_balance_info(payload))
        elif abbrev == "n":
            self._emit("notification", abbrev, data=w.parse_notification(payload))
        else:
            self._emit("account_other", abbrev, data=payload)


def health_of(event: WsEvent, *, ready: str = "connected") -> tuple[Health, str] | None:
    """The connection health a socket event reports (``ready``: the event that means usable,
    ``connected`` for public sockets, ``auth`` for the account socket), or ``None``."""
    kind, data = event.kind, event.data
    if kind == "disconnected":
        return Health.RECONNECTING, str(data)
    if kind == "stale":
        return Health.STALE, str(data)
    if kind == "maintenance":
        return (Health.MAINTENANCE, "info 20060") if data else (Health.CONNECTED, "info 20061")
    if kind == ready and not isinstance(data, BaseException):
        # A connection opened into maintenance (platform status 0, or a 20060 before auth) is
        # usable but paused: only 20061 / an operative status may report CONNECTED.
        if event.paused:
            return Health.MAINTENANCE, "connected during maintenance"
        return Health.CONNECTED, ""
    return None


def seq_of(frame: list[Any]) -> int | None:
    """The SEQ suffix of a public channel frame, if it carries one.

    It follows the payload: ``[ID, PAYLOAD, SEQ, (MTS)]``, ``[ID, "hb", SEQ]``,
    ``[ID, "te", TRADE, SEQ]``, ``[ID, "cs", CHECKSUM, SEQ]`` (§3.3.2).
    """
    head = frame[1] if len(frame) > 1 else None
    index = 3 if isinstance(head, str) and head in _TAGGED_PAYLOADS else 2
    value = frame[index] if len(frame) > index else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_TAGGED_PAYLOADS = frozenset({"te", "tu", "fte", "ftu", "cs"})


def _plain(value: Any) -> Any:
    return plain_decimal(value) if isinstance(value, Decimal | float) else value

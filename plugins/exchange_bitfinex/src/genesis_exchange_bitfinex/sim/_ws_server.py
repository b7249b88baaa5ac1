"""WebSocket v2 server of the simulator (public channels, account channel 0, inputs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from decimal import Decimal
from typing import Any

import attrs
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from genesis_exchange_bitfinex._jsonnum import dumps
from genesis_exchange_bitfinex._logging import RedactingLogger
from genesis_exchange_bitfinex._wire import PublicTrade, candle_to_wire, public_trade_to_wire

from ._engine import Exchange
from ._market import TIMEFRAMES_MS
from ._views import BOOK_LENGTHS, PRECISIONS, book_rows, rows_checksum, ticker_row
from ._ws_account import AccountSession, handle_auth, handle_input
from .faults import Faults


log = logging.getLogger(__name__)
TIMESTAMP, SEQ_ALL, OB_CHECKSUM = 32768, 65536, 131072
INFO_TEXT = {
    20051: "Stop/Restart Websocket Server (please reconnect)",
    20060: "Entering in Maintenance mode. Please pause any activity and resume after receiving "
    "the info message 20061 (it should take 120 seconds at most).",
    20061: "Maintenance ended. You can resume normal activity. It is advised to "
    "unsubscribe/subscribe again all channels.",
}


@attrs.define
class Sub:
    chan_id: int
    channel: str
    symbol: str | None = None
    key: str | None = None
    prec: str = "P0"
    length: int = 25
    tf: str | None = None
    rows: dict[Any, list[Any]] = attrs.field(factory=dict)  # last book view sent, by _row_key


def _row_key(row: list[Any]) -> tuple[bool, Any]:
    # Side + price (or order id): at P1-P4 a bid and an ask level can round to the same price,
    # and keying by price alone made one overwrite the other (wrong diffs and checksums).
    return row[2] > 0, row[0]


class Conn(AccountSession):
    """One client connection: an outgoing queue plus its subscriptions."""

    def __init__(self, ws: ServerConnection, server: WsServer) -> None:
        super().__init__()
        self.ws = ws
        self.server = server
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.flags = 0
        self.seq = 0
        self.subs: dict[int, Sub] = {}
        self.lost = False

    def send_text(self, text: str) -> None:
        if not self.lost:
            self.queue.put_nowait(text)

    def send_event(self, event: dict[str, Any]) -> None:
        self.send_text(dumps(event))

    def send_channel(self, chan_id: int, *payload: Any) -> None:
        frame = [chan_id, *payload]
        if chan_id != 0:  # channel-0 SEQ layout is unverified (§7 #8): no suffixes there
            if self.flags & SEQ_ALL:
                faults = self.server.faults
                if faults.skip_seq > 0:
                    faults.skip_seq -= 1
                    self.seq += 1  # this number is never sent
                self.seq += 1
                frame.append(self.seq)
            if self.flags & TIMESTAMP:
                frame.append(self.server.ex.now())
        self.send_text(dumps(frame))

    def send_account(self, abbrev: str, payload: Any) -> None:
        self.send_channel(0, abbrev, payload)


class WsServer:
    def __init__(self, ex: Exchange, faults: Faults, host: str, port: int) -> None:
        self.ex = ex
        self.faults = faults
        self._host, self._port = host, port
        self._server: Server | None = None
        self.conns: set[Conn] = set()
        self._next_chan = 17469 + ex.config.seed % 1000
        self._hb_task: asyncio.Task[None] | None = None
        secrets = [s for a in ex.config.accounts for s in (a.api_key, a.api_secret)]
        self._frame_log = RedactingLogger(logging.getLogger("websockets.server"), secrets)
        ex.account_listeners.append(self._on_account_event)
        ex.public_listeners.append(self._on_public_trade)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            compression=None,
            ping_interval=None,
            logger=self._frame_log,
        )
        self._hb_task = asyncio.create_task(self._heartbeats())

    async def stop(self) -> None:
        if self._hb_task is not None:
            self._hb_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._hb_task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- fault hooks ----------------------------------------------------------------------
    def drop_all(self) -> int:
        conns = list(self.conns)
        for conn in conns:
            conn.lost = True
            conn.ws.transport.abort()
        return len(conns)

    def broadcast_info(self, code: int) -> None:
        for conn in list(self.conns):
            conn.send_event({"event": "info", "code": code, "msg": INFO_TEXT.get(code, "info")})

    def broadcast_raw(self, text: str) -> None:
        for conn in list(self.conns):
            conn.send_text(text)

    # --- connection lifecycle ---------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        conn = Conn(ws, self)
        self.conns.add(conn)
        sender = asyncio.create_task(self._sender(conn))
        conn.send_event(
            {
                "event": "info",
                "version": 2,
                "serverId": str(uuid.uuid4()),
                "platform": {"status": self.ex.platform_status},
            }
        )
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                self._on_message(conn, text)
                self.publish()
        except ConnectionClosed:
            pass
        finally:
            self.conns.discard(conn)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            if conn.dms and conn.account is not None:
                from ._ops import cancel_all

                cancel_all(self.ex, conn.account)
                self.publish()

    async def _sender(self, conn: Conn) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                text = await conn.queue.get()
                await conn.ws.send(text)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.ex.config.heartbeat_interval)
            if self.faults.heartbeats_paused:
                continue
            for conn in list(self.conns):
                for chan_id in list(conn.subs):
                    conn.send_channel(chan_id, "hb")
                if conn.account is not None:
                    conn.send_text(dumps([0, "hb"]))

    # --- inbound ------------------------------------------------------------------------------
    def _on_message(self, conn: Conn, text: str) -> None:
        try:
            msg = json.loads(text, parse_float=Decimal)
        except ValueError:
            return  # non-JSON: no reply, connection stays open (observed)
        if isinstance(msg, list):
            if conn.account is None or len(msg) < 4 or msg[0] != 0:
                return
            if self.faults.lose_next_ws_inputs > 0:
                self.faults.lose_next_ws_inputs -= 1
                conn.lost = True
                handle_input(self.ex, conn, msg[1], msg[3])
                conn.ws.transport.abort()
                return
            handle_input(self.ex, conn, msg[1], msg[3])
            return
        if not isinstance(msg, dict):
            return
        event = msg.get("event")
        if event == "ping":
            reply = {"event": "pong", "ts": self.ex.now()}
            if "cid" in msg:
                reply["cid"] = msg["cid"]
            conn.send_event(reply)
        elif event == "conf":
            flags = msg.get("flags")
            if isinstance(flags, int) and not isinstance(flags, bool):
                conn.flags = flags
                conn.send_event({"event": "conf", "status": "OK", "flags": flags})
            else:
                conn.send_event({"event": "conf", "status": "FAILED", "flags": flags})
        elif event == "subscribe":
            self._subscribe(conn, msg)
        elif event == "unsubscribe":
            self._unsubscribe(conn, msg)
        elif event == "auth":
            handle_auth(self.ex, conn, msg)
        else:
            conn.send_event({"event": "error", "msg": f"event: invalid ({event})", "code": 10000})

    def _subscribe(self, conn: Conn, msg: dict[str, Any]) -> None:
        echo = {k: v for k, v in msg.items() if k != "event"}
        sub = self._parse_subscription(conn, msg, echo)
        if sub is None:
            return
        for other in conn.subs.values():
            if (other.channel, other.symbol, other.key, other.prec, other.length) == (
                sub.channel,
                sub.symbol,
                sub.key,
                sub.prec,
                sub.length,
            ):
                self._sub_error(conn, echo, 10301, "subscribe: dup", chanId=other.chan_id)
                return
        limit = self.ex.config.max_channels - (1 if conn.account is not None else 0)
        if len(conn.subs) >= limit:
            self._sub_error(conn, echo, 10305, "subscribe: limit")
            return
        self._next_chan += 1
        sub.chan_id = self._next_chan
        conn.subs[sub.chan_id] = sub
        reply: dict[str, Any] = {
            "event": "subscribed",
            "channel": sub.channel,
            "chanId": sub.chan_id,
        }
        if sub.channel == "candles":
            reply["key"] = sub.key
        else:
            reply["symbol"] = sub.symbol
        if sub.channel == "book":
            reply.update(prec=sub.prec, freq=msg.get("freq", "F0"), len=str(sub.length))
        if "subId" in msg:
            reply["subId"] = msg["subId"]
        if sub.symbol is not None:
            reply["pair"] = sub.symbol[1:]
        conn.send_event(reply)
        self._snapshot(conn, sub)

    def _parse_subscription(
        self, conn: Conn, msg: dict[str, Any], echo: dict[str, Any]
    ) -> Sub | None:
        channel = msg.get("channel")
        if channel not in ("ticker", "trades", "book", "candles"):
            self._sub_error(conn, echo, 10300, "channel: unknown")
            return None
        if channel == "candles":
            parts = str(msg.get("key", "")).split(":", 2)
            if len(parts) != 3 or parts[0] != "trade" or parts[1] not in TIMEFRAMES_MS:
                self._sub_error(conn, echo, 10300, "key: invalid")
                return None
            if parts[2] not in self.ex.markets:
                self._sub_error(conn, echo, 10300, "symbol: invalid")
                return None
            return Sub(0, channel, symbol=parts[2], key=msg["key"], tf=parts[1])
        symbol = str(msg.get("symbol", ""))
        if symbol and symbol[0] not in "tf":
            symbol = "t" + symbol  # accepted without the t and echoed with it (observed)
        if symbol not in self.ex.markets:
            echo["pair"] = symbol[1:]
            self._sub_error(conn, echo, 10300, "symbol: invalid")
            return None
        sub = Sub(0, channel, symbol=symbol)
        if channel == "book":
            sub.prec = str(msg.get("prec", "P0"))
            length = str(msg.get("len", "25"))
            echo["pair"] = symbol[1:]
            if sub.prec not in PRECISIONS:
                self._sub_error(conn, echo, 10300, "precision: invalid")
                return None
            if not length.isdigit() or int(length) not in BOOK_LENGTHS:
                self._sub_error(conn, echo, 10300, "length: invalid")
                return None
            sub.length = int(length)
        return sub

    @staticmethod
    def _sub_error(conn: Conn, echo: dict[str, Any], code: int, text: str, **extra: Any) -> None:
        conn.send_event({**echo, "event": "error", "msg": text, "code": code, **extra})

    def _unsubscribe(self, conn: Conn, msg: dict[str, Any]) -> None:
        chan_id = msg.get("chanId")
        if chan_id not in conn.subs:
            conn.send_event(
                {"event": "error", "msg": "unsubscribe: invalid", "code": 10400, "chanId": chan_id}
            )
            return
        del conn.subs[chan_id]
        conn.send_event({"event": "unsubscribed", "status": "OK", "chanId": chan_id})

    # --- outbound market data ---------------------------------------------------------------
    def _snapshot(self, conn: Conn, sub: Sub) -> None:
        ex = self.ex
        assert sub.symbol is not None
        market = ex.markets[sub.symbol]
        if sub.channel == "ticker":
            conn.send_channel(sub.chan_id, ticker_row(ex, sub.symbol))
        elif sub.channel == "trades":
            rows = list(reversed(market.trades))[:30]
            conn.send_channel(sub.chan_id, [public_trade_to_wire(t) for t in rows])
        elif sub.channel == "candles":
            assert sub.tf is not None
            rows = market.candles(sub.tf)[-240:]
            conn.send_channel(sub.chan_id, [candle_to_wire(c) for c in reversed(rows)])
        else:
            rows = book_rows(ex, sub.symbol, sub.prec, sub.length)
            sub.rows = {_row_key(r): r for r in rows}
            conn.send_channel(sub.chan_id, rows)
            self._checksum(conn, sub)

    def _checksum(self, conn: Conn, sub: Sub) -> None:
        if not conn.flags & OB_CHECKSUM:
            return
        value = rows_checksum(list(sub.rows.values()), sub.prec == "R0")
        if self.faults.corrupt_checksums > 0:
            self.faults.corrupt_checksums -= 1
            value = value + 1 if value < 2**31 - 1 else value - 1
        conn.send_channel(sub.chan_id, "cs", value)

    def publish(self, *, stepped: bool = False) -> None:
        """Send book diffs for changed symbols (and ticker/candles after a step)."""
        if self.faults.heartbeats_paused:
            self.ex.dirty.clear()
            return
        dirty, self.ex.dirty = set(self.ex.dirty), set()
        for conn in list(self.conns):
            for sub in list(conn.subs.values()):
                if sub.symbol not in dirty and not stepped:
                    continue
                if sub.channel == "book":
                    self._book_diff(conn, sub)
                elif stepped and sub.channel == "ticker":
                    conn.send_channel(sub.chan_id, ticker_row(self.ex, sub.symbol or ""))
                elif stepped and sub.channel == "candles" and sub.tf and sub.symbol:
                    rows = self.ex.markets[sub.symbol].candles(sub.tf)
                    if rows:
                        conn.send_channel(sub.chan_id, candle_to_wire(rows[-1]))

    def _book_diff(self, conn: Conn, sub: Sub) -> None:
        assert sub.symbol is not None
        rows = book_rows(self.ex, sub.symbol, sub.prec, sub.length)
        new = {_row_key(r): r for r in rows}
        changed = False
        for key, old in sub.rows.items():
            if key not in new:
                sign = 1 if old[2] > 0 else -1
                conn.send_channel(sub.chan_id, [old[0], 0, sign])
                changed = True
        for key, row in new.items():
            if sub.rows.get(key) != row:
                conn.send_channel(sub.chan_id, row)
                changed = True
        sub.rows = new
        if changed:
            self._checksum(conn, sub)

    def _on_public_trade(self, symbol: str, kind: str, trade: PublicTrade) -> None:
        if self.faults.heartbeats_paused:
            return
        for conn in list(self.conns):
            for sub in conn.subs.values():
                if sub.channel == "trades" and sub.symbol == symbol:
                    conn.send_channel(sub.chan_id, kind, public_trade_to_wire(trade))

    def _on_account_event(self, user_id: int, abbrev: str, payload: Any) -> None:
        for conn in list(self.conns):
            if (
                conn.account is not None
                and conn.account.user_id == user_id
                and conn.wants(abbrev, payload)
            ):
                conn.send_account(abbrev, payload)

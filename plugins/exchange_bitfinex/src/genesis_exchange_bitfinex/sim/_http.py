"""A minimal asyncio HTTP/1.1 server on top of h11 (keep-alive, one request at a time)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import attrs
import h11


log = logging.getLogger(__name__)


@attrs.frozen
class HttpRequest:
    method: str
    target: str  # raw request target, e.g. "/v2/ticker/tBTCUSD?x=1"
    headers: dict[str, str]  # lower-case names
    body: bytes
    peer: str


@attrs.frozen
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"


class LoseResponse(Exception):
    """Raised by a handler to close the connection without answering (fault injection)."""


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class HttpServer:
    def __init__(self, handler: Handler, host: str, port: int) -> None:
        self._handler = handler
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connect, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        peer = str((writer.get_extra_info("peername") or ("?",))[0])
        while True:
            try:
                request = await self._read_request(conn, reader, peer)
            except h11.RemoteProtocolError:
                await self._send(conn, writer, HttpResponse(400, b"bad request", "text/plain"))
                return
            if request is None:
                return
            try:
                response = await self._handler(request)
            except LoseResponse:
                writer.transport.abort()
                return
            await self._send(conn, writer, response)
            if conn.our_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, peer: str
    ) -> HttpRequest | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                headers = {k.decode().lower(): v.decode() for k, v in head.headers}
                return HttpRequest(
                    head.method.decode(), head.target.decode(), headers, bytes(body), peer
                )
            else:  # ConnectionClosed or PAUSED
                return None

    @staticmethod
    async def _send(
        conn: h11.Connection, writer: asyncio.StreamWriter, response: HttpResponse
    ) -> None:
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
        ]
        data = conn.send(h11.Response(status_code=response.status, headers=headers))
        data += conn.send(h11.Data(data=response.body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        writer.write(data)
        await writer.drain()

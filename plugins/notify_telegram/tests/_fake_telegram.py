"""A fake Telegram Bot API server on 127.0.0.1 (real HTTP/1.1, port 0), for the tests.

It speaks the Bot API's JSON envelopes (``{"ok": true, "result": ...}`` and
``{"ok": false, "error_code": ..., "description": ..., "parameters": {...}}``), implements
``getMe``, ``sendMessage`` (checking the HTML the way Telegram does: known tags only, balanced,
known entities, at most 4096 UTF-16 units of text after parsing) and ``getUpdates`` (long
polling with ``timeout``, ``offset`` confirmation, ``limit``), and injects faults per method:

* ``("retry_after", n)`` - 429 with ``parameters.retry_after = n``;
* ``("status", 502)`` - a proxy's non-JSON error page;
* ``("error", code, description, parameters)`` - a Bot API error;
* ``("slow", seconds)`` - the request is carried out, the answer comes ``seconds`` late;
* ``("hold", event)`` - the request is carried out, the answer waits for ``event`` (a
  ``threading.Event``);
* ``("drop",)`` - the request is read, not carried out, and the connection closed;
* ``("stale",)`` - getUpdates ignores ``offset`` once (returns old updates again).

``listen=False`` binds the port without listening, so connections are refused until
:meth:`listen`.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import attrs


ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
                "tg-spoiler", "a", "code", "pre", "blockquote", "tg-emoji"}
ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_PIECE = re.compile(r"<[^<>]*>|&[^;&<>\s]*;|[<>&]|[^<>&]+")


def parse_html(text: str) -> str:
    """The visible text of Telegram HTML; ValueError for what Telegram would reject."""
    stack: list[str] = []
    out: list[str] = []
    for piece in _PIECE.findall(text):
        if piece.startswith("<") and piece.endswith(">") and len(piece) > 1:
            match = re.fullmatch(r"<(/?)([a-z-]+)(\s[^<>]*)?>", piece)
            if not match or match.group(2) not in ALLOWED_TAGS:
                raise ValueError(f"unsupported tag {piece!r}")
            if match.group(1):
                if not stack or stack[-1] != match.group(2):
                    raise ValueError(f"unexpected end tag {piece!r}")
                stack.pop()
            else:
                stack.append(match.group(2))
        elif piece.startswith("&") and piece.endswith(";") and len(piece) > 2:
            name = piece[1:-1]
            if name in ENTITIES:
                out.append(ENTITIES[name])
            elif re.fullmatch(r"#[0-9]+|#x[0-9a-fA-F]+", name):
                out.append(html.unescape(piece))
            else:
                raise ValueError(f"unsupported entity {piece!r}")
        elif piece in ("<", ">", "&"):
            raise ValueError(f"unescaped {piece!r}")
        else:
            out.append(piece)
    if stack:
        raise ValueError(f"can't find end tag corresponding to start tag {stack[-1]!r}")
    return "".join(out)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@attrs.frozen
class Sent:
    """A message the fake accepted."""

    chat_id: str
    text: str
    parse_mode: str | None
    at: float  # the server's clock (the test's virtual clock when one is given)


class FakeTelegram:
    def __init__(self, token: str, *, clock: Callable[[], float] = time.monotonic,
                 listen: bool = True) -> None:
        self.token = token
        self.clock = clock
        self.cond = threading.Condition()
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: dict[str, deque[tuple[Any, ...]]] = defaultdict(deque)
        self.on_message: Callable[[Sent], None] | None = None
        self._updates: list[dict[str, Any]] = []
        self._next_update = 5000
        self._next_message = 1
        self.confirmed = 0  # updates below this id were confirmed with offset
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        self._server.fake = self
        self._server.server_bind()
        self._thread: threading.Thread | None = None
        if listen:
            self.listen()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def listen(self) -> None:
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        with self.cond:
            self.cond.notify_all()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()  # joins the handler threads

    def __enter__(self) -> FakeTelegram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- test side ----------------------------------------------------------------------------
    def push(self, chat_id: int, text: str, *, date: int | None = None) -> int:
        """A user writes ``text`` in ``chat_id``; returns the update id."""
        with self.cond:
            update_id = self._next_update
            self._next_update += 1
            self._updates.append({"update_id": update_id, "message": {
                "message_id": update_id, "date": int(time.time()) if date is None else date,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": abs(chat_id), "is_bot": False, "first_name": "Operator"},
                "text": text}})
            self.cond.notify_all()
        return update_id

    def texts(self, chat_id: str | None = None) -> list[str]:
        with self.cond:
            return [s.text for s in self.sent if chat_id is None or s.chat_id == chat_id]

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        with self.cond:
            return [p for m, p in self.calls if m == method]

    # -- server side --------------------------------------------------------------------------
    def handle(self, method: str,
               payload: dict[str, Any]) -> tuple[int, Any, float | threading.Event, bool]:
        """(status, body, delay or event to wait for before answering, drop the connection)."""
        with self.cond:
            self.calls.append((method, payload))
            fault = self.faults[method].popleft() if self.faults[method] else None
        delay: float | threading.Event = 0.0
        if fault is not None:
            kind = fault[0]
            if kind == "retry_after":
                return 429, {"ok": False, "error_code": 429,
                             "description": f"Too Many Requests: retry after {fault[1]}",
                             "parameters": {"retry_after": fault[1]}}, 0.0, False
            if kind == "status":
                return fault[1], f"<html><body>{fault[1]} Bad Gateway</body></html>", 0.0, False
            if kind == "error":
                return fault[1], {"ok": False, "error_code": fault[1], "description": fault[2],
                                  "parameters": fault[3] if len(fault) > 3 else {}}, 0.0, False
            if kind == "drop":
                return 0, None, 0.0, True
            if kind in ("slow", "hold"):
                delay = fault[1]
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 42, "is_bot": True,
                                                "first_name": "Genesis",
                                                "username": "genesis_test_bot"}}, delay, False
        if method == "sendMessage":
            status, body = self._send_message(payload)
            return status, body, delay, False
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(
                payload, stale=fault is not None and fault[0] == "stale")}, delay, False
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, 0.0, False

    def _send_message(self, payload: dict[str, Any]) -> tuple[int, Any]:
        chat_id, text = payload.get("chat_id"), payload.get("text")
        if not isinstance(chat_id, str | int) or not isinstance(text, str) or not text:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message text is empty"}
        parse_mode = payload.get("parse_mode")
        visible = text
        if parse_mode == "HTML":
            try:
                visible = parse_html(text)
            except ValueError as exc:
                return 400, {"ok": False, "error_code": 400,
                             "description": f"Bad Request: can't parse entities: {exc}"}
        if utf16(visible) > 4096:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message is too long"}
        sent = Sent(str(chat_id), text, parse_mode, self.clock())
        with self.cond:
            self.sent.append(sent)
            message_id = self._next_message
            self._next_message += 1
        if self.on_message is not None:
            self.on_message(sent)
        return 200, {"ok": True, "result": {
            "message_id": message_id, "date": int(time.time()),
            "chat": {"id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else 0},
            "text": visible}}

    def _get_updates(self, payload: dict[str, Any], *, stale: bool) -> list[dict[str, Any]]:
        offset = payload.get("offset")
        limit = payload.get("limit", 100)
        deadline = time.monotonic() + float(payload.get("timeout", 0))
        with self.cond:
            if isinstance(offset, int) and offset > 0:
                self.confirmed = max(self.confirmed, offset)
            while True:
                if stale:
                    ready = list(self._updates)
                else:
                    ready = [u for u in self._updates if u["update_id"] >= self.confirmed]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._closing.is_set():
                    return ready[:limit]
                self.cond.wait(remaining)


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    fake: FakeTelegram


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections end on their own
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", self.path)
        if match is None:
            self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        if unquote(match.group(1)) != fake.token:
            self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        try:
            payload = json.loads(body) if body else {}
        except json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            self._answer(400, {"ok": False, "error_code": 400,
                               "description": "Bad Request: invalid JSON"})
            return
        status, answer, delay, drop = fake.handle(match.group(2), payload)
        if drop:
            self.close_connection = True
            return
        if isinstance(delay, threading.Event):
            while not delay.wait(0.05) and not fake._closing.is_set():
                pass
        elif delay:
            fake._closing.wait(delay)
        try:
            self._answer(status, answer)
        except OSError:  # the client gave up waiting (a timeout test)
            self.close_connection = True

    do_GET = do_POST

    def _answer(self, status: int, answer: Any) -> None:
        if isinstance(answer, str):
            data, kind = answer.encode(), "text/html"
        else:
            data, kind = json.dumps(answer).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

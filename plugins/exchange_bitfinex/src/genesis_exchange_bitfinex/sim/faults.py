"""Fault injection for tests and chaos demos.

REST faults are queued and consumed by matching requests (``path`` is a prefix of the path after
``/v2/``, ``None`` matches all).  WS faults act immediately on live connections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs


if TYPE_CHECKING:
    from ._ws_server import WsServer


@attrs.define
class HttpFault:
    kind: str  # "status" | "delay" | "delay_response" | "lose_response" | "malformed"
    path: str | None
    times: int
    status: int = 0
    delay: float = 0.0


class Faults:
    """Switchboard of injected failures; one instance per simulator (``sim.faults``)."""

    def __init__(self) -> None:
        self._http: list[HttpFault] = []
        self._ws: WsServer | None = None
        self.corrupt_checksums = 0
        self.heartbeats_paused = False
        self.lose_next_ws_inputs = 0
        self.skip_seq = 0

    def attach(self, ws: WsServer) -> None:
        self._ws = ws

    def clear(self) -> None:
        """Withdraw every queued or pending fault (the venue is healthy again)."""
        self._http.clear()
        self.corrupt_checksums = self.skip_seq = self.lose_next_ws_inputs = 0
        self.heartbeats_paused = False

    # --- REST -----------------------------------------------------------------------------
    def rest_status(self, status: int, *, path: str | None = None, times: int = 1) -> None:
        """Answer the next matching requests with ``status`` (429: 11010 body; 5xx: HTML)."""
        self._http.append(HttpFault("status", path, times, status=status))

    def rest_delay(self, seconds: float, *, path: str | None = None, times: int = 1) -> None:
        """Hold the next matching requests for ``seconds`` before processing them (a slow
        request: authentication, nonce check and execution happen only after the wait)."""
        self._http.append(HttpFault("delay", path, times, delay=seconds))

    def rest_delay_response(
        self, seconds: float, *, path: str | None = None, times: int = 1
    ) -> None:
        """Process the next matching requests at once, then hold their answers for ``seconds``."""
        self._http.append(HttpFault("delay_response", path, times, delay=seconds))

    def rest_lose_response(self, *, path: str | None = None, times: int = 1) -> None:
        """Process the next matching requests, then close the socket without answering."""
        self._http.append(HttpFault("lose_response", path, times))

    def rest_malformed(self, *, path: str | None = None, times: int = 1) -> None:
        """Process the next matching requests, then answer HTTP 200 with a body that is not
        JSON (the client cannot tell whether a write was executed)."""
        self._http.append(HttpFault("malformed", path, times))

    def take_http(self, path: str) -> list[HttpFault]:
        """Faults that apply to this request (each consumes one of its ``times``)."""
        hits = []
        for fault in list(self._http):
            if fault.path is None or path.startswith(fault.path):
                hits.append(fault)
                fault.times -= 1
                if fault.times <= 0:
                    self._http.remove(fault)
        return hits

    # --- WS -------------------------------------------------------------------------------
    def _server(self) -> WsServer:
        if self._ws is None:
            raise RuntimeError("the simulator is not running")
        return self._ws

    def ws_drop_connections(self) -> int:
        """Abort every WS connection without a close frame (client sees code 1006)."""
        return self._server().drop_all()

    def ws_info(self, code: int) -> None:
        """Send an info event (20051 restart, 20060/20061 maintenance) to every connection."""
        self._server().broadcast_info(code)

    def ws_send_raw(self, text: str) -> None:
        """Send arbitrary text (e.g. a malformed frame) to every connection."""
        self._server().broadcast_raw(text)

    def ws_corrupt_checksums(self, times: int = 1) -> None:
        """Make the next ``times`` checksum frames wrong."""
        self.corrupt_checksums += times

    def ws_pause_heartbeats(self, paused: bool = True) -> None:
        """Stop (or resume) heartbeats and market updates: a stale feed for watchdog tests."""
        self.heartbeats_paused = paused

    def ws_skip_seq(self, times: int = 1) -> None:
        """Skip the next ``times`` SEQ numbers (one per sequenced frame sent, on whichever
        connection sends it): to the client this looks like a lost frame (§3.3.2)."""
        self.skip_seq += times

    def ws_lose_next_input(self, times: int = 1) -> None:
        """Process the next channel-0 input, then drop that connection before any reply."""
        self.lose_next_ws_inputs += times

"""Prometheus metrics of one bot, served with a ``/health`` check from a loopback HTTP server.

Each :class:`Metrics` owns its ``CollectorRegistry`` (never the process-wide default), so several
bots in one process, and tests, never see each other's values. Every series carries a ``bot``
label. The methods are cheap and thread-safe; call them from the event loop directly.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from genesis_core.models import OrderStatus


Clock = Callable[[], float]
Number = Decimal | float | int
# From a tenth of a millisecond (an in-process paper fill) to a second (a slow exchange API).
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0)


class Metrics:
    """The counters, gauges and latency histogram of bot ``bot``.

    ``stale_after`` (seconds without a market event) turns ``/health`` into HTTP 503. ``clock``
    is monotonic seconds (health, uptime); ``wall_clock`` is UTC epoch seconds (feed lag).
    """

    def __init__(self, bot: str, *, stale_after: float = 300.0, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time) -> None:
        self.bot = bot
        self.stale_after = stale_after
        self.registry = CollectorRegistry()
        self._clock = clock
        self._wall_clock = wall_clock
        self._started = clock()
        self._last_event: float | None = None
        self._signals = self._counter("genesis_signals", "Signals produced.", "strategy", "side")
        self._rejections = self._counter("genesis_risk_rejections",
                                         "Trades rejected by a risk policy.", "policy")
        self._orders = self._counter("genesis_orders", "Order status changes.", "status")
        self._fills = self._counter("genesis_fills", "Fills received.", "symbol", "side")
        self._reconnects = self._counter("genesis_reconnects",
                                         "Reconnections of a data feed or exchange session.",
                                         "source")
        self._gauges = {name: Gauge(f"genesis_{name}", doc, ["bot"],
                                    registry=self.registry).labels(bot=bot)
                        for name, doc in _GAUGES.items()}
        self._latency = Histogram(
            "genesis_candle_to_order_seconds", "From a candle's close to its order's submit.",
            ["bot"], buckets=LATENCY_BUCKETS, registry=self.registry).labels(bot=bot)
        # prometheus_client's app handles content negotiation (OpenMetrics, gzip) for us.
        self._metrics_app = make_wsgi_app(self.registry)
        for status in OrderStatus:  # zero series exist from the start, so rate() sees the 1st
            self._orders.labels(bot=bot, status=status.value)

    def _counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(name, doc, ["bot", *labels], registry=self.registry)

    # -- what the runner calls ---------------------------------------------------------------

    def signal(self, strategy: str, side: str) -> None:
        self._signals.labels(bot=self.bot, strategy=strategy, side=str(side)).inc()

    def rejection(self, policy: str) -> None:
        self._rejections.labels(bot=self.bot, policy=policy).inc()

    def order(self, status: str) -> None:
        """Count an order reaching ``status`` (an :class:`OrderStatus` or its name)."""
        self._orders.labels(bot=self.bot, status=str(status)).inc()

    def fill(self, symbol: str, side: str) -> None:
        self._fills.labels(bot=self.bot, symbol=symbol, side=str(side)).inc()

    def reconnect(self, source: str) -> None:
        self._reconnects.labels(bot=self.bot, source=source).inc()

    def equity(self, equity: Number, *, realized_pnl: Number | None = None,
               unrealized_pnl: Number | None = None, drawdown: Number | None = None,
               open_positions: int | None = None) -> None:
        """Set the portfolio gauges (quote currency; ``drawdown`` as a fraction of the peak).

        Omitted values keep their last setting.
        """
        values = {"equity": equity, "realized_pnl": realized_pnl,
                  "unrealized_pnl": unrealized_pnl, "drawdown": drawdown,
                  "open_positions": open_positions}
        for name, value in values.items():
            if value is not None:
                self._gauges[name].set(float(value))

    def market_event(self, timestamp_ms: int | None = None) -> None:
        """Note that market data arrived (keeps ``/health`` ok).

        ``timestamp_ms`` is when the event happened at the exchange (for a candle: its close
        time); the feed lag gauge is the wall clock minus that.
        """
        self._last_event = self._clock()
        if timestamp_ms is not None:
            lag = self._wall_clock() - timestamp_ms / 1000
            self._gauges["feed_lag_seconds"].set(max(lag, 0.0))

    def candle_to_order(self, seconds: float) -> None:
        """Observe the latency from a candle close to the order it caused being submitted."""
        self._latency.observe(seconds)

    # -- reading -----------------------------------------------------------------------------

    def health(self) -> tuple[int, dict[str, Any]]:
        """HTTP status and JSON body of ``/health``: 503 once stale.

        Before the first market event the age counts from start-up, so a feed that never
        delivers goes stale too.
        """
        now = self._clock()
        since = None if self._last_event is None else now - self._last_event
        age = now - self._started if since is None else since
        stale = age > self.stale_after
        body = {"status": "stale" if stale else "ok", "bot": self.bot,
                "seconds_since_market_event": since, "uptime_seconds": now - self._started,
                "stale_after_seconds": self.stale_after}
        return (503 if stale else 200), body

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
        """Serve ``/metrics`` and ``/health`` from a daemon thread; ``port=0`` picks a free
        port (see :attr:`MetricsServer.port`). Stop with :meth:`MetricsServer.shutdown`."""
        server_class = _Server6 if ":" in host else _Server
        server = make_server(host, port, self._app, server_class=server_class,
                             handler_class=_QuietHandler)
        return MetricsServer(server)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]
             ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path == "/health":
            code, body = self.health()
            payload = json.dumps(body).encode()
            start_response(f"{code} {'OK' if code == 200 else 'Service Unavailable'}",
                           [("Content-Type", "application/json"),
                            ("Content-Length", str(len(payload)))])
            return [payload]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /health\n"]


_GAUGES = {
    "realized_pnl": "Realised profit and loss, quote currency.",
    "unrealized_pnl": "Unrealised profit and loss at the last prices, quote currency.",
    "equity": "Cash plus the value of open positions, quote currency.",
    "drawdown": "Fall from the peak equity, as a fraction of the peak.",
    "open_positions": "Number of open positions.",
    "feed_lag_seconds": "Wall clock minus the exchange time of the last market event.",
}


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a hung scraper never keeps the process alive


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood stderr."""


class MetricsServer:
    """A running metrics endpoint; ``port`` is the bound port (useful with ``port=0``)."""

    def __init__(self, server: WSGIServer) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="genesis-metrics", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def shutdown(self) -> None:
        """Stop serving, close the socket and wait for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

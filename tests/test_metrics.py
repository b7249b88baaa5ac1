"""Prometheus metrics over real HTTP: values, /health staleness, isolated registries."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from genesis_core.metrics import Metrics, MetricsServer
from genesis_core.models import OrderStatus, SignalSide


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def metrics(clock: FakeClock) -> Metrics:
    return Metrics("alpha", stale_after=60.0, clock=clock, wall_clock=lambda: 1_700_000_002.5)


@pytest.fixture
def server(metrics: Metrics) -> Iterator[MetricsServer]:
    with metrics.serve("127.0.0.1", 0) as running:
        yield running


def scrape(server: MetricsServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET /metrics and return {(sample name, labels): value}."""
    with httpx.Client() as client:
        response = client.get(f"{server.url}/metrics")
    assert 200 == response.status_code
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset({"bot": "alpha", **labels}.items()))]


def get_health(server: MetricsServer) -> httpx.Response:
    with httpx.Client() as client:
        return client.get(f"{server.url}/health")


def test_metrics_are_served_over_http_with_the_values_set(metrics: Metrics,
                                                          server: MetricsServer) -> None:
    assert 0 < server.port
    metrics.signal("ema_cross", SignalSide.BUY)
    metrics.signal("ema_cross", "BUY")
    metrics.signal("rsi", "SELL")
    metrics.rejection("max_positions")
    metrics.order(OrderStatus.SUBMITTED)
    metrics.order("FILLED")
    metrics.fill("BTCUSD", "BUY")
    metrics.reconnect("bitfinex-ws")
    metrics.equity(Decimal("10250.50"), realized_pnl=Decimal("200.25"),
                   unrealized_pnl=Decimal("-49.75"), drawdown=Decimal("0.125"),
                   open_positions=2)
    metrics.equity(Decimal("10300"))  # the others keep their values
    metrics.market_event(1_700_000_000_000)
    for seconds in (0.0002, 0.003, 0.003, 2.0):
        metrics.candle_to_order(seconds)

    samples = scrape(server)

    assert 2 == value(samples, "genesis_signals_total", strategy="ema_cross", side="BUY")
    assert 1 == value(samples, "genesis_signals_total", strategy="rsi", side="SELL")
    assert 1 == value(samples, "genesis_risk_rejections_total", policy="max_positions")
    assert 1 == value(samples, "genesis_orders_total", status="SUBMITTED")
    assert 0 == value(samples, "genesis_orders_total", status="CANCELED")  # exists from start
    assert 1 == value(samples, "genesis_fills_total", symbol="BTCUSD", side="BUY")
    assert 1 == value(samples, "genesis_reconnects_total", source="bitfinex-ws")
    assert 10300 == value(samples, "genesis_equity")
    assert 200.25 == value(samples, "genesis_realized_pnl")
    assert -49.75 == value(samples, "genesis_unrealized_pnl")
    assert 0.125 == value(samples, "genesis_drawdown")
    assert 2 == value(samples, "genesis_open_positions")
    assert 2.5 == value(samples, "genesis_feed_lag_seconds")
    assert 4 == value(samples, "genesis_candle_to_order_seconds_count")
    assert 1 == value(samples, "genesis_candle_to_order_seconds_bucket", le="0.00025")
    assert 3 == value(samples, "genesis_candle_to_order_seconds_bucket", le="0.005")
    assert 3 == value(samples, "genesis_candle_to_order_seconds_bucket", le="1.0")
    assert 4 == value(samples, "genesis_candle_to_order_seconds_bucket", le="+Inf")


def test_health_is_ok_then_503_when_the_feed_goes_stale(metrics: Metrics, clock: FakeClock,
                                                         server: MetricsServer) -> None:
    clock.now += 30
    response = get_health(server)
    assert 200 == response.status_code
    assert {"status": "ok", "bot": "alpha", "seconds_since_market_event": None,
            "uptime_seconds": 30.0, "stale_after_seconds": 60.0} == response.json()

    metrics.market_event()
    clock.now += 45
    body = get_health(server).json()
    assert ("ok", 45.0, 75.0) == (body["status"], body["seconds_since_market_event"],
                                  body["uptime_seconds"])

    clock.now += 16
    response = get_health(server)
    assert 503 == response.status_code
    assert "stale" == response.json()["status"]
    assert 61.0 == response.json()["seconds_since_market_event"]

    metrics.market_event()
    assert 200 == get_health(server).status_code


def test_a_feed_that_never_delivers_goes_stale(metrics: Metrics, clock: FakeClock) -> None:
    clock.now += 61
    code, body = metrics.health()
    assert (503, "stale") == (code, body["status"])


def test_unknown_paths_are_404(server: MetricsServer) -> None:
    with httpx.Client() as client:
        assert 404 == client.get(f"{server.url}/").status_code


def test_two_bots_do_not_share_values(metrics: Metrics, server: MetricsServer) -> None:
    other = Metrics("alpha")  # even the same bot name: its own registry
    metrics.rejection("daily_loss")
    other.rejection("daily_loss")
    other.rejection("daily_loss")
    other.equity(5)
    with other.serve() as other_server:
        assert other_server.port != server.port
        theirs = scrape(other_server)
    ours = scrape(server)
    assert 1 == value(ours, "genesis_risk_rejections_total", policy="daily_loss")
    assert 2 == value(theirs, "genesis_risk_rejections_total", policy="daily_loss")
    assert 0 == value(ours, "genesis_equity")
    assert 5 == value(theirs, "genesis_equity")


def test_shutdown_closes_the_port(metrics: Metrics) -> None:
    running = metrics.serve()
    url = running.url
    running.shutdown()
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.get(f"{url}/metrics")

"""Fault injection: REST failures, lost responses, WS drops, 20051, maintenance, stale feeds."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from genesis_exchange_bitfinex import errors as e
from genesis_exchange_bitfinex._auth import Credentials, NonceSource
from genesis_exchange_bitfinex._resilience import Backoff, CircuitBreaker, ManualClock
from genesis_exchange_bitfinex._rest import BitfinexRestClient
from genesis_exchange_bitfinex._ws import BitfinexWsClient, WsEvent, health_of
from genesis_exchange_bitfinex.orders import OrderRequest
from genesis_exchange_bitfinex.sim import BitfinexSimulator, SimConfig


pytestmark = pytest.mark.anyio
SYMBOL = "tTESTBTC:TESTUSD"
Factory = Callable[..., BitfinexWsClient]


def _client(
    sim: BitfinexSimulator, nonce: NonceSource, clock: ManualClock, **kwargs: Any
) -> BitfinexRestClient:
    breaker = CircuitBreaker(clock, threshold=2, backoff=Backoff(base=1.0, rng=random.Random(0)))
    return BitfinexRestClient(
        sim.rest_url,
        credentials=Credentials("TEST_API_KEY", "TEST_API_SECRET"),
        nonce=nonce,
        clock=clock,
        circuit_breaker=breaker,
        retry_backoff=Backoff(base=0.5, rng=random.Random(0)),
        **kwargs,
    )


async def test_429_opens_the_circuit_until_the_clock_moves(
    sim: BitfinexSimulator, nonce: NonceSource
) -> None:
    clock = ManualClock()
    async with _client(sim, nonce, clock, retries=0) as rest:
        sim.faults.rest_status(429, path="platform/status")
        with pytest.raises(e.RateLimitError) as info:
            await rest.platform_status()
        assert info.value.http_status == 429
        with pytest.raises(e.CircuitOpenError):
            await rest.platform_status()  # refused locally: nothing reaches the server
        assert await rest.ticker(SYMBOL)  # other endpoints are unaffected
        clock.advance(61)
        assert await rest.platform_status() == 1


async def test_500_is_retried_with_backoff_then_trips_breaker(
    sim: BitfinexSimulator, nonce: NonceSource
) -> None:
    clock = ManualClock()
    async with _client(sim, nonce, clock, retries=2) as rest:
        sim.faults.rest_status(500, path="ticker/", times=2)
        ticker = await rest.ticker(SYMBOL)
        assert ticker.last_price == Decimal(30000)
        assert len(clock.sleeps) == 3  # back-off, back-off, then the opened breaker
        assert all(s > 0 for s in clock.sleeps)
    clock = ManualClock()
    async with _client(sim, nonce, clock, retries=0) as rest:
        sim.faults.rest_status(503, path="tickers", times=5)
        for _ in range(2):
            with pytest.raises(e.ServerError):
                await rest.tickers([SYMBOL])
        with pytest.raises(e.CircuitOpenError):
            await rest.tickers([SYMBOL])


async def test_client_errors_do_not_trip_the_breaker(
    sim: BitfinexSimulator, nonce: NonceSource
) -> None:
    async with _client(sim, nonce, ManualClock(), retries=0) as rest:
        for _ in range(4):
            with pytest.raises(e.ParamsError):
                await rest.ticker("tNOPEUSD")
        assert await rest.ticker(SYMBOL)


async def test_malformed_and_delayed_responses(sim: BitfinexSimulator, nonce: NonceSource) -> None:
    async with _client(sim, nonce, ManualClock(), retries=0, timeout=0.3) as rest:
        sim.faults.rest_malformed(path="platform/status")
        with pytest.raises(e.WireFormatError, match="not JSON"):
            await rest.platform_status()
        sim.faults.rest_delay(0.05, path="platform/status")
        assert await rest.platform_status() == 1
        sim.faults.rest_delay(2.0, path="platform/status")
        with pytest.raises(e.TransportError) as info:
            await rest.platform_status()
        assert not info.value.maybe_executed  # a read: nothing to reconcile


async def test_lost_submit_response_is_reconciled_by_cid(
    sim: BitfinexSimulator, nonce: NonceSource
) -> None:
    """The order was placed but the answer lost: find it by cid instead of placing twice."""
    clock = ManualClock()
    async with _client(sim, nonce, clock, retries=0) as rest:
        req = OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29000")
        sim.faults.rest_lose_response(path="auth/w/order/submit")
        with pytest.raises(e.TransportError) as info:
            await rest.submit_order(req)
        assert info.value.maybe_executed
        found = await rest.find_order_by_cid(req.cid, req.cid_date, SYMBOL)
        assert found is not None
        assert found.cid == req.cid
        # the all-in-one helper: loses the answer again, then finds the order (no duplicate)
        req2 = OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="28000")
        sim.faults.rest_lose_response(path="auth/w/order/submit")
        (recovered,) = await rest.submit_order_reconciled(req2)
        assert recovered.cid == req2.cid
        active = await rest.active_orders(SYMBOL)
        assert sorted(o.cid for o in active) == sorted([req.cid, req2.cid])
        # two lost answers opened the submit circuit (threshold 2); let it cool down
        with pytest.raises(e.CircuitOpenError):
            await rest.submit_order(req2)
        clock.advance(120)
        # an answer lost for an order that then filled is found in the history
        req3 = OrderRequest("EXCHANGE MARKET", SYMBOL, "-0.01")
        sim.faults.rest_lose_response(path="auth/w/order/submit")
        (filled,) = await rest.submit_order_reconciled(req3)
        assert filled.parsed_status.state == "EXECUTED"


async def test_simulator_rate_limits(
    make_config: Callable[..., SimConfig], nonce: NonceSource
) -> None:
    config = make_config(rate_limits=True, rate_limit_overrides={"platform/status": 3})
    async with (
        BitfinexSimulator(config) as sim,
        _client(sim, nonce, ManualClock(), retries=0) as rest,
    ):
        for _ in range(3):
            assert await rest.platform_status() == 1
        with pytest.raises(e.RateLimitError) as info:
            await rest.platform_status()
        assert info.value.code == 11010


async def test_reconnect_and_resubscribe_after_drop(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory() as ws:
        book = await ws.subscribe_book(SYMBOL)
        await wait(ws, lambda ev: ev.kind == "book_snapshot")
        first_chan = next(iter(sim.ws.conns)).subs
        assert first_chan
        assert sim.faults.ws_drop_connections() == 1
        await wait(ws, lambda ev: ev.kind == "disconnected")
        await wait(ws, lambda ev: ev.kind == "auth")  # re-authenticated with a new nonce
        snap = await wait(ws, lambda ev: ev.kind == "book_snapshot")
        assert snap.subscription == book
        assert ws.connections == 2


async def test_info_20051_triggers_reconnect(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory(authenticated=False) as ws:
        await ws.subscribe_ticker(SYMBOL)
        await wait(ws, lambda ev: ev.kind == "ticker")
        sim.faults.ws_info(20051)
        info = await wait(ws, lambda ev: ev.kind == "info")
        assert info.data["code"] == 20051
        await wait(ws, lambda ev: ev.kind == "disconnected")
        await wait(ws, lambda ev: ev.kind == "ticker")
        assert ws.connections == 2


async def test_maintenance_pauses_inputs_and_resubscribes(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory() as ws:
        await ws.subscribe_ticker(SYMBOL)
        await wait(ws, lambda ev: ev.kind == "ticker")
        sim.set_maintenance(True)
        await wait(ws, lambda ev: ev.kind == "maintenance" and ev.data is True)
        with pytest.raises(e.MaintenanceError):
            await ws.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="1"))
        sim.set_maintenance(False)
        await wait(ws, lambda ev: ev.kind == "maintenance" and ev.data is False)
        await wait(ws, lambda ev: ev.kind == "subscribed")
        await wait(ws, lambda ev: ev.kind == "ticker")
        assert ws.connections == 1  # resubscribed on the same socket


async def test_a_reconnect_to_an_operative_platform_ends_the_pause(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    """The server restarts during maintenance: the 20061 never comes, the new info says 1."""
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "auth")
        sim.set_maintenance(True)
        await wait(ws, lambda ev: ev.kind == "maintenance" and ev.data is True)
        sim.faults.ws_drop_connections()  # reconnects into the maintenance: still paused
        await wait(ws, lambda ev: ev.kind == "auth" and ws.connections == 2)
        assert ws.paused
        sim.exchange.platform_status = 1  # back up, without any 20061
        sim.faults.ws_drop_connections()
        await wait(ws, lambda ev: ev.kind == "maintenance" and ev.data is False)
        await wait(ws, lambda ev: ev.kind == "auth" and ws.connections == 3)
        await ws.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29000"))
        await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "on")


async def test_a_connection_opened_in_maintenance_is_paused(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    sim.exchange.platform_status = 0  # info {"platform":{"status":0}}, no 20060 on this socket
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "maintenance" and ev.data is True)
        with pytest.raises(e.MaintenanceError):
            await ws.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="1"))


async def test_health_stays_in_maintenance_on_a_connect_during_maintenance(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    """Review item 4: the pause a connection starts with (status 0 / 20060) is not overridden
    by the ``connected`` event that follows it; 20061 makes it CONNECTED."""
    from genesis_core import Health

    sim.exchange.platform_status = 0
    async with ws_factory(authenticated=False) as ws:
        seen: list[WsEvent] = []
        await wait(ws, lambda ev: ev.kind == "connected", seen)
        health = [h for h in map(health_of, seen) if h is not None]
        assert [Health.MAINTENANCE] * 2 == [h for h, _ in health]  # maintenance, connected
        sim.set_maintenance(False)
        ended = await wait(ws, lambda ev: ev.kind == "maintenance")
        assert (Health.CONNECTED, "info 20061") == health_of(ended)


async def test_a_deeply_nested_frame_is_skipped_not_fatal(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "balance")
        sim.faults.ws_send_raw("[" * 100_000 + "]" * 100_000)  # RecursionError in json
        bad = await wait(ws, lambda ev: ev.kind == "error")
        assert isinstance(bad.data, e.WireFormatError)
        await ws.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29000"))
        await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "on")


async def test_malformed_frames_do_not_kill_the_loop(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "balance")
        sim.faults.ws_send_raw("{not json")
        bad = await wait(ws, lambda ev: ev.kind == "error")
        assert isinstance(bad.data, e.WireFormatError)
        sim.faults.ws_send_raw('[0,"on",[1,null,null,"tBTCUSD",0,0,"lots",1,"EXCHANGE LIMIT"]]')
        bad = await wait(ws, lambda ev: ev.kind == "error")
        assert "ORDER.amount" in str(bad.data)
        sim.faults.ws_send_raw('[0,"wu",["exchange"]]')
        bad = await wait(ws, lambda ev: ev.kind == "error")
        assert "WALLET.currency" in str(bad.data)
        await ws.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29000"))
        ok = await wait(ws, lambda ev: ev.kind == "order")
        assert ok.channel == "on"


async def test_checksum_mismatch_resubscribes(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory(authenticated=False) as ws:
        sim.faults.ws_corrupt_checksums(1)
        book = await ws.subscribe_book(SYMBOL, "R0")
        mismatch = await wait(ws, lambda ev: ev.kind == "checksum_mismatch")
        assert mismatch.subscription == book
        expected, actual = mismatch.data
        assert expected != actual
        await wait(ws, lambda ev: ev.kind == "book_snapshot")
        seen: list[WsEvent] = []
        sim.step()
        await wait(ws, lambda ev: ev.kind == "book", seen)
        assert not [ev for ev in seen if ev.kind == "checksum_mismatch"]


async def test_stale_feed_watchdog_reconnects(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory(authenticated=False, heartbeat_timeout=0.6) as ws:
        await ws.subscribe_ticker(SYMBOL)
        await wait(ws, lambda ev: ev.kind == "ticker")
        sim.faults.ws_pause_heartbeats(True)
        stale = await wait(ws, lambda ev: ev.kind == "stale")
        assert "no frame for 0.6 s" == stale.data
        sim.faults.ws_pause_heartbeats(False)
        await wait(ws, lambda ev: ev.kind == "connected" and ev.data == 2)
        await wait(ws, lambda ev: ev.kind == "ticker")


async def test_dead_man_switch_cancels_on_disconnect(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory() as watcher:
        await wait(watcher, lambda ev: ev.kind == "balance")
        dms = ws_factory(dms=True)
        async with dms:
            await wait(dms, lambda ev: ev.kind == "balance")
            await dms.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29000"))
            await wait(dms, lambda ev: ev.kind == "order" and ev.channel == "on")
            await wait(watcher, lambda ev: ev.kind == "order" and ev.channel == "on")
        closed = await wait(watcher, lambda ev: ev.kind == "order" and ev.channel == "oc")
        assert closed.data.status == "CANCELED"


async def test_lost_ws_input_is_found_after_reconnect(
    sim: BitfinexSimulator, ws_factory: Factory, rest: Any, wait: Any
) -> None:
    """The order is processed but the socket dies first: os snapshot / REST show it by cid."""
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "balance")
        sim.faults.ws_lose_next_input()
        req = OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29000")
        await ws.submit_order(req)
        await wait(ws, lambda ev: ev.kind == "disconnected")
        snapshot = await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "os")
        assert [o.cid for o in snapshot.data] == [req.cid]
        found = await rest.find_order_by_cid(req.cid, req.cid_date)
        assert found is not None


async def test_secrets_never_logged(
    sim: BitfinexSimulator,
    ws_factory: Factory,
    rest: Any,
    wait: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A DEBUG log of a full authenticated session contains neither key nor secret."""
    caplog.set_level(logging.DEBUG)
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "balance")
        await ws.submit_order(OrderRequest("EXCHANGE MARKET", SYMBOL, "0.01"))
        await wait(ws, lambda ev: ev.kind == "balance")
        await rest.wallets()
        await rest.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29000"))
        logging.getLogger("test").debug("clients: %r %r", ws, rest)
    text = caplog.text
    assert "DEBUG" in text
    assert "TEST_API_SECRET" not in text
    assert "TEST_API_KEY" not in text


async def test_a_skipped_sequence_number_resyncs_the_public_socket(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    """SEQ_ALL: a jump in the per-connection counter is a lost frame: reconnect, new snapshot."""
    from genesis_exchange_bitfinex._ws import OB_CHECKSUM, SEQ_ALL

    async with ws_factory(authenticated=False, flags=OB_CHECKSUM | SEQ_ALL) as ws:
        book = await ws.subscribe_book(SYMBOL)
        await wait(ws, lambda ev: ev.kind == "book_snapshot")
        sim.step()
        await wait(ws, lambda ev: ev.kind == "book")
        sim.faults.ws_skip_seq()
        sim.step()
        gap = await wait(ws, lambda ev: ev.kind == "seq_gap")
        expected, got = gap.data
        assert got == expected + 1
        await wait(ws, lambda ev: ev.kind == "disconnected")
        snap = await wait(ws, lambda ev: ev.kind == "book_snapshot")
        assert (snap.subscription, ws.connections, ws.seq_gaps) == (book, 2, 1)
        seen: list[WsEvent] = []
        sim.step(3)
        await wait(ws, lambda ev: ev.kind == "book", seen)
        assert not [ev for ev in seen if ev.kind in ("seq_gap", "checksum_mismatch")]


async def test_sequence_numbers_are_tolerated_where_unverified(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    """Frames without SEQ, and authenticated sockets (channel-0 layout UNVERIFIED), never
    trigger a resync."""
    from genesis_exchange_bitfinex._ws import SEQ_ALL, seq_of

    assert seq_of([5, [1, 2, 3]]) is None
    assert (seq_of([5, [1, 2, 3], 7]), seq_of([5, "hb", 8]), seq_of([5, "cs", -3, 9])) == (7, 8, 9)
    assert seq_of([5, "te", [1, 2, 3, 4], 10, 1700000000000]) == 10
    async with ws_factory(authenticated=True, flags=SEQ_ALL) as ws:
        await ws.subscribe_ticker(SYMBOL)
        await wait(ws, lambda ev: ev.kind == "ticker")
        sim.faults.ws_skip_seq()
        seen: list[WsEvent] = []
        sim.step(2)
        await wait(ws, lambda ev: ev.kind == "ticker", seen)
        await wait(ws, lambda ev: ev.kind == "ticker", seen)
        assert (ws.seq_gaps, ws.connections) == (0, 1)


async def test_an_overtaken_nonce_is_signed_again(sim: BitfinexSimulator) -> None:
    """Another signer on the key (the WS auth) used larger nonces: REST gets "nonce: small",
    which proves nothing was executed, so even a submit is simply signed again."""
    nonce = NonceSource(clock_us=lambda: 1000)  # a frozen clock: nonces are last + 1
    async with BitfinexRestClient(sim.rest_url, credentials=Credentials(
            "TEST_API_KEY", "TEST_API_SECRET"), nonce=nonce, retries=0) as rest:
        assert await rest.wallets()
        account = sim.exchange.accounts["TEST_API_KEY"]
        taken = account.last_nonce = nonce.last + 2  # two nonces used by someone else
        (order,) = await rest.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01",
                                                        price="29000"))
        assert (account.last_nonce, nonce.last) == (taken + 1, taken + 1)  # the third try
        assert [o.id for o in account.orders.values()] == [order.id]
        account.last_nonce = nonce.last + 10  # more than the retries can climb
        with pytest.raises(e.NonceTooSmallError):
            await rest.wallets()


async def test_a_refused_ws_auth_reconnects_with_a_fresh_nonce(
    sim: BitfinexSimulator, wait: Any
) -> None:
    nonce = NonceSource(clock_us=lambda: 1000)
    sim.exchange.accounts["TEST_API_KEY"].last_nonce = 1000  # the first auth nonce is taken
    ws = BitfinexWsClient(sim.ws_url, credentials=Credentials("TEST_API_KEY", "TEST_API_SECRET"),
                          nonce=nonce, backoff=Backoff(base=0.01, cap=0.05))
    async with ws:
        refused = await wait(ws, lambda ev: ev.kind == "auth")
        assert isinstance(refused.data, e.NonceTooSmallError)
        accepted = await wait(ws, lambda ev: ev.kind == "auth")
        assert accepted.data == 123456
        assert ws.connections == 2


async def test_a_garbled_answer_to_the_probe_does_not_jam_the_circuit(
    sim: BitfinexSimulator, nonce: NonceSource
) -> None:
    """Found by the soak: a half-open probe answered with garbage used to leave the probe slot
    taken, so the endpoint stayed refused for good."""
    clock = ManualClock()
    async with _client(sim, nonce, clock, retries=0) as rest:
        sim.faults.rest_status(500, path="platform/status", times=2)
        for _ in range(2):
            with pytest.raises(e.ServerError):
                await rest.platform_status()
        clock.advance(120)
        sim.faults.rest_malformed(path="platform/status")
        with pytest.raises(e.WireFormatError):
            await rest.platform_status()  # the probe
        assert rest.breaker.state("platform/status") == "open"
        clock.advance(120)
        assert await rest.platform_status() == 1

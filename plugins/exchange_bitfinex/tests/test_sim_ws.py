"""WS client against the simulator: public channels, account events, order inputs."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from genesis_exchange_bitfinex import errors as e
from genesis_exchange_bitfinex._ws import BitfinexWsClient, Subscription, WsEvent
from genesis_exchange_bitfinex.orders import OrderRequest
from genesis_exchange_bitfinex.sim import BitfinexSimulator


pytestmark = pytest.mark.anyio
SYMBOL = "tTESTBTC:TESTUSD"
Factory = Callable[..., BitfinexWsClient]


async def test_public_channels_snapshot_updates_and_checksums(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    """Snapshots first, then updates; P0 and R0 books keep matching the server checksums."""
    async with ws_factory(authenticated=False) as ws:
        await ws.connected.wait()
        ticker = await ws.subscribe_ticker(SYMBOL)
        trades = await ws.subscribe_trades(SYMBOL)
        candles = await ws.subscribe_candles(SYMBOL, "1m")
        p0 = await ws.subscribe_book(SYMBOL, "P0", 25)
        r0 = await ws.subscribe_book(SYMBOL, "R0", 25)
        seen: list[WsEvent] = []
        snap = await wait(ws, lambda ev: ev.kind == "candles_snapshot", seen)
        assert snap.data[0].mts > snap.data[1].mts  # newest first
        await wait(ws, lambda ev: ev.kind == "book_snapshot" and ev.subscription == r0, seen)
        kinds = {ev.kind for ev in seen}
        assert {"subscribed", "ticker", "trades_snapshot", "book_snapshot"} <= kinds
        for _ in range(3):
            sim.step()
        await wait(ws, lambda ev: ev.kind == "trade" and ev.channel == "tu", seen)
        await wait(ws, lambda ev: ev.kind == "candle", seen)
        await wait(ws, lambda ev: ev.kind == "ticker" and seen.count(ev) == 1, seen)
        # a market order changes the book: diffs plus checksum frames must keep agreeing
        sim.exchange.submit(
            sim.exchange.accounts["TEST_API_KEY"],
            {"type": "EXCHANGE MARKET", "symbol": SYMBOL, "amount": "1"},
        )
        sim.ws.publish()
        await wait(ws, lambda ev: ev.kind == "book" and ev.subscription == p0, seen)
        await wait(ws, lambda ev: ev.kind == "book" and ev.subscription == r0, seen)
        await wait(ws, lambda ev: ev.kind == "subscribed" or ev.kind == "book", seen)
        assert not [ev for ev in seen if ev.kind in ("checksum_mismatch", "error")]
        book = ws.book(p0)
        assert book is not None
        assert book.bids()[0][0] < book.asks()[0][0]
        assert ticker in {ev.subscription for ev in seen}
        assert trades in {ev.subscription for ev in seen}
        assert candles in {ev.subscription for ev in seen}


async def test_subscription_errors_and_heartbeats(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory(authenticated=False) as ws:
        await ws.connected.wait()
        await ws.subscribe(Subscription("ticker", symbol="tNOPEUSD"))
        err = await wait(ws, lambda ev: ev.kind == "error")
        assert isinstance(err.data, e.SubscriptionError)
        assert err.data.code == 10300
        assert err.subscription == Subscription("ticker", symbol="tNOPEUSD")
        await ws.subscribe(Subscription("book", symbol=SYMBOL, length=7))
        err = await wait(ws, lambda ev: ev.kind == "error")
        assert "length" in err.data.message
        await ws.subscribe(Subscription("foo", symbol=SYMBOL))
        err = await wait(ws, lambda ev: ev.kind == "error")
        assert err.data.message == "channel: unknown"
        sub = await ws.subscribe_ticker(SYMBOL)
        await wait(ws, lambda ev: ev.kind == "ticker")
        conn = next(iter(sim.ws.conns))
        sent_before = conn.queue.qsize()
        await ws._send({"event": "subscribe", "channel": "ticker", "symbol": SYMBOL})
        dup = await wait(ws, lambda ev: ev.kind == "error")
        assert dup.data.code == 10301
        assert sent_before >= 0
        await ws.unsubscribe(sub)
        await wait(ws, lambda ev: ev.kind == "unsubscribed")


async def test_raw_protocol_frames(sim: BitfinexSimulator) -> None:
    """info, conf, ping/pong, unknown event and hb frames exactly as the reference shows."""
    import json

    from websockets.asyncio.client import connect

    async with connect(sim.ws_url) as ws:
        info = json.loads(await ws.recv())
        assert info["event"] == "info"
        assert info["version"] == 2
        assert info["platform"] == {"status": 1}
        await ws.send('{"event":"conf","flags":229376}')
        assert json.loads(await ws.recv()) == {"event": "conf", "status": "OK", "flags": 229376}
        await ws.send('{"event":"ping","cid":1234}')
        pong = json.loads(await ws.recv())
        assert (pong["event"], pong["cid"]) == ("pong", 1234)
        await ws.send('{"event":"nope"}')
        assert json.loads(await ws.recv()) == {
            "event": "error",
            "msg": "event: invalid (nope)",
            "code": 10000,
        }
        await ws.send("not json at all")
        await ws.send(
            '{"event":"subscribe","channel":"book","symbol":"tBTCUSD","prec":"P0",'
            '"len":"25","subId":"b"}'
        )
        sub = json.loads(await ws.recv())
        assert sub == {
            "event": "subscribed",
            "channel": "book",
            "chanId": sub["chanId"],
            "symbol": "tBTCUSD",
            "prec": "P0",
            "freq": "F0",
            "len": "25",
            "subId": "b",
            "pair": "BTCUSD",
        }
        snap = json.loads(await ws.recv())
        assert snap[0] == sub["chanId"]
        assert snap[2] == 1  # SEQ starts at 1
        assert isinstance(snap[3], int)  # then MTS
        checksum = json.loads(await ws.recv())
        assert checksum[1] == "cs"
        assert checksum[3] == 2
        hb = json.loads(await ws.recv())
        assert hb[:2] == [sub["chanId"], "hb"]
        assert hb[2] == 3


async def test_auth_snapshots(sim: BitfinexSimulator, ws_factory: Factory, wait: Any) -> None:
    """After auth: ps, ws (available null), os, wu per wallet with available, bu."""
    async with ws_factory() as ws:
        seen: list[WsEvent] = []
        ok = await wait(ws, lambda ev: ev.kind == "auth", seen)
        assert ok.data == 123456
        await wait(ws, lambda ev: ev.kind == "balance", seen)
        channels = [ev.channel for ev in seen if ev.channel]
        assert channels[:3] == ["ps", "ws", "os"]
        snapshot = next(ev for ev in seen if ev.channel == "ws").data
        assert all(wallet.available_balance is None for wallet in snapshot)
        updates = [ev.data for ev in seen if ev.channel == "wu"]
        assert {u.currency for u in updates} >= {"TESTBTC", "TESTUSD"}
        assert all(u.available_balance is not None for u in updates)


async def test_ws_auth_failures(sim: BitfinexSimulator, ws_factory: Factory, wait: Any) -> None:
    from genesis_exchange_bitfinex._auth import Credentials, NonceSource

    bad = BitfinexWsClient(sim.ws_url, credentials=Credentials("TEST_API_KEY", "wrong"))
    async with bad:
        failed = await wait(bad, lambda ev: ev.kind == "auth")
        assert isinstance(failed.data, e.AuthenticationError)
        assert failed.data.message == "apikey: digest invalid"
    stale = BitfinexWsClient(
        sim.ws_url,
        credentials=Credentials("TEST_API_KEY", "TEST_API_SECRET"),
        nonce=NonceSource(clock_us=lambda: 5),
    )
    async with stale, ws_factory() as good:  # a fresh key use with a µs nonce raises the bar
        await wait(good, lambda ev: ev.kind == "auth")
        stale.reconnect()
        failed = await wait(
            stale, lambda ev: ev.kind == "auth" and isinstance(ev.data, e.NonceTooSmallError)
        )
        assert failed.data.code == 10114


async def test_order_round_trip_with_partial_fills(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    """Flow D: on-req, on, wu; then te/ou/tu per partial fill and a final oc EXECUTED."""
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "balance")
        req = OrderRequest("EXCHANGE LIMIT", SYMBOL, "-0.5", price="30050")
        await ws.submit_order(req)
        seen: list[WsEvent] = []
        note = await wait(ws, lambda ev: ev.kind == "notification", seen)
        assert note.data.type == "on-req"
        assert note.data.status == "SUCCESS"
        (acked,) = note.data.orders()
        assert acked.cid == req.cid
        new = await wait(ws, lambda ev: ev.kind == "order", seen)
        assert new.channel == "on"
        reserved = await wait(ws, lambda ev: ev.kind == "wallet", seen)
        assert reserved.data.currency == "TESTBTC"
        assert reserved.data.available_balance == Decimal("1.0")
        fills: list[WsEvent] = []
        for _ in range(3):
            sim.step()
        await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "oc", fills)
        await wait(ws, lambda ev: ev.kind == "balance", fills)
        orders = [ev for ev in fills if ev.kind == "order"]
        assert [ev.channel for ev in orders] == ["ou", "ou", "oc"]
        assert orders[0].data.amount == Decimal("-0.3")
        assert orders[0].data.parsed_status.state == "PARTIALLY FILLED"
        final = orders[-1].data
        assert final.amount == 0
        assert final.status == (
            "EXECUTED @ 30050(-0.1): was PARTIALLY FILLED @ 30050(-0.2), "
            "PARTIALLY FILLED @ 30050(-0.2)"
        )
        trades = [ev for ev in fills if ev.kind == "account_trade"]
        assert [ev.channel for ev in trades] == ["te", "tu"] * 3
        assert trades[0].data.fee is None
        assert trades[1].data.fee == Decimal("-6.01")  # 0.2 * 30050 * 0.1 % maker
        assert trades[1].data.maker == 1
        kinds = [ev.channel for ev in fills if ev.kind in ("order", "account_trade")][:3]
        assert kinds == ["te", "ou", "tu"]


async def test_market_order_flow_c(sim: BitfinexSimulator, ws_factory: Factory, wait: Any) -> None:
    """n, on, te, oc, tu, wu, wu, bu for an order that fills on arrival."""
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "balance")
        await ws.submit_order(OrderRequest("EXCHANGE MARKET", SYMBOL, "-0.01"))
        seen: list[WsEvent] = []
        await wait(ws, lambda ev: ev.kind == "balance", seen)
        assert [ev.channel for ev in seen] == ["n", "on", "te", "oc", "tu", "wu", "wu", "bu"]
        assert seen[3].data.parsed_status.state == "EXECUTED"
        assert seen[4].data.fee_currency == "TESTUSD"


async def test_update_cancel_reject_over_ws(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "balance")
        req = OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.002", price="29900", gid=7)
        await ws.submit_order(req)
        placed = await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "on")
        await ws.update_order(placed.data.id, price=Decimal("29950"))
        upd = await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "ou")
        assert upd.data.price == Decimal(29950)
        await ws.cancel_orders(gids=[7])
        note = await wait(ws, lambda ev: ev.kind == "notification")
        assert note.data.type == "oc_multi-req"
        closed = await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "oc")
        assert closed.data.status == "CANCELED"
        await ws.cancel_order(999)
        missing = await wait(ws, lambda ev: ev.kind == "notification")
        assert (missing.data.status, missing.data.text) == ("ERROR", "Order not found.")
        assert missing.data.orders()[0].id == 999
        await ws.submit_order(OrderRequest("EXCHANGE MARKET", SYMBOL, "0.0001", cid=321))
        rejected = await wait(ws, lambda ev: ev.kind == "notification")
        assert rejected.data.status == "ERROR"
        assert rejected.data.orders()[0].cid == 321
        await ws.cancel_order(cid=req.cid, cid_date=req.cid_date)
        gone = await wait(ws, lambda ev: ev.kind == "notification")
        assert gone.data.status == "ERROR"  # already cancelled by gid


async def test_post_only_crossing_and_oco(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    """Post-only that would cross ends POSTONLY CANCELED; an OCO leg fill cancels the other."""
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "balance")
        await ws.submit_order(
            OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="31000", flags=4096)
        )
        closed = await wait(ws, lambda ev: ev.kind == "order")
        assert (closed.channel, closed.data.status) == ("oc", "POSTONLY CANCELED")
        await ws.submit_order(
            OrderRequest(
                "EXCHANGE LIMIT", SYMBOL, "-0.1", price="30050", flags=16384, price_oco_stop="29000"
            )
        )
        note = await wait(ws, lambda ev: ev.kind == "notification" and ev.data.ok)
        limit_leg, stop_leg = note.data.orders()
        assert stop_leg.order_type == "EXCHANGE STOP"
        assert stop_leg.placed_id == limit_leg.id
        sim.step()
        oc = await wait(
            ws, lambda ev: ev.kind == "order" and ev.channel == "oc" and ev.data.id == stop_leg.id
        )
        assert oc.data.status == "CANCELED"


async def test_unsubscribe_before_the_ack_unsubscribes_the_late_channel(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    """Review item 1: a channel whose ``subscribed`` arrives after ``unsubscribe`` must not leak
    (the server would keep streaming it and refuse a new subscription as a duplicate)."""
    async with ws_factory(authenticated=False) as ws:
        await ws.connected.wait()
        sub = Subscription("ticker", symbol=SYMBOL)
        await ws.subscribe(sub)
        assert all(s.chan_id is None for s in ws._subs.values())  # no ack read yet (no await)
        await ws.unsubscribe(sub)
        seen: list[WsEvent] = []
        # Markers: the server handles frames in order, so by the second snapshot it has seen
        # whatever the client sent on reading the late ack.
        await ws.subscribe_trades(SYMBOL)
        await wait(ws, lambda ev: ev.kind == "trades_snapshot", seen)
        await ws.subscribe_candles(SYMBOL, "1m")
        await wait(ws, lambda ev: ev.kind == "candles_snapshot", seen)
        (conn,) = sim.ws.conns
        assert "ticker" not in {s.channel for s in conn.subs.values()}
        assert [ev for ev in seen if ev.kind == "unsubscribed"]
        await ws.subscribe(sub)  # a fresh subscription is not refused as "subscribe: dup"
        again = await wait(ws, lambda ev: ev.kind in ("ticker", "error"))
        assert (again.kind, again.subscription) == ("ticker", sub)


async def test_update_cannot_make_a_post_only_order_take(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any
) -> None:
    """Review item 2: ``ou`` moving a post-only limit across the spread cancels it
    (``POSTONLY CANCELED``, flag 4096 §2.7.3) instead of filling it as a taker."""
    async with ws_factory() as ws:
        await wait(ws, lambda ev: ev.kind == "balance")
        await ws.submit_order(
            OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29900", flags=4096)
        )
        placed = await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "on")
        await ws.update_order(placed.data.id, price=Decimal("31000"))  # best ask is ~30001
        seen: list[WsEvent] = []
        closed = await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "oc", seen)
        assert closed.data.status == "POSTONLY CANCELED"
        assert not [ev for ev in seen if ev.kind == "account_trade"]
        account = sim.exchange.accounts["TEST_API_KEY"]
        assert not account.trades
        # a non-crossing move of another post-only order still rests
        await ws.submit_order(
            OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29900", flags=4096)
        )
        placed = await wait(ws, lambda ev: ev.kind == "order" and ev.channel == "on")
        await ws.update_order(placed.data.id, price=Decimal("29950"))
        moved = await wait(ws, lambda ev: ev.kind == "order")
        assert (moved.channel, moved.data.price) == ("ou", Decimal("29950"))


@pytest.mark.parametrize("prec", ["P1", "P2", "P3", "P4"])
async def test_coarse_books_keep_bids_and_asks_at_one_rounded_price(
    sim: BitfinexSimulator, ws_factory: Factory, wait: Any, prec: str
) -> None:
    """Review item 3: at P1-P4 a bid and an ask level can round to the same price (here both
    sides are 30000); the server's book view must keep them apart (checksums, diffs)."""
    from genesis_exchange_bitfinex.sim._views import book_rows

    async with ws_factory(authenticated=False) as ws:
        await ws.connected.wait()
        book_sub = await ws.subscribe_book(SYMBOL, prec, 25)
        seen: list[WsEvent] = []
        await ws.subscribe_ticker(SYMBOL)  # marker: the snapshot's cs frame came before it
        await wait(ws, lambda ev: ev.kind == "ticker", seen)
        assert not [ev for ev in seen if ev.kind in ("checksum_mismatch", "error")]
        book = ws.book(book_sub)
        assert book is not None
        assert book.bids()[0][0] == book.asks()[0][0] == Decimal(30000)
        sim.exchange.submit(
            sim.exchange.accounts["TEST_API_KEY"],
            {"type": "EXCHANGE LIMIT", "symbol": SYMBOL, "amount": "0.5", "price": "29999"},
        )
        sim.ws.publish()
        await ws.subscribe_trades(SYMBOL)  # marker: the diff and its cs frame came before it
        await wait(ws, lambda ev: ev.kind == "trades_snapshot", seen)
        assert not [ev for ev in seen if ev.kind in ("checksum_mismatch", "error")]
        rows = book_rows(sim.exchange, SYMBOL, prec, 25)
        assert [(r[0], r[2]) for r in rows if r[2] > 0] == [(p, a) for p, a, _ in book.bids()]
        assert [(r[0], -r[2]) for r in rows if r[2] < 0] == [
            (p, -a) for p, a, _ in book.asks()
        ]

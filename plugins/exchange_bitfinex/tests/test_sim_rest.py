"""REST client against the simulator over real loopback sockets."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from genesis_exchange_bitfinex import errors as e
from genesis_exchange_bitfinex._auth import Credentials, sign_rest
from genesis_exchange_bitfinex._rest import BitfinexRestClient
from genesis_exchange_bitfinex.orders import POST_ONLY, OrderRequest
from genesis_exchange_bitfinex.sim import BitfinexSimulator


pytestmark = pytest.mark.anyio
SYMBOL = "tTESTBTC:TESTUSD"


async def test_public_market_data(rest: BitfinexRestClient, sim: BitfinexSimulator) -> None:
    """Status, ticker(s), trades, book, candles and pair config parse from the simulator."""
    assert await rest.platform_status() == 1
    ticker = await rest.ticker("tBTCUSD")
    assert ticker.bid < ticker.ask
    assert ticker.last_price == Decimal(30000)
    assert [t.symbol for t in await rest.tickers(["tBTCUSD", SYMBOL])] == ["tBTCUSD", SYMBOL]
    sim.step(2)
    trades = await rest.trades(SYMBOL, limit=3)
    assert len(trades) == 3
    assert trades[0].mts >= trades[1].mts  # newest first by default
    book = await rest.book(SYMBOL, "P0", 25)
    bids = [lvl for lvl in book if lvl.amount > 0]
    asks = [lvl for lvl in book if lvl.amount < 0]
    assert bids[0].price < asks[0].price
    assert [b.price for b in bids] == sorted((b.price for b in bids), reverse=True)
    raw = await rest.book(SYMBOL, "R0", 25)
    assert all(r.order_id > 0 for r in raw)
    infos = await rest.pair_info()
    assert infos["TESTBTC:TESTUSD"].min_order_size == Decimal("0.0002")


async def test_candles_pagination_and_order(rest: BitfinexRestClient) -> None:
    """Pages of `limit` candles are stitched in ascending order without duplicates."""
    start = 1_700_000_000_000 - 100 * 60_000
    end = 1_700_000_000_000
    candles = await rest.candles_range(SYMBOL, "1m", start, end, page_limit=30)
    assert [c.mts for c in candles] == list(range(start, end + 1, 60_000))
    latest = await rest.candles(SYMBOL, "1m", limit=2)
    assert latest[0].mts == end
    assert latest[0].mts > latest[1].mts
    five = await rest.candles(SYMBOL, "5m", limit=3)
    assert five[0].mts % 300_000 == 0
    last = await rest.candle_last(SYMBOL, "1m")
    assert last is not None
    assert last.mts == end


async def test_public_errors_map_to_types(rest: BitfinexRestClient) -> None:
    with pytest.raises(e.ParamsError) as info:
        await rest.ticker("tNOPEUSD")
    assert info.value.code == 10020
    assert info.value.http_status == 500
    with pytest.raises(e.ParamsError, match="limit"):
        await rest.candles(SYMBOL, "1m", limit=20_000)
    with pytest.raises(e.ParamsError, match="prec"):
        await rest.book(SYMBOL, "P9")


async def test_wallets_and_order_round_trip(
    rest: BitfinexRestClient, sim: BitfinexSimulator
) -> None:
    """Submit (seconds MTS), read back, update, cancel by cid, history."""
    wallets = {(x.wallet_type, x.currency): x for x in await rest.wallets()}
    assert wallets[("exchange", "TESTUSD")].balance == Decimal(50000)
    req = OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.001", price="29000", flags=POST_ONLY)
    (order,) = await rest.submit_order(req)
    assert order.status == "ACTIVE"
    assert order.cid == req.cid
    assert order.meta == {"$F7": 1}
    active = await rest.active_orders(SYMBOL)
    assert [o.id for o in active] == [order.id]
    wallets = {(x.wallet_type, x.currency): x for x in await rest.wallets()}
    assert wallets[("exchange", "TESTUSD")].available_balance == Decimal(50000 - 29)
    updated = await rest.update_order(order.id, price=Decimal("29100"))
    assert updated.price == Decimal(29100)
    cancelled = await rest.cancel_order(cid=req.cid, cid_date=req.cid_date)
    assert cancelled.id == order.id
    history = await rest.order_history(SYMBOL)
    assert history[0].id == order.id
    assert history[0].status == "CANCELED"
    assert await rest.active_orders() == []


async def test_market_fill_trades_and_fees(rest: BitfinexRestClient) -> None:
    """A market sell executes at the bid; fees are charged in the currency received."""
    (order,) = await rest.submit_order(OrderRequest("EXCHANGE MARKET", SYMBOL, "-0.01"))
    trades = await rest.order_trades(SYMBOL, order.id)
    assert sum(t.exec_amount for t in trades) == Decimal("-0.01")
    assert all(t.fee_currency == "TESTUSD" and t.fee < 0 for t in trades)
    assert all(t.maker == -1 for t in trades)
    history = await rest.trades_history(SYMBOL, limit=10)
    assert {t.id for t in trades} <= {t.id for t in history}
    (done,) = await rest.order_history(SYMBOL, limit=1)
    assert done.parsed_status.state == "EXECUTED"
    assert done.amount == 0
    wallets = {(x.wallet_type, x.currency): x for x in await rest.wallets()}
    assert wallets[("exchange", "TESTBTC")].balance == Decimal("1.49")
    proceeds = sum(-t.exec_amount * t.exec_price for t in trades)
    fees = sum(t.fee for t in trades)
    assert wallets[("exchange", "TESTUSD")].balance == Decimal(50000) + proceeds + fees


async def test_order_rejections(rest: BitfinexRestClient) -> None:
    with pytest.raises(e.OrderRejectedError, match="minimum size"):
        await rest.submit_order(OrderRequest("EXCHANGE MARKET", SYMBOL, "0.0001"))
    with pytest.raises(e.OrderRejectedError, match="not enough exchange balance"):
        await rest.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "10", price="30000"))
    with pytest.raises(e.ParamsError):
        await rest.submit_order(OrderRequest("EXCHANGE LIMIT", "tBTCUSD", "1", price="-1"))
    with pytest.raises(e.OrderRejectedError, match="Order not found"):
        await rest.cancel_order(999)


async def test_cancel_multi_by_gid_and_all(rest: BitfinexRestClient) -> None:
    a = (
        await rest.submit_order(
            OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price="29000", gid=7)
        )
    )[0]
    b = (await rest.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "-0.01", price="31000")))[0]
    (first,) = await rest.cancel_orders(gids=[7])
    assert first.id == a.id
    remaining = await rest.cancel_orders(all_orders=True)
    assert [o.id for o in remaining] == [b.id]


async def test_order_multi_runs_each_operation_in_order(
    rest: BitfinexRestClient, sim: BitfinexSimulator
) -> None:
    """``order/multi``: new, update, cancel and cancel-multi in one signed request; a refused
    operation is reported in its own notification and does not stop the others."""
    a, b = [
        (await rest.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.01", price=p)))[0]
        for p in ("29000", "29100")
    ]
    new = OrderRequest("EXCHANGE LIMIT", SYMBOL, "-0.02", price="31000")
    results = await rest.order_multi([
        ("on", new),
        ("ou", {"id": a.id, "price": Decimal("28900")}),
        ("oc", {"id": 999}),
        ("oc_multi", {"id": [a.id, b.id]}),
        ("on", OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.0001", price="29000")),
    ])
    assert [(r.op, r.ok) for r in results] == [
        ("on", True), ("ou", True), ("oc", False), ("oc_multi", True), ("on", False)]
    assert results[0].orders[0].cid == new.cid
    assert results[1].orders[0].price == Decimal(28900)
    assert results[2].text == "Order not found."
    assert sorted(o.id for o in results[3].orders) == [a.id, b.id]
    assert "minimum size" in (results[4].text or "")
    assert [o.cid for o in await rest.active_orders(SYMBOL)] == [new.cid]
    account = sim.exchange.accounts["TEST_API_KEY"]
    assert {o.id: o.terminal for o in account.closed} == {a.id: "CANCELED", b.id: "CANCELED"}
    with pytest.raises(ValueError, match=r"1\.\.75"):
        await rest.order_multi([("oc", {"id": 1})] * 76)
    with pytest.raises(ValueError, match="unknown multi-op"):
        await rest.order_multi([("ox", {"id": 1})])
    with pytest.raises(e.ParamsError, match="ops: invalid"):
        await rest.request_auth("auth/w/order/multi", {"ops": []})


async def test_auth_errors(sim: BitfinexSimulator) -> None:
    """Bad key, bad signature and a replayed nonce give the documented codes."""
    async with BitfinexRestClient(
        sim.rest_url, credentials=Credentials("NOPE", "x"), retries=0
    ) as bad:
        with pytest.raises(e.AuthenticationError, match="apikey: invalid"):
            await bad.wallets()
    async with BitfinexRestClient(
        sim.rest_url, credentials=Credentials("TEST_API_KEY", "x"), retries=0
    ) as wrong:
        with pytest.raises(e.AuthenticationError, match="digest invalid"):
            await wrong.wallets()
    headers = {
        "bfx-apikey": "TEST_API_KEY",
        "bfx-nonce": "5",
        "bfx-signature": sign_rest("TEST_API_SECRET", "auth/r/wallets", 5, "{}"),
    }
    async with httpx.AsyncClient() as http:
        ok = await http.post(f"{sim.rest_url}/auth/r/wallets", content=b"{}", headers=headers)
        again = await http.post(f"{sim.rest_url}/auth/r/wallets", content=b"{}", headers=headers)
        missing = await http.post(f"{sim.rest_url}/auth/r/wallets")
        unknown = await http.get(f"{sim.rest_url}/nope")
    assert ok.status_code == 200
    assert (again.status_code, again.json()) == (500, ["error", 10114, "nonce: small"])
    assert missing.json() == ["error", 10100, "apikey: invalid"]
    assert unknown.status_code == 404
    assert "Cannot GET /api/v2/nope" in unknown.text


async def test_simulator_accepts_both_body_spacings_and_encoded_colons(
    sim: BitfinexSimulator,
) -> None:
    """Signatures are checked over raw bytes; %3A paths are decoded before verifying."""
    async with httpx.AsyncClient() as http:
        for nonce, body in ((10, '{"limit":2}'), (11, '{"limit": 2}')):
            path = "auth/r/orders/tTESTBTC:TESTUSD/hist"
            headers = {
                "bfx-apikey": "TEST_API_KEY",
                "bfx-nonce": str(nonce),
                "bfx-signature": sign_rest("TEST_API_SECRET", path, nonce, body),
            }
            url = f"{sim.rest_url}/auth/r/orders/tTESTBTC%3ATESTUSD/hist"
            response = await http.post(url, content=body.encode(), headers=headers)
            assert response.json() == []


async def test_platform_maintenance(rest: BitfinexRestClient, sim: BitfinexSimulator) -> None:
    sim.set_maintenance(True)
    assert await rest.platform_status() == 0
    with pytest.raises(e.MaintenanceError):
        await rest.submit_order(OrderRequest("EXCHANGE LIMIT", SYMBOL, "0.001", price="29000"))
    sim.set_maintenance(False)
    assert await rest.platform_status() == 1

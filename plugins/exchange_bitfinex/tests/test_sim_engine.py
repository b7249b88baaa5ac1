"""Simulator specifics: margin positions, stops, determinism and the command line."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from genesis_exchange_bitfinex import errors as e
from genesis_exchange_bitfinex._rest import BitfinexRestClient
from genesis_exchange_bitfinex._ws import BitfinexWsClient
from genesis_exchange_bitfinex.orders import REDUCE_ONLY, OrderRequest
from genesis_exchange_bitfinex.sim import BitfinexSimulator, SimConfig
from genesis_exchange_bitfinex.sim._views import book_rows
from genesis_exchange_bitfinex.sim.cli import build_parser, config_from_args


pytestmark = pytest.mark.anyio
SYMBOL = "tTESTBTC:TESTUSD"


async def test_margin_position_lifecycle(
    make_config: Callable[..., SimConfig], creds: Any, nonce: Any, wait: Any
) -> None:
    """Margin orders open (pn), grow (pu) and close (pc) a position; reduce-only is enforced."""
    config = make_config(margin_wallets={"TESTUSD": Decimal(10000)})
    async with (
        BitfinexSimulator(config) as sim,
        BitfinexRestClient(sim.rest_url, credentials=creds, nonce=nonce, retries=0) as rest,
    ):
        ws = BitfinexWsClient(sim.ws_url, credentials=creds, nonce=nonce)
        async with ws:
            await wait(ws, lambda ev: ev.kind == "balance")
            await rest.submit_order(OrderRequest("MARKET", SYMBOL, "0.1"))
            opened = await wait(ws, lambda ev: ev.kind == "position")
            assert opened.channel == "pn"
            assert opened.data.amount == Decimal("0.1")
            (pos,) = await rest.positions()
            assert pos.status == "ACTIVE"
            assert pos.base_price > 0
            with pytest.raises(e.OrderRejectedError, match="tradable balance"):
                await rest.submit_order(OrderRequest("MARKET", SYMBOL, "50"))
            (flip,) = await rest.submit_order(
                OrderRequest("MARKET", SYMBOL, "-0.2", flags=REDUCE_ONLY)
            )
            closed = await wait(
                ws, lambda ev: ev.kind == "order" and ev.data.id == flip.id and ev.channel == "oc"
            )
            assert closed.data.status == "RSN_POS_REDUCE_FLIP"
            await rest.submit_order(OrderRequest("MARKET", SYMBOL, "-0.1", flags=REDUCE_ONLY))
            gone = await wait(ws, lambda ev: ev.kind == "position" and ev.channel == "pc")
            assert gone.data.amount == 0
            assert await rest.positions() == []
            margin = {w.currency: w for w in await rest.wallets() if w.wallet_type == "margin"}
            assert margin["TESTUSD"].balance < Decimal(10000)  # spread + two taker fees


async def test_stop_triggers_on_a_later_candle(
    sim: BitfinexSimulator, rest: BitfinexRestClient
) -> None:
    (stop,) = await rest.submit_order(OrderRequest("EXCHANGE STOP", SYMBOL, "-0.1", price="29950"))
    assert stop.status == "ACTIVE"
    sim.step()  # the next candle trades down to 29900
    (done,) = await rest.order_history(SYMBOL, ids=[stop.id])
    assert done.parsed_status.state == "EXECUTED"


async def test_ioc_and_fok(sim: BitfinexSimulator, rest: BitfinexRestClient) -> None:
    # best ask is 30001: nothing at or below 30000, plenty within 30005
    (kill,) = await rest.submit_order(OrderRequest("EXCHANGE FOK", SYMBOL, "0.5", price="30000"))
    (fill,) = await rest.submit_order(OrderRequest("EXCHANGE FOK", SYMBOL, "0.1", price="30005"))
    (ioc,) = await rest.submit_order(OrderRequest("EXCHANGE IOC", SYMBOL, "-1.4", price="29999"))
    history = {o.id: o for o in await rest.order_history(SYMBOL)}
    assert history[kill.id].status == "FILLORKILL CANCELED"
    assert history[fill.id].parsed_status.state == "EXECUTED"
    assert history[ioc.id].parsed_status.state in ("EXECUTED", "IOC CANCELED")


def test_same_seed_same_market(make_config: Callable[..., SimConfig]) -> None:
    """Two simulators with one seed and one clock replay identical books and trades."""
    from genesis_exchange_bitfinex.sim._engine import Exchange

    def run() -> tuple[Any, ...]:
        ex = Exchange(make_config(now_ms=lambda: 1_700_000_000_000))
        ex.submit(
            ex.accounts["TEST_API_KEY"],
            {"type": "EXCHANGE MARKET", "symbol": SYMBOL, "amount": "0.7"},
        )
        for _ in range(3):
            ex.step()
        return (
            book_rows(ex, SYMBOL, "R0", 25),
            list(ex.markets[SYMBOL].trades),
            ex.wallets_wire(ex.accounts["TEST_API_KEY"]),
        )

    assert run() == run()


def test_cli_builds_a_config(tmp_path: Path, csv_path: Path) -> None:
    args = build_parser().parse_args(
        [
            "--market",
            f"tBTCUSD={csv_path}",
            "--wallet",
            "USD=1000",
            "--rest-port",
            "0",
            "--step-interval",
            "0",
            "--seed",
            "3",
            "--no-rebase",
        ]
    )
    config = config_from_args(args)
    assert config.markets[0].symbol == "tBTCUSD"
    assert config.exchange_wallets == {"USD": Decimal(1000)}
    assert config.seed == 3
    assert not config.rebase_time
    assert "secret" not in repr(config.accounts).lower()
    with pytest.raises(SystemExit):
        config_from_args(build_parser().parse_args(["--market", "nonsense"]))

"""Command line of the simulator (`genesis-bitfinex-sim`, `python -m ...sim`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal

from genesis_exchange_bitfinex.sim._market import MarketSpec
from genesis_exchange_bitfinex.sim.config import AccountSpec, SimConfig
from genesis_exchange_bitfinex.sim.server import BitfinexSimulator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genesis-bitfinex-sim",
        description="Run a local Bitfinex API v2 simulator (REST + WebSocket) on loopback.",
    )
    p.add_argument(
        "--market",
        action="append",
        metavar="SYMBOL=CSV",
        required=True,
        help="replay CSV (timestamp_ms,open,high,low,close,volume) as SYMBOL, "
        "e.g. tBTCUSD=data/bitfinex_BTCUSD_1m.csv; repeatable",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--rest-port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--ws-port", type=int, default=0, help="0 picks a free port")
    p.add_argument(
        "--step-interval",
        type=float,
        default=1.0,
        help="seconds per replayed candle (0: frozen market)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--api-key", default="TEST_API_KEY")
    p.add_argument("--api-secret", default="TEST_API_SECRET")
    p.add_argument(
        "--wallet",
        action="append",
        default=[],
        metavar="CCY=AMOUNT",
        help="exchange wallet balance, e.g. USD=10000; repeatable",
    )
    p.add_argument("--margin-wallet", action="append", default=[], metavar="CCY=AMOUNT")
    p.add_argument("--maker-fee", type=Decimal, default=Decimal("0.001"))
    p.add_argument("--taker-fee", type=Decimal, default=Decimal("0.002"))
    p.add_argument("--rate-limits", action="store_true", help="enforce Bitfinex rate limits")
    p.add_argument("--heartbeat", type=float, default=15.0, help="WS heartbeat seconds")
    p.add_argument(
        "--no-rebase",
        action="store_true",
        help="keep the CSV's historical timestamps instead of shifting them to now",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"--{what}: expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _trading_symbol(symbol: str) -> str:
    """``BTCUSD`` -> ``tBTCUSD``; ``tBTCUSD`` and ``fUSD`` stay as they are."""
    return symbol if symbol[:1] in ("t", "f") else "t" + symbol


def config_from_args(args: argparse.Namespace) -> SimConfig:
    markets = tuple(
        MarketSpec(symbol=_trading_symbol(s), csv_path=path)
        for s, path in _pairs(args.market, "market").items()
    )
    wallets = {k: Decimal(v) for k, v in _pairs(args.wallet, "wallet").items()} or None
    margin = {k: Decimal(v) for k, v in _pairs(args.margin_wallet, "margin-wallet").items()}
    return SimConfig(
        markets=markets,
        accounts=(AccountSpec(args.api_key, args.api_secret, 123456),),
        exchange_wallets=wallets,
        margin_wallets=margin,
        maker_fee=args.maker_fee,
        taker_fee=args.taker_fee,
        seed=args.seed,
        host=args.host,
        rest_port=args.rest_port,
        ws_port=args.ws_port,
        step_interval=args.step_interval,
        rate_limits=args.rate_limits,
        heartbeat_interval=args.heartbeat,
        rebase_time=not args.no_rebase,
    )


async def _run(config: SimConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with BitfinexSimulator(config) as sim:
        print(f"REST {sim.rest_url}", flush=True)
        print(f"WS   {sim.ws_url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point ``genesis-bitfinex-sim``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    asyncio.run(_run(config_from_args(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

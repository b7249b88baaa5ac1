"""A protocol-faithful local Bitfinex (REST v2 + WS v2) for tests and demo mode.

It replays candles from a CSV (``timestamp_ms,open,high,low,close,volume``), derives public
trades, a ticker and a synthetic order book from them, and runs a matching engine for client
orders (market, limit, stop, stop limit, trailing stop, IOC, FOK; exchange and margin; post-only,
hidden, reduce-only, OCO; ``cid``/``cid_date``; ``gid``), with wallets, positions, private WS
events and REST notifications in Bitfinex's exact array shapes.  Authentication, nonces, rate
limits and error codes follow the reference; ``sim.faults`` injects failures.

Example::

    config = SimConfig(markets=(MarketSpec("tBTCUSD", "bitfinex_BTCUSD_1m.csv"),))
    async with BitfinexSimulator(config) as sim:
        rest = BitfinexRestClient(sim.rest_url, credentials=Credentials("TEST_API_KEY",
                                                                        "TEST_API_SECRET"))
        sim.step()  # replay one candle (or set step_interval for a live clock)

Command line: ``genesis-bitfinex-sim --market tBTCUSD=data.csv`` (see ``sim.cli``).  The plugin's
components start one themselves when given ``simulator:`` params (see ``sim.embedded``).
"""

from genesis_exchange_bitfinex.sim._market import MarketSpec
from genesis_exchange_bitfinex.sim.config import AccountSpec, SimConfig
from genesis_exchange_bitfinex.sim.faults import Faults
from genesis_exchange_bitfinex.sim.server import BitfinexSimulator


__all__ = ["AccountSpec", "BitfinexSimulator", "Faults", "MarketSpec", "SimConfig"]

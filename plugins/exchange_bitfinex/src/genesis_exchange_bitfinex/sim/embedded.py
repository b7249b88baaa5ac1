"""Simulators started by the plugin's own components (``simulator:`` in their params).

The data source and the executor of one bot are separate objects that never see each other,
so a simulator is leased by the configuration that describes it: the first component that
asks starts it on free loopback ports, later ones with an equal configuration share it, and
the last release stops it.  Both components then talk to it over real sockets, exactly as
they would to Bitfinex.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path

import attrs

from genesis_exchange_bitfinex.config import SimulatorParams
from genesis_exchange_bitfinex.sim._market import MarketSpec
from genesis_exchange_bitfinex.sim.config import AccountSpec, SimConfig
from genesis_exchange_bitfinex.sim.server import BitfinexSimulator


@attrs.frozen
class EmbeddedSpec:
    """What a simulator is made of; equal specs share one simulator."""

    markets: tuple[tuple[str, str], ...]  # (Bitfinex symbol, CSV path), sorted
    replay: int
    step_interval: float
    wallets: tuple[tuple[str, str], ...]
    maker_fee: Decimal
    taker_fee: Decimal
    seed: int

    @classmethod
    def build(cls, markets: Mapping[str, Path], *, replay: int, step_interval: float,
              wallets: Mapping[str, Decimal], maker_fee: Decimal, taker_fee: Decimal,
              seed: int) -> EmbeddedSpec:
        return cls(tuple(sorted((s, str(p)) for s, p in markets.items())), replay,
                   step_interval, tuple(sorted((c, str(v)) for c, v in wallets.items())),
                   maker_fee, taker_fee, seed)

    def config(self) -> SimConfig:
        return SimConfig(
            markets=tuple(MarketSpec(symbol, path) for symbol, path in self.markets),
            exchange_wallets={c: Decimal(v) for c, v in self.wallets} or None,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
            seed=self.seed,
            step_interval=self.step_interval,
            replay_candles=self.replay,
            heartbeat_interval=5.0,
        )


def spec_for(params: SimulatorParams, venue_symbol: Callable[[str], str]) -> EmbeddedSpec:
    """The simulator described by a component's ``simulator:`` params (its own symbol map
    turns the Genesis symbols into Bitfinex ones)."""
    return EmbeddedSpec.build(
        {venue_symbol(symbol): path for symbol, path in params.candles.items()},
        replay=params.replay, step_interval=params.step_interval, wallets=params.wallets,
        maker_fee=params.maker_fee, taker_fee=params.taker_fee, seed=params.seed)


@attrs.define(eq=False)
class _Lease:
    sim: BitfinexSimulator
    ready: asyncio.Future[None]
    users: int = 0


_leases: dict[EmbeddedSpec, _Lease] = {}


async def acquire(spec: EmbeddedSpec) -> BitfinexSimulator:
    """The running simulator for ``spec``, started now if nobody holds one."""
    lease = _leases.get(spec)
    if lease is None:
        lease = _Lease(BitfinexSimulator(spec.config()),
                       asyncio.get_running_loop().create_future())
        _leases[spec] = lease
        try:
            await lease.sim.start()
        except BaseException as exc:
            del _leases[spec]
            lease.ready.set_exception(exc)
            lease.ready.exception()  # consumed: whoever waits gets it raised
            raise
        lease.ready.set_result(None)
    else:
        await asyncio.shield(lease.ready)
    lease.users += 1
    return lease.sim


async def release(sim: BitfinexSimulator) -> None:
    """Give a lease back; the last one stops the simulator."""
    for key, lease in list(_leases.items()):
        if lease.sim is sim:
            lease.users -= 1
            if lease.users <= 0:
                del _leases[key]
                await sim.stop()
            return


def open_account(sim: BitfinexSimulator, api_key: str, api_secret: str) -> None:
    """Let these keys trade on ``sim`` (an account with the configured starting wallets)."""
    accounts = sim.exchange.accounts
    if api_key not in accounts:
        user_id = max((a.user_id for a in accounts.values()), default=123455) + 1
        sim.exchange.add_account(AccountSpec(api_key, api_secret, user_id))

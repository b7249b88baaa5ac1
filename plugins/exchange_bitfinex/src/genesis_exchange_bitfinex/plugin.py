"""Hook implementations of the exchange_bitfinex plugin."""

from genesis_core import hookimpl
from genesis_exchange_bitfinex.data import BitfinexDataSource
from genesis_exchange_bitfinex.execution import BitfinexExecutor


@hookimpl
def register_data_sources(register):  # type: ignore[no-untyped-def]
    register(BitfinexDataSource)


@hookimpl
def register_executors(register):  # type: ignore[no-untyped-def]
    register(BitfinexExecutor)

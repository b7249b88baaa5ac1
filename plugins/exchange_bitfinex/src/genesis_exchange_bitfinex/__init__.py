"""Bitfinex API v2 for Genesis: wire protocol, clients, data source, executor and simulator."""

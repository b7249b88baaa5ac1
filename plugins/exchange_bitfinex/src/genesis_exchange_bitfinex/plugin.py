"""Hook implementations of the exchange_bitfinex plugin."""

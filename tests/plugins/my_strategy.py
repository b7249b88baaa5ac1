"""A one-file local plugin: a strategy that buys every bar whose close rises."""

import attrs

from genesis_core import Candles, Signal, Strategy, doc, hookimpl


@attrs.frozen
class RisingParams:
    confidence: float = doc("Confidence of every signal.", default=0.7)


class Rising(Strategy):
    """Buy when the close rises."""

    name = "rising"
    Params = RisingParams

    def generate(self, candles: Candles) -> list[Signal]:
        return [
            Signal.make(symbol=candles.symbol, timeframe=candles.timeframe, side="BUY",
                        confidence=self.params.confidence, timestamp=int(candles.timestamp[i]),
                        price=float(candles.close[i]), strategy=self.name, reason="close rose")
            for i in range(1, len(candles))
            if candles.close[i] > candles.close[i - 1]
        ]


@hookimpl
def register_strategies(register):
    register(Rising)

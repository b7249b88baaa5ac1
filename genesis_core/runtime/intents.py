"""Turning a combined signal into the trade intent the risk chain judges.

Live, paper and backtest all build intents here, so the risk policies see identical inputs.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from genesis_core.models import Market, OrderSide, Signal, SignalSide, TradeIntent


# Why a SELL entry is refused on an executor that cannot short (live, paper and backtest).
NO_SHORTS = "the executor cannot short (spot account): SELL signals only close longs"


def side_of(signal: Signal) -> OrderSide:
    return OrderSide.BUY if signal.side is SignalSide.BUY else OrderSide.SELL


def entry_intent(signal: Signal, market: Market, features: dict[str, float]) -> TradeIntent:
    """An unsized entry for ``signal``; prices rounded to the market's precision."""
    return TradeIntent(
        signal=signal, symbol=signal.symbol, side=side_of(signal), amount=Decimal(0),
        price=market.round_price(signal.price),
        stop_loss=_price(market, signal.stop_loss),
        take_profit=_price(market, signal.take_profit), market=market,
        features={k: v for k, v in features.items() if math.isfinite(v)})


def atr_features(atr: float, close: float) -> dict[str, float]:
    """The volatility features every intent carries: ATR(14) and ATR as % of the close."""
    return {"atr": atr, "atr_pct": atr / close * 100}


def _price(market: Any, value: float | None) -> Decimal | None:
    return None if value is None else market.round_price(value)

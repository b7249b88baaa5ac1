"""The compiled simulator against the plain-Python reference loop, trade by trade."""

from __future__ import annotations

import numpy as np
import pytest

from genesis_core import Candles
from genesis_core.backtest import Bars, Costs, Orders, simulate
from genesis_core.backtest.simulator import TRADE_FIELDS, _sigma

from .conftest import ema_cross
from .reference import reference


REL = 1e-9


def assert_same_trades(result, expected) -> None:
    trades = result.trades
    assert len(trades) == len(expected), (len(trades), len(expected))
    for i, ref in enumerate(expected):
        for name in TRADE_FIELDS:
            if name in ("confidence",):
                continue
            got = getattr(trades, name)[i]
            assert got == pytest.approx(ref[name], rel=REL, abs=1e-12), (i, name, got, ref)


def _orders_dict(bars: Bars, orders: Orders) -> dict[str, np.ndarray]:
    n, s = bars.n_bars, bars.n_symbols
    return {f: np.broadcast_to(getattr(orders, f), (n, s)) for f in (
        "direction", "exit", "size", "stop_loss", "take_profit", "entry_price", "entry_type",
        "confidence")}


def run_both(bars: Bars, orders: Orders, costs: Costs, cash: float = 10_000.0, **kw):
    result = simulate(bars, orders, initial_cash=cash, costs=costs, **kw)
    sigma = _sigma(bars, costs.impact_window) if costs.impact_k else None
    trades, equity = reference(
        bars.open, bars.high, bars.low, bars.close, bars.volume, _orders_dict(bars, orders),
        cash=cash, taker=costs.taker_fee_bps * 1e-4, maker=costs.maker_fee_bps * 1e-4,
        slip=costs.slippage_bps * 1e-4, vslip=costs.volume_slippage_bps * 1e-4,
        impact=costs.impact_k, sigma=sigma, max_slip=costs.max_slippage_bps * 1e-4,
        funding=costs.short_funding_bps * 1e-4, size_type=kw.get("size_type", "equity"),
        reverse=kw.get("on_opposite", "reverse") == "reverse",
        entry_bar=kw.get("stops_on_entry_bar", False), ttl=kw.get("entry_ttl", 0),
        sl_frac=(kw.get("stop_loss_pct") or 0) / 100,
        tp_frac=(kw.get("take_profit_pct") or 0) / 100)
    assert_same_trades(result, trades)
    np.testing.assert_allclose(result.equity, equity, rtol=REL)
    assert result.reconciliation_error() < REL
    return result


CASES = {
    "market, stops, reverse": dict(stop_loss_pct=2.0, take_profit_pct=3.0),
    "market, close only": dict(on_opposite="close", stop_loss_pct=1.5),
    "stops on entry bar": dict(stops_on_entry_bar=True, stop_loss_pct=1.0, take_profit_pct=1.0),
    "amount sizing": dict(size_type="amount", take_profit_pct=2.0),
    "value sizing": dict(size_type="value"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_single_symbol_matches_reference(btc_1h, case) -> None:
    candles = btc_1h[5000:8000]
    bars = Bars.from_candles(candles)
    size = {"amount": 0.5, "value": 4000.0}.get(CASES[case].get("size_type", ""), 0.9)
    orders = Orders.from_arrays(bars, ema_cross(candles.close, 9, 21), size=size)
    costs = Costs(taker_fee_bps=10, maker_fee_bps=2, slippage_bps=3)
    result = run_both(bars, orders, costs, **CASES[case])
    assert len(result.trades) > 40
    reasons = set(result.trades.reason_names())
    assert "signal" in reasons
    if "stop_loss_pct" in CASES[case]:
        assert "stop" in reasons


def test_slippage_models_and_funding_match_reference(btc_1h) -> None:
    candles = btc_1h[20000:23000]
    bars = Bars.from_candles(candles)
    orders = Orders.from_arrays(bars, ema_cross(candles.close, 5, 30), size=0.7)
    costs = Costs(taker_fee_bps=20, maker_fee_bps=10, slippage_bps=1,
                  volume_slippage_bps=50, impact_k=0.5, short_funding_bps=0.3)
    result = run_both(bars, orders, costs, stop_loss_pct=3.0, take_profit_pct=4.0)
    assert result.funding > 0
    assert (result.trades.funding[result.trades.side < 0] > 0).all()


def _gappy(candles: Candles, seed: int, drop: float) -> Candles:
    rng = np.random.default_rng(seed)
    keep = rng.random(len(candles)) > drop
    keep[:5] = True
    return Candles(*(a[keep] for a in candles.arrays()), symbol=candles.symbol,
                   timeframe=candles.timeframe)


def _overlap(a: Candles, b: Candles, start: int, stop: int) -> tuple[Candles, Candles]:
    """Bars start..stop of ``b`` and the bars of ``a`` over the same hours."""
    first = int(np.searchsorted(a.timestamp, b.timestamp[0]))
    return a[first + start:first + stop], b[start:stop]


@pytest.mark.parametrize("entry", ["market", "limit", "stop"])
def test_two_symbols_with_gaps_limit_and_stop_entries(btc_1h, eth_1h, entry) -> None:
    btc, eth = _overlap(btc_1h, eth_1h, 500, 3000)
    btc, eth = _gappy(btc, 1, 0.05), _gappy(eth, 2, 0.1)
    bars = Bars.from_candles([btc, eth])
    assert np.isnan(bars.close).any()
    n = bars.n_bars
    direction = np.zeros((n, 2), np.int8)
    for j in range(2):
        valid = ~np.isnan(bars.close[:, j])
        cross = ema_cross(bars.close[valid, j], 7, 25)
        direction[valid, j] = cross
    rng = np.random.default_rng(3)
    exits = (rng.random((n, 2)) < 0.01).astype(np.int8)
    offset = {"market": 0.0, "limit": -0.004, "stop": 0.003}[entry]
    entry_price = bars.close * (1 + offset * direction)
    sl = bars.close * (1 - 0.02 * direction)
    tp = bars.close * (1 + 0.03 * direction)
    conf = rng.random((n, 2))
    orders = Orders.from_arrays(bars, direction, exit=exits, size=0.45, stop_loss=sl,
                                take_profit=tp, entry_price=entry_price, entry_type=entry,
                                confidence=conf)
    costs = Costs(taker_fee_bps=15, maker_fee_bps=5, slippage_bps=2, short_funding_bps=0.1)
    result = run_both(bars, orders, costs, entry_ttl=3 if entry != "market" else 0)
    assert len(result.trades) > 30
    assert set(result.trades.symbol.tolist()) == {0, 1}
    # the entry signal's confidence travels with the trade
    t = result.trades
    np.testing.assert_array_equal(t.confidence, conf[t.signal_bar, t.symbol])


def test_shared_cash_caps_long_entries(btc_1h, eth_1h) -> None:
    """60 % of equity on each of two symbols: the second long gets only the 40 % left."""
    bars = Bars.from_candles(list(_overlap(btc_1h, eth_1h, 1000, 1100)))
    direction = np.zeros((bars.n_bars, 2), np.int8)
    direction[10] = 1
    assert not np.isnan(bars.close[10:12]).any()
    result = run_both(bars, Orders.from_arrays(bars, direction, size=0.6),
                      Costs(taker_fee_bps=10))
    t = result.trades
    assert len(t) == 2
    spent = t.amount * t.entry_price + t.entry_fee
    np.testing.assert_allclose(spent, [6000.0, 4000.0], rtol=1e-12)

"""The simulator against vectorbt and backtesting.py (both installed by the dev extra).

Both references get the same entry/exit signals (our EMA arrays) and costs. vectorbt fills at
the close of the signal bar by default, so its signals are shifted one bar and it is given
``price=open``: a signal at bar t's close fills at bar t+1's open in both.
"""

from __future__ import annotations

import importlib
import warnings
from contextlib import contextmanager

import numpy as np
import pytest

from genesis_core.backtest import Bars, Costs, Orders, simulate

from .conftest import ema_cross


REL = 1e-9


@contextmanager
def quiet_pandas():
    """vectorbt / backtesting.py call pandas APIs that pandas 3 deprecates; not our concern."""
    pd = importlib.import_module("pandas")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=getattr(pd.errors, "Pandas4Warning",
                                                            FutureWarning))
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def our_fills(result) -> np.ndarray:
    """Our fills as net orders per bar (bar, signed size, price, fee); a reversal's close and
    open fill at the same price on the same bar and add up to one order, as in vectorbt."""
    t = result.trades
    rows = [(e, s * a, p, f) for e, s, a, p, f in zip(
        t.entry_bar, t.side, t.amount, t.entry_price, t.entry_fee, strict=True)]
    done = t.reason != 3  # END trades are still open: no exit order
    rows += [(x, -s * a, p, f) for x, s, a, p, f in zip(
        t.exit_bar[done], t.side[done], t.amount[done], t.exit_price[done], t.exit_fee[done],
        strict=True)]
    rows.sort(key=lambda r: (r[0], r[1]))
    merged: list[list[float]] = []
    for bar, size, price, fee in rows:
        if merged and merged[-1][0] == bar:
            assert merged[-1][2] == price
            assert np.sign(merged[-1][1]) == np.sign(size)
            merged[-1][1] += size
            merged[-1][3] += fee
        else:
            merged.append([bar, size, price, fee])
    return np.array(merged)


def vbt_fills(pf) -> np.ndarray:
    rec = pf.orders.values
    sign = np.where(rec["side"] == 0, 1.0, -1.0)
    return np.column_stack([rec["idx"], sign * rec["size"], rec["price"], rec["fees"]])


def vbt_final_equity(fills: np.ndarray, cash: float, last_close: float) -> float:
    flow = -(fills[:, 1] * fills[:, 2]) - fills[:, 3]
    return cash + float(np.sum(flow)) + float(np.sum(fills[:, 1])) * last_close


@pytest.mark.parametrize(("start", "mode"), [(8000, "long"), (30000, "long"),
                                             (15000, "both")])
def test_matches_vectorbt_order_records(btc_1h, start, mode) -> None:
    vbt = importlib.import_module("vectorbt")
    pd = importlib.import_module("pandas")
    candles = btc_1h[start:start + 20000]
    bars = Bars.from_candles(candles)
    cross = ema_cross(candles.close, 12, 26)
    fee, slip, cash = 0.001, 0.0005, 10_000.0
    costs = Costs(taker_fee_bps=fee * 1e4, slippage_bps=slip * 1e4)
    if mode == "long":  # all-in long, exit on the down-cross
        orders = Orders.from_arrays(bars, (cross > 0).astype(np.int8), exit=cross < 0,
                                    size=1.0)
        ours = simulate(bars, orders, initial_cash=cash, costs=costs)
        kw = {"size": np.inf, "direction": "longonly"}
    else:  # fixed amount, reversing on every cross
        ours = simulate(bars, Orders.from_arrays(bars, cross, size=0.25), size_type="amount",
                        initial_cash=cash, costs=costs, on_opposite="reverse")
        kw = {"size": 0.25, "direction": "both"}
    entries = np.zeros(len(candles), bool)
    exits = np.zeros(len(candles), bool)
    entries[1:], exits[1:] = cross[:-1] > 0, cross[:-1] < 0  # fill on the next bar's open
    with quiet_pandas():
        pf = vbt.Portfolio.from_signals(
            pd.Series(candles.close), entries, exits, price=pd.Series(candles.open),
            fees=fee, slippage=slip, init_cash=cash, **kw)
        theirs = vbt_fills(pf)
    mine = our_fills(ours)
    assert len(mine) > 100
    assert mine.shape == theirs.shape
    np.testing.assert_array_equal(mine[:, 0], theirs[:, 0])
    np.testing.assert_allclose(mine[:, 1:], theirs[:, 1:], rtol=REL)
    expected = vbt_final_equity(theirs, cash, float(candles.close[-1]))
    assert ours.final_equity == pytest.approx(expected, rel=REL)
    assert ours.reconciliation_error() < REL


@pytest.mark.parametrize("stops", [False, True])
def test_matches_backtesting_py_trades(btc_1h, stops) -> None:
    importlib.import_module("backtesting")
    pd = importlib.import_module("pandas")
    from backtesting import Backtest, Strategy

    candles = btc_1h[10000:16000]
    bars = Bars.from_candles(candles)
    cross = ema_cross(candles.close, 9, 21)
    sl, tp = 0.02, 0.03

    class Cross(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            d = cross[len(self.data) - 1]
            close = self.data.Close[-1]
            if d > 0 and not self.position.is_long:
                self.buy(size=0.5, **({"sl": close * (1 - sl), "tp": close * (1 + tp)}
                                      if stops else {}))
            elif d < 0 and not self.position.is_short:
                self.sell(size=0.5, **({"sl": close * (1 + sl), "tp": close * (1 - tp)}
                                       if stops else {}))

    frame = pd.DataFrame(
        {"Open": candles.open, "High": candles.high, "Low": candles.low,
         "Close": candles.close, "Volume": candles.volume},
        index=pd.to_datetime(candles.timestamp, unit="ms"))
    with quiet_pandas():
        bt = Backtest(frame, Cross, cash=1e9, commission=0.001, exclusive_orders=True,
                      finalize_trades=True)
        theirs = bt.run()._trades
    # backtesting.py arms SL/TP on the entry bar itself: our stops_on_entry_bar=True
    extra = {"stop_loss_pct": sl * 100, "take_profit_pct": tp * 100,
             "stops_on_entry_bar": True} if stops else {}
    ours = simulate(bars, Orders.from_arrays(bars, cross, size=0.5),
                    costs=Costs(taker_fee_bps=10), **extra).trades
    assert len(ours) == len(theirs) > 100
    np.testing.assert_array_equal(ours.entry_bar, theirs.EntryBar.to_numpy())
    np.testing.assert_array_equal(ours.exit_bar, theirs.ExitBar.to_numpy())
    np.testing.assert_array_equal(ours.side, np.sign(theirs.Size.to_numpy()))
    closed = ours.reason != 3  # backtesting.py closes the last trade at the last open
    np.testing.assert_allclose(ours.exit_price[closed], theirs.ExitPrice.to_numpy()[closed],
                               rtol=REL)
    np.testing.assert_allclose(ours.entry_price, theirs.EntryPrice.to_numpy(), rtol=REL)
    if stops:
        assert {"stop", "take"} <= set(ours.reason_names())

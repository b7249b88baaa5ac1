"""The risk-hook seam: a Python callback per signal, the per-bar loop staying compiled."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from genesis_core import PortfolioSnapshot
from genesis_core.backtest import Bars, Costs, OrderProposal, Orders, PortfolioState, simulate
from genesis_core.backtest.simulator import TRADE_FIELDS

from .conftest import ema_cross
from .test_reference import assert_same_trades


@pytest.fixture(scope="module")
def setup(btc_1h, eth_1h):
    first = int(np.searchsorted(btc_1h.timestamp, eth_1h.timestamp[0]))
    bars = Bars.from_candles([btc_1h[first:first + 2500], eth_1h[:2500]])
    direction = np.column_stack([ema_cross(bars.close[:, j], 9, 30) for j in range(2)])
    return bars, direction


def _same(a, b) -> None:
    t = b.trades
    assert_same_trades(a, [{name: getattr(t, name)[i] for name in TRADE_FIELDS}
                           for i in range(len(t))])
    np.testing.assert_allclose(a.equity, b.equity, rtol=1e-12)


def test_approving_hook_changes_nothing_and_sees_exact_state(setup) -> None:
    bars, direction = setup
    seen: list[tuple[OrderProposal, PortfolioState]] = []

    def approve(p: OrderProposal, s: PortfolioState) -> OrderProposal:
        seen.append((p, s))
        return p

    orders = Orders.from_arrays(bars, direction, size=0.4)
    kw = {"costs": Costs(taker_fee_bps=10), "stop_loss_pct": 2.0}
    plain = simulate(bars, orders, **kw)
    hooked = simulate(bars, orders, on_signal=approve, **kw)
    _same(hooked, plain)
    assert len(seen) == np.count_nonzero(direction)  # every cross opens or reverses
    for p, s in seen:
        assert s.equity == plain.equity[p.bar]
        assert s.cash == plain.cash[p.bar]
        assert p.price == bars.close[p.bar, p.symbol_index]
        assert p.side == direction[p.bar, p.symbol_index]
        assert p.reversal == (p.symbol in s.positions)
    snap = seen[-1][1].to_snapshot()
    assert isinstance(snap, PortfolioSnapshot)
    assert float(snap.equity) == seen[-1][1].equity
    assert set(snap.positions) == set(seen[-1][1].positions)
    # the input arrays are not modified by the hook machinery
    assert np.array_equal(orders.direction, direction)


def test_resizing_hook_equals_a_run_with_that_size(setup) -> None:
    bars, direction = setup

    def half(p: OrderProposal, s: PortfolioState) -> OrderProposal:
        return attrs.evolve(p, size=p.size / 2, stop_loss=p.price * (1 - 0.03 * p.side))

    hooked = simulate(bars, Orders.from_arrays(bars, direction, size=0.4), on_signal=half)
    sl = bars.close * (1 - 0.03 * direction)
    plain = simulate(bars, Orders.from_arrays(bars, direction, size=0.2, stop_loss=sl))
    _same(hooked, plain)
    assert "stop" in hooked.trades.reason_names()


def test_rejecting_hook_drops_entries_but_still_closes_reversals(setup) -> None:
    bars, direction = setup

    def no_shorts(p: OrderProposal, s: PortfolioState) -> OrderProposal | None:
        return None if p.side < 0 else p

    hooked = simulate(bars, Orders.from_arrays(bars, direction, size=0.4),
                      on_signal=no_shorts)
    # the same as long entries with down-crosses as plain exits
    plain = simulate(bars, Orders.from_arrays(bars, (direction > 0).astype(np.int8),
                                              exit=direction < 0, size=0.4))
    _same(hooked, plain)
    assert (hooked.trades.side == 1).all()
    assert len(hooked.trades) > 10


def test_hook_sees_earlier_decisions_in_the_portfolio(setup) -> None:
    """A max-exposure policy: reject a new position while one is already open."""
    bars, direction = setup
    opened = []

    def one_at_a_time(p: OrderProposal, s: PortfolioState) -> OrderProposal | None:
        others = {k for k in s.positions if k != p.symbol}
        if others:
            return None
        opened.append(p.bar)
        return p

    result = simulate(bars, Orders.from_arrays(bars, direction, size=0.9),
                      on_signal=one_at_a_time)
    t = result.trades
    for a in range(len(t)):  # no two trades overlap in time across symbols
        for b in range(a + 1, len(t)):
            if t.symbol[a] != t.symbol[b]:
                assert t.exit_bar[a] <= t.entry_bar[b] or t.exit_bar[b] <= t.entry_bar[a]
    assert len(opened) >= len(t)

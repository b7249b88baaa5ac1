"""Monte Carlo on trade sequences: hand-computed paths, invariants of the two methods,
reproducibility across thread counts, and returns taken from a real backtest."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from genesis_core.backtest import Bars, Costs, Orders, ema_cross_directions, simulate
from genesis_core.backtest.montecarlo import monte_carlo, path_stats, trade_returns
from genesis_core.errors import ConfigError, GenesisError


def test_path_by_hand() -> None:
    # equity 1 → 1.1 → 0.88 → 0.792: the trough 0.792 is 28 % below the peak 1.1
    assert path_stats([0.1, -0.2, -0.1]) == pytest.approx((-0.208, 0.28))
    # starting with a loss: the peak is the initial equity
    assert path_stats([-0.2, 0.1, -0.1]) == pytest.approx((-0.208, 0.208))
    # a loss beyond 100 % is ruin: equity stays at 0 whatever follows
    assert path_stats([0.5, -1.5, 0.3]) == (-1.0, 1.0)
    assert path_stats([0.1, 0.2]) == pytest.approx((0.32, 0.0))


def test_shuffle_draws_every_order_equally_with_hand_computed_drawdowns() -> None:
    # the six orders of (+10 %, -20 %, -10 %): four end 28 % below a 1.1 peak, the two that
    # start with a loss and then regain 10 % have their trough 0.792 below the initial 1.0
    res = monte_carlo([0.1, -0.2, -0.1], runs=60_000, method="shuffle", seed=3)
    values, counts = np.unique(np.round(res.max_drawdown, 12), return_counts=True)
    assert values.tolist() == [0.208, 0.28]
    assert counts / res.runs == pytest.approx([2 / 6, 4 / 6], abs=0.01)
    assert (res.observed_return, res.observed_drawdown) == pytest.approx((-0.208, 0.28))


def test_shuffle_keeps_the_final_return() -> None:
    r = np.random.default_rng(5).normal(0.003, 0.03, 300)
    res = monte_carlo(r, runs=2000, method="shuffle", initial=10_000.0)
    expected = float(np.prod(1.0 + r) - 1.0)
    np.testing.assert_allclose(res.final_return, expected, rtol=1e-12)
    np.testing.assert_allclose(res.final_equity, 10_000.0 * (1 + expected), rtol=1e-12)
    assert res.observed_return == pytest.approx(expected, rel=1e-12)
    assert res.prob_loss == (1.0 if expected < 0 else 0.0)
    # the path does change: drawdowns spread around the observed one
    assert res.max_drawdown.min() < res.observed_drawdown < res.max_drawdown.max()


def test_bootstrap_draws_uniformly_with_replacement() -> None:
    # two trades, two draws: finals (1.1², 1.1·0.9, 0.9²) with probabilities 1/4, 1/2, 1/4
    res = monte_carlo([0.1, -0.1], runs=40_000, method="bootstrap", seed=11)
    values, counts = np.unique(np.round(res.final_return, 12), return_counts=True)
    assert values.tolist() == [-0.19, -0.01, 0.21]
    assert counts / res.runs == pytest.approx([0.25, 0.5, 0.25], abs=0.01)


def test_bootstrap_mean_matches_the_analytic_expectation() -> None:
    # n independent draws: E[Π(1 + X_k)] = (1 + mean r)^n
    r = np.random.default_rng(2).normal(0.004, 0.02, 50)
    res = monte_carlo(r, runs=40_000, method="bootstrap", seed=1)
    expected = (1.0 + r.mean()) ** r.size - 1.0
    stderr = res.final_return.std() / math.sqrt(res.runs)
    assert abs(res.mean_return - expected) < 4 * stderr
    assert res.mean_return == pytest.approx(expected, rel=0.02)


def test_percentiles_are_monotone_and_match_numpy() -> None:
    r = np.random.default_rng(3).normal(0.001, 0.02, 200)
    res = monte_carlo(r, runs=5000, percentiles=(1, 5, 25, 50, 75, 95, 99))
    rets = list(res.return_percentiles.values())
    dds = list(res.drawdown_percentiles.values())
    assert rets == sorted(rets)
    assert dds == sorted(dds)
    assert res.return_percentiles[50] == pytest.approx(float(np.median(res.final_return)))
    assert res.drawdown_percentiles[95] == pytest.approx(
        float(np.percentile(res.max_drawdown, 95)))
    assert (res.max_drawdown >= 0).all()
    assert (res.max_drawdown <= 1).all()
    probs = [res.prob_drawdown_above(t) for t in (0.0, 0.1, 0.2, 0.4, 1.0)]
    assert probs == sorted(probs, reverse=True)
    assert probs[-1] == 0.0
    assert res.prob_loss == pytest.approx(float(np.mean(res.final_return < 0)))


@pytest.mark.parametrize("method", ["bootstrap", "shuffle"])
def test_a_seed_gives_the_same_runs_whatever_the_thread_count(method: str) -> None:
    r = np.random.default_rng(4).normal(0.0, 0.02, 101)
    runs = 1000  # not a multiple of the 64-run blocks
    default = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = monte_carlo(r, runs=runs, method=method, seed=42)
    finally:
        numba.set_num_threads(default)
    many = monte_carlo(r, runs=runs, method=method, seed=42)
    np.testing.assert_array_equal(one.final_return, many.final_return)
    np.testing.assert_array_equal(one.max_drawdown, many.max_drawdown)
    other = monte_carlo(r, runs=runs, method=method, seed=43)
    assert not np.array_equal(other.max_drawdown, many.max_drawdown)
    # a longer run extends the same stream: its first runs are these runs
    longer = monte_carlo(r, runs=runs + 77, method=method, seed=42)
    np.testing.assert_array_equal(longer.max_drawdown[:runs], many.max_drawdown)


def test_every_run_is_a_valid_path() -> None:
    # a shuffle run reaches each drawdown of some permutation, never beyond the worst case:
    # all losses in a row after all gains
    r = np.array([0.05, 0.05, -0.1, 0.02, -0.03, 0.04])
    res = monte_carlo(r, runs=3000, method="shuffle")
    losses = np.prod(1 + r[r < 0])
    assert res.max_drawdown.max() <= 1 - losses + 1e-12
    assert res.max_drawdown.max() == pytest.approx(1 - losses)
    ruin = monte_carlo([0.2, -1.2], runs=200, method="bootstrap")
    hit = ruin.max_drawdown == 1.0
    np.testing.assert_array_equal(ruin.final_return[hit], -1.0)
    assert 0 < hit.mean() < 1


def test_invalid_arguments() -> None:
    with pytest.raises(ConfigError) as info:
        monte_carlo([0.1], runs=0, method="jackknife")  # type: ignore[arg-type]
    assert info.value.errors == [
        "monte_carlo.runs: must be a positive integer, got 0",
        "monte_carlo.method: expected one of bootstrap, shuffle, got 'jackknife'"]
    with pytest.raises(ConfigError, match=r"monte_carlo.percentiles: must be numbers in"):
        monte_carlo([0.1], percentiles=(50, 101))
    with pytest.raises(GenesisError, match="monte_carlo: no trades to resample"):
        monte_carlo([])
    with pytest.raises(GenesisError, match="must be finite"):
        monte_carlo([0.1, math.nan])


def test_trade_returns_of_a_real_backtest_compound_to_its_total_return(btc_1h) -> None:
    candles = btc_1h[30000:36000]
    dirs, _ = ema_cross_directions(candles.close, [12], [26])
    bars = Bars.from_candles(candles)
    result = simulate(bars, Orders.from_arrays(bars, dirs[0], size=0.5), stop_loss_pct=3.0,
                      costs=Costs(taker_fee_bps=10, slippage_bps=2))
    r = trade_returns(result)
    assert r.size == len(result.trades) > 50
    total = result.final_equity / result.initial_cash - 1.0
    assert float(np.prod(1.0 + r) - 1.0) == pytest.approx(total, rel=1e-9)
    res = monte_carlo(r, runs=2000, method="shuffle", initial=result.initial_cash)
    np.testing.assert_allclose(res.final_equity, result.final_equity, rtol=1e-9)
    text = res.table()
    assert text.splitlines()[0] == (f"Monte Carlo: 2000 shuffle runs of {r.size} trades "
                                    f"(seed 0, {res.seconds:.2f} s)")
    assert "p95" in text
    assert "observed" in text
    assert "P(max drawdown > 20 %)" in text

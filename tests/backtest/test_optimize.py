"""Parameter spaces, the parallel search and walk-forward windows on toys with known answers,
then a walk-forward over real candles cross-checked against ``grid`` and ``simulate``."""

from __future__ import annotations

import io
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genesis_core import Candles
from genesis_core.backtest import Costs, ema_cross_directions, grid, simulate
from genesis_core.backtest.optimize import (
    ParamSpace,
    Window,
    search,
    walk_forward,
    windows,
)
from genesis_core.errors import ConfigError, GenesisError


# --------------------------------------------------------------------------- toy evaluators
# Module level, so worker processes can unpickle them by reference.


def quadratic(params: dict[str, Any]) -> dict[str, float]:
    """Best at x = 3, y = -1; x = 13 fails; y = 7 gives a NaN score."""
    x, y = params["x"], params["y"]
    if x == 13:
        raise ValueError("thirteen is unlucky")
    loss = (x - 3) ** 2 + (y + 1) ** 2
    return {"score": math.nan if y == 7 else -float(loss), "loss": float(loss), "trades": 1}


def regime(params: dict[str, Any], start: int, end: int) -> dict[str, float]:
    """Bar t's ideal x is t // 100: the score is minus the mean squared miss over [start, end)."""
    target = np.arange(start, end) // 100
    miss = float(np.mean((params["x"] - target) ** 2))
    return {"score": -miss, "total_return": 0.01 * (5 - miss)}


# --------------------------------------------------------------------------- parameter space


BRIEF = {
    "strategies.ema_rsi.fast": {"range": [5, 30, 5]},
    "strategies.ema_rsi.rsi_period": {"values": [7, 14, 21]},
    "risk.fixed_fraction.fraction": {"uniform": ["0.05", "0.2"]},
}


def test_grid_enumerates_every_combination_last_key_fastest() -> None:
    space = ParamSpace.from_mapping({k: v for k, v in BRIEF.items() if "risk" not in k})
    assert space.size == 18
    cands = space.grid()
    assert len(cands) == 18
    assert cands[:4] == [
        {"strategies.ema_rsi.fast": 5, "strategies.ema_rsi.rsi_period": 7},
        {"strategies.ema_rsi.fast": 5, "strategies.ema_rsi.rsi_period": 14},
        {"strategies.ema_rsi.fast": 5, "strategies.ema_rsi.rsi_period": 21},
        {"strategies.ema_rsi.fast": 10, "strategies.ema_rsi.rsi_period": 7},
    ]
    assert [c["strategies.ema_rsi.fast"] for c in cands[::3]] == [5, 10, 15, 20, 25, 30]
    assert all(type(c["strategies.ema_rsi.fast"]) is int for c in cands)
    assert space.candidates("grid") == cands


def test_range_types_decimal_strings_stay_exact() -> None:
    space = ParamSpace.from_mapping({
        "a": {"range": ["0.05", "0.2", "0.05"]},
        "b": {"range": [0.1, 0.3, 0.1]},
        "c": {"range": [1, 10, 4]},  # stop not on the step: the last value is below it
        "d": {"range": [2, 4]},  # ints step 1 by default
        "e": [True, False],  # a bare list is `values`, taken as given
        "f": "reverse",  # a bare scalar pins the parameter
    })
    values = {d.key: d.values for d in space.dimensions}
    assert values["a"] == (Decimal("0.05"), Decimal("0.10"), Decimal("0.15"), Decimal("0.20"))
    assert all(isinstance(v, Decimal) for v in values["a"])
    assert values["b"] == (0.1, 0.2, 0.3)  # stepped in Decimal: no 0.30000000000000004
    assert values["c"] == (1, 5, 9)
    assert values["d"] == (2, 3, 4)
    assert values["e"] == (True, False)
    assert values["f"] == ("reverse",)
    assert space.size == 4 * 3 * 3 * 3 * 2 * 1


@pytest.mark.parametrize(("spec", "message"), [
    ({"range": [5, 30, 0]}, "params.p: range step must be > 0, got 0"),
    ({"range": [30, 5, 5]}, "params.p: range stop 5 is below its start 30"),
    ({"range": [5]}, "params.p: range must be [start, stop] or [start, stop, step]"),
    ({"range": ["a", 5, 1]}, "params.p: range values must be numbers"),
    ({"range": [0.1, 0.5]}, "params.p: a decimal range needs a step"),
    ({"range": [0, 10**7, 1]}, "params.p: range has 10000001 values (limit 1000000)"),
    ({"values": []}, "params.p: values must be a non-empty list"),
    ({"uniform": [1, 1]}, "params.p: uniform low 1 must be below high 1"),
    ({"uniform": [1]}, "params.p: uniform must be [low, high]"),
    ({"uniform": [True, 2]}, "params.p: uniform bounds must be numbers"),
    ({"log_uniform": [0, 1]}, "params.p: log_uniform bounds must be > 0"),
    ({"int_uniform": [1, 2.5]}, "params.p: int_uniform bounds must be integers"),
    ({"normal": [0, 1]}, "params.p: expected exactly one of range, values, uniform"),
    ({"range": [1, 2], "values": [1]}, "params.p: expected exactly one of"),
    ({}, "params.p: expected exactly one of range, values, uniform, log_uniform, "
         "int_uniform, got nothing"),
])
def test_invalid_specs_name_the_key_in_one_line(spec: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ParamSpace.from_mapping({"p": spec})
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_every_problem_is_reported_with_its_location() -> None:
    with pytest.raises(ConfigError) as info:
        ParamSpace.from_mapping({"a..b": [1], "c": {"range": [1, 0]}, "d": {"values": []}},
                                where="backtest.optimize.params")
    assert info.value.errors == [
        "backtest.optimize.params: parameter path 'a..b' must be a dotted name like "
        "'strategies.ema_rsi.fast'",
        "backtest.optimize.params.c: range stop 0 is below its start 1",
        "backtest.optimize.params.d: values must be a non-empty list",
    ]
    assert str(info.value).endswith("(and 2 more)")
    with pytest.raises(ConfigError, match="expected a mapping"):
        ParamSpace.from_mapping({})


def test_continuous_spaces_have_no_grid() -> None:
    space = ParamSpace.from_mapping(BRIEF)
    assert space.size is None
    with pytest.raises(ConfigError, match=r"params\.risk\.fixed_fraction\.fraction: uniform "
                                          "has no grid"):
        space.grid()
    with pytest.raises(ConfigError, match="grid has 1000000 combinations"):
        ParamSpace.from_mapping({"a": {"range": [1, 1000]}, "b": {"range": [1, 1000]}}) \
            .grid(limit=999_999)


def test_random_sampling_is_reproducible_and_within_bounds() -> None:
    space = ParamSpace.from_mapping({
        **BRIEF,
        "lr": {"log_uniform": [1e-4, 1e-1]},
        "n": {"int_uniform": [1, 3]},
        "w": {"uniform": [-1, 1]},
    })
    a = space.sample(400, seed=7)
    assert a == space.sample(400, seed=7)
    assert a != space.sample(400, seed=8)
    assert space.candidates("random", samples=400, seed=7) == a
    fast = {c["strategies.ema_rsi.fast"] for c in a}
    assert fast == {5, 10, 15, 20, 25, 30}
    fractions = [c["risk.fixed_fraction.fraction"] for c in a]
    assert all(isinstance(f, Decimal) and Decimal("0.05") <= f <= Decimal("0.2")
               for f in fractions)
    assert all(len(f.as_tuple().digits) <= 12 for f in fractions)
    lr = np.array([c["lr"] for c in a])
    assert lr.min() >= 1e-4
    assert lr.max() <= 1e-1
    # log-uniform: each decade holds about a third of the draws
    decades = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1])[0]
    assert decades.min() > 100
    assert {c["n"] for c in a} == {1, 2, 3}
    assert all(isinstance(c["w"], float) and -1 <= c["w"] <= 1 for c in a)


def test_sampling_a_discrete_space_draws_without_replacement() -> None:
    space = ParamSpace.from_mapping({"x": {"range": [1, 5]}, "y": ["a", "b", "c"]})
    some = space.sample(10, seed=1)
    assert len({tuple(c.values()) for c in some}) == 10
    assert all(c in space.grid() for c in some)
    every = space.sample(100, seed=1)
    assert sorted(map(repr, every)) == sorted(map(repr, space.grid()))
    with pytest.raises(ConfigError, match=r"optimize\.samples: random search needs a positive"):
        space.candidates("random")
    with pytest.raises(ConfigError, match=r"optimize\.method: expected 'grid' or 'random'"):
        space.candidates("bayes")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- search


def test_search_ranks_in_worker_processes_and_records_failures() -> None:
    cands = [{"x": x, "y": y} for x in range(-2, 15) for y in (-3, -1, 2, 7)]
    result = search(quadratic, cands, objective="score", workers=2, progress=False)
    assert result.workers == 2
    assert len(result) == len(cands)
    assert result.best.params == {"x": 3, "y": -1}
    assert result.best.metrics == {"score": -0.0, "loss": 0.0, "trades": 1}
    expected = sorted((c for c in cands if c["x"] != 13 and c["y"] != 7),
                      key=lambda c: (c["x"] - 3) ** 2 + (c["y"] + 1) ** 2)
    ranked = [e.params for e in result.evaluations]
    scored = [e.params for e in result.evaluations if e.ok]
    assert sorted(map(repr, scored)) == sorted(map(repr, expected))
    losses = [e.metrics["loss"] for e in result.evaluations if e.ok]
    assert losses == sorted(losses)
    # failures and NaN scores last, in candidate order
    tail = ranked[len(expected):]
    assert tail == [c for c in cands if c["x"] == 13 or c["y"] == 7]
    failed = [e for e in result.evaluations if e.error is not None]
    assert [e.params["x"] for e in failed] == [13] * 4
    assert failed[0].error == "ValueError: thirteen is unlucky"
    assert failed[0].metrics == {}
    assert math.isnan(failed[0].score)
    assert result.errors == tuple(failed)
    # same ranking in-process, and minimising the loss is the same order
    local = search(quadratic, cands, objective="score", workers=1, progress=False)
    assert [e.params for e in local.evaluations] == ranked
    by_loss = search(quadratic, cands, objective="-loss", workers=1, progress=False)
    assert [e.params for e in by_loss.evaluations if e.params["y"] != 7 and e.error is None] \
        == scored


def test_ties_keep_candidate_order_and_callables_rank() -> None:
    cands = [{"x": x, "y": y} for x in (2, 4, 3) for y in (-1, 0)]
    result = search(quadratic, cands, objective="score", workers=1, progress=False)
    assert [e.index for e in result.evaluations] == [4, 0, 2, 5, 1, 3]
    assert [e.score for e in result.evaluations] == [0.0, -1.0, -1.0, -1.0, -2.0, -2.0]

    def closest_to_two(m: dict[str, float]) -> float:
        return -abs(m["loss"] - 2.0)

    result = search(quadratic, cands, objective=closest_to_two, workers=1, progress=False)
    assert result.objective == "closest_to_two"
    assert {e.index for e in result.evaluations[:2]} == {1, 3}


def test_objective_typos_and_total_failure_are_reported() -> None:
    cands = [{"x": 1, "y": 1}]
    with pytest.raises(ConfigError, match=re.escape("objective: 'sharp' is not a metric of the "
                                                    "evaluation (it returns loss, score, "
                                                    "trades)")):
        search(quadratic, cands, objective="sharp", workers=1, progress=False)
    with pytest.raises(ConfigError, match="objective: expected a metric name"):
        search(quadratic, cands, objective="-", workers=1, progress=False)
    broken = search(quadratic, [{"x": 13, "y": 0}], objective="score", workers=1,
                    progress=False)
    with pytest.raises(GenesisError, match=re.escape("no candidate produced a 'score' score "
                                                     "(1 of 1 failed; first error: "
                                                     "ValueError: thirteen")):
        _ = broken.best


def test_unpicklable_evaluations_are_refused_before_starting_processes() -> None:
    with pytest.raises(GenesisError, match="must be picklable to run in 2 worker processes"):
        search(lambda p: {"a": 1.0}, [{"k": 1}, {"k": 2}], objective="a", workers=2,
               progress=False)


def test_bad_return_values_are_candidate_errors() -> None:
    result = search(bad_metrics, [{"k": k} for k in range(3)], objective="a", workers=1,
                    progress=False)
    assert [e.error for e in result.evaluations] == [
        None,
        "TypeError: metric 'a' is str, not a number",
        "TypeError: evaluate returned list, expected a mapping of metric names to numbers"]


def bad_metrics(params: dict[str, Any]) -> Any:
    return [{"a": np.float64(1.5)}, {"a": "x"}, [1]][params["k"]]


def test_progress_bar_only_on_a_terminal_unless_forced() -> None:
    cands = [{"x": x, "y": 0} for x in range(5)]
    quiet = io.StringIO()
    search(quadratic, cands, objective="score", workers=1, progress=True, stream=quiet)
    assert quiet.getvalue() == ""  # a StringIO is not a terminal
    shown = io.StringIO()
    search(quadratic, cands, objective="score", workers=1, progress="always", stream=shown)
    text = shown.getvalue()
    assert text.startswith("\rsearch [")
    assert text.endswith("\n")
    assert "5/5 100%" in text


def test_table_lists_the_best_first() -> None:
    cands = [{"x": x, "y": -1} for x in (1, 3, 13)]
    text = search(quadratic, cands, objective="-loss", workers=1, progress=False).table()
    lines = text.splitlines()
    assert lines[0].split() == ["rank", "x", "y", "-loss", "score", "loss", "trades"]
    assert lines[1].split() == ["1", "3", "-1", "0", "0", "0", "1"]
    assert lines[2].split() == ["2", "1", "-1", "-4", "-4", "4", "1"]
    assert "ValueError: thirteen is unlucky" in lines[3]
    assert lines[4].startswith("3 candidates, 2 scored, 1 errors, 1 workers")


# --------------------------------------------------------------------------- walk-forward


def test_windows_have_exact_boundaries() -> None:
    assert windows(1000, 300, 100) == [
        Window(0, 300, 300, 400), Window(100, 400, 400, 500), Window(200, 500, 500, 600),
        Window(300, 600, 600, 700), Window(400, 700, 700, 800), Window(500, 800, 800, 900),
        Window(600, 900, 900, 1000)]
    assert windows(1000, 300, 200, anchored=True) == [
        Window(0, 300, 300, 500), Window(0, 500, 500, 700), Window(0, 700, 700, 900)]
    assert windows(1000, 300, 100, step_bars=250, first_bar=50) == [
        Window(50, 350, 350, 450), Window(300, 600, 600, 700), Window(550, 850, 850, 950)]
    for w in windows(5000, 700, 300, step_bars=150):
        assert w.train_end == w.test_start  # no gap, no overlap
        assert w.train_end - w.train_start == 700
        assert w.test_end - w.test_start == 300


def test_window_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="walk_forward: 399 bars hold no window of 300 train "
                                          r"\+ 100 test bars"):
        windows(399, 300, 100)
    with pytest.raises(ConfigError) as info:
        windows(1000, 0, 100, step_bars=-1)
    assert info.value.errors == [
        "walk_forward.train_bars: must be a positive integer, got 0",
        "walk_forward.step_bars: must be a positive integer, got -1"]


def test_walk_forward_never_lets_test_bars_into_training() -> None:
    calls: list[tuple[int, int]] = []

    def recording(params: dict[str, Any], start: int, end: int) -> dict[str, float]:
        calls.append((start, end))
        return regime(params, start, end)

    cands = [{"x": x} for x in range(12)]
    result = walk_forward(recording, cands, n_bars=1000, train_bars=300, test_bars=100,
                          objective="score", workers=1, progress=False)
    wins = windows(1000, 300, 100)
    train_calls, test_calls = calls[:len(wins) * len(cands)], calls[len(wins) * len(cands):]
    assert train_calls == [(w.train_start, w.train_end) for w in wins for _ in cands]
    assert test_calls == [(w.test_start, w.test_end) for w in wins]
    for w, r in zip(wins, result.windows, strict=True):
        assert r.window == w
        # training saw bars of regimes a, a+1, a+2 only: it picks the middle one, although
        # the test window (regime a+3) would have preferred x = a+3
        a = w.train_start // 100
        assert r.params == {"x": a + 1}
        assert r.is_score == pytest.approx(-2 / 3)
        assert r.oos_score == pytest.approx(-4.0)
        assert r.oos_metrics["total_return"] == pytest.approx(0.01)
        assert r.efficiency == pytest.approx(6.0)
        assert r.degradation == pytest.approx(10 / 3)
        assert r.search.best.params == r.params
        assert len(r.search) == len(cands)
    assert result.is_score == pytest.approx(-2 / 3)
    assert result.oos_score == pytest.approx(-4.0)
    assert result.efficiency == pytest.approx(6.0)
    assert result.degradation == pytest.approx(10 / 3)
    assert result.oos_mean == pytest.approx({"score": -4.0, "total_return": 0.01})
    assert result.oos_total_return == pytest.approx(1.01 ** 7 - 1)
    assert result.params_counts() == [({"x": x}, 1) for x in range(1, 8)]


def test_walk_forward_anchored_in_worker_processes() -> None:
    cands = [{"x": x} for x in range(12)]
    kwargs: dict[str, Any] = dict(n_bars=1000, train_bars=300, test_bars=200, anchored=True,
                                  objective="score", progress=False)
    pooled = walk_forward(regime, cands, workers=2, **kwargs)
    local = walk_forward(regime, cands, workers=1, **kwargs)
    assert [w.params for w in pooled.windows] == [w.params for w in local.windows]
    # anchored on [0, e): regimes 0 .. e/100 - 1, the best x is their middle
    assert [w.params for w in pooled.windows] == [{"x": 1}, {"x": 2}, {"x": 3}]
    assert [w.oos_score for w in pooled.windows] == pytest.approx(
        [w.oos_score for w in local.windows])
    # overlapping test windows cannot be chained
    overlapping = walk_forward(regime, cands, step_bars=100, workers=1, **kwargs)
    assert math.isnan(overlapping.oos_total_return)
    table = pooled.table()
    assert "x=1" in table
    assert "anchored" in table
    assert "efficiency" in table


def flaky(params: dict[str, Any], start: int, end: int) -> dict[str, float]:
    if start >= 600:
        raise RuntimeError(f"no data from bar {start}")
    return regime(params, start, end)


def test_walk_forward_records_failed_windows() -> None:
    result = walk_forward(flaky, [{"x": x} for x in range(12)], n_bars=1000, train_bars=300,
                          test_bars=100, objective="score", workers=1, progress=False)
    ok, oos_failed, train_failed = result.windows[2], result.windows[3], result.windows[6]
    assert ok.params == {"x": 3}
    assert ok.error is None
    # window 3 trains on [300, 600) but its test window [600, 700) fails
    assert oos_failed.params == {"x": 4}
    assert oos_failed.error == "RuntimeError: no data from bar 600"
    assert math.isnan(oos_failed.oos_score)
    # window 6 trains on [600, 900): every candidate fails
    assert train_failed.params is None
    assert train_failed.error == "no candidate scored on train"
    assert len(train_failed.search.errors) == 12
    # the aggregates leave the failed windows out
    assert result.oos_score == pytest.approx(-4.0)
    assert result.is_score == pytest.approx(-2 / 3)
    assert "no candidate scored on train" in result.table()


# --------------------------------------------------------------------------- real candles


class EmaWindow:
    """EMA cross on bars [start, end): EMAs warm up on the bars before ``start`` (the past),
    never on bars at or after ``end``."""

    costs = Costs(taker_fee_bps=10)

    def __init__(self, candles: Candles) -> None:
        self.candles = candles

    def __call__(self, params: dict[str, Any], start: int, end: int) -> dict[str, float]:
        past = self.candles[:end]
        dirs, _ = ema_cross_directions(past.close, [params["fast"]], [params["slow"]])
        result = simulate(past[start:end], dirs[0, start:end], costs=self.costs)
        m = result.metrics()
        return {"sharpe": m.equity.sharpe, "total_return": m.equity.total_return,
                "max_drawdown": m.equity.max_drawdown, "trades": len(result.trades)}


def test_walk_forward_over_real_candles_matches_grid_and_simulate(btc_1h) -> None:
    candles = btc_1h[20000:28000]
    fast, slow = [5, 10, 20], [30, 50, 100]
    space = ParamSpace.from_mapping({"fast": fast, "slow": slow})
    evaluate = EmaWindow(candles)
    result = walk_forward(evaluate, space.grid(), n_bars=len(candles), train_bars=3000,
                          test_bars=1000, objective="sharpe", workers=2, progress=False)
    assert [(w.window.train_start, w.window.test_end) for w in result.windows] == [
        (0, 4000), (1000, 5000), (2000, 6000), (3000, 7000), (4000, 8000)]
    full_dirs, pairs = ema_cross_directions(candles.close, fast, slow)
    for w in result.windows:
        win = w.window
        # causal EMAs: directions from the prefix equal those from the whole series
        prefix_dirs, _ = ema_cross_directions(candles.close[:win.train_end], fast, slow)
        assert np.array_equal(prefix_dirs, full_dirs[:, :win.train_end])
        # the chosen parameters are the train window's best by the parallel grid kernel
        train = grid(candles[win.train_start:win.train_end],
                     full_dirs[:, win.train_start:win.train_end], costs=EmaWindow.costs)
        f, s = pairs[int(np.nanargmax(train.sharpe))]
        assert w.params == {"fast": f, "slow": s}
        assert w.is_score == pytest.approx(float(np.nanmax(train.sharpe)), rel=1e-6)
        # the out-of-sample figures are a plain simulation of the test window
        k = pairs.index((f, s))
        test = simulate(candles[win.test_start:win.test_end],
                        full_dirs[k, win.test_start:win.test_end], costs=EmaWindow.costs)
        assert w.oos_metrics["total_return"] == pytest.approx(
            test.final_equity / test.initial_cash - 1.0)
        assert w.oos_metrics["trades"] == len(test.trades)
    chained = np.prod([1 + w.oos_metrics["total_return"] for w in result.windows]) - 1
    assert result.oos_total_return == pytest.approx(chained)
    assert result.efficiency == pytest.approx(result.oos_score / result.is_score)
    assert len(result.table().splitlines()) == 1 + 5 + 1


def test_a_candidate_is_judged_whole_not_one_parameter_at_a_time() -> None:
    """The demo has slow 26: fast 30 is valid with slow 50, so that candidate must apply; a
    half-applied candidate (fast 30, slow still 26) used to fail it."""
    from genesis_core import load_config, load_plugins
    from genesis_core.backtest.bot import apply_params

    examples = Path(__file__).resolve().parents[2] / "examples"
    config = load_config(examples / "paper-demo.yaml", load_plugins())
    both = apply_params(config, {"strategies.ema_rsi.fast": 30, "strategies.ema_rsi.slow": 50})
    params = both.strategies[0].params
    assert (30, 50) == (params.fast, params.slow)
    with pytest.raises(ConfigError) as bad:
        apply_params(config, {"strategies.ema_rsi.fast": 30, "strategies.ema_rsi.slow": 20})
    assert str(bad.value).startswith(
        "backtest.optimize.params.strategies.ema_rsi: fast=30, slow=20: ")


def test_config_check_locates_search_mistakes(tmp_path: Path) -> None:
    from genesis_core import load_config, load_plugins

    examples = Path(__file__).resolve().parents[2] / "examples"
    text = (examples / "paper-demo.yaml").read_text()
    broken = text.replace("{range: [6, 14, 4]}", "{range: [6, 14, 0]}").replace(
        "risk.fixed_fraction.fraction", "risk.fixed_fraction.fractoin")
    assert broken != text
    bot = tmp_path / "bot.yaml"
    bot.write_text(broken)
    lines = {n for n, line in enumerate(broken.splitlines(), 1) if "range: [6, 14, 0]" in line
             or "fractoin" in line}
    with pytest.raises(ConfigError) as bad:
        load_config(bot, load_plugins())
    assert bad.value.errors == [
        "backtest.optimize.params.strategies.ema_rsi.fast: range step must be > 0, got 0 "
        f"({bot}:{min(lines)})",
        "backtest.optimize.params.risk.fixed_fraction.fractoin: fixed_fraction has no "
        f"parameter 'fractoin' ({bot}:{max(lines)})"]

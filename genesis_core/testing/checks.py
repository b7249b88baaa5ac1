"""Strategy checks: ``from genesis_core.testing import check_strategy``.

The strategy checks are what the runtime's live == backtest promise rests on:

* **no look-ahead**: the signals up to bar *t* never change when bars after *t* are appended;
* **live parity**: feeding candles one at a time (what the live runner does, through
  ``Strategy.latest``) yields exactly the batch signals;
* **determinism**: the same candles give the same signals, twice, from fresh instances.
"""

from __future__ import annotations

from collections.abc import Callable

from genesis_core.contracts import Strategy
from genesis_core.models import Candles, Signal


def _upto(signals: list[Signal], close_ms: int) -> list[Signal]:
    return [s for s in signals if s.timestamp <= close_ms]


def check_no_lookahead(strategy: Strategy, candles: Candles, *, cuts: int = 20) -> None:
    """Assert signals up to each of ``cuts`` cut points are unchanged by the bars after it."""
    full = strategy.generate(candles)
    n = len(candles)
    for cut in sorted({max(1, n * k // cuts) for k in range(1, cuts + 1)}):
        prefix = strategy.generate(candles[:cut])
        expected = _upto(full, candles.close_time(cut - 1))
        if prefix != expected:
            raise AssertionError(
                f"{strategy.name}: look-ahead: signals up to bar {cut - 1} differ when later "
                f"bars are present ({len(prefix)} vs {len(expected)} signals)")


def check_live_parity(strategy: Strategy, candles: Candles, *, start: int = 0) -> None:
    """Assert that bar-by-bar evaluation (the live path) reproduces the batch signals."""
    batch = [s for s in strategy.generate(candles) if s.timestamp > candles.close_time(start)]
    live: list[Signal] = []
    for t in range(start + 1, len(candles)):
        close_ms = candles.close_time(t)
        prefix = candles[: t + 1]
        expected = [s for s in strategy.generate(prefix) if s.timestamp == close_ms]
        got = strategy.latest(prefix)
        if got != expected:
            raise AssertionError(f"{strategy.name}: latest() at bar {t} gave {len(got)} "
                                 f"signal(s), generate() stamps {len(expected)} at that close")
        live += got
    if live != batch:
        raise AssertionError(f"{strategy.name}: live (bar by bar) gave {len(live)} signals, "
                             f"batch gave {len(batch)}")


def check_determinism(make: Callable[[], Strategy], candles: Candles) -> None:
    """Assert two fresh instances give identical signals on the same candles."""
    if make().generate(candles) != make().generate(candles):
        raise AssertionError("strategy is not deterministic")


def check_strategy(make: Callable[[], Strategy], candles: Candles, *, live_start: int = 0) -> None:
    """Run all three checks; ``make`` builds a fresh, configured strategy."""
    check_determinism(make, candles)
    check_no_lookahead(make(), candles)
    check_live_parity(make(), candles, start=live_start)



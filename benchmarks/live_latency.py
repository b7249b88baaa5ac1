"""Candle close → order submitted, through the real runner with the paper executor.

Runs the bundled demo candles through ``genesis_core.runtime.Bot`` with a strategy that acts on
every bar (so every bar produces an order), the demo's risk chain and the paper executor, and
prints p50/p99/max of the latency from receiving a closed candle to the executor accepting the
order. Target: p99 below 5 ms in process.

    .venv/bin/python benchmarks/live_latency.py [--bars-history N] [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
from pathlib import Path

import anyio
import attrs

from genesis_core import Candles, Signal, Strategy, doc, hookimpl, load_config, load_plugins
from genesis_core.runtime import Bot


ROOT = Path(__file__).resolve().parents[1]


@attrs.frozen
class FlipParams:
    period: int = doc("EMA period evaluated on every bar (realistic work).", default=20)


class Flip(Strategy):
    """Alternates BUY and SELL on every bar, after computing an EMA over the whole history."""

    name = "flip"
    Params = FlipParams

    def generate(self, candles: Candles) -> list[Signal]:
        from genesis_core.indicators import ema

        ema(candles.close, self.params.period)
        return [self._signal(candles, i) for i in range(len(candles))]

    def latest(self, candles: Candles) -> list[Signal]:
        # Live needs only the last bar's signal: the EMA over the whole history still runs.
        from genesis_core.indicators import ema

        ema(candles.close, self.params.period)
        return [self._signal(candles, len(candles) - 1)] if len(candles) else []

    def _signal(self, candles: Candles, i: int) -> Signal:
        return Signal.make(symbol=candles.symbol, timeframe=candles.timeframe,
                           side="BUY" if i % 2 else "SELL", confidence=0.9,
                           timestamp=candles.close_time(i), price=float(candles.close[i]),
                           strategy=self.name,
                           stop_loss=float(candles.close[i]) * 0.9 if i % 2 else None)


class FlipPlugin:
    __name__ = "flip_benchmark"

    @hookimpl
    def register_strategies(self, register):  # type: ignore[no-untyped-def]
        register(Flip)


BOT = """
name: latency
mode: paper
markets: [{symbol: BTCUSD, timeframes: [1h]}]
data_source:
  plugin: replay
  params: {files: [{symbol: BTCUSD, timeframe: 1h, path: %s}]}
executor: {plugin: paper}
strategies: [{plugin: flip}]
consensus: {min_score: 0.5}
risk:
  - {plugin: kill_switch}
  - {plugin: max_open_positions}
  - {plugin: fixed_fraction, params: {fraction: "0.1"}}
notifiers: [{plugin: console, params: {min_severity: critical}}]
"""


def run_once(config_path: Path) -> list[float]:
    config_path.with_name("genesis.db").unlink(missing_ok=True)
    plugins = load_plugins(extra=[FlipPlugin()])
    bot = Bot(load_config(config_path, plugins), plugins, out=io.StringIO(), quiet=True)
    anyio.run(bot.run)
    return list(bot.latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = ROOT / "examples" / "data" / "bitfinex_BTCUSD_1h.csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bot.yaml"
        path.write_text(BOT % data)
        run_once(path)  # warm-up: numba compile and imports
        samples: list[float] = []
        for _ in range(args.runs):
            samples += run_once(path)
    ms = sorted(s * 1000 for s in samples)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"candle close -> order submitted, {len(ms)} orders over {args.runs} runs of "
          f"{Candles.from_csv(data).timestamp.size} bars")
    print(f"  p50 {p50:.3f} ms   p99 {p99:.3f} ms   max {ms[-1]:.3f} ms   (target p99 < 5 ms)")


if __name__ == "__main__":
    main()

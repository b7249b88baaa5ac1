"""Warm-up history before a market's first live bar, through `genesis run`, with a data source
plugin loaded from a folder. (The Bitfinex simulator test covers a real venue and restarts.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from genesis_core.cli import main
from genesis_core.storage import Store


T0 = 1_699_920_000_000  # 2023-11-14T00:00Z
PLUGIN = '''
import attrs

from genesis_core import Candle, CandleClosed, Candles, DataError, DataSource, hookimpl


@attrs.frozen
class LiveParams:
    live_from: int
    bars: int = 5
    fail: bool = False


class Live(DataSource):
    """Five live 1m bars from live_from; history before them, or a failure."""

    name = "live"
    Params = LiveParams
    supports_history = True

    async def history(self, symbol, timeframe, start_ms, end_ms):
        if self.params.fail:
            raise DataError("live: history endpoint down")
        rows = [(t, 100, 110, 99, 100 + (t // 60_000) % 7, 1)
                for t in range(start_ms, end_ms, 60_000)]
        return Candles.from_rows(rows, symbol=symbol, timeframe=timeframe)

    async def stream(self, markets):
        for k in range(self.params.bars):
            t = self.params.live_from + k * 60_000
            yield CandleClosed(markets[0].symbol, "1m", Candle(t, 100, 101, 99, 100, 1))


@hookimpl
def register_data_sources(register):
    register(Live)
'''
BOT = """
name: warm
mode: paper
markets: [{{symbol: BTCUSD, timeframes: [1m]}}]
data_source: {{plugin: live, params: {{live_from: {live_from}, fail: {fail}}}}}
executor: {{plugin: paper}}
strategies: [{{plugin: ema_rsi}}]
risk: [{{plugin: fixed_fraction}}]
trading: {{warmup_bars: 40}}
storage: {{path: state.db}}
"""


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *, fail: bool) -> str:
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "live_source.py").write_text(PLUGIN)
    bot = tmp_path / "bot.yaml"
    bot.write_text(BOT.format(live_from=T0, fail=str(fail).lower()))
    with pytest.raises(SystemExit) as exited:
        main(["--plugins-dir", str(plugins), "run", str(bot)])
    out, err = capsys.readouterr()
    assert 0 == exited.value.code, err
    return out


def test_a_fresh_bot_starts_with_warmup_bars_of_history(tmp_path, capsys) -> None:
    out = run(tmp_path, capsys, fail=False)
    assert "HISTORY BTCUSD 1m: 40 bar(s) of history loaded" in out
    assert "summary warm: 5 bars" in out  # history is not counted as bars processed
    with Store.open(tmp_path / "state.db") as store:
        stamps = list(store.load_candles("BTCUSD", "1m").timestamp)
    assert stamps == [T0 + k * 60_000 for k in range(-40, 5)]


def test_a_history_failure_alerts_and_the_bot_trades_on(tmp_path, capsys) -> None:
    out = run(tmp_path, capsys, fail=True)
    assert "summary warm: 5 bars" in out
    with Store.open(tmp_path / "state.db") as store:
        alerts = [a for a in store.load_alerts(limit=100) if a.rule == "history_gap"]
        stamps = list(store.load_candles("BTCUSD", "1m").timestamp)
    assert ["BTCUSD 1m: no history"] == [a.title for a in alerts]
    assert "history endpoint down" in alerts[0].message
    assert T0 == alerts[0].timestamp
    assert stamps == [T0 + k * 60_000 for k in range(5)]

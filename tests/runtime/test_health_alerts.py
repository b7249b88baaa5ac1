"""The runner turns connection statuses, a silent feed and large equity moves into alerts."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio

from genesis_core.config import load_config
from genesis_core.contracts import MarketEvent, MarketSpec
from genesis_core.default_plugins.replay import ReplaySource
from genesis_core.hookspecs import hookimpl
from genesis_core.models import ConnectionStatus, Health
from genesis_core.plugins import load_plugins
from genesis_core.runtime import Bot
from genesis_core.storage import Store
from genesis_core.testing import BUNDLED_CSV


class FlakyReplay(ReplaySource):
    """The bundled candles with a reconnect storm after bar 20 and a 1 s silence after 40."""

    name = "flaky_replay"

    async def stream(self, markets: Sequence[MarketSpec]) -> AsyncIterator[MarketEvent]:
        n = 0
        async for event in super().stream(markets):
            yield event
            n += 1
            if n == 20:
                for _ in range(5):
                    yield ConnectionStatus(self.name, Health.RECONNECTING, "code 1006")
                    yield ConnectionStatus(self.name, Health.CONNECTED)
                yield ConnectionStatus(self.name, Health.CIRCUIT_OPEN, "3 x 429")
            if n == 40:
                await anyio.sleep(1.0)


class FlakyPlugin:
    __name__ = "flaky_replay_plugin"

    @hookimpl
    def register_data_sources(self, register):  # type: ignore[no-untyped-def]
        register(FlakyReplay)


BOT = f"""
name: flaky
mode: paper
markets: [{{symbol: BTCUSD, timeframes: [1h], min_amount: "0.0001"}}]
data_source:
  plugin: flaky_replay
  params: {{files: [{{symbol: BTCUSD, timeframe: 1h, path: {BUNDLED_CSV}}}]}}
executor: {{plugin: paper}}
strategies: [{{plugin: ema_rsi}}]
risk: [{{plugin: fixed_fraction, params: {{fraction: "0.9"}}}}]
alerts:
  reconnect_storm: 5
  performance_change_pct: 2.0
  performance_window_minutes: 1440
  feed_stale_seconds: 1
"""


def test_statuses_silence_and_equity_moves_become_stored_alerts(tmp_path: Path) -> None:
    plugins = load_plugins(extra=[FlakyPlugin()])
    path = tmp_path / "bot.yaml"
    path.write_text(BOT + f"storage: {{path: {tmp_path / 'state.db'}}}\n")
    bot = Bot(load_config(path, plugins), plugins, out=io.StringIO(), quiet=True)
    bot.stale_after = lambda: 0.3  # the test cannot wait an hour-long bar
    anyio.run(bot.run)
    with Store.open(tmp_path / "state.db") as store:
        alerts = store.load_alerts(limit=10_000)
        health = [e for e in store.load_audit(limit=10_000) if e.kind == "health"]
    rules = [a.rule for a in alerts]
    assert "reconnect_storm" in rules
    assert rules.count("reconnect_storm") == 1
    assert "reconnected" in rules
    assert "circuit_open" in rules
    assert "feed_stale" in rules
    assert "performance_change" in rules
    assert len(health) == 11  # every status is in the audit log
    counted = [s.value for m in bot.metrics.registry.collect() for s in m.samples
               if s.name == "genesis_reconnects_total"]
    assert counted == [5.0]

"""Building blocks for plugin authors' tests: real candles, a paper run, a notifier sink."""

from __future__ import annotations

import io
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import anyio

from genesis_core.config import load_config
from genesis_core.contracts import Notifier
from genesis_core.hookspecs import hookimpl
from genesis_core.models import Alert, Candles
from genesis_core.plugins import load_plugins


DATA = Path(__file__).resolve().parent / "data"
BUNDLED_CSV = DATA / "bitfinex_BTCUSD_1h.csv"


def bundled_candles() -> Candles:
    """733 real Bitfinex BTCUSD 1h bars (October 2013, gaps kept), shipped with genesis-core."""
    return Candles.from_csv(BUNDLED_CSV, symbol="BTCUSD", timeframe="1h")


class RecordingNotifier(Notifier):
    """Keeps every alert it is sent in ``RecordingNotifier.received`` (class-wide)."""

    name = "recording"
    received: list[Alert] = []  # noqa: RUF012 - shared on purpose: tests read it after a run

    async def notify(self, alert: Alert) -> None:
        RecordingNotifier.received.append(alert)


class RecordingPlugin:
    """Registers :class:`RecordingNotifier`; hand it to ``load_plugins(extra=[...])``."""

    __name__ = "genesis_testing_recording"

    @hookimpl
    def register_notifiers(self, register: Any) -> None:
        register(RecordingNotifier)


PAPER_BOT = """
name: {name}
mode: paper
markets: [{{symbol: BTCUSD, timeframes: [1h]}}]
data_source:
  plugin: replay
  params: {{files: [{{symbol: BTCUSD, timeframe: 1h, path: {csv}}}]}}
executor: {{plugin: paper}}
storage: {{path: {db}}}
"""


def paper_config(body: str, *, name: str = "test-bot", db: str | Path = "state.db") -> str:
    """A complete paper bot on the bundled candles: ``body`` adds strategies, risk, etc."""
    return PAPER_BOT.format(name=name, csv=BUNDLED_CSV, db=db) + textwrap.dedent(body)


def run_paper(body: str, *, extra: tuple[object, ...] = (), name: str = "test-bot") -> Any:
    """Run a paper bot on the bundled candles through the real runner; return the ``Bot``
    (``bot.summary()``, ``bot.orders``, ``bot.ledger``) with the log in ``bot.log``."""
    from genesis_core.runtime import Bot

    RecordingNotifier.received = []
    plugins = load_plugins(extra=[RecordingPlugin(), *extra])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bot.yaml"
        path.write_text(paper_config(body, name=name))
        out = io.StringIO()
        bot = Bot(load_config(path, plugins), plugins, out=out)
        anyio.run(bot.run)
    bot.log = out.getvalue()
    return bot

"""Submits and cancels that fail in transit never stop the bot, lose or duplicate an order.

``FlakyPaper`` is the paper venue with a bad connection: some submits reach the venue but the
answer is lost, some never arrive, some cancels fail. The order path settles them by client
id on the next market event, with the crash-recovery rules.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import anyio
import pytest

from genesis_core.config import load_config
from genesis_core.default_plugins.paper import PaperExecutor
from genesis_core.hookspecs import hookimpl
from genesis_core.models import Order, OrderRequest, OrderStatus
from genesis_core.plugins import load_plugins
from genesis_core.runtime import Bot
from genesis_core.runtime.orders import LOST
from genesis_core.storage import Store
from genesis_core.testing import BUNDLED_CSV


class FlakyPaper(PaperExecutor):
    name = "flaky_paper"
    mode = "ok"  # set per test: "answer_lost" | "never_arrives"
    sent: Counter[str] = Counter()  # noqa: RUF012 - the venue's view, read by the tests
    submits = 0
    cancels = 0

    async def submit(self, request: OrderRequest) -> Order:
        cls = FlakyPaper
        cls.submits += 1
        entry = request.parent_id is None and not request.reduce_only
        if cls.mode == "never_arrives" and entry and cls.submits % 4 == 1:
            raise ConnectionError("connection reset before the request was sent")
        fresh = request.client_order_id not in self._orders
        order = await super().submit(request)
        if fresh:
            cls.sent[request.client_order_id] += 1
        if cls.mode == "answer_lost" and cls.submits % 3 == 0:
            raise TimeoutError("the answer was lost")
        return order

    async def cancel(self, client_order_id: str) -> Order:
        FlakyPaper.cancels += 1
        if FlakyPaper.mode == "never_arrives" and FlakyPaper.cancels % 2 == 1:
            raise ConnectionError("cancel timed out")
        return await super().cancel(client_order_id)


class FlakyPlugin:
    __name__ = "flaky_paper_plugin"

    @hookimpl
    def register_executors(self, register):  # type: ignore[no-untyped-def]
        register(FlakyPaper)


BOT = f"""
name: transit
mode: paper
markets: [{{symbol: BTCUSD, timeframes: [1h], min_amount: "0.0001"}}]
data_source:
  plugin: replay
  params: {{files: [{{symbol: BTCUSD, timeframe: 1h, path: {BUNDLED_CSV}}}]}}
executor: {{plugin: EXECUTOR}}
strategies: [{{plugin: ema_rsi}}, {{plugin: fvg}}]
consensus: {{min_score: 0.35, fresh_bars: 6}}
risk:
  - {{plugin: stops}}
  - {{plugin: fixed_fraction, params: {{fraction: "0.1"}}}}
"""


def _run(tmp: Path, executor: str, mode: str) -> tuple[Bot, list]:
    FlakyPaper.mode, FlakyPaper.submits, FlakyPaper.cancels = mode, 0, 0
    FlakyPaper.sent = Counter()
    plugins = load_plugins(extra=[FlakyPlugin()])
    path = tmp / f"{executor}-{mode}.yaml"
    path.write_text(BOT.replace("EXECUTOR", executor)
                    + f"storage: {{path: {tmp / (path.stem + '.db')}}}\n")
    bot = Bot(load_config(path, plugins), plugins, out=io.StringIO(), quiet=True)
    anyio.run(bot.run)
    with Store.open(tmp / (path.stem + ".db")) as store:
        fills = store.load_fills()
    return bot, fills


def test_lost_answers_change_nothing_but_the_timing(tmp_path: Path) -> None:
    clean, clean_fills = _run(tmp_path, "paper", "ok")
    flaky, flaky_fills = _run(tmp_path, "flaky_paper", "answer_lost")
    assert FlakyPaper.submits >= 30  # every third answer was lost
    assert set(FlakyPaper.sent.values()) == {1}  # each client id reached the venue once
    key = [(f.timestamp, f.side, f.amount, f.price, f.fee) for f in clean_fills]
    assert key == [(f.timestamp, f.side, f.amount, f.price, f.fee) for f in flaky_fills]
    assert flaky.ledger.equity() == clean.ledger.equity()
    assert not flaky.orders.unsettled
    assert not any(o.status is OrderStatus.REJECTED for o in flaky.orders.orders.values())
    with Store.open(tmp_path / "flaky_paper-answer_lost.db") as store:
        unknown = [e for e in store.load_audit(limit=100_000) if e.kind == "order"]
    assert len(unknown) == FlakyPaper.submits // 3  # each lost answer was noticed and settled


def test_entries_that_never_arrive_are_lost_not_placed_late(tmp_path: Path) -> None:
    bot, fills = _run(tmp_path, "flaky_paper", "never_arrives")
    assert set(FlakyPaper.sent.values()) == {1}
    lost = [o for o in bot.orders.orders.values() if o.reason == LOST]
    assert lost, "some entries never reached the venue"
    assert all(o.request.parent_id is None for o in lost)
    assert all(o.client_order_id not in FlakyPaper.sent for o in lost)
    assert FlakyPaper.cancels >= 2  # failed cancels were retried
    assert not bot.orders.cancels_due
    assert not bot.orders.unsettled
    # every order the venue holds ended the run in the state the bot recorded for it
    venue = bot.c.executor._orders
    for cid, order in venue.items():
        assert bot.orders.orders[cid].status is order.status, cid
    assert fills, "the bot kept trading"
    with Store.open(tmp_path / "flaky_paper-never_arrives.db") as store:
        rules = {a.rule for a in store.load_alerts(limit=10_000)}
    assert "order_unknown" in rules


@pytest.fixture(autouse=True)
def _reset() -> None:
    FlakyPaper.mode = "ok"

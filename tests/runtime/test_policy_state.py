"""RiskPolicy.state()/restore(): what a policy decided in check() comes back after a restart."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, ClassVar

import anyio

from genesis_core import (
    PortfolioSnapshot,
    RiskDecision,
    RiskPolicy,
    TradeIntent,
    hookimpl,
    load_config,
    load_plugins,
)
from genesis_core.runtime import Bot
from genesis_core.storage import Store


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Counting(RiskPolicy):
    """Approves everything; keeps how many intents it judged (state only check() builds)."""

    name = "counting"
    restored: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.checks = 0

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        self.checks += 1
        return RiskDecision.approve(self.name, f"check {self.checks}")

    def state(self) -> dict[str, Any]:
        return {"checks": self.checks}

    def restore(self, state: Any) -> None:
        Counting.restored.append(dict(state))
        self.checks = state["checks"]


class Plugin:
    __name__ = "policy_state_test"

    @hookimpl
    def register_risk_policies(self, register):
        register(Counting)


def run(path: Path) -> Bot:
    plugins = load_plugins(extra=[Plugin()])
    bot = Bot(load_config(path, plugins), plugins, out=io.StringIO())
    anyio.run(bot.run)
    return bot


def test_policy_state_is_checkpointed_and_restored(tmp_path: Path) -> None:
    text = (EXAMPLES / "paper-demo.yaml").read_text()
    path = tmp_path / "bot.yaml"
    path.write_text(text.replace("path: data/", f"path: {EXAMPLES}/data/").replace(
        '    params: {fraction: "0.10"}\n',
        '    params: {fraction: "0.10"}\n  - plugin: counting\n'))
    first = run(path)
    counting = next(p for p in first.c.risk if isinstance(p, Counting))
    assert counting.checks > 0
    with Store.open(tmp_path / "paper-demo.db") as store:
        saved = store.load_runtime("checkpoint")
    assert {"3:counting": {"checks": counting.checks}} == json.loads(json.dumps(saved["risk"]))
    Counting.restored.clear()
    second = run(path)  # resumes from the database: nothing left to replay
    assert [{"checks": counting.checks}] == Counting.restored
    assert counting.checks == next(p for p in second.c.risk if isinstance(p, Counting)).checks

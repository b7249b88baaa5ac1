"""Paper and backtest agree trade-for-trade and decision-for-decision on the same bot file.

The paper run goes through the real runner (replay feed, paper executor, order path with
emulated brackets, Decimal ledger); the backtest through the compiled simulator with the same
strategies, consensus and risk policies. Fills must match in time, side, amount and price,
the risk chain must take the same decision with the same reason for every signal, and final
equity must agree to 1e-9.
"""

from __future__ import annotations

import io
import textwrap
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from genesis_core.backtest.bot import backtest_bot
from genesis_core.config import load_config
from genesis_core.default_plugins.paper import PaperExecutor
from genesis_core.hookspecs import hookimpl
from genesis_core.models import RiskAction
from genesis_core.plugins import load_plugins
from genesis_core.runtime import Bot
from genesis_core.storage import Store


ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"

DEMO = (ROOT / "examples" / "paper-demo.yaml").read_text().replace(
    "data/bitfinex_BTCUSD_1h.csv", str(ROOT / "examples" / "data" / "bitfinex_BTCUSD_1h.csv"))

# Stateful policies: cooldowns and loss streaks from fills, daily loss from day-start equity,
# drawdown scaling from the peak, ATR stops and sizing, exposure caps, confidence bands.
STATEFUL = f"""
name: parity-stateful
mode: paper
markets: [{{symbol: ETHUSDT, timeframes: [1h], min_amount: "0.001", amount_decimals: 4}}]
data_source:
  plugin: replay
  params: {{files: [{{symbol: ETHUSDT, timeframe: 1h, path: {SHARED / "binance_ETHUSDT_1h.csv"}}}]}}
executor:
  plugin: paper
  params: {{initial_cash: "25000", taker_fee_bps: 10, maker_fee_bps: 2, slippage_bps: 3}}
strategies:
  - plugin: ema_rsi
    params: {{fast: 9, slow: 21, rsi_period: 14}}
risk:
  - plugin: kill_switch
    params: {{max_consecutive_losses: 12}}
  - plugin: confidence_bands
    params: {{auto_above: 0.5, confirm_from: 0.45}}
  - plugin: cooldown
    params: {{minutes: 180, after_stop_minutes: 720}}
  - plugin: max_daily_loss
    params: {{max_loss_pct: "0.02"}}
  - plugin: volatility_filter
    params: {{max_atr_pct: 1.2}}
  - plugin: stops
    params: {{mode: atr, atr_multiple: "2", take_profit_ratio: "2", keep_strategy_stops: false}}
  - plugin: risk_per_trade
    params: {{risk_fraction: "0.01", max_fraction: "0.5"}}
  - plugin: drawdown_guard
    params: {{start_pct: "0.02", halt_pct: "0.12", min_scale: "0.3"}}
  - plugin: exposure_cap
    params: {{max_symbol_pct: "0.4"}}
"""


# Two symbols sharing one cash balance, one position at a time: which entry wins on a bar
# where both signal, and what the second decision sees, must match. 4,000 5-minute bars of
# real Binance BTCUSDT and ETHUSDT (with their outage gaps).
MULTI = """
name: parity-multi
mode: paper
markets:
  - {{symbol: BTCUSDT, timeframes: [5m], min_amount: "0.0001", amount_decimals: 5}}
  - {{symbol: ETHUSDT, timeframes: [5m], min_amount: "0.001", amount_decimals: 4}}
data_source:
  plugin: replay
  params:
    files:
      - {{symbol: BTCUSDT, timeframe: 5m, path: {tmp}/BTCUSDT.csv}}
      - {{symbol: ETHUSDT, timeframe: 5m, path: {tmp}/ETHUSDT.csv}}
executor: {{plugin: paper, params: {{initial_cash: "20000", taker_fee_bps: 10, slippage_bps: 2}}}}
strategies:
  - plugin: ema_rsi
    params: {{fast: 9, slow: 21}}
risk:
  - plugin: max_open_positions
    params: {{max_positions: 1}}
  - plugin: correlation_guard
  - plugin: stops
    params: {{mode: atr}}
  - plugin: fixed_fraction
    params: {{fraction: "0.4"}}
  - plugin: drawdown_guard
    params: {{start_pct: "0.01", halt_pct: "0.2"}}
"""


def _multi(tmp: Path) -> str:
    for symbol in ("BTCUSDT", "ETHUSDT"):
        lines = (SHARED / f"binance_{symbol}_5m.csv").read_text().splitlines()[:4001]
        (tmp / f"{symbol}.csv").write_text("\n".join(lines) + "\n")
    return MULTI.format(tmp=tmp)


class FillRecorder:
    def __init__(self) -> None:
        self.fills: list = []

    @hookimpl
    def fill_received(self, config, fill):  # type: ignore[no-untyped-def]
        self.fills.append(fill)


def _paper(text: str, tmp: Path):
    recorder = FillRecorder()
    plugins = load_plugins(extra=[recorder])
    path = tmp / "bot.yaml"
    path.write_text(text.replace("storage:\n  path: paper-demo.db", "")
                    + f"\nstorage: {{path: {tmp / 'state.db'}}}\n")
    config = load_config(path, plugins)
    bot = Bot(config, plugins, out=io.StringIO(), quiet=True)
    anyio.run(bot.run)
    with Store.open(tmp / "state.db") as store:
        risk = [(e.subject, e.message) for e in store.load_audit(limit=1_000_000)
                if e.kind == "risk"]
    return config, plugins, bot, recorder.fills, risk


def _backtest_fills(bt) -> list[tuple]:
    ts = bt.bars.timestamp
    out = []
    for r in bt.result.trades.records():
        buy = r["side"] > 0
        out.append((int(ts[r["entry_bar"]]), "BUY" if buy else "SELL", r["amount"],
                    r["entry_price"], r["entry_fee"]))
        if r["reason"] != "end":
            out.append((int(ts[r["exit_bar"]]), "SELL" if buy else "BUY", r["amount"],
                        r["exit_price"], r["exit_fee"]))
    return sorted(out, key=lambda f: f[0])


@pytest.mark.parametrize("text", [DEMO, STATEFUL, MULTI], ids=["demo", "stateful", "multi"])
def test_paper_and_backtest_agree_trade_for_trade(text: str, tmp_path: Path) -> None:
    if "ETHUSDT" in text and not SHARED.exists():
        pytest.skip("../shared/data is not beside the repository")
    if text is MULTI:
        text = _multi(tmp_path)
    config, plugins, bot, fills, risk = _paper(text, tmp_path)
    bt = backtest_bot(config, plugins)

    expected = _backtest_fills(bt)
    assert len(fills) >= 20, "the scenario must trade enough to mean something"
    assert len(fills) == len(expected)
    for got, (ts, side, amount, price, fee) in zip(fills, expected, strict=True):
        assert (got.timestamp, got.side.value) == (ts, side)
        assert got.amount == Decimal(repr(amount))
        assert float(got.price) == pytest.approx(price, rel=1e-12)
        assert float(got.fee) == pytest.approx(fee, rel=1e-9)

    decided = [(d.signal.id, f"{d.action.value}: {d.reason}") for d in bt.decisions]
    assert [sid for sid, _ in risk] == [sid for sid, _ in decided]
    for (_, live), (_, back) in zip(risk, decided, strict=True):
        if back.startswith("CONFIRM: "):  # paper waits for a human; the backtest refuses
            assert back.startswith(live)
        else:
            assert live == back
    assert float(bot.ledger.equity()) == pytest.approx(bt.result.final_equity, rel=1e-9)


def test_stateful_scenario_exercises_the_policies(tmp_path: Path) -> None:
    if not SHARED.exists():
        pytest.skip("../shared/data is not beside the repository")
    plugins = load_plugins()
    path = tmp_path / "bot.yaml"
    path.write_text(textwrap.dedent(STATEFUL))
    bt = backtest_bot(load_config(path, plugins), plugins)
    reasons = " ".join(d.reason for d in bt.decisions if d.action is not RiskAction.APPROVE)
    for policy in ("cooldown", "confidence_bands", "volatility_filter"):
        assert f"{policy}:" in reasons, policy
    assert any(d.action is RiskAction.APPROVE for d in bt.decisions)


def test_per_strategy_breakdown_attributes_every_trade_to_the_leading_vote(
        tmp_path: Path) -> None:
    plugins = load_plugins()
    path = tmp_path / "bot.yaml"
    path.write_text(DEMO)
    run = backtest_bot(load_config(path, plugins), plugins)
    per = run.per_strategy()
    assert set(per) == {"ema_rsi@1h", "fvg@1h"}  # both strategies led some trades
    assert sum(s.trades for s in per.values()) == len(run.result.trades)
    total = sum(s.net_profit for s in per.values())
    assert total == pytest.approx(float(run.result.trades.net_pnl.sum()), rel=1e-12)


class SpotPaper(PaperExecutor):
    """A paper venue for a spot account: nothing can be sold short."""

    name = "spot_paper"

    def can_short(self) -> bool:
        return False


class SpotPlugin:
    __name__ = "spot_paper_plugin"

    @hookimpl
    def register_executors(self, register):  # type: ignore[no-untyped-def]
        register(SpotPaper)


def test_a_spot_executor_never_opens_shorts_in_paper_or_backtest(tmp_path: Path) -> None:
    recorder = FillRecorder()
    plugins = load_plugins(extra=[recorder, SpotPlugin()])
    path = tmp_path / "bot.yaml"
    path.write_text(DEMO.replace("plugin: paper", "plugin: spot_paper")
                    .replace("storage:\n  path: paper-demo.db", "")
                    + f"\nstorage: {{path: {tmp_path / 'state.db'}}}\n")
    config = load_config(path, plugins)
    bot = Bot(config, plugins, out=io.StringIO(), quiet=True)
    anyio.run(bot.run)
    held = Decimal(0)
    for fill in recorder.fills:
        held += fill.side.sign * fill.amount
        assert held >= 0, "a short was opened"
    run = backtest_bot(config, plugins)
    assert (run.result.trades.side > 0).all()
    assert [(f.timestamp, f.side.value) for f in recorder.fills] == [
        (t, s) for t, s, *_ in _backtest_fills(run)]
    refused = [d for d in run.decisions if "cannot short" in d.reason]
    assert refused, "the demo's SELL signals were refused as entries"

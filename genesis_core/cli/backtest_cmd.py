"""``genesis backtest``: the same bot file, replayed over history by the compiled simulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import click

from genesis_core.errors import ConfigError, GenesisError


SEARCH_COLUMNS = ("total_return", "max_drawdown", "trades", "win_rate", "profit_factor")


class _RunByDefault(click.Group):
    """``genesis backtest FILE`` runs a backtest; ``genesis backtest list|compare`` query runs."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunByDefault)
def backtest() -> None:
    """Backtest a bot file on historical candles (`genesis backtest FILE`), or list and
    compare stored runs (`genesis backtest list`, `genesis backtest compare 3 4`)."""


def parse_time(value: str | None, where: str, origin: str = "") -> int | None:
    """ISO date/time (UTC unless it says otherwise) or epoch milliseconds → ms."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError([f"{where}: {value!r} is not an ISO date/time or epoch ms"
                           f"{origin}"]) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _beside(config_file: str, path: Path) -> Path:
    return path if path.is_absolute() else Path(config_file).resolve().parent / path


def _make_folder(folder: Path, where: str) -> None:
    # A file in the way was "failed: FileExistsError" (exit 1), naming neither key nor file.
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = "a file is in the way" if isinstance(exc, FileExistsError) else exc.strerror
        raise ConfigError([f"{where}: cannot create folder {folder}: {why or exc}"]) from None


@backtest.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--start", help="First bar (ISO date/time UTC, or epoch ms); overrides the file.")
@click.option("--end", help="End of the period, exclusive; overrides the file.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON only.")
@click.option("--no-cache", is_flag=True, help="Simulate even if an identical run is stored.")
@click.option("--no-report", is_flag=True, help="Do not write the HTML report and trade CSV.")
@click.option("--monte-carlo", is_flag=True, help="Resample the trades (backtest.monte_carlo).")
@click.option("--optimize", is_flag=True, help="Run the parameter search (backtest.optimize).")
@click.option("--walk-forward", is_flag=True,
              help="Walk-forward analysis of the search (backtest.walk_forward).")
@click.option("--secrets-file", type=click.Path(dir_okay=False), envvar="GENESIS_SECRETS_FILE",
              help="KEY=VALUE file for ${KEY} references (default: $GENESIS_SECRETS_FILE).")
@click.pass_obj
def run(state: Any, file: str, start: str | None, end: str | None, as_json: bool,
        no_cache: bool, no_report: bool, monte_carlo: bool, optimize: bool,
        walk_forward: bool, secrets_file: str | None) -> None:
    """Backtest the bot described in FILE on historical candles."""
    from genesis_core.config import load_config

    plugins = state.plugins()
    config = load_config(file, plugins, secrets_file=secrets_file)
    # Name the option when the value came from the command line, not the file.
    start_ms = parse_time(start or config.backtest.start, "backtest.start",
                          " (from --start)" if start else f" ({file})") or 0
    end_ms = parse_time(end or config.backtest.end, "backtest.end",
                        " (from --end)" if end else f" ({file})")
    if end_ms is not None and end_ms <= start_ms:
        raise ConfigError([f"backtest.end {end or config.backtest.end} must be after "
                           f"backtest.start {start or config.backtest.start} ({file})"])
    if optimize or walk_forward:
        _research(state, file, config, start_ms, end_ms, walk_forward, as_json)
        return
    out = _single(config, plugins, file, start_ms, end_ms, no_cache, no_report, monte_carlo,
                  quiet=as_json)
    if as_json:
        click.echo(json.dumps(out, indent=2, allow_nan=False))


def _single(config: Any, plugins: Any, file: str, start_ms: int, end_ms: int | None,
            no_cache: bool, no_report: bool, monte_carlo: bool, *,
            quiet: bool) -> dict[str, Any]:
    from genesis_core.backtest import bot as bb
    from genesis_core.backtest.report import (
        summary_table,
        to_json,
        write_html,
        write_trades_csv,
    )
    from genesis_core.backtest.runs import RunStore
    from genesis_core.runtime.build import build

    components = build(config, plugins)
    candles = bb.load_history(components, start_ms, end_ms or bb.FAR_FUTURE,
                              cache=bb.candles_db(config, file))
    bars = bb.execution_bars(components, candles)
    key = bb.cache_key(config, plugins, candles)
    store_path = _beside(file, config.backtest.runs_db)
    _make_folder(store_path.parent, "backtest.runs_db")
    with RunStore.open(store_path) as store:
        run_id = None if no_cache else store.find(key)
        if run_id is not None:
            stored = store.load(run_id)
            result, meta = stored.result, dict(stored.meta)
            _say(f"served from cache: run #{run_id} in {store_path} (same config, data and "
                 "plugin versions; --no-cache to simulate again)", quiet)
        else:
            run = bb.backtest_bot(config, plugins, candles=candles)
            result = run.result
            meta = _meta(config, file, run)
            run_id = store.save(key, meta, result, to_json(result, result.metrics(), meta))
        metrics = result.metrics()
    meta["run_id"] = run_id
    doc = to_json(result, metrics, meta)
    if not quiet:
        click.echo(summary_table(result, metrics, title=f"backtest {config.name} (run "
                                                        f"#{run_id})"))
        click.echo(_per_strategy_table(meta.get("per_strategy") or {}))
    if not no_report:
        folder = _beside(file, config.backtest.report_dir)
        _make_folder(folder, "backtest.report_dir")
        html = write_html(folder / f"{config.name}-{run_id}.html", result, metrics, bars, meta)
        csv = write_trades_csv(result, folder / f"{config.name}-{run_id}-trades.csv")
        doc["report"] = {"html": str(html), "trades_csv": str(csv)}
        _say(f"report: {html}\ntrades: {csv}", quiet)
    if monte_carlo:
        doc["monte_carlo"] = _monte_carlo(config, result, quiet)
    return doc


def _meta(config: Any, file: str, run: Any) -> dict[str, Any]:
    from genesis_core.models import RiskAction

    decisions = run.decisions
    return {
        "bot": config.name,
        "config": str(Path(file).resolve()),
        "symbols": list(run.bars.symbols),
        "timeframe": run.bars.timeframe,
        "signals": len(run.signals),
        "approved": sum(d.action is RiskAction.APPROVE for d in decisions),
        "rejected": sum(d.action is RiskAction.REJECT for d in decisions),
        "needs_confirmation": sum(d.action is RiskAction.CONFIRM for d in decisions),
        "costs": {k: getattr(run.costs, k) for k in ("taker_fee_bps", "maker_fee_bps",
                                                     "slippage_bps")},
        "per_strategy": {k: attrs.asdict(v) for k, v in run.per_strategy().items()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _per_strategy_table(per: dict[str, Any]) -> str:
    from genesis_core.backtest.report import format_figure, text_table

    rows = [[name, str(s["trades"]), format_figure(s["win_rate"], "pct"),
             format_figure(s["net_profit"], "money"), format_figure(s["profit_factor"], "ratio")]
            for name, s in per.items()]
    head = ["leading vote", "trades", "win rate", "net profit", "profit factor"]
    return "\n".join(["", "Per strategy (the vote the consensus followed)",
                      "-" * 46, *text_table(rows, head, "lrrrr")])


def _monte_carlo(config: Any, result: Any, quiet: bool) -> dict[str, Any]:
    from genesis_core.backtest.montecarlo import monte_carlo, trade_returns

    mc = config.backtest.monte_carlo
    outcome = monte_carlo(trade_returns(result), runs=mc.runs, method=mc.method, seed=mc.seed)
    _say(outcome.table(), quiet)
    return {
        "method": outcome.method, "runs": outcome.runs, "trades": outcome.trades,
        "seed": outcome.seed,
        "final_return_percentiles": {f"p{k:g}": v for k, v in
                                     outcome.return_percentiles.items()},
        "max_drawdown_percentiles": {f"p{k:g}": v for k, v in
                                     outcome.drawdown_percentiles.items()},
        "observed_return": outcome.observed_return,
        "observed_drawdown": outcome.observed_drawdown,
        "mean_return": outcome.mean_return, "prob_loss": outcome.prob_loss,
    }


def _research(state: Any, file: str, config: Any, start_ms: int, end_ms: int | None,
              walk: bool, as_json: bool) -> None:
    from genesis_core.backtest import bot as bb
    from genesis_core.backtest.optimize import ParamSpace, search, walk_forward
    from genesis_core.backtest.report import jsonable

    spec = config.backtest.optimize
    if spec is None:
        raise ConfigError([f"backtest.optimize: not set in {file}; declare the parameters to "
                           "search (see docs/research.md)"])
    space = ParamSpace.from_mapping(spec.params, where="backtest.optimize.params")
    candidates = space.grid() if spec.method.value == "grid" else space.sample(spec.samples,
                                                                                 spec.seed)
    evaluate = bb.BotEvaluator(str(Path(file).resolve()), state.plugins_dir, state.disabled,
                               start_ms, end_ms or bb.FAR_FUTURE)
    if not walk:
        found = search(evaluate, candidates, objective=spec.objective, workers=spec.workers)
        if found.evaluations and len(found.errors) == len(found):
            # A table of nothing but errors is no result: say why, exit non-zero.
            raise GenesisError(f"backtest --optimize: every one of the {len(found)} candidates "
                               f"failed; the first: {found.errors[0].error}")
        if as_json:
            click.echo(json.dumps(jsonable(found.records()), indent=2, allow_nan=False))
        else:
            metric = spec.objective.lstrip("-")
            shown = [metric, *(c for c in SEARCH_COLUMNS if c != metric)]
            click.echo(found.table(top=20, columns=shown))
        return
    wf = config.backtest.walk_forward
    if wf is None:
        raise ConfigError([f"backtest.walk_forward: not set in {file}"])
    found = walk_forward(evaluate, candidates, n_bars=evaluate.n_bars(), train_bars=wf.train_bars,
                         test_bars=wf.test_bars, step_bars=wf.step_bars, anchored=wf.anchored,
                         objective=spec.objective, workers=spec.workers)
    failed = [e for w in found.windows for e in w.search.errors]
    if failed and len(failed) == sum(len(w.search) for w in found.windows):
        raise GenesisError(f"backtest --walk-forward: every candidate failed in every window; "
                           f"the first: {failed[0].error}")
    if as_json:
        click.echo(json.dumps(jsonable(attrs.asdict(found)), indent=2, allow_nan=False))
    else:
        click.echo(found.table())


def _say(text: str, quiet: bool) -> None:
    click.echo(text, err=quiet)


@backtest.command("list")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="Most recent runs shown.")
@click.pass_obj
def list_runs(state: Any, file: str, limit: int) -> None:
    """List the stored backtest runs of the bot in FILE."""
    from genesis_core.backtest.runs import RunStore
    from genesis_core.config import load_config

    config = load_config(file, state.plugins())
    with RunStore.open(_beside(file, config.backtest.runs_db)) as store:
        click.echo(store.list_table(limit=limit))


@backtest.command("compare")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("run_ids", nargs=-1, type=int, required=True)
@click.pass_obj
def compare(state: Any, file: str, run_ids: tuple[int, ...]) -> None:
    """Compare stored runs of the bot in FILE side by side."""
    from genesis_core.backtest.runs import RunStore
    from genesis_core.config import load_config

    config = load_config(file, state.plugins())
    with RunStore.open(_beside(file, config.backtest.runs_db)) as store:
        click.echo(store.compare(list(run_ids)))

"""``genesis data``: download candle history into the cache, import/export CSV, list gaps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from genesis_core.errors import ConfigError, GenesisError
from genesis_core.models import format_ts


if TYPE_CHECKING:
    from genesis_core.contracts import DataSource
    from genesis_core.history import CandleCache, DownloadResult
    from genesis_core.plugins import Plugins

# genesis_core.history.DEFAULT_PATH; not imported so that the CLI starts without sqlite-utils.
DEFAULT_DB = "genesis-data.db"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(text: str) -> int:
    """``2024-01-01``, ``2024-01-01T12:00``, ``...Z`` or ``...+02:00`` (naive means UTC), or ms
    since the epoch, to ms UTC."""
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)  # exact, unlike float seconds


class _Time(click.ParamType):
    name = "DATE|MS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_time(str(value))
        except ValueError:
            self.fail(f"expected an ISO date such as 2024-01-01 or 2024-01-01T12:00Z, or ms "
                      f"since the epoch, got {value!r}", param, ctx)


TIME = _Time()


def _check_timeframe(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # The bare "invalid timeframe '1hr'" named no option; one line, as the other data errors.
    from genesis_core.models.market import timeframe_ms

    if value is not None:
        try:
            timeframe_ms(value)
        except ValueError as exc:
            raise GenesisError(f"--timeframe: {exc}") from None
    return value


def _check_symbol(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise GenesisError("--symbol: must not be empty")
    return value


def _check_period(start: int | None, end: int | None) -> None:
    if start is not None and end is not None and end <= start:
        raise GenesisError(f"--end {format_ts(end)} must be after --start {format_ts(start)}")


_db = click.option("--db", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
                   help="The candle cache (SQLite file).")
_symbol = click.option("--symbol", required=True, callback=_check_symbol,
                       help="Symbol, as the data source names it.")
_timeframe = click.option("--timeframe", required=True, callback=_check_timeframe,
                          help="Bar length, e.g. 5m, 1h, 1D.")
_source = click.option("--source", "source", metavar="NAME",
                       help="Which cached source to use when several hold the series.")


def _open(db: str, *, must_exist: bool = False) -> CandleCache:
    from genesis_core.history import CandleCache, HistoryError

    if must_exist and not Path(db).exists():
        raise HistoryError(f"{db}: no candle cache here; `genesis data download` or "
                           "`genesis data import` first (or pass --db)")
    return CandleCache.open(db)


@click.group()
def data() -> None:
    """Candle history: download through any data source into a SQLite cache, import and
    export CSV, list gaps."""


# -- download --------------------------------------------------------------------------------

def _yaml_value(text: str) -> Any:
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    # Dates and the like stay text: only JSON-like values are meant.
    return value if isinstance(value, str | int | float | bool | list | dict | None) else text


def _param_tree(items: tuple[str, ...]) -> dict[str, Any]:
    """``a.b=1`` ... to ``{"a": {"b": 1}}``; values are YAML (``5``, ``false``, ``[1, 2]``)."""
    tree: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--param")
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise click.BadParameter(f"{key!r} nests under a value", param_hint="--param")
        node[leaf] = _yaml_value(value)
    return tree


def _source_from_params(plugins: Plugins, plugin: str, items: tuple[str, ...]) -> DataSource:
    from genesis_core.config.converter import flatten_errors, make_converter

    cls = plugins.registry.get("data_source", plugin).cls
    try:
        params = make_converter(Path.cwd()).structure(_param_tree(items), cls.Params)
    except Exception as exc:
        raise ConfigError([f"--param {'.'.join(map(str, path)) or plugin}: {message}"
                           for path, message in flatten_errors(exc)]) from None
    return cls(params)


def _from_config(plugins: Plugins, file: str) -> tuple[DataSource, list[tuple[str, str]]]:
    from genesis_core.config import load_config

    config = load_config(file, plugins)
    ref = config.data_source
    source = plugins.registry.get("data_source", ref.plugin).cls(ref.params)
    return source, [(m.symbol, tf) for m in config.markets for tf in m.timeframes]


async def _download_all(cache: CandleCache, source: DataSource, jobs: list[tuple[str, str]],
                        start: int, end: int | None, name: str | None,
                        chunk_bars: int) -> list[DownloadResult]:
    from genesis_core.history import download, print_progress

    try:
        return [await download(cache, source, symbol, timeframe, start, end, name=name,
                               chunk_bars=chunk_bars, progress=print_progress)
                for symbol, timeframe in jobs]
    finally:
        await source.aclose()


def _summary(cache: CandleCache, result: DownloadResult) -> str:
    head = f"{result.source} {result.symbol} {result.timeframe}"
    if result.window.start >= result.window.end:
        return f"{head}: no closed bars in the requested range"
    gaps = cache.gaps(result.symbol, result.timeframe, *result.window, source=result.source)
    step = _step(result.timeframe)
    fetched = (f"{result.chunks} chunks fetched, {_bars(result.bars)}" if result.chunks
               else "already cached, nothing fetched")
    return (f"{head}: {fetched}; [{format_ts(gaps.window.start)}, "
            f"{format_ts(gaps.window.end)}) holds {_bars(gaps.bars)}, "
            f"{len(gaps.venue)} venue gaps ({_bars(sum(s.bars(step) for s in gaps.venue))}), "
            f"{len(gaps.unfetched)} unfetched ranges")


def _bars(count: int) -> str:
    return f"{count} bar{'' if count == 1 else 's'}"


def _step(timeframe: str) -> int:
    from genesis_core.history import Grid

    return Grid.of(timeframe).step


@data.command()
@click.option("--source", "plugin", metavar="PLUGIN",
              help="Data source plugin, e.g. bitfinex (see `genesis plugins`).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A param of that data source; VALUE is YAML, dotted keys nest (repeatable).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), metavar="BOT.yaml",
              help="Use a bot file's data source and markets instead of --source.")
@click.option("--symbol", callback=_check_symbol,
              help="Symbol (required with --source; with --config, only this one).")
@click.option("--timeframe", callback=_check_timeframe,
              help="Bar length (required with --source; with --config, only this one).")
@click.option("--start", required=True, type=TIME, help="First bar's open time (inclusive).")
@click.option("--end", type=TIME, help="End of the range (exclusive); default: now.")
@click.option("--chunk-bars", default=5_000, show_default=True, type=click.IntRange(min=1),
              help="Bars per request to the data source and per committed chunk.")
@click.option("--cache-as", "name", metavar="NAME",
              help="Cache under this source name instead of the plugin's (e.g. to keep a "
                   "simulator's bars apart from the venue's).")
@_db
@click.pass_obj
def download(state: Any, plugin: str | None, params: tuple[str, ...], config_file: str | None,
             symbol: str | None, timeframe: str | None, start: int, end: int | None,
             chunk_bars: int, name: str | None, db: str) -> None:
    """Download candles through a data source into the cache, fetching only what is missing.

    Interrupted (Ctrl-C, a network failure)? Run the same command again: finished chunks
    are kept and only the rest is fetched.
    """
    import anyio

    if (plugin is None) == (config_file is None):
        raise click.UsageError("give either --source PLUGIN or --config BOT.yaml")
    if config_file is not None:
        if params:
            raise click.UsageError("--param goes with --source; a bot file has its own params")
        source, jobs = _from_config(state.plugins(), config_file)
        jobs = [(s, tf) for s, tf in jobs
                if symbol in (None, s) and timeframe in (None, tf)]
        if not jobs:
            raise GenesisError(f"{config_file}: no market matches --symbol/--timeframe")
    else:
        if symbol is None or timeframe is None:
            raise click.UsageError("--source needs --symbol and --timeframe")
        source, jobs = _source_from_params(state.plugins(), plugin, params), [(symbol, timeframe)]
    with _open(db) as cache:
        try:
            results = anyio.run(_download_all, cache, source, jobs, start, end, name, chunk_bars)
        except KeyboardInterrupt:
            click.echo("interrupted: finished chunks are stored; run the same command again "
                       "to resume", err=True)
            raise click.exceptions.Exit(130) from None
        for result in results:
            click.echo(_summary(cache, result))


# -- import / export -------------------------------------------------------------------------

@data.command("import")
@click.argument("csv_file", metavar="CSV", type=click.Path(dir_okay=False))
@_symbol
@_timeframe
@click.option("--source", default="csv", show_default=True, metavar="NAME",
              help="Source name to cache the bars under.")
@_db
def import_(csv_file: str, symbol: str, timeframe: str, source: str, db: str) -> None:
    """Import a CSV (timestamp_ms,open,high,low,close,volume) into the cache.

    The file's span counts as fetched: bars missing inside it are venue gaps.
    """
    with _open(db) as cache:
        count = cache.import_csv(csv_file, symbol, timeframe, source=source)
    click.echo(f"imported {count} bars of {symbol} {timeframe} from {csv_file} into {db} "
               f"(source {source})")


@data.command()
@click.argument("out", metavar="OUT.csv", type=click.Path(dir_okay=False))
@_symbol
@_timeframe
@click.option("--start", type=TIME, help="First open time to export (inclusive).")
@click.option("--end", type=TIME, help="End of the range (exclusive).")
@_source
@_db
def export(out: str, symbol: str, timeframe: str, start: int | None, end: int | None,
           source: str | None, db: str) -> None:
    """Export cached bars as CSV in the documented format (gaps stay missing)."""
    _check_period(start, end)
    with _open(db, must_exist=True) as cache:
        _check_source(cache, db, symbol, timeframe, source)
        count = cache.export_csv(symbol, timeframe, out, start, end, source=source)
    click.echo(f"exported {count} bars of {symbol} {timeframe} to {out}")


def _check_source(cache: CandleCache, db: str, symbol: str, timeframe: str,
                  source: str | None) -> None:
    # An unknown --source exported 0 bars, or listed an empty 1970 window, with exit code 0.
    if source is None:
        return
    cached = cache.sources(symbol, timeframe)
    if source not in cached:
        raise GenesisError(f"--source: no {symbol} {timeframe} candles from {source!r} in {db} "
                           f"(cached sources: {', '.join(cached) or 'none'})")


# -- gaps ------------------------------------------------------------------------------------

@data.command()
@_symbol
@_timeframe
@click.option("--start", type=TIME, help="Window start; default: the first fetched bar.")
@click.option("--end", type=TIME, help="Window end (exclusive); default: the end of coverage.")
@_source
@_db
@click.option("--json", "as_json", is_flag=True, help="Ranges as [start_ms, end_ms) pairs.")
def gaps(symbol: str, timeframe: str, start: int | None, end: int | None, source: str | None,
         db: str, as_json: bool) -> None:
    """List venue gaps (fetched, nothing published) and ranges never fetched."""
    _check_period(start, end)
    with _open(db, must_exist=True) as cache:
        _check_source(cache, db, symbol, timeframe, source)
        sources = [source] if source else cache.sources(symbol, timeframe)
        if not sources:
            cache.source_for(symbol, timeframe)  # raises the "nothing cached" error
        reports = [cache.gaps(symbol, timeframe, start, end, source=s) for s in sources]
    step = _step(timeframe)
    if as_json:
        click.echo(json.dumps([
            {"source": g.source, "symbol": symbol, "timeframe": timeframe,
             "window": list(g.window), "bars": g.bars,
             "venue_gaps": [list(s) for s in g.venue],
             "unfetched": [list(s) for s in g.unfetched]} for g in reports], indent=2))
        return
    for g in reports:
        click.echo(f"{g.source} {symbol} {timeframe}: [{format_ts(g.window.start)}, "
                   f"{format_ts(g.window.end)}) {_bars(g.bars)}, {len(g.venue)} venue gaps "
                   f"({_bars(sum(s.bars(step) for s in g.venue))}), {len(g.unfetched)} "
                   f"unfetched ranges ({_bars(sum(s.bars(step) for s in g.unfetched))})")
        rows = sorted([("venue gap", s) for s in g.venue] + [("unfetched", s)
                                                              for s in g.unfetched],
                      key=lambda row: row[1])
        for kind, span in rows:
            click.echo(f"  {kind:<9}  {format_ts(span.start)}  +{_bars(span.bars(step))}")

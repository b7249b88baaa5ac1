"""``genesis run``."""

from __future__ import annotations

import signal
from typing import Any

import anyio
import click

from genesis_core.errors import ConfigError


def _load(state: Any, path: str, secrets_file: str | None = None) -> Any:
    from genesis_core.config import load_config

    return load_config(path, state.plugins(), secrets_file=secrets_file)


async def _run_bot(bot: Any) -> None:
    async with anyio.create_task_group() as tg:

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    click.echo(f"received {signal.Signals(signum).name}, stopping cleanly",
                               err=True)
                    tg.cancel_scope.cancel()
                    return

        async def trade() -> None:
            await bot.run()
            tg.cancel_scope.cancel()

        tg.start_soon(stop_on_signal)
        tg.start_soon(trade)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--quiet", is_flag=True, help="Print only alerts and the final summary.")
@click.option("--fresh", is_flag=True,
              help="Delete the bot's state database first: start over instead of resuming.")
@click.option("--secrets-file", type=click.Path(dir_okay=False), envvar="GENESIS_SECRETS_FILE",
              help="KEY=VALUE file for ${KEY} references (default: $GENESIS_SECRETS_FILE).")
@click.pass_obj
def run(state: Any, file: str, quiet: bool, fresh: bool, secrets_file: str | None) -> None:
    """Run the bot described in FILE (live or paper, as its `mode` says).

    If its database holds a run (stopped, or killed), that run is resumed: positions, orders
    and brackets are taken back and reconciled with the executor by client order id.
    """
    from genesis_core.runtime import Bot

    config = _load(state, file, secrets_file)
    if config.mode.value == "backtest":
        raise ConfigError([f"mode: this bot is a backtest; use `genesis backtest {file}` "
                           f"({file})"])
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            stale = config.storage.path.with_name(config.storage.path.name + suffix)
            try:
                stale.unlink(missing_ok=True)
            except OSError as exc:  # a folder there: was "failed: IsADirectoryError", exit 1
                raise ConfigError([f"storage.path: --fresh cannot delete {stale}: "
                                   f"{exc.strerror or exc} ({file})"]) from None
    bot = Bot(config, state.plugins(), quiet=quiet)
    anyio.run(_run_bot, bot)
    bot.report.summary(bot.summary())

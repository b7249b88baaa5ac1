"""``genesis run`` and ``genesis backtest``."""

from __future__ import annotations

from typing import Any

import click

from genesis_core.errors import NotAvailableError


def _load(state: Any, path: str) -> Any:
    from genesis_core.config import load_config

    return load_config(path, state.plugins())


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_obj
def run(state: Any, file: str) -> None:
    """Run the bot described in FILE (live or paper, as its `mode` says)."""
    _load(state, file)
    raise NotAvailableError("`genesis run` needs the live runtime, which has not landed yet "
                            "(issue #6); the config is valid")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_obj
def backtest(state: Any, file: str) -> None:
    """Backtest the bot described in FILE on historical candles."""
    _load(state, file)
    raise NotAvailableError("`genesis backtest` needs the backtester, which has not landed yet "
                            "(issue #5); the config is valid")

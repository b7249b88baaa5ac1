"""``genesis backtest``: the same bot file, replayed over history by the compiled simulator."""

from __future__ import annotations

from typing import Any

import click

from genesis_core.errors import NotAvailableError


class _RunByDefault(click.Group):
    """``genesis backtest FILE`` runs a backtest; ``genesis backtest list|compare`` query runs."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunByDefault)
def backtest() -> None:
    """Backtest a bot file on historical candles (`genesis backtest FILE`), or list and
    compare stored runs."""


@backtest.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_obj
def run(state: Any, file: str) -> None:
    """Backtest the bot described in FILE on historical candles."""
    from genesis_core.config import load_config

    load_config(file, state.plugins())
    raise NotAvailableError("`genesis backtest` is being wired (issue #5); the config is valid")

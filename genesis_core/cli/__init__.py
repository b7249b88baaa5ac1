"""The ``genesis`` command line. Exit codes: 0 success, 1 runtime failure, 2 user error."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import Any

import click

from genesis_core.errors import GenesisError, NotAvailableError


class State:
    """Per-invocation state: the global options and the lazily loaded plugin set."""

    def __init__(self, plugins_dir: str | None, disabled: tuple[str, ...]) -> None:
        self.plugins_dir = plugins_dir
        self.disabled = disabled
        self._plugins: Any = None

    def plugins(self) -> Any:
        if self._plugins is None:
            from genesis_core.plugins import load_plugins

            self._plugins = load_plugins(plugins_dir=self.plugins_dir, disabled=self.disabled)
            self._check_disabled(self._plugins.found)
        return self._plugins

    def _check_disabled(self, found: set[str]) -> None:
        """A misspelt ``--disable-plugin`` was ignored silently: the plugin stayed loaded."""
        import difflib

        for name in self.disabled:
            if name not in found:
                close = difflib.get_close_matches(name, sorted(found), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise GenesisError(f"--disable-plugin: no plugin named {name!r}{hint} "
                                   "(`genesis plugins` lists them)")


class GenesisGroup(click.Group):
    """Adds plugin commands (the ``register_commands`` hook) only when they are needed."""

    _plugin_commands_added = False

    def _add_plugin_commands(self, ctx: click.Context) -> None:
        if self._plugin_commands_added or not isinstance(ctx.obj, State):
            return
        self._plugin_commands_added = True
        ctx.obj.plugins().hook.register_commands(cli=self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands(ctx)
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        with contextlib.suppress(GenesisError):  # --help must work with a broken plugin
            self._add_plugin_commands(ctx)
        return super().list_commands(ctx)


@click.group(cls=GenesisGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="genesis-core")
@click.option("--plugins-dir", envvar="GENESIS_PLUGINS_DIR", type=click.Path(file_okay=False),
              help="Also load every *.py file in this folder as a plugin.")
@click.option("--disable-plugin", "disabled", multiple=True, metavar="NAME",
              help="Do not load the plugin with this name (repeatable).")
@click.pass_context
def cli(ctx: click.Context, plugins_dir: str | None, disabled: tuple[str, ...]) -> None:
    """Genesis: plugin-based crypto trading bots, live, on paper or backtested."""
    ctx.obj = State(plugins_dir, disabled)


def _register_builtin_commands() -> None:
    from genesis_core.cli import (
        backtest_cmd,
        config_cmd,
        data_cmd,
        new_cmd,
        plugins_cmd,
        run_cmd,
        state_cmd,
    )

    cli.add_command(plugins_cmd.plugins)
    cli.add_command(config_cmd.config)
    cli.add_command(run_cmd.run)
    cli.add_command(backtest_cmd.backtest)
    cli.add_command(new_cmd.new)
    cli.add_command(data_cmd.data)
    for command in (state_cmd.status, state_cmd.report, state_cmd.confirm, state_cmd.stop,
                    state_cmd.resume):
        cli.add_command(command)


_register_builtin_commands()


def _user_error(exc: BaseException) -> BaseException:
    """The exception to report: a task group's GenesisError if it holds one (the bot's
    concurrent tasks wrap a bad replay file in an ExceptionGroup), its only member if it has
    one, else ``exc``."""
    if isinstance(exc, BaseExceptionGroup):
        matched, _ = exc.split(GenesisError)
        while isinstance(matched, BaseExceptionGroup):
            matched = matched.exceptions[0]
        if matched is not None:
            return matched
        if len(exc.exceptions) == 1:
            return _user_error(exc.exceptions[0])
    return exc


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``genesis`` script."""
    try:
        try:
            code = cli.main(args=argv, prog_name="genesis", standalone_mode=False)
        except BaseExceptionGroup as group:
            raise _user_error(group) from None
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NotAvailableError as exc:
        click.echo(f"genesis: {exc}", err=True)
        sys.exit(1)
    except GenesisError as exc:
        click.echo(f"genesis: error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("GENESIS_DEBUG"):
            traceback.print_exc()
        click.echo(f"genesis: failed: {type(exc).__name__}: {exc} "
                   "(set GENESIS_DEBUG=1 for a traceback)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)

"""``genesis new plugin``."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def new() -> None:
    """Create new projects."""


@new.command()
@click.option("--kind", required=True,
              type=click.Choice(["strategy", "indicator", "risk", "notifier", "executor",
                                 "data-source"]),
              help="What the plugin provides.")
@click.option("--dir", "directory", default=".", type=click.Path(file_okay=False),
              help="Folder to create the project in.")
@click.argument("name")
def plugin(kind: str, name: str, directory: str) -> None:
    """Scaffold an installable plugin distribution NAME with passing tests."""
    from genesis_core.errors import GenesisError
    from genesis_core.scaffold import scaffold

    try:
        root = scaffold(kind, name, Path(directory))
    except OSError as exc:  # a file in the way, no permission: was "failed: NotADirectoryError"
        raise GenesisError(f"--dir {directory}: cannot create {exc.filename or directory}: "
                           f"{exc.strerror or exc}") from None
    click.echo(f"created {root}\nnext: pip install -e {root} && pytest {root / 'tests'}")

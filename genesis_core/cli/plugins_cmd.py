"""``genesis plugins``: what is installed and what each plugin provides."""

from __future__ import annotations

import json

import click

from genesis_core.registry import KIND_LABELS


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def plugins(state: object, as_json: bool) -> None:
    """List loaded plugins, their distributions and the components they provide."""
    infos = state.plugins().info()  # type: ignore[attr-defined]
    if as_json:
        click.echo(json.dumps([info.as_dict() for info in infos], indent=2))
        return
    for info in infos:
        origin = info.origin
        click.echo(f"{origin.plugin}  ({origin.distribution} {origin.version})")
        provided = [f"{KIND_LABELS[k]}: {', '.join(v)}" for k, v in info.components.items() if v]
        for line in provided or ["hooks: " + ", ".join(info.hooks)]:
            click.echo(f"    {line}")

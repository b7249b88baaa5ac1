"""``genesis config check`` and ``genesis config schema``."""

from __future__ import annotations

import json
from typing import Any

import click

from genesis_core.config.describe import config_classes, describe
from genesis_core.errors import ConfigError
from genesis_core.registry import KIND_LABELS


@click.group()
def config() -> None:
    """Validate bot files and show the configuration schema."""


@config.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--secrets-file", type=click.Path(dir_okay=False), envvar="GENESIS_SECRETS_FILE",
              help="KEY=VALUE file consulted for ${VAR} after the environment.")
@click.pass_obj
def check(state: Any, files: tuple[str, ...], secrets_file: str | None) -> None:
    """Validate bot YAML files, including every plugin's params. Exit 2 on any error."""
    from genesis_core.config import load_config

    plugins = state.plugins()
    failed = 0
    for path in files:
        try:
            bot = load_config(path, plugins, secrets_file=secrets_file)
        except ConfigError as exc:
            failed += 1
            for line in exc.errors:
                click.echo(f"error: {line}", err=True)
            continue
        strategies = ", ".join(s.plugin for s in bot.strategies)
        click.echo(f"ok: {path}: bot {bot.name!r}, {bot.mode.value}, "
                   f"{len(bot.markets)} market(s), strategies: {strategies}")
    if failed:
        raise click.exceptions.Exit(2)


def _schema(plugins: Any) -> dict[str, Any]:
    sections = {name: describe(cls) for name, cls in config_classes().items()}
    components: dict[str, Any] = {}
    for entry in plugins.registry:
        components.setdefault(entry.kind, {})[entry.name] = {
            "plugin": entry.origin.plugin,
            "distribution": entry.origin.distribution,
            "summary": entry.cls.summary(),
            "params": describe(entry.cls.Params),
        }
    return {"sections": sections, "components": components}


def _print_fields(fields: list[dict[str, Any]], indent: str) -> None:
    for field in fields:
        default = "required" if field["required"] else f"default {field['default']!r}"
        click.echo(f"{indent}{field['name']}: {field['type']} ({default})")
        if field["doc"]:
            click.echo(f"{indent}    {field['doc']}")


@config.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def schema(state: Any, as_json: bool) -> None:
    """Print the bot file schema, including the params of every installed component."""
    data = _schema(state.plugins())
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    for section, fields in data["sections"].items():
        click.echo(f"{section}:")
        _print_fields(fields, "  ")
    for kind, entries in data["components"].items():
        for name, entry in sorted(entries.items()):
            click.echo(f"\n{KIND_LABELS[kind]} {name!r} from {entry['distribution']}"
                       f" — {entry['summary']}")
            _print_fields(entry["params"], "  params.") if entry["params"] else click.echo(
                "  (no params)")

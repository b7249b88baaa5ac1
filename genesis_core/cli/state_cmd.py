"""Commands on a bot's state database: status, report, confirm, stop, resume."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import click

from genesis_core.errors import GenesisError
from genesis_core.models.signals import resolve_id, short_id


def _store(state: Any, file: str) -> Any:
    from genesis_core.config import load_config
    from genesis_core.storage import Store

    config = load_config(file, state.plugins())
    if not config.storage.path.exists():
        raise GenesisError(f"{config.storage.path}: no state yet; run the bot first ({file})")
    return Store.open(config.storage.path)


def _performance(store: Any) -> dict[str, Any]:
    from genesis_core.runtime.performance import closed_trades, summarize

    trades = closed_trades(store.load_fills(), store.load_orders(open_only=False),
                           store.load_signals())
    first = store.load_audit(limit=1)
    initial = Decimal(first[0].data["cash"]) if first and first[0].data else None
    return summarize(trades, initial)


def _show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for sub, inner in value.items():
                click.echo(f"  {sub}: {inner}")
        else:
            shown = (f"{value:.4f}" if isinstance(value, float)
                     else f"{value:.2f}" if isinstance(value, Decimal) else value)
            click.echo(f"{key}: {'-' if value is None else shown}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(state: Any, file: str, as_json: bool) -> None:
    """Positions, open orders, balances and switches of a running or stopped bot."""
    with _store(state, file) as store:
        positions = {s: str(p.amount) for s, p in store.load_positions().items() if p.is_open}
        balances = {c: str(b.total) for c, b in store.load_balances().items()}
        data = {
            "open_positions": positions,
            "open_orders": len(store.load_orders(open_only=True)),
            "balances": balances,
            "auto_trading": store.get_flag("auto_trading", True),
            "emergency_stop": store.get_flag("emergency_stop", False),
            "pending_confirmations": [c.signal_id for c in store.pending_confirmations()],
            "closed_trades": _performance(store)["closed_trades"],
        }
    _show(data, as_json)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def report(state: Any, file: str, as_json: bool) -> None:
    """Performance: success rate, average profit, win/loss ratio, drawdown, Sharpe,
    confidence accuracy."""
    with _store(state, file) as store:
        _show(_performance(store), as_json)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("signal_id")
@click.pass_obj
def confirm(state: Any, file: str, signal_id: str) -> None:
    """Confirm a signal waiting for manual confirmation (takes effect at the next bar)."""
    with _store(state, file) as store:
        pending_ids = [c.signal_id for c in store.pending_confirmations()]
        signal_id = resolve_id(signal_id, pending_ids) or signal_id
        waiting = store.confirmation(signal_id)
        if waiting is None or waiting.status != "pending":
            pending = ", ".join(f"{short_id(i)} ({i})" for i in pending_ids) or "none"
            raise GenesisError(f"signal {signal_id!r} is not waiting for confirmation "
                               f"(pending: {pending})")
        # The bot judges expiry on its own clock (replays run in market time).
        store.confirm(signal_id, at=waiting.requested_at)
    click.echo(f"confirmed {signal_id}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--flatten", is_flag=True, help="Also close every open position at market.")
@click.pass_obj
def stop(state: Any, file: str, flatten: bool) -> None:
    """Emergency stop: cancel all open orders, optionally flatten; survives restarts."""
    with _store(state, file) as store:
        now = int(time.time() * 1000)
        store.set_flag("emergency_stop_request", "flatten" if flatten else True, now)
        store.audit(now, "control", "emergency_stop", f"requested from the CLI, "
                                                       f"flatten={flatten}")
    click.echo("emergency stop requested; the bot applies it at its next bar")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_obj
def resume(state: Any, file: str) -> None:
    """Clear an emergency stop."""
    with _store(state, file) as store:
        now = int(time.time() * 1000)
        store.set_flag("emergency_stop_request", False, now)
        store.set_flag("emergency_stop", False, now)
        store.audit(now, "control", "emergency_stop", "cleared from the CLI")
    click.echo("emergency stop cleared")


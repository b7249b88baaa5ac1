"""Genesis hook specifications: the whole plugin API in one file.

Plugins implement these with ``@genesis_core.hookimpl``. Two styles, for two jobs:

* **Registration hooks** (``register_*``) run once at start-up. A plugin calls ``register(cls)``
  for each component class it provides. Classes, not instances: the core builds each instance
  from its YAML ``params`` and keeps per-candle calls out of pluggy (plain method calls on the
  component, sync or async as the contract says). Registering through a callback, as llm and
  datasette do, lets the core attribute every component to the plugin that registered it and
  reject clashing names with both culprits named.
* **Event hooks** run when something happens in a running bot. They are called from the bot's
  event dispatcher, after the event is recorded, never from inside the trading path; an exception
  in one is logged and does not stop the bot. Return values are ignored.

Every argument is passed by keyword. An implementation may accept a subset of the arguments
(pluggy's opt-in), but an argument the spec does not have is rejected at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy


if TYPE_CHECKING:
    import click

    from genesis_core.config.schema import BotConfig
    from genesis_core.models import Alert, Fill, Order, Signal

PROJECT = "genesis_core"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


# -------------------------------------------------------------------------------------------
# Registration hooks
# -------------------------------------------------------------------------------------------


@hookspec
def register_data_sources(register: Register) -> None:
    """Register :class:`~genesis_core.DataSource` subclasses.

    :param register: call ``register(cls)`` once per class; the YAML name is ``cls.name``.

    Example::

        @hookimpl
        def register_data_sources(register):
            register(MyExchangeData)
    """


@hookspec
def register_indicators(register: Register) -> None:
    """Register :class:`~genesis_core.Indicator` subclasses.

    :param register: call ``register(cls)`` once per class.

    Example::

        @hookimpl
        def register_indicators(register):
            register(HullMovingAverage)
    """


@hookspec
def register_strategies(register: Register) -> None:
    """Register :class:`~genesis_core.Strategy` subclasses.

    :param register: call ``register(cls)`` once per class.

    Example::

        @hookimpl
        def register_strategies(register):
            register(EmaRsiStrategy)
    """


@hookspec
def register_risk_policies(register: Register) -> None:
    """Register :class:`~genesis_core.RiskPolicy` subclasses.

    The bot's YAML decides which policies run and in which order; registering a policy does not
    enable it.

    :param register: call ``register(cls)`` once per class.

    Example::

        @hookimpl
        def register_risk_policies(register):
            register(MaxOpenPositions)
    """


@hookspec
def register_executors(register: Register) -> None:
    """Register :class:`~genesis_core.Executor` subclasses.

    :param register: call ``register(cls)`` once per class.

    Example::

        @hookimpl
        def register_executors(register):
            register(MyExchangeExecutor)
    """


@hookspec
def register_notifiers(register: Register) -> None:
    """Register :class:`~genesis_core.Notifier` subclasses.

    :param register: call ``register(cls)`` once per class.

    Example::

        @hookimpl
        def register_notifiers(register):
            register(SlackNotifier)
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``genesis`` command line.

    :param cli: the top-level click group.

    Example::

        @hookimpl
        def register_commands(cli):
            @cli.command(name="telegram-test")
            def telegram_test():
                ...
    """


# -------------------------------------------------------------------------------------------
# Lifecycle hooks
# -------------------------------------------------------------------------------------------


@hookspec
def bot_started(config: BotConfig) -> None:
    """A bot has started: components are built, state is restored, trading begins next.

    :param config: the validated bot configuration.

    Example::

        @hookimpl
        def bot_started(config):
            log.info("bot %s started in %s mode", config.name, config.mode)
    """


@hookspec
def bot_stopped(config: BotConfig, reason: str) -> None:
    """A bot has stopped; state is flushed. Called on clean shutdown and after a fatal error.

    :param config: the validated bot configuration.
    :param reason: ``"finished"``, ``"signal"`` (SIGINT/SIGTERM) or the error's one-line text.

    Example::

        @hookimpl
        def bot_stopped(config, reason):
            metrics.flush()
    """


# -------------------------------------------------------------------------------------------
# Event hooks
# -------------------------------------------------------------------------------------------


@hookspec
def signal_produced(config: BotConfig, signal: Signal) -> None:
    """A strategy (or the consensus of several) produced a signal, before risk checks.

    :param config: the bot's configuration.
    :param signal: the signal.

    Example::

        @hookimpl
        def signal_produced(signal):
            print(signal.id, signal.side, signal.confidence)
    """


@hookspec
def order_updated(config: BotConfig, order: Order, previous: Order | None) -> None:
    """An order changed state (submitted, acknowledged, filled, cancelled, rejected ...).

    :param config: the bot's configuration.
    :param order: the order in its new state.
    :param previous: the order before the change, ``None`` for a new order.

    Example::

        @hookimpl
        def order_updated(order, previous):
            if order.status == "REJECTED":
                print("rejected:", order.client_order_id, order.reason)
    """


@hookspec
def fill_received(config: BotConfig, fill: Fill) -> None:
    """An order was (partly) executed.

    :param config: the bot's configuration.
    :param fill: the execution, with exact Decimal amount, price and fee.

    Example::

        @hookimpl
        def fill_received(fill):
            ledger.append((fill.symbol, fill.side, fill.amount, fill.price, fill.fee))
    """


@hookspec
def alert_raised(config: BotConfig, alert: Alert) -> None:
    """An alert was raised (also delivered to the configured notifiers).

    :param config: the bot's configuration.
    :param alert: the alert.

    Example::

        @hookimpl
        def alert_raised(alert):
            if alert.severity == "critical":
                page_someone(alert.title)
    """


def spec_names() -> dict[str, tuple[str, ...]]:
    """Map each hook name to its argument names (used to validate implementations)."""
    import inspect

    return {
        name: tuple(inspect.signature(obj).parameters)
        for name, obj in globals().items()
        if callable(obj) and hasattr(obj, f"{PROJECT}_spec")
    }

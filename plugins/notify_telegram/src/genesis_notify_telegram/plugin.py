"""Hook implementations of the notify_telegram plugin."""

from genesis_core import hookimpl
from genesis_notify_telegram.notifier import TelegramNotifier


@hookimpl
def register_notifiers(register):  # type: ignore[no-untyped-def]
    register(TelegramNotifier)

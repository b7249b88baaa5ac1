"""Telegram notifier for Genesis."""

from genesis_notify_telegram.notifier import TelegramNotifier, format_alert


__all__ = ["TelegramNotifier", "format_alert"]

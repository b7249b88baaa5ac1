"""Telegram notifier and command channel for Genesis."""

from genesis_notify_telegram._html import format_alert, split_html
from genesis_notify_telegram.notifier import TelegramNotifier, TelegramParams, TelegramSendError


__all__ = ["TelegramNotifier", "TelegramParams", "TelegramSendError", "format_alert",
           "split_html"]

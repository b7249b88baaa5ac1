"""Send alerts with the Telegram Bot API's ``sendMessage`` (HTML parse mode)."""

from __future__ import annotations

import html

import attrs
import httpx

from genesis_core import Alert, Notifier, Secret, Severity, doc, format_ts


ICONS = {Severity.INFO: "ℹ️", Severity.WARNING: "⚠️", Severity.HIGH: "🔶",
         Severity.CRITICAL: "🚨"}


@attrs.frozen
class TelegramParams:
    bot_token: Secret = doc("Bot token from @BotFather; write ${TELEGRAM_BOT_TOKEN}, never the "
                            "token itself.")
    chat_id: str = doc("Chat to send to (a number as text, or @channelname).")
    api_url: str = doc("Bot API base URL (change only for a local test server).",
                       default="https://api.telegram.org")
    timeout: float = doc("Seconds to wait for Telegram per request.", default=10.0)
    min_severity: Severity = doc("Lowest severity sent.", default=Severity.INFO)


def format_alert(alert: Alert) -> str:
    """Render an alert as Telegram HTML, escaping everything that came from data."""
    symbol = f" <code>{html.escape(alert.symbol)}</code>" if alert.symbol else ""
    lines = [f"{ICONS[alert.severity]} <b>{html.escape(alert.title)}</b>{symbol}"]
    if alert.message:
        lines.append(html.escape(alert.message))
    lines.append(f"<i>{html.escape(alert.rule)} · {format_ts(alert.timestamp)}</i>")
    return "\n".join(lines)


class TelegramSendError(RuntimeError):
    """Telegram refused or failed a request (message without the token)."""


class TelegramNotifier(Notifier):
    """Send alerts to a Telegram chat."""

    name = "telegram"
    Params = TelegramParams

    def __init__(self, params: TelegramParams) -> None:
        super().__init__(params)
        self._client = httpx.AsyncClient(timeout=params.timeout)

    async def notify(self, alert: Alert) -> None:
        if alert.severity.rank < self.params.min_severity.rank:
            return
        url = f"{self.params.api_url}/bot{self.params.bot_token.reveal()}/sendMessage"
        payload = {"chat_id": self.params.chat_id, "text": format_alert(alert),
                   "parse_mode": "HTML", "disable_web_page_preview": True}
        try:
            response = await self._client.post(url, json=payload)
        except httpx.HTTPError as exc:
            # httpx messages can contain the URL, and the URL contains the token.
            raise TelegramSendError(f"sendMessage failed: {type(exc).__name__}") from None
        body = response.json() if response.headers.get("content-type", "").startswith(
            "application/json") else {}
        if response.status_code != 200 or not body.get("ok"):
            raise TelegramSendError(f"sendMessage HTTP {response.status_code}: "
                                    f"{body.get('description', 'no description')}")

    async def aclose(self) -> None:
        await self._client.aclose()

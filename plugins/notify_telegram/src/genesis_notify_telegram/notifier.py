"""The ``telegram`` notifier: alerts out through ``sendMessage``, commands in through
``getUpdates``.

Delivery. ``notify`` only filters by severity and appends the alert to the notifier's own
outbox, so it returns at once; the outbox worker (started by ``serve``) sends in order, one
message at a time, within the rate limits. While the worker waits for the limiter, alerts
queue up and are then coalesced into one message (up to 4096 characters and
``max_alerts_per_message`` alerts). Without ``serve`` (a runner that never starts it), ``notify``
delivers the outbox itself. ``aclose`` flushes what is left, for at most ``flush_timeout``.

Duplicates. Telegram has no idempotency key, so a request is sent again only when it certainly
failed (no connection, an error while writing it, HTTP 5xx or 429): those are retried with
exponential backoff and jitter until they succeed, so a transient failure loses nothing and
duplicates nothing. A request that went out but got no answer (read timeout, dropped
connection) is ambiguous: by default it is *not* sent again (at most once; an ERROR names the
message), and with ``resend_on_timeout: true`` it is (at least once). Every message carries a
short sequence tag (``#17``), so a duplicate or a gap is recognisable in the chat either way.
The HTTP call itself is shielded from cancellation (it is bounded by ``timeout``), so shutting
down never leaves a message half-known.

Commands. ``serve`` long-polls ``getUpdates`` (``allowed_updates: [message]``) and handles each
update at most once: the offset moves past an update *before* it is handled, updates below the
offset are skipped if a server sends them again, and ``aclose`` confirms the last offset to
Telegram. Only chats in ``allowed_chat_ids`` are obeyed; anything else is logged and ignored.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import attrs
import httpx

from genesis_core import Alert, BotControl, Notifier, Secret, Severity, doc
from genesis_notify_telegram._api import Ambiguous, ApiError, BotApi, NotSent, TelegramError
from genesis_notify_telegram._commands import Commands
from genesis_notify_telegram._html import (
    MESSAGE_LIMIT,
    escape,
    format_alert,
    join_blocks,
    plain_text,
    split_html,
    units,
)
from genesis_notify_telegram._ratelimit import Clock, RateLimiter, Sleep


log = logging.getLogger("genesis_notify_telegram")

# Room kept at the end of every message for the sequence tag line.
TAG_RESERVE = 64


def _token_chars(instance: object, attribute: attrs.Attribute, value: Secret) -> None:
    # Never show the value: it is the bot token.
    if not re.fullmatch(r"[A-Za-z0-9:_-]+", value.reveal()):
        raise ValueError(f"'{attribute.name}' must be a bot token from @BotFather "
                         "(digits, ':', letters, '_' and '-')")


def _chat(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not re.fullmatch(r"-?[0-9]+|@[A-Za-z][A-Za-z0-9_]{3,}", value):
        raise ValueError(f"'{attribute.name}' must be a numeric chat id or an @channelname, "
                         f"got {value!r}")


def _chats(instance: object, attribute: attrs.Attribute, value: list[str]) -> None:
    for index, chat in enumerate(value):
        if not re.fullmatch(r"-?[0-9]+", chat):
            raise ValueError(f"'{attribute.name}[{index}]' must be a numeric chat id, "
                             f"got {chat!r}")


_positive = attrs.validators.gt(0)
_non_negative = attrs.validators.ge(0)
_at_least_one = attrs.validators.ge(1)


@attrs.frozen
class TelegramParams:
    bot_token: Secret = doc("Bot token from @BotFather; write ${TELEGRAM_BOT_TOKEN} (environment "
                            "or secrets file), never the token itself.", validator=_token_chars)
    chat_id: str = doc("Chat that receives the alerts: a numeric id as text (groups are "
                       "negative), or @channelname.", validator=_chat)
    allowed_chat_ids: list[str] = doc(
        "Numeric chat ids whose commands are obeyed; empty turns the command channel off. "
        "Every member of an allowed group can command the bot.", factory=list,
        validator=_chats)
    api_url: str = doc("Bot API base URL (change only for a local Bot API server or a test).",
                       default="https://api.telegram.org")
    timeout: float = doc("Seconds to wait for Telegram per request (connect, send, answer).",
                         default=10.0, validator=_positive)
    poll_timeout: int = doc("getUpdates long-poll seconds: Telegram holds the request until a "
                            "message arrives or this passes (0: short polling).", default=30,
                            validator=_non_negative)
    poll_interval: float = doc("Seconds to wait between two getUpdates calls.", default=0.0,
                               validator=_non_negative)
    min_severity: Severity = doc("Lowest severity sent.", default=Severity.INFO,
                                 converter=Severity)
    messages_per_second: float = doc("Messages per second over all chats (Telegram: about 30).",
                                     default=30.0, validator=_positive)
    burst: int = doc("Messages that may go out at once over all chats before "
                     "messages_per_second applies.", default=1, validator=_at_least_one)
    chat_messages_per_second: float = doc("Messages per second to one chat (Telegram: about 1).",
                                          default=1.0, validator=_positive)
    chat_burst: int = doc("Messages that may go out at once to one chat.", default=1,
                          validator=_at_least_one)
    group_messages_per_minute: float = doc("Messages per minute to one group or channel "
                                           "(Telegram: 20).", default=20.0,
                                           validator=_positive)
    coalesce: bool = doc("Merge alerts that queue up behind the rate limit into one message.",
                         default=True)
    max_alerts_per_message: int = doc("Most alerts merged into one message.", default=20,
                                      validator=_at_least_one)
    resend_on_timeout: bool = doc(
        "Send again a message whose request timed out after it was sent (Telegram may have "
        "delivered it): true risks a duplicate (same #tag), false risks losing that message.",
        default=False)
    show_message_ids: bool = doc("End every alert message with its sequence tag (#17), so a "
                                 "gap or a duplicate is recognisable.", default=True)
    outbox_size: int = doc("Alerts the outbox holds before notify waits for room.",
                           default=10_000, validator=_at_least_one)
    flush_timeout: float = doc("Seconds spent at shutdown delivering what is still queued.",
                               default=10.0, validator=_non_negative)
    backoff_initial: float = doc("First retry delay in seconds (doubles per attempt, with "
                                 "jitter).", default=1.0, validator=_positive)
    backoff_max: float = doc("Longest retry delay in seconds.", default=60.0,
                             validator=_positive)
    command_max_age: float = doc("Commands older than this many seconds (sent while the bot "
                                 "was not listening) are refused.", default=300.0,
                                 validator=_positive)


class TelegramSendError(RuntimeError):
    """Telegram refused or failed a request (message without the token)."""


@attrs.define
class _Batch:
    seq: int
    alerts: int
    parts: list[str]
    sent: int = 0


class TelegramNotifier(Notifier):
    """Send alerts to a Telegram chat and take commands (/status, /pause, /stop, ...)."""

    name = "telegram"
    Params = TelegramParams

    def __init__(self, params: TelegramParams, *, clock: Clock | None = None,
                 sleep: Sleep | None = None, wall_clock: Clock | None = None,
                 rng: random.Random | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """``clock`` (monotonic seconds) and ``sleep`` drive the rate limiter, retry delays and
        the /stop confirmation window; ``wall_clock`` (Unix seconds) ages commands. Tests
        inject them; the defaults are the real ones."""
        super().__init__(params)
        self._clock = clock or time.monotonic
        self._sleep: Callable[[float], Awaitable[None]] = sleep or anyio.sleep
        self._wall = wall_clock or time.time
        self._rng = rng or random.Random()
        self._api = BotApi(params.bot_token, params.api_url, params.timeout, transport)
        self._limiter = RateLimiter(
            clock=self._clock, sleep=self._sleep, global_per_second=params.messages_per_second,
            global_burst=params.burst, chat_per_second=params.chat_messages_per_second,
            chat_burst=params.chat_burst, group_per_minute=params.group_messages_per_minute)
        self._chat_id = params.chat_id
        self._allowed = frozenset(params.allowed_chat_ids)
        self._outbox: deque[Alert] = deque()
        self._batch: _Batch | None = None
        self._seq = 0
        self._worker_running = False
        self._lock: anyio.Lock | None = None
        self._wake: anyio.Event | None = None
        self._room: anyio.Event | None = None
        self._offset: int | None = None
        self._confirmed_offset: int | None = None
        self._username: str | None = None
        self._closed = False
        # Counters, for tests and diagnostics.
        self.messages_sent = 0
        self.messages_failed = 0

    # -- alerts -----------------------------------------------------------------------------
    async def notify(self, alert: Alert) -> None:
        if alert.severity.rank < self.params.min_severity.rank:
            return
        if self._closed:
            raise TelegramSendError("the telegram notifier is closed")
        while len(self._outbox) >= self.params.outbox_size:
            if not self._worker_running:
                # No worker to make room (serve not started, or stopped while we waited).
                await self._drain()
                continue
            # One event shared by every waiter: a fresh one per waiter left all but the
            # last waiting forever (their alerts never queued).
            if self._room is None or self._room.is_set():
                self._room = anyio.Event()
            await self._room.wait()
        self._outbox.append(alert)
        if self._wake is not None:
            self._wake.set()
        if not self._worker_running:  # no serve(): deliver from here
            failed = self.messages_failed
            await self._drain()
            if self.messages_failed > failed:
                raise TelegramSendError("a message could not be delivered (see the log)")

    @property
    def pending(self) -> int:
        """Alerts not yet handed to Telegram."""
        return len(self._outbox) + (self._batch.alerts if self._batch is not None else 0)

    def _has_work(self) -> bool:
        return bool(self._outbox) or self._batch is not None

    def _get_lock(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    async def _drain(self) -> None:
        async with self._get_lock():
            while self._has_work():
                await self._step()

    async def _worker(self) -> None:
        self._worker_running = True
        try:
            while True:
                while not self._has_work():
                    self._wake = anyio.Event()
                    await self._wake.wait()
                async with self._get_lock():
                    await self._step()
        finally:
            self._worker_running = False
            if self._room is not None:
                self._room.set()  # notify calls waiting for room now deliver themselves

    async def _step(self) -> None:
        """Send the current batch (composing it first if needed). Caller holds the lock."""
        if self._batch is None:
            # Wait for the limiter before composing, so that alerts arriving meanwhile are
            # merged into this message rather than queued behind it.
            await self._limiter.ready(self._chat_id)
            if not self._outbox:
                return
            self._batch = self._compose()
        batch = self._batch
        while batch.sent < len(batch.parts):
            label = f"message #{batch.seq}" + (
                f" part {batch.sent + 1}/{len(batch.parts)}" if len(batch.parts) > 1 else "")
            delivered = await self._send(self._chat_id, batch.parts[batch.sent], label)
            batch.sent += 1  # no checkpoint between the send's outcome and this line
            if delivered:
                self.messages_sent += 1
            else:
                self.messages_failed += 1
        self._batch = None

    def _compose(self) -> _Batch:
        limit = MESSAGE_LIMIT - TAG_RESERVE
        blocks = [format_alert(self._outbox.popleft())]
        size = units(blocks[0])
        if self.params.coalesce:
            while self._outbox and len(blocks) < self.params.max_alerts_per_message:
                block = format_alert(self._outbox[0])
                if size + 2 + units(block) > limit:
                    break
                self._outbox.popleft()
                blocks.append(block)
                size += 2 + units(block)
        if self._room is not None:
            self._room.set()
        self._seq += 1
        parts = split_html(join_blocks(blocks), limit)
        if self.params.show_message_ids:
            count = f" · {len(blocks)} alerts" if len(blocks) > 1 else ""
            parts = [part + f"\n<i>#{self._seq}{count}"
                     + (f" · part {n}/{len(parts)}" if len(parts) > 1 else "") + "</i>"
                     for n, part in enumerate(parts, start=1)]
        return _Batch(self._seq, len(blocks), parts)

    # -- sending ----------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        delay = min(self.params.backoff_max, self.params.backoff_initial * 2 ** min(attempt, 30))
        return delay * (0.5 + 0.5 * self._rng.random())

    async def _send(self, chat_id: str, text: str, label: str) -> bool:
        """Deliver one message; True once Telegram accepted it, False if it never will (or,
        with ``resend_on_timeout: false``, may or may not have)."""
        html = True
        attempt = 0
        while True:
            await self._limiter.acquire(chat_id)
            payload: dict[str, Any] = {"chat_id": chat_id, "text": text,
                                       "link_preview_options": {"is_disabled": True}}
            if html:
                payload["parse_mode"] = "HTML"
            try:
                # Shielded: once a request is on its way, its outcome is always learnt (the
                # call is bounded by `timeout`), so cancellation cannot make it ambiguous.
                with anyio.CancelScope(shield=True):
                    await self._api.call("sendMessage", payload)
            except NotSent as exc:
                reason = str(exc)
            except Ambiguous as exc:
                if not self.params.resend_on_timeout:
                    log.error("%s to chat %s: %s after the request was sent; not sent again "
                              "(at most once), so it may be missing", label, chat_id, exc)
                    return False
                reason = f"{exc} (sending again: resend_on_timeout)"
            except ApiError as exc:
                if exc.transient and exc.retry_after is not None:
                    log.warning("%s to chat %s: rate limited by Telegram, waiting %.0f s",
                                label, chat_id, exc.retry_after)
                    self._limiter.hold(exc.retry_after)
                    continue
                migrated = exc.parameters.get("migrate_to_chat_id")
                if isinstance(migrated, int):
                    log.warning("chat %s became supergroup %s: sending there; set chat_id "
                                "to %s", chat_id, migrated, migrated)
                    if chat_id == self._chat_id:
                        self._chat_id = str(migrated)
                    chat_id = str(migrated)
                    continue
                if html and exc.code == 400 and "entities" in exc.description.lower():
                    log.warning("%s: Telegram rejected its HTML (%s); sending it as plain "
                                "text", label, exc.description)
                    html = False
                    text = plain_text(text)
                    continue
                if not exc.transient:
                    log.error("%s to chat %s failed: %s", label, chat_id, exc)
                    return False
                reason = str(exc)
            else:
                log.debug("%s delivered to chat %s", label, chat_id)
                return True
            delay = self._backoff(attempt)
            attempt += 1
            log.warning("%s to chat %s failed (%s); attempt %d in %.1f s", label, chat_id,
                        reason, attempt + 1, delay)
            await self._sleep(delay)

    async def _reply(self, chat_id: str, text: str, label: str) -> None:
        for part in split_html(text, MESSAGE_LIMIT):
            await self._send(chat_id, part, label)

    # -- commands ---------------------------------------------------------------------------
    async def serve(self, control: BotControl) -> None:
        """Run the outbox worker and, when ``allowed_chat_ids`` is set, the command poller."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._guarded, "outbox", self._worker)
            if self._allowed:
                tg.start_soon(self._guarded, "commands", self._poll, control)
            else:
                log.info("telegram commands off: allowed_chat_ids is empty")

    async def _guarded(self, what: str, task: Callable[..., Awaitable[None]],
                       *args: Any) -> None:
        # A failing notifier must never take the bot down with it.
        try:
            await task(*args)
        except Exception as exc:
            log.error("telegram %s task stopped: %s: %s", what, type(exc).__name__, exc)

    async def _poll(self, control: BotControl) -> None:
        commands = Commands(control, self._clock)
        await self._learn_username()
        attempt = 0
        while True:
            payload: dict[str, Any] = {"timeout": self.params.poll_timeout,
                                       "allowed_updates": ["message"], "limit": 100}
            if self._offset is not None:
                payload["offset"] = self._offset
            try:
                updates = await self._api.call("getUpdates", payload,
                                               wait=self.params.poll_timeout)
            except (NotSent, Ambiguous) as exc:
                updates = None
                reason = str(exc)
            except ApiError as exc:
                if exc.code in (401, 404):
                    log.error("getUpdates: %s; check bot_token. Commands are off.", exc)
                    return
                if exc.retry_after is not None:
                    log.warning("getUpdates rate limited, waiting %.0f s", exc.retry_after)
                    await self._sleep(exc.retry_after)
                    continue
                if exc.code == 409:
                    log.error("getUpdates: %s (another poller or a webhook uses this token)",
                              exc)
                updates = None
                reason = str(exc)
            if updates is None:
                delay = self._backoff(attempt)
                attempt += 1
                log.warning("getUpdates failed (%s); retrying in %.1f s", reason, delay)
                await self._sleep(delay)
                continue
            attempt = 0
            self._confirmed_offset = self._offset
            for update in sorted((u for u in updates if isinstance(u, dict)
                                  and isinstance(u.get("update_id"), int)),
                                 key=lambda u: u["update_id"]):
                update_id = update["update_id"]
                if self._offset is not None and update_id < self._offset:
                    continue  # already handled (a server sent it again)
                self._offset = update_id + 1  # before handling: never twice, even on a crash
                await self._handle(update, commands)
            if self.params.poll_interval:
                await self._sleep(self.params.poll_interval)

    async def _learn_username(self) -> None:
        try:
            me = await self._api.call("getMe", {})
            self._username = me.get("username") if isinstance(me, dict) else None
        except TelegramError as exc:
            log.warning("getMe failed (%s); commands addressed to a bot (/cmd@name) are left "
                        "alone until it works", exc)

    async def _handle(self, update: dict[str, Any], commands: Commands) -> None:
        message = update.get("message")
        if not isinstance(message, dict):
            return
        chat = message.get("chat")
        chat_id = str(chat.get("id")) if isinstance(chat, dict) else "?"
        if chat_id not in self._allowed:
            log.warning("ignored a message from chat %s: not in allowed_chat_ids", chat_id)
            return
        text = message.get("text")
        if not isinstance(text, str) or not text.startswith("/"):
            return
        words = text.split()
        command, _, addressee = words[0][1:].partition("@")
        if addressee and self._username is None:
            # Name unknown (getMe failed, perhaps transiently): ask again. Obeying meanwhile
            # would run /stop@other_bot yes meant for another bot in the same group.
            await self._learn_username()
            if self._username is None:
                return
        if addressee and addressee.lower() != (self._username or "").lower():
            return  # a command for another bot in the same group
        command = command.lower()
        sent_at = message.get("date")
        if isinstance(sent_at, int) and self._wall() - sent_at > self.params.command_max_age:
            log.warning("refused /%s from chat %s: sent %.0f s ago", command, chat_id,
                        self._wall() - sent_at)
            # The command is user text: escaped like everything else from data.
            await self._reply(chat_id, f"/{escape(command)} was sent while the bot was not "
                              "listening and was not carried out; send it again.", "reply")
            return
        log.info("command /%s from chat %s", command, chat_id)
        try:
            reply = await commands.run(chat_id, command, words[1:])
        except Exception as exc:
            log.error("/%s from chat %s failed: %s: %s", command, chat_id,
                      type(exc).__name__, exc)
            reply = f"/{command} failed: {type(exc).__name__}"
        await self._reply(chat_id, reply, f"reply to /{command}")

    async def _confirm_offset(self) -> None:
        """Tell Telegram that every update below the offset was handled, so a restart does
        not receive them again."""
        if self._offset is None or self._offset == self._confirmed_offset:
            return
        with anyio.move_on_after(self.params.timeout):
            try:
                await self._api.call("getUpdates", {"offset": self._offset, "limit": 1,
                                                    "timeout": 0})
                self._confirmed_offset = self._offset
            except TelegramError as exc:
                log.warning("could not confirm handled updates: %s", exc)

    # -- shutdown ---------------------------------------------------------------------------
    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with anyio.move_on_after(self.params.flush_timeout):
                await self._drain()
            if self.pending:
                log.error("%d alert(s) not delivered to Telegram before shutdown "
                          "(flush_timeout %.0f s)", self.pending, self.params.flush_timeout)
            await self._confirm_offset()
        finally:
            await self._api.aclose()

"""Token buckets for Telegram's documented bot limits, on an injectable clock.

Telegram asks bots to stay under about one message per second in a chat, about 30 messages
per second overall, and 20 messages per minute in a group. Each limit is a token bucket; a
message needs one token from every bucket that applies (global, its chat, and the group bucket
when the chat is a group or channel). A 429 answer holds every send until its ``retry_after``
has passed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_EPSILON = 1e-9


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; one token per message."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._tokens = float(capacity)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        self._refill(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= _EPSILON else missing / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1.0


def is_group(chat_id: str) -> bool:
    """Groups, supergroups and channels have negative ids (or an @channel username)."""
    return chat_id.startswith(("-", "@"))


class RateLimiter:
    """All of a bot token's limits. Safe to share between tasks of one event loop."""

    def __init__(self, *, clock: Clock, sleep: Sleep, global_per_second: float,
                 global_burst: int, chat_per_second: float, chat_burst: int,
                 group_per_minute: float) -> None:
        self._clock = clock
        self._sleep = sleep
        self._chat_rate = chat_per_second
        self._chat_burst = chat_burst
        self._group_rate = group_per_minute / 60.0
        self._group_burst = max(1, min(chat_burst, int(group_per_minute)))
        self._global = TokenBucket(global_per_second, global_burst, clock())
        self._chats: dict[str, TokenBucket] = {}
        self._groups: dict[str, TokenBucket] = {}
        self._held_until = float("-inf")

    def _buckets(self, chat_id: str, now: float) -> list[TokenBucket]:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = TokenBucket(self._chat_rate, self._chat_burst, now)
        buckets = [self._global, chat]
        if is_group(chat_id):
            group = self._groups.get(chat_id)
            if group is None:
                group = self._groups[chat_id] = TokenBucket(self._group_rate,
                                                            self._group_burst, now)
            buckets.append(group)
        return buckets

    def wait_time(self, chat_id: str) -> float:
        now = self._clock()
        return max(self._held_until - now, 0.0,
                   *(b.wait_time(now) for b in self._buckets(chat_id, now)))

    async def ready(self, chat_id: str) -> None:
        """Wait until a message to ``chat_id`` could be sent, without taking a token."""
        while (wait := self.wait_time(chat_id)) > 0:
            await self._sleep(wait)

    async def acquire(self, chat_id: str) -> None:
        """Wait for and take one token from every bucket that applies to ``chat_id``."""
        while True:
            await self.ready(chat_id)
            now = self._clock()
            if self.wait_time(chat_id) <= 0:  # nothing awaited since ready(): still true
                for bucket in self._buckets(chat_id, now):
                    bucket.take(now)
                return

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (Telegram answered 429 with ``retry_after``)."""
        self._held_until = max(self._held_until, self._clock() + seconds)

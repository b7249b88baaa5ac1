"""Client-side protection: per-endpoint token buckets, a circuit breaker and back-off.

Everything takes a ``Clock`` so tests can drive time by hand (``ManualClock``) and never need a
timed assertion.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import attrs

from .errors import CircuitOpenError


class Clock(Protocol):
    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that only moves when told; ``sleep`` advances it instantly (for tests)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


# Requests per minute per endpoint, from the reference table (§2.4).
DEFAULT_LIMITS: tuple[tuple[str, int], ...] = (
    (r"^platform/status$", 30),
    (r"^ticker/", 90),
    (r"^tickers$", 30),
    (r"^trades/[^/]+/hist$", 15),
    (r"^book/", 240),
    (r"^candles/", 30),
    (r"^conf/", 90),
    (r"^auth/r/logins/hist$", 10),
    (r"^auth/", 90),
)


def endpoint_key(path: str) -> str:
    """Bucket key for a path: symbols and ids are folded so one endpoint shares one bucket."""
    path = path.split("?", 1)[0].strip("/")
    if path.startswith("v2/"):
        path = path[3:]
    for prefix in ("ticker/", "book/", "candles/", "conf/"):
        if path.startswith(prefix):
            return prefix.rstrip("/")
    path = re.sub(r"^trades/[^/]+/hist$", "trades/{symbol}/hist", path)
    path = re.sub(r"^auth/r/(orders|trades)/[^/]+/hist$", r"auth/r/\1/{symbol}/hist", path)
    path = re.sub(r"^auth/r/orders/[^/]+$", "auth/r/orders/{symbol}", path)
    return re.sub(r"^auth/r/order/[^/]+/trades$", "auth/r/order/{id}/trades", path)


@attrs.define
class TokenBucket:
    """``capacity`` tokens refilled continuously at ``rate`` tokens per second."""

    rate: float
    capacity: float
    clock: Clock
    tokens: float = attrs.field(default=-1.0)
    updated: float = attrs.field(default=-1.0)

    def __attrs_post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity
        self.updated = self.clock.monotonic()

    def _refill(self) -> None:
        now = self.clock.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def try_acquire(self) -> float:
        """Take a token and return 0, or return the seconds to wait for one (nothing taken)."""
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    async def acquire(self) -> None:
        while (wait := self.try_acquire()) > 0:
            await self.clock.sleep(wait)


class RateLimiter:
    """One token bucket per endpoint; limits in requests/minute, bursts up to the full minute."""

    def __init__(
        self,
        clock: Clock | None = None,
        limits: tuple[tuple[str, int], ...] = DEFAULT_LIMITS,
        overrides: Mapping[str, int] | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self._limits = tuple((re.compile(p), n) for p, n in limits)
        self._overrides = dict(overrides or {})
        self._buckets: dict[str, TokenBucket] = {}

    def per_minute(self, path: str) -> int:
        key = endpoint_key(path)
        if key in self._overrides:
            return self._overrides[key]
        bare = path.split("?", 1)[0].strip("/").removeprefix("v2/")
        for pattern, limit in self._limits:
            if pattern.search(bare):
                return limit
        return 90

    def bucket(self, path: str) -> TokenBucket:
        key = endpoint_key(path)
        if key not in self._buckets:
            n = self.per_minute(path)
            self._buckets[key] = TokenBucket(rate=n / 60.0, capacity=float(n), clock=self.clock)
        return self._buckets[key]

    async def acquire(self, path: str) -> None:
        await self.bucket(path).acquire()


@attrs.define
class Backoff:
    """Exponential back-off with full jitter: delay_n = uniform(base*f^n/2, base*f^n), capped."""

    base: float = 1.0
    factor: float = 1.618
    cap: float = 60.0
    rng: random.Random = attrs.field(factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * self.factor**self.attempt)
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class CircuitBreaker:
    """Per-endpoint breaker: opens after ``threshold`` consecutive failures (or at once on 429).

    While open, ``check`` raises ``CircuitOpenError``.  After the back-off delay one probe
    (half-open) is let through; success closes the circuit, failure reopens it with a longer delay.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        threshold: int = 3,
        backoff: Backoff | None = None,
        rate_limit_pause: float = 60.0,
        on_change: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.on_change = on_change  # (endpoint key, now open) when a circuit opens or closes
        self.threshold = threshold
        self._backoff_template = backoff or Backoff(base=1.0, cap=60.0)
        self.rate_limit_pause = rate_limit_pause
        self._state: dict[str, _Circuit] = {}

    def _circuit(self, endpoint: str) -> _Circuit:
        key = endpoint_key(endpoint)
        if key not in self._state:
            tpl = self._backoff_template
            self._state[key] = _Circuit(Backoff(tpl.base, tpl.factor, tpl.cap, tpl.rng))
        return self._state[key]

    def state(self, endpoint: str) -> str:
        circuit = self._circuit(endpoint)
        if circuit.open_until is None:
            return "closed"
        return "open" if self.clock.monotonic() < circuit.open_until else "half-open"

    def remaining(self, endpoint: str) -> float:
        """Seconds until the endpoint's circuit lets a probe through (0 when closed)."""
        until = self._circuit(endpoint).open_until
        return 0.0 if until is None else max(until - self.clock.monotonic(), 0.0)

    def check(self, endpoint: str) -> None:
        circuit = self._circuit(endpoint)
        if circuit.open_until is None:
            return
        remaining = circuit.open_until - self.clock.monotonic()
        if remaining > 0 or circuit.probing:
            raise CircuitOpenError(endpoint_key(endpoint), max(remaining, 0.0))
        circuit.probing = True  # half-open: exactly one probe goes through

    def release(self, endpoint: str) -> None:
        """A call ended without telling success or failure: free the half-open probe slot
        (without this a cancelled probe would keep the circuit open for good)."""
        self._circuit(endpoint).probing = False

    def record_success(self, endpoint: str) -> None:
        circuit = self._circuit(endpoint)
        if circuit.open_until is not None and self.on_change is not None:
            self.on_change(endpoint_key(endpoint), False)
        circuit.failures = 0
        circuit.open_until = None
        circuit.probing = False
        circuit.backoff.reset()

    def record_failure(self, endpoint: str, *, rate_limited: bool = False) -> None:
        circuit = self._circuit(endpoint)
        circuit.failures += 1
        circuit.probing = False
        now = self.clock.monotonic()
        if rate_limited:
            # Bitfinex blocks the endpoint for about 60 s: never hammer it sooner.
            delay = max(self.rate_limit_pause, circuit.backoff.next_delay())
        elif circuit.failures >= self.threshold or circuit.open_until is not None:
            delay = circuit.backoff.next_delay()
        else:
            return
        if circuit.open_until is None and self.on_change is not None:
            self.on_change(endpoint_key(endpoint), True)
        circuit.open_until = now + delay


@attrs.define
class _Circuit:
    backoff: Backoff
    failures: int = 0
    open_until: float | None = None
    probing: bool = False

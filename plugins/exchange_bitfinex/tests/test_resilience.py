"""Rate limiter, circuit breaker and back-off, driven by a manual clock (no timing)."""

from __future__ import annotations

import random

import pytest

from genesis_exchange_bitfinex._resilience import (
    Backoff,
    CircuitBreaker,
    ManualClock,
    RateLimiter,
    TokenBucket,
    endpoint_key,
)
from genesis_exchange_bitfinex.errors import CircuitOpenError


def test_token_bucket_refills_with_the_clock() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=1.0, capacity=3, clock=clock)
    assert [bucket.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_acquire() == pytest.approx(1.0)
    clock.advance(0.5)
    assert bucket.try_acquire() == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.try_acquire() == 0.0


@pytest.mark.anyio
async def test_acquire_sleeps_on_the_injected_clock() -> None:
    clock = ManualClock()
    limiter = RateLimiter(clock, overrides={"platform/status": 2})
    for _ in range(3):
        await limiter.acquire("platform/status")
    assert clock.sleeps == [pytest.approx(30.0)]  # 2/min: the third waits half a minute


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_endpoint_keys_and_published_limits() -> None:
    limiter = RateLimiter(ManualClock())
    assert endpoint_key("ticker/tBTCUSD") == endpoint_key("/v2/ticker/tETHUSD?x=1") == "ticker"
    assert endpoint_key("auth/r/order/tBTCUSD:12/trades") == "auth/r/order/{id}/trades"
    assert endpoint_key("auth/r/orders/tBTCUSD/hist") == "auth/r/orders/{symbol}/hist"
    assert limiter.per_minute("trades/tBTCUSD/hist") == 15
    assert limiter.per_minute("book/tBTCUSD/P0") == 240
    assert limiter.per_minute("auth/w/order/submit") == 90
    assert limiter.per_minute("auth/r/logins/hist") == 10
    assert limiter.bucket("ticker/tBTCUSD") is limiter.bucket("ticker/tETHUSD")


def test_backoff_is_exponential_jittered_and_capped() -> None:
    backoff = Backoff(base=1.0, factor=2.0, cap=8.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    for n, delay in enumerate(delays):
        ceiling = min(8.0, 2.0**n)
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 1.0
    again = Backoff(base=1.0, factor=2.0, cap=8.0, rng=random.Random(1))
    assert [again.next_delay() for _ in range(6)] == delays  # deterministic under a seed


def test_circuit_opens_after_threshold_and_half_opens() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(
        clock, threshold=3, backoff=Backoff(base=2.0, factor=2.0, cap=60.0, rng=random.Random(0))
    )
    for _ in range(2):
        breaker.record_failure("ticker/tBTCUSD")
        breaker.check("ticker/tBTCUSD")
    breaker.record_failure("ticker/tBTCUSD")
    assert breaker.state("ticker/tETHUSD") == "open"  # same endpoint bucket
    with pytest.raises(CircuitOpenError) as info:
        breaker.check("ticker/tBTCUSD")
    assert 0 < info.value.retry_after <= 2.0
    clock.advance(2.0)
    assert breaker.state("ticker/tBTCUSD") == "half-open"
    breaker.check("ticker/tBTCUSD")  # the single probe
    with pytest.raises(CircuitOpenError):
        breaker.check("ticker/tBTCUSD")  # no second probe while the first is out
    breaker.record_failure("ticker/tBTCUSD")  # probe failed: open again, longer
    with pytest.raises(CircuitOpenError) as info:
        breaker.check("ticker/tBTCUSD")
    assert info.value.retry_after > 1.0
    clock.advance(10.0)
    breaker.check("ticker/tBTCUSD")
    breaker.record_success("ticker/tBTCUSD")
    assert breaker.state("ticker/tBTCUSD") == "closed"
    breaker.check("book/tBTCUSD/P0")  # other endpoints were never affected


def test_rate_limit_opens_immediately_for_a_minute() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(clock, backoff=Backoff(base=1.0, rng=random.Random(0)))
    breaker.record_failure("auth/r/wallets", rate_limited=True)
    with pytest.raises(CircuitOpenError) as info:
        breaker.check("auth/r/wallets")
    assert info.value.retry_after == pytest.approx(60.0)
    clock.advance(59.0)
    assert breaker.state("auth/r/wallets") == "open"
    clock.advance(1.0)
    breaker.check("auth/r/wallets")


def test_a_probe_without_a_verdict_frees_the_slot() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(clock, threshold=1, backoff=Backoff(base=1.0, rng=random.Random(0)))
    breaker.record_failure("auth/r/wallets")
    clock.advance(2)
    breaker.check("auth/r/wallets")  # the half-open probe goes through
    with pytest.raises(CircuitOpenError):
        breaker.check("auth/r/wallets")  # only one at a time
    breaker.release("auth/r/wallets")  # it was cancelled: no verdict
    breaker.check("auth/r/wallets")  # the next caller probes instead
    assert breaker.remaining("auth/r/wallets") == 0.0


def test_circuit_changes_are_reported() -> None:
    clock = ManualClock()
    changes: list[tuple[str, bool]] = []
    breaker = CircuitBreaker(clock, threshold=2, backoff=Backoff(base=1.0, rng=random.Random(0)),
                             on_change=lambda endpoint, opened: changes.append((endpoint, opened)))
    breaker.record_failure("ticker/tBTCUSD")
    breaker.record_failure("ticker/tETHUSD")  # same endpoint key: opens now
    breaker.record_failure("ticker/tBTCUSD")  # already open: no second report
    breaker.record_success("ticker/tBTCUSD")
    breaker.record_success("ticker/tBTCUSD")  # already closed
    assert [("ticker", True), ("ticker", False)] == changes

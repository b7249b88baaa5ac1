"""Delivery: rate limits under a burst, retries that never duplicate, the ambiguous-timeout policy.

The limiter runs on a virtual clock (sleeping on it is instant), so nothing here waits for the
limits in real time; the fake server stamps each accepted message with that clock.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading

import anyio
import anyio.lowlevel
import pytest

from genesis_notify_telegram._ratelimit import RateLimiter

from ._fake_telegram import FakeTelegram
from ._support import CHAT, TOKEN, FakeClock, alert, make, serving, wait_until


GROUP = "-1001234567890"


def numbers(texts: list[str]) -> list[int]:
    """Alert numbers in the order they appear over all messages."""
    return [int(n) for text in texts for n in re.findall(r"<b>alert (\d{4})</b>", text)]


def max_in_window(times: list[float], window: float) -> int:
    """Most sends inside any half-open window [t, t + window)."""
    best = 0
    j = 0
    for i in range(len(times)):
        while times[i] - times[j] >= window - 1e-9:
            j += 1
        best = max(best, i - j + 1)
    return best


async def burst(notifier, count: int, fake: FakeTelegram, *, severity: str = "warning") -> None:
    async with serving(notifier):
        for i in range(count):
            await notifier.notify(alert(i, severity=severity))
        await wait_until(lambda: notifier.pending == 0, limit=20)


def test_500_alerts_one_message_each_keep_one_per_second_per_chat(fake, clock) -> None:
    notifier = make(fake, clock, coalesce=False)
    anyio.run(burst, notifier, 500, fake)
    sent = [s for s in fake.sent if s.chat_id == CHAT]
    assert list(range(500)) == numbers([s.text for s in sent])  # all, once, in order
    times = [s.at for s in sent]
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))
    assert 1 == max_in_window(times, 1.0)
    assert [f"<i>#{n}</i>" for n in range(1, 501)] == [s.text.rsplit("\n", 1)[1] for s in sent]


def test_500_alerts_to_a_group_are_coalesced_within_20_per_minute(fake, clock) -> None:
    notifier = make(fake, clock, chat_id=GROUP)
    anyio.run(burst, notifier, 500, fake)
    sent = [s for s in fake.sent if s.chat_id == GROUP]
    assert list(range(500)) == numbers([s.text for s in sent])
    assert len(sent) <= 500 / 20 + 1  # max_alerts_per_message
    times = [s.at for s in sent]
    assert max_in_window(times, 60.0) <= 20
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))
    assert re.search(r"<i>#2 · 20 alerts</i>$", sent[1].text)


def test_the_global_limit_holds_across_chats() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, global_per_second=30, global_burst=1,
                          chat_per_second=1, chat_burst=1, group_per_minute=20)
    times: list[float] = []

    async def main() -> None:
        for chat in range(300):  # 300 private chats, one message each: only 30/s applies
            await limiter.acquire(str(chat))
            times.append(clock.now)

    anyio.run(main)
    assert 30 == max_in_window(times, 1.0)
    assert times[-1] - times[0] == pytest.approx(299 / 30)


def test_min_severity_filters(fake, clock) -> None:
    notifier = make(fake, clock, min_severity="high")

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1, severity="warning"))
            await notifier.notify(alert(2, severity="critical"))
            await wait_until(lambda: len(fake.sent) == 1)

    anyio.run(main)
    assert [2] == numbers(fake.texts())


def test_502s_are_retried_with_backoff_and_delivered_once(fake, clock) -> None:
    fake.faults["sendMessage"].extend([("status", 502), ("status", 502)])
    notifier = make(fake, clock, backoff_initial=2.0, coalesce=False)

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1))
            await notifier.notify(alert(2))
            await wait_until(lambda: notifier.pending == 0)

    anyio.run(main)
    assert 4 == len(fake.method_calls("sendMessage"))
    assert [1, 2] == numbers(fake.texts())
    backoffs = [s for s in clock.sleeps if s >= 0.9]
    assert 1.0 <= backoffs[0] <= 2.0
    assert 2.0 <= backoffs[1] <= 4.0


def test_429_waits_retry_after_then_delivers_once(fake, clock) -> None:
    fake.faults["sendMessage"].append(("retry_after", 7))
    notifier = make(fake, clock, coalesce=False)

    async def main() -> None:
        async with serving(notifier):
            start = clock.now
            await notifier.notify(alert(1))
            await notifier.notify(alert(2))
            await wait_until(lambda: notifier.pending == 0)
            return start

    start = anyio.run(main)
    assert [1, 2] == numbers(fake.texts())
    assert fake.sent[0].at >= start + 7
    assert 3 == len(fake.method_calls("sendMessage"))


def test_connection_refused_is_retried_until_the_server_is_up(clock) -> None:
    with FakeTelegram(TOKEN, clock=clock, listen=False) as server:
        notifier = make(server, clock)
        listening = []

        def after_sleep(seconds: float) -> None:
            if len(clock.sleeps) >= 3 and not listening:  # a few refused attempts first
                listening.append(True)
                server.listen()

        clock.on_sleep = after_sleep

        async def main() -> None:
            async with serving(notifier):
                await notifier.notify(alert(1))
                await wait_until(lambda: notifier.pending == 0)

        anyio.run(main)
        assert [1] == numbers(server.texts())
        assert 1 == len(server.method_calls("sendMessage"))


def test_a_timeout_after_sending_is_not_resent_by_default(fake, clock, caplog) -> None:
    fake.faults["sendMessage"].append(("slow", 1.0))
    notifier = make(fake, clock, timeout=0.3, coalesce=False)

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1))
            await notifier.notify(alert(2))
            await wait_until(lambda: notifier.pending == 0)

    with caplog.at_level(logging.ERROR, "genesis_notify_telegram"):
        anyio.run(main)
    # The server carried out the first request although the client gave up: one copy each.
    assert [1, 2] == numbers(fake.texts())
    assert 2 == len(fake.method_calls("sendMessage"))
    assert any("message #1" in r.getMessage() and "not sent again" in r.getMessage()
               for r in caplog.records)


def test_resend_on_timeout_duplicates_are_recognisable(fake, clock) -> None:
    fake.faults["sendMessage"].append(("slow", 1.0))
    notifier = make(fake, clock, timeout=0.3, resend_on_timeout=True, coalesce=False)

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1))
            await notifier.notify(alert(2))
            await wait_until(lambda: notifier.pending == 0)

    anyio.run(main)
    texts = fake.texts()
    assert [1, 1, 2] == numbers(texts)
    assert texts[0] == texts[1]
    assert texts[0].endswith("<i>#1</i>")


def test_a_dropped_connection_with_resend_delivers_exactly_once(fake, clock) -> None:
    fake.faults["sendMessage"].append(("drop",))
    notifier = make(fake, clock, resend_on_timeout=True)

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1))
            await wait_until(lambda: notifier.pending == 0)

    anyio.run(main)
    assert [1] == numbers(fake.texts())
    assert 2 == len(fake.method_calls("sendMessage"))


def test_a_permanent_error_is_not_retried_and_does_not_block_the_next(fake, clock) -> None:
    fake.faults["sendMessage"].append(("error", 400, "Bad Request: chat not found"))
    notifier = make(fake, clock)

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1))
            await wait_until(lambda: notifier.pending == 0)
            await notifier.notify(alert(2))
            await wait_until(lambda: notifier.pending == 0)

    anyio.run(main)
    assert [2] == numbers(fake.texts())
    assert (1, 1) == (notifier.messages_failed, notifier.messages_sent)


def test_rejected_markup_falls_back_to_plain_text(fake, clock) -> None:
    fake.faults["sendMessage"].append(
        ("error", 400, "Bad Request: can't parse entities: unsupported start tag"))
    notifier = make(fake, clock)

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1, message="a < b"))
            await wait_until(lambda: notifier.pending == 0)

    anyio.run(main)
    [sent] = fake.sent
    assert sent.parse_mode is None
    assert "alert 0001" in sent.text
    assert "a < b" in sent.text
    assert "<b>" not in sent.text


def test_a_group_upgraded_to_a_supergroup_is_followed(fake, clock) -> None:
    fake.faults["sendMessage"].append(
        ("error", 400, "Bad Request: group chat was upgraded to a supergroup chat",
         {"migrate_to_chat_id": -1009876543210}))
    notifier = make(fake, clock, chat_id="-4567")

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1))
            await notifier.notify(alert(2))
            await wait_until(lambda: notifier.pending == 0)

    anyio.run(main)
    assert {"-1009876543210"} == {s.chat_id for s in fake.sent}
    assert [1, 2] == numbers(fake.texts())


def test_without_serve_notify_delivers_itself(fake) -> None:
    notifier = make(fake)

    async def main() -> None:
        await notifier.notify(alert(1))
        assert [1] == numbers(fake.texts())
        await notifier.aclose()

    anyio.run(main)


def test_aclose_flushes_what_is_queued(fake, clock) -> None:
    notifier = make(fake, clock, coalesce=False)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(notifier.serve, None)
            await wait_until(lambda: notifier._worker_running)
            for i in range(5):
                await notifier.notify(alert(i))
            tg.cancel_scope.cancel()  # shutdown: serve is cancelled with alerts queued
        assert notifier.pending > 0
        await notifier.aclose()

    anyio.run(main)
    assert [0, 1, 2, 3, 4] == numbers(fake.texts())


def test_notify_returns_while_the_outbox_is_still_sending(fake, clock) -> None:
    notifier = make(fake, clock, coalesce=False)
    answer = threading.Event()
    fake.faults["sendMessage"].append(("hold", answer))

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1))
            await wait_until(lambda: len(fake.sent) == 1)  # Telegram holds its answer
            await notifier.notify(alert(2))  # returns although #1 is still unanswered
            assert 2 == notifier.pending
            answer.set()
            await wait_until(lambda: notifier.pending == 0)

    anyio.run(main)
    assert [1, 2] == numbers(fake.texts())


def test_every_notify_waiting_for_room_in_a_full_outbox_gets_in(fake, clock) -> None:
    notifier = make(fake, clock, outbox_size=1, coalesce=False)
    answer = threading.Event()
    fake.faults["sendMessage"].append(("hold", answer))

    async def main() -> None:
        async with serving(notifier):
            await notifier.notify(alert(1))
            await wait_until(lambda: len(fake.sent) == 1)  # #1 is out, its answer held
            await notifier.notify(alert(2))  # the outbox is full now
            with anyio.fail_after(10):  # a safety net, not a timing assertion
                async with anyio.create_task_group() as tg:
                    tg.start_soon(notifier.notify, alert(3))
                    tg.start_soon(notifier.notify, alert(4))
                    for _ in range(10):  # both start and wait for room
                        await anyio.lowlevel.checkpoint()
                    answer.set()
            await wait_until(lambda: notifier.pending == 0)

    anyio.run(main)
    # Two callers waited at once: their relative order is theirs, but both get in, once.
    assert [1, 2, 3, 4] == sorted(numbers(fake.texts()))
    assert [1, 2] == numbers(fake.texts())[:2]


def test_a_notify_waiting_for_room_when_serve_stops_delivers_itself(fake, clock) -> None:
    notifier = make(fake, clock, outbox_size=1, coalesce=False)
    answer = threading.Event()
    fake.faults["sendMessage"].append(("hold", answer))

    async def main() -> None:
        with anyio.fail_after(10):  # a safety net, not a timing assertion
            # `callers` outlives `tg`: the waiting notify must finish after serve stopped.
            async with anyio.create_task_group() as callers, \
                    anyio.create_task_group() as tg:
                tg.start_soon(notifier.serve, None)
                await wait_until(lambda: notifier._worker_running)
                await notifier.notify(alert(1))
                await wait_until(lambda: len(fake.sent) == 1)
                await notifier.notify(alert(2))  # the outbox is full now
                callers.start_soon(notifier.notify, alert(3))
                for _ in range(10):
                    await anyio.lowlevel.checkpoint()
                tg.cancel_scope.cancel()  # serve stops while notify waits for room
                answer.set()
        await notifier.aclose()

    anyio.run(main)
    assert [1, 2, 3] == numbers(fake.texts())

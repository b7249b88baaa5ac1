"""Chat commands through getUpdates long polling, answered via a fake BotControl."""

from __future__ import annotations

import logging
import time

import anyio

from ._fake_telegram import FakeTelegram, parse_html
from ._support import FakeClock, FakeControl, make, serving, wait_until


OPERATOR = 555
GROUP = -100777
STRANGER = 999


def run_session(fake: FakeTelegram, clock: FakeClock, script, control: FakeControl | None = None,
                **params):
    """Serve with ``OPERATOR`` and ``GROUP`` allowed; ``script(say)`` sends messages, where
    ``await say(text)`` returns the reply's visible text."""
    control = control or FakeControl()
    notifier = make(fake, clock, allowed_chat_ids=[str(OPERATOR), str(GROUP)], **params)

    async def main() -> None:
        async with serving(notifier, control):
            async def say(text: str, chat: int = OPERATOR, *, answered: bool = True,
                          date: int | None = None) -> str | None:
                before = len(fake.texts(str(chat)))
                update_id = fake.push(chat, text, date=date)
                if not answered:  # wait until the poller is past it, then check: no reply
                    await wait_until(lambda: (notifier._offset or 0) > update_id)
                    assert before == len(fake.texts(str(chat)))
                    return None
                await wait_until(lambda: len(fake.texts(str(chat))) > before)
                return parse_html(fake.texts(str(chat))[-1])

            await script(say)

    anyio.run(main)
    return control, notifier


def test_status_positions_profit_signals(fake, clock) -> None:
    replies = {}

    async def script(say) -> None:
        for command in ("/status", "/positions", "/profit", "/signals", "/help", "/nope"):
            replies[command] = await say(command)

    run_session(fake, clock, script)
    assert replies["/status"] == (
        "Status\nbot: demo<1>\nmode: paper\nequity: 10009.25\nopen positions: 1\n"
        "auto trading: on\nemergency stop: off\npending confirmations: 1")
    assert replies["/positions"] == (
        "Open positions (1)\nBTCUSD LONG 0.5 @ 20000.00 (realized 12.50, fees 1.25)")
    assert replies["/profit"] == (
        "Profit\nrealized: 12.50\nunrealized: -3.25\nfees: 1.25\nequity: 10,009.25\n"
        "return pct: 0.09 %")
    assert replies["/signals"] == (
        "Latest signals (1)\n2013-10-01T04:00Z BUY BTCUSD 1h 0.72 (ema_rsi)")
    assert replies["/help"].startswith("Commands\n/status - ")
    assert "/stop - emergency stop" in replies["/help"]
    assert replies["/nope"] == "Unknown command /nope. Send /help for the list."


def test_pause_and_resume(fake, clock) -> None:
    seen = []

    async def script(say) -> None:
        seen.append(await say("/pause"))
        seen.append(control.auto_trading)
        seen.append(await say("/resume"))
        seen.append(control.auto_trading)

    control = FakeControl()
    run_session(fake, clock, script, control)
    assert seen[0].startswith("⏸ Auto-trading paused: no new trades open")
    assert seen[1] is False
    assert seen[2] == "▶️ Auto-trading resumed: new trades may open."
    assert seen[3] is True


def test_confirm_lists_then_confirms(fake, clock) -> None:
    control = FakeControl()
    signal_id = control.signal.id
    seen = []

    async def script(say) -> None:
        seen.append(await say("/confirm"))
        seen.append(await say(f"/confirm {signal_id}"))
        seen.append(await say("/confirm"))
        seen.append(await say("/confirm nope"))

    run_session(fake, clock, script, control)
    assert seen[0] == (f"Waiting for confirmation (1)\n2013-10-01T04:00Z BUY BTCUSD 1h 0.72 "
                       f"(ema_rsi)\n/confirm {signal_id}")
    assert seen[1] == f"✅ confirmed {signal_id}: BUY BTCUSD"
    assert [signal_id] == control.confirmed
    assert seen[2] == "No signals are waiting for confirmation."
    assert seen[3] == "✅ no signal nope is waiting for confirmation"


def test_stop_needs_a_confirmation_within_60_seconds(fake, clock) -> None:
    control = FakeControl()
    seen = []

    async def script(say) -> None:
        seen.append(await say("/stop yes"))            # no request yet: refused
        seen.append(await say("/stop"))
        seen.append(list(control.stops))               # nothing happened yet
        seen.append(await say("/stop yes"))            # confirmed in time
        seen.append(await say("/stop flatten"))
        clock.advance(61)
        seen.append(await say("/stop flatten yes"))    # too late
        seen.append(await say("/stop flatten"))
        clock.advance(59)
        seen.append(await say("/stop flatten yes", GROUP))  # another chat's request: no
        seen.append(await say("/stop flatten yes"))
        seen.append(await say("/stop now"))

    run_session(fake, clock, script, control)
    refused = ("No /stop request in the last 60 s: nothing done. Send /stop first, then "
               "confirm.")
    assert seen[0] == refused
    assert seen[1] == ("🛑 Emergency stop cancels every open order and blocks new trades until "
                       "it is cleared. To go ahead send /stop yes within 60 s.")
    assert seen[2] == []
    assert seen[3] == "🛑 emergency stop engaged; 0 position(s) being closed"
    assert "closes every position" in seen[4]
    assert "/stop flatten yes" in seen[4]
    assert seen[5] == refused
    assert seen[7] == refused
    assert seen[8] == "🛑 emergency stop engaged; 1 position(s) being closed"
    assert seen[9] == "Usage: /stop, or /stop flatten (also close positions)."
    assert [False, True] == control.stops


def test_chats_not_on_the_allow_list_are_ignored_and_logged(fake, clock, caplog) -> None:
    control = FakeControl()
    seen = []

    async def script(say) -> None:
        seen.append(await say("/pause", STRANGER, answered=False))
        seen.append(await say("/stop", STRANGER, answered=False))
        seen.append(await say("/stop yes", STRANGER, answered=False))
        seen.append(await say("/status"))  # the allowed chat still works afterwards

    with caplog.at_level(logging.WARNING, "genesis_notify_telegram"):
        run_session(fake, clock, script, control)
    assert [None, None, None] == seen[:3]
    assert control.auto_trading
    assert not control.stops
    assert [] == fake.texts(str(STRANGER))
    ignored = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert 3 == len(ignored)
    assert all(f"chat {STRANGER}" in m and "allowed_chat_ids" in m for m in ignored)


def test_commands_are_off_without_an_allow_list(fake, clock) -> None:
    notifier = make(fake, clock)

    async def main() -> None:
        async with serving(notifier):
            fake.push(OPERATOR, "/pause")
            await anyio.sleep(0.05)

    anyio.run(main)
    assert [] == fake.method_calls("getUpdates")


def test_each_update_is_handled_once_and_confirmed(fake, clock) -> None:
    control = FakeControl()
    calls = []

    async def pause(enabled: bool) -> None:
        calls.append(enabled)

    control.set_auto_trading = pause

    async def script(say) -> None:
        await say("/pause")
        fake.faults["getUpdates"].append(("stale",))  # the server sends old updates again
        await say("/status")

    _, _notifier = run_session(fake, clock, script, control)
    assert [False] == calls
    assert 2 == len([t for t in fake.texts(str(OPERATOR)) if "paused" in t or "Status" in t])
    polls = fake.method_calls("getUpdates")
    assert all(p["allowed_updates"] == ["message"] and p["timeout"] == 1
               for p in polls if p.get("limit") != 1)
    # aclose confirmed the last offset, so a restart would not get these updates again.
    # (Compared by value, not by position: the fake server records a request when its handler
    # thread runs, so under load a first poll the client already gave up on can be recorded
    # last. Seen once in a loaded full run; the likely cause, not a proven one.)
    assert max(p.get("offset", 0) for p in polls) == fake.confirmed == fake._next_update


def test_old_commands_are_refused(fake, clock) -> None:
    control = FakeControl()
    seen = []

    async def script(say) -> None:
        seen.append(await say("/pause", date=int(time.time()) - 3600))

    run_session(fake, clock, script, control)
    assert seen[0] == ("/pause was sent while the bot was not listening and was not carried "
                       "out; send it again.")
    assert control.auto_trading


def test_commands_for_another_bot_are_left_alone(fake, clock) -> None:
    control = FakeControl()
    seen = []

    async def script(say) -> None:
        seen.append(await say("/pause@some_other_bot", GROUP, answered=False))
        seen.append(await say("/pause@genesis_test_bot", GROUP))

    run_session(fake, clock, script, control)
    assert seen[0] is None
    assert seen[1].startswith("⏸ Auto-trading paused")
    assert not control.auto_trading


def test_polling_survives_errors(fake, clock) -> None:
    fake.faults["getUpdates"].extend([("status", 502), ("retry_after", 3), ("drop",)])
    seen = []

    async def script(say) -> None:
        seen.append(await say("/status"))

    run_session(fake, clock, script)
    assert seen[0].startswith("Status")
    assert 3 in clock.sleeps


def test_a_failing_command_answers_with_the_error_type(fake, clock) -> None:
    control = FakeControl()

    async def broken() -> None:
        raise RuntimeError("database is locked")

    control.status = broken
    seen = []

    async def script(say) -> None:
        seen.append(await say("/status"))
        seen.append(await say("/profit"))

    run_session(fake, clock, script, control)
    assert seen[0] == "/status failed: RuntimeError"
    assert seen[1].startswith("Profit")


def test_stop_engages_only_what_was_explained(fake, clock) -> None:
    # /stop explains "cancels every open order"; a /stop flatten yes must not turn that into
    # closing every position (and /stop flatten must not be confirmed by a plain /stop yes).
    control = FakeControl()
    seen = []

    async def script(say) -> None:
        await say("/stop")
        seen.append(await say("/stop flatten yes"))
        await say("/stop flatten")
        seen.append(await say("/stop yes"))
        await say("/stop flatten")
        seen.append(await say("/stop flatten yes"))

    run_session(fake, clock, script, control)
    assert seen[0] == ("That confirms /stop flatten, but the request was /stop: nothing "
                       "done. Send /stop flatten first, then confirm.")
    assert seen[1] == ("That confirms /stop, but the request was /stop flatten: nothing "
                       "done. Send /stop first, then confirm.")
    assert seen[2] == "🛑 emergency stop engaged; 1 position(s) being closed"
    assert [True] == control.stops


def test_a_refused_old_command_is_echoed_escaped(fake, clock) -> None:
    seen = []

    async def script(say) -> None:
        seen.append(await say("/a<i>b</i>&c", date=int(time.time()) - 3600))

    run_session(fake, clock, script)
    assert seen[0] == ("/a<i>b</i>&c was sent while the bot was not listening and was not "
                       "carried out; send it again.")
    [reply] = [p for p in fake.method_calls("sendMessage")]
    assert "HTML" == reply["parse_mode"]


def test_a_failed_getme_does_not_make_the_bot_obey_commands_for_other_bots(fake,
                                                                          clock) -> None:
    # getMe fails at startup and once more: the bot does not know its name yet.
    fake.faults["getMe"].extend([("status", 502), ("status", 502)])
    control = FakeControl()
    seen = []

    async def script(say) -> None:
        seen.append(await say("/pause@some_other_bot", GROUP, answered=False))
        seen.append(await say("/status", GROUP))  # handled in order: the /pause is done
        seen.append(control.auto_trading)
        seen.append(await say("/pause@genesis_test_bot", GROUP))  # getMe works again

    run_session(fake, clock, script, control)
    assert seen[0] is None
    assert seen[1].startswith("Status")
    assert seen[2] is True
    assert seen[3].startswith("⏸ Auto-trading paused")
    assert not control.auto_trading

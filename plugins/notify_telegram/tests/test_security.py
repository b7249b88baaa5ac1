"""The bot token never reaches a log record, not even httpx's request log (URLs carry it)."""

from __future__ import annotations

import logging

import anyio

from genesis_core import load_config, load_plugins

from ._fake_telegram import FakeTelegram
from ._support import TOKEN, FakeClock, alert, serving, wait_until


class Capture(logging.Handler):
    """Every record of every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.names.add(record.name)


YAML = """
name: tg
mode: paper
markets: [{symbol: BTCUSD, timeframes: [1h]}]
data_source: {plugin: replay, params: {files: []}}
executor: {plugin: paper}
strategies: [{plugin: ema_rsi}]
notifiers:
  - plugin: telegram
    params:
      bot_token: ${TELEGRAM_BOT_TOKEN}
      chat_id: "111"
      allowed_chat_ids: ["555"]
      api_url: %s
      poll_timeout: 1
      timeout: 0.3
      coalesce: false
"""


def test_a_whole_session_at_debug_level_never_logs_the_token(tmp_path, monkeypatch,
                                                             capsys) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    clock = FakeClock()
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        with FakeTelegram(TOKEN, clock=clock, listen=False) as server:
            path = tmp_path / "bot.yaml"
            path.write_text(YAML % server.url)
            plugins = load_plugins()
            config = load_config(path, plugins)
            entry = plugins.registry.get("notifier", "telegram")
            notifier = entry.cls(config.notifiers[0].params, clock=clock, sleep=clock.sleep)
            listening: list[bool] = []

            def after_sleep(seconds: float) -> None:
                if len(clock.sleeps) >= 2 and not listening:  # refused connections first
                    listening.append(True)
                    server.listen()

            clock.on_sleep = after_sleep
            server.faults["sendMessage"].extend([
                ("status", 502), ("retry_after", 2), ("drop",), ("slow", 1.0),
                ("error", 400, "Bad Request: chat not found")])
            server.faults["getUpdates"].extend([("status", 502), ("error", 409, "Conflict")])

            async def main() -> None:
                async with serving(notifier):
                    for i in range(6):
                        await notifier.notify(alert(i))
                    server.push(999, "/status")  # a stranger
                    server.push(555, "/status")
                    server.push(555, "/stop")
                    await wait_until(lambda: notifier.pending == 0
                                     and not any(server.faults.values()))
                    server.push(555, "/help")
                    await wait_until(lambda: any("/help - this list" in t
                                                 for t in server.texts("555")))

            anyio.run(main)
            assert len(server.texts("111")) >= 3
            assert [] == server.texts("999")
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)

    captured = capsys.readouterr()
    everything = "\n".join([*capture.lines, captured.out, captured.err])
    secret_part = TOKEN.split(":", 1)[1]
    assert TOKEN not in everything
    assert secret_part not in everything
    # The check means something: httpx did log the request URLs, and failures were logged.
    assert {"httpx", "httpcore.connection", "genesis_notify_telegram"} <= capture.names
    assert any("botREDACTED/sendMessage" in line for line in capture.lines)
    assert any("ConnectError" in line for line in capture.lines)
    assert any("ignored a message from chat 999" in line for line in capture.lines)

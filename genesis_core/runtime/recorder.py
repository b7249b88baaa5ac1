"""Writes the bot's state to SQLite without ever making trading wait for the disk.

The trading loop appends write closures; a background task applies them in batches, each batch
in one transaction, in a worker thread. At shutdown everything queued is written before the
store closes, so a clean stop leaves nothing half-written; a kill leaves whole batches only.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.to_thread

from genesis_core.storage import Store


Write = Callable[[Store], object]


class Recorder:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[Write] = []
        self._wakeup: anyio.Event | None = None
        self.batches = 0

    def write(self, fn: Write) -> None:
        self._queue.append(fn)
        if self._wakeup is not None:
            self._wakeup.set()

    async def run(self) -> None:
        """Background writer: started in the bot's task group, cancelled at shutdown."""
        while True:
            if not self._queue:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
            await anyio.to_thread.run_sync(self._flush_batch)

    def _flush_batch(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            return
        with self.store.transaction():
            for fn in batch:
                fn(self.store)
        self.batches += 1

    def close(self) -> None:
        """Write what is left (called once the trading loop has stopped) and close."""
        self._flush_batch()
        self.store.close()

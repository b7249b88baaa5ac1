"""Writes the bot's state to SQLite without ever making trading wait for the disk.

The trading loop appends write closures and marks **checkpoints**: points where everything
queued so far describes a consistent bot (a market event or an executor report fully handled).
A background task commits the queue up to the last checkpoint, each batch in one transaction,
in a worker thread; so a kill leaves the database at a checkpoint, never half-way through a bar.

Orders sent to a venue that outlives the process are written ahead: :meth:`Recorder.commit_now`
commits the whole queue before the submit leaves, so a restarted bot knows every order the
venue may hold. At shutdown everything queued is written before the store closes.
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
        self._ready = 0  # writes before this index end at a checkpoint
        self._taken: list[Write] = []  # the batch handed to the worker thread
        self._wakeup: anyio.Event | None = None
        self._lock = anyio.Lock()  # batches commit in queue order
        self.batches = 0

    def write(self, fn: Write) -> None:
        self._queue.append(fn)

    def checkpoint(self) -> None:
        """Everything queued so far may be committed."""
        self._ready = len(self._queue)
        if self._wakeup is not None and self._ready:
            self._wakeup.set()

    async def run(self) -> None:
        """Background writer: started in the bot's task group, cancelled at shutdown."""
        while True:
            if not self._ready:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
            await self._commit(everything=False)

    def discard_unfinished(self) -> None:
        """Drop what was queued after the last checkpoint (a unit of work cut short)."""
        del self._queue[self._ready:]

    async def commit_now(self) -> None:
        """Commit the whole queue, checkpoint or not, before returning (write-ahead)."""
        await self._commit(everything=True)

    async def _commit(self, *, everything: bool) -> None:
        async with self._lock:  # measured inside: another commit may have run meanwhile
            upto = len(self._queue) if everything else self._ready
            self._taken = self._queue[:upto]
            del self._queue[:upto]
            self._ready = max(0, self._ready - upto)
            if self._taken:
                # A cancellation may land before the thread starts: the batch then stays in
                # _taken and close() writes it.
                await anyio.to_thread.run_sync(self._apply_taken)

    def _apply_taken(self) -> None:
        batch, self._taken = self._taken, []
        with self.store.transaction():
            for fn in batch:
                fn(self.store)
        self.batches += 1

    def close(self) -> None:
        """Write what is left (called once the trading loop has stopped) and close."""
        try:
            self._taken += self._queue
            self._queue = []
            if self._taken:
                self._apply_taken()
        finally:
            self.store.close()

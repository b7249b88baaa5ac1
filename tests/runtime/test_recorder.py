"""The background writer: commits at checkpoints only, writes ahead on demand, loses nothing."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from genesis_core.runtime.recorder import Recorder
from genesis_core.storage import Store


pytestmark = pytest.mark.anyio


def flag(name: str):  # type: ignore[no-untyped-def]
    return lambda store: store.set_flag(name, True, 0)


def committed(path: Path) -> list[str]:
    with Store.open(path) as store:
        return [name for name in "abcd" if store.get_flag(name)]


async def test_commits_stop_at_the_last_checkpoint_unless_written_ahead(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    recorder = Recorder(Store.open(path))
    async with anyio.create_task_group() as tg:
        tg.start_soon(recorder.run)
        recorder.write(flag("a"))
        recorder.checkpoint()
        recorder.write(flag("b"))  # a unit of work still under way
        with anyio.fail_after(5):
            while recorder.batches < 1:  # noqa: ASYNC110 - waiting on the writer thread
                await anyio.sleep(0.001)
        assert ["a"] == committed(path)
        await recorder.commit_now()  # an order is about to leave: everything goes to disk
        assert ["a", "b"] == committed(path)
        recorder.write(flag("c"))
        tg.cancel_scope.cancel()
    recorder.close()
    assert ["a", "b", "c"] == committed(path)


async def test_a_batch_cancelled_before_its_thread_started_is_written_at_close(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.db"
    recorder = Recorder(Store.open(path))
    recorder.write(flag("a"))
    recorder.write(flag("b"))

    async def cancelled_at_the_start(fn):  # type: ignore[no-untyped-def]
        raise anyio.get_cancelled_exc_class()()

    monkeypatch.setattr(anyio.to_thread, "run_sync", cancelled_at_the_start)
    with pytest.raises(anyio.get_cancelled_exc_class()):
        await recorder.commit_now()
    recorder.write(flag("c"))
    recorder.close()
    assert ["a", "b", "c"] == committed(path)

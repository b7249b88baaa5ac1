"""Opening a Genesis SQLite file: one place that turns a bad path or a foreign file into a
one-line error and never leaves a connection open behind a failure."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlite_utils import Database


def open_database(path: Path, setup: Callable[[Database], None], *,
                  error: type[Exception], cannot: str, invalid: str | None = None,
                  check_same_thread: bool = True, make_folder: bool = False) -> Database:
    """Connect to ``path`` and run ``setup`` (pragmas, schema checks, migrations) on it.

    ``cannot`` and ``invalid`` are messages with ``{path}`` and ``{exc}`` placeholders: the
    first for a file that cannot be opened, the second (default: the first) for one that
    turns out not to be a usable database; both are raised as ``error``.
    """
    try:
        if make_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=check_same_thread, timeout=10.0)
    except (OSError, sqlite3.Error) as exc:
        raise error(cannot.format(path=path, exc=exc)) from None
    db = Database(conn, execute_plugins=False)
    try:
        setup(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise error((invalid or cannot).format(path=path, exc=exc)) from None
    except BaseException:
        db.close()
        raise
    return db


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """All of the block's writes or none; nested blocks are savepoints.

    IMMEDIATE takes the write lock up front, waiting out another writer (the CLI's `genesis
    stop`, a second download) for the busy timeout. A deferred transaction that reads first and
    writes later fails at once with "database is locked" if another connection committed in
    between (WAL), without waiting.
    """
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

"""Schema of the bot database, as an ordered list of migrations.

Migrations are recorded by name in sqlite-utils' ``_sqlite_migrations`` table; the schema
version of a database is the number of migrations applied to it. Append new migrations at the
end and never edit an applied one: a re-open applies only what is missing.
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from genesis_core.errors import GenesisError


class StorageError(GenesisError):
    """The bot database cannot be used (newer schema, busy, inconsistent call)."""


MIGRATIONS = Migrations("genesis")

# Money columns are TEXT: a Decimal stored as its str() comes back identical (digits, exponent,
# sign). Timestamps are INTEGER ms UTC, as everywhere in Genesis.
_INITIAL = """
CREATE TABLE candles (
    symbol TEXT NOT NULL, timeframe TEXT NOT NULL, ts INTEGER NOT NULL,
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
    volume REAL NOT NULL,
    PRIMARY KEY (symbol, timeframe, ts)
);
CREATE TABLE signals (
    id TEXT PRIMARY KEY, symbol TEXT NOT NULL, timeframe TEXT NOT NULL, side TEXT NOT NULL,
    confidence REAL NOT NULL, timestamp INTEGER NOT NULL, price REAL NOT NULL,
    strategy TEXT NOT NULL, trading_probability REAL NOT NULL, strength TEXT NOT NULL,
    reason TEXT NOT NULL, recommendation TEXT NOT NULL, stop_loss REAL, take_profit REAL
);
CREATE INDEX signals_timestamp ON signals (timestamp);
CREATE TABLE risk_decisions (
    signal_id TEXT NOT NULL, seq INTEGER NOT NULL, policy TEXT NOT NULL, action TEXT NOT NULL,
    reason TEXT NOT NULL, amount TEXT, stop_loss TEXT, take_profit TEXT, trailing_stop TEXT,
    PRIMARY KEY (signal_id, seq)
);
CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL,
    type TEXT NOT NULL, amount TEXT NOT NULL, price TEXT, stop_price TEXT,
    post_only INTEGER NOT NULL, reduce_only INTEGER NOT NULL, hidden INTEGER NOT NULL,
    group_id TEXT, parent_id TEXT, signal_id TEXT,
    status TEXT NOT NULL, filled_amount TEXT NOT NULL, average_price TEXT,
    exchange_order_id TEXT, updated_at INTEGER NOT NULL, reason TEXT NOT NULL
);
CREATE INDEX orders_status ON orders (status);
CREATE TABLE order_transitions (
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id), seq INTEGER NOT NULL,
    from_status TEXT, to_status TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL,
    filled_amount TEXT NOT NULL,
    PRIMARY KEY (client_order_id, seq)
);
CREATE TABLE fills (
    fill_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, amount TEXT NOT NULL, price TEXT NOT NULL, fee TEXT NOT NULL,
    fee_currency TEXT NOT NULL, timestamp INTEGER NOT NULL, liquidity TEXT NOT NULL
);
CREATE INDEX fills_order ON fills (client_order_id);
CREATE TABLE positions (
    symbol TEXT PRIMARY KEY, lots TEXT NOT NULL, realized_pnl TEXT NOT NULL,
    fees TEXT NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE balances (
    ts INTEGER NOT NULL, currency TEXT NOT NULL, total TEXT NOT NULL, available TEXT NOT NULL,
    PRIMARY KEY (ts, currency)
);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, severity TEXT NOT NULL,
    title TEXT NOT NULL, message TEXT NOT NULL, timestamp INTEGER NOT NULL, symbol TEXT,
    context TEXT NOT NULL
);
CREATE TABLE flags (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE confirmations (
    signal_id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'expired')),
    requested_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, kind TEXT NOT NULL,
    subject TEXT NOT NULL, message TEXT NOT NULL, data TEXT
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""


# Crash recovery: bracket links (an unfilled entry's stops live nowhere else) and the runtime
# checkpoint (replay cursor, peak and day-start equity), each a JSON document.
_RECOVERY = """
CREATE TABLE brackets (
    entry_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, closed INTEGER NOT NULL,
    data TEXT NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE runtime (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
"""


def _initial(db: Database) -> None:
    db.executescript(_INITIAL)


def _recovery(db: Database) -> None:
    # Statement by statement: executescript() would commit the migration's transaction first.
    for statement in filter(str.strip, _RECOVERY.split(";")):
        db.execute(statement)


# Ordered; append only. A name, once released, is never reused or edited.
STEPS = (("0001_initial", _initial), ("0002_recovery", _recovery))
for _name, _step in STEPS:
    MIGRATIONS(name=_name)(_step)
SCHEMA_VERSION = len(STEPS)


def migrate(db: Database, path: Path) -> int:
    """Bring ``db`` to :data:`SCHEMA_VERSION`; refuse a database written by a newer Genesis.

    Returns the number of migrations applied now (0 on a re-open).
    """
    applied = [m.name for m in MIGRATIONS.applied(db)]
    if set(applied) - {name for name, _ in STEPS}:
        raise StorageError(
            f"{path}: database schema version {len(applied)} is newer than this Genesis "
            f"supports ({SCHEMA_VERSION}); upgrade genesis-core to open it"
        )
    foreign = [t for t in db.table_names() if not t.startswith(("_sqlite", "sqlite_"))]
    if not applied and foreign:
        # Another tool's (or Genesis's backtest or candle) database: adding the bot's tables
        # to it silently, as `genesis status` pointed at backtests.db did, helps no one.
        raise StorageError(f"{path}: not a Genesis bot database (it holds "
                           f"{', '.join(sorted(foreign)[:5])}); point storage.path elsewhere")
    pending = len(MIGRATIONS.pending(db))
    MIGRATIONS.apply(db)
    return pending


def schema_version(db: Database) -> int:
    """Number of this set's migrations applied to ``db``."""
    return len(MIGRATIONS.applied(db))

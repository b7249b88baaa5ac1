"""The bot's state in one SQLite file: signals, decisions, orders, fills, positions, flags, audit.

Threading: **one writer thread.** The connection is opened with ``check_same_thread=False`` so the
runner may call from ``anyio.to_thread`` workers; calls are serialised by a lock, and a
:meth:`Store.transaction` block must run whole inside one synchronous call (never ``await``
inside it: another worker would wait for the lock and the store reports ``StorageError``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from sqlite_utils import Database

from genesis_core.models import (
    Alert,
    Balance,
    Candles,
    Fill,
    Lot,
    Order,
    OrderRequest,
    OrderStatus,
    Position,
    RiskAction,
    RiskDecision,
    Signal,
)
from genesis_core.storage.migrations import StorageError, migrate
from genesis_core.storage.sqlite import open_database, write_transaction


FlagValue = bool | int | str
_LOCK_TIMEOUT = 30.0
_OPEN = tuple(s.value for s in OrderStatus if not s.is_final)


@attrs.frozen
class Transition:
    """One row of an order's history; ``from_status`` is ``None`` for the first."""

    client_order_id: str
    seq: int
    from_status: OrderStatus | None
    to_status: OrderStatus
    at: int
    reason: str
    filled_amount: Decimal


@attrs.frozen
class Confirmation:
    """A trade waiting for a human; ``status`` is ``pending``, ``confirmed`` or ``expired``."""

    signal_id: str
    status: str
    requested_at: int
    expires_at: int


@attrs.frozen
class AuditEntry:
    seq: int
    ts: int
    kind: str
    subject: str
    message: str
    data: Any = None


def _text(value: Decimal | None) -> str | None:
    # Always convert ourselves: sqlite-utils would turn a Decimal into a float.
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True, separators=(",", ":"))


@functools.cache
def _insert_sql(table: str, columns: tuple[str, ...], pk: tuple[str, ...]) -> str:
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
           f"({', '.join('?' * len(columns))})")
    if pk:  # an upsert that keeps the row (and its rowid) when the key exists
        sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in pk)
        sql += f" ON CONFLICT ({', '.join(pk)}) DO UPDATE SET {sets}"
    return sql


class Store:
    """State store of one bot. Build with :meth:`open`; every write is its own transaction."""

    def __init__(self, db: Database, path: Path) -> None:
        self.db = db
        self.path = path
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
        path = Path(path)

        def setup(db: Database) -> None:
            db.enable_wal()
            # FULL: a commit survives power loss too, not only a killed process.
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            migrate(db, path)

        db = open_database(path, setup, error=StorageError,
                           cannot="{path}: cannot open bot database: {exc}",
                           check_same_thread=False)
        return cls(db, path)

    def close(self) -> None:
        with self._locked():
            self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=_LOCK_TIMEOUT):
            raise StorageError(f"{self.path}: store busy for {_LOCK_TIMEOUT:.0f} s; does a "
                               "transaction() block span threads or awaits?")
        try:
            yield
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group writes: all of them are committed, or none if the block raises. Nestable."""
        with self._locked(), write_transaction(self.db):
            yield self

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._locked():
            cursor = self.db.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _insert(self, table: str, rows: Iterable[Mapping[str, Any]],
                pk: tuple[str, ...] = ()) -> None:
        # Plain SQL: sqlite-utils' insert/upsert re-read the table schema on every call, which
        # costs the background writer (and, through the GIL, the trading loop) ~0.1 ms a row.
        for row in rows:
            self.db.execute(_insert_sql(table, tuple(row), pk), list(row.values()))

    def _next_seq(self, table: str, key: str, value: str) -> int:
        row = self.db.execute(f"SELECT max(seq) FROM {table} WHERE {key} = ?", [value]).fetchone()
        return 1 if row[0] is None else row[0] + 1

    # -- market data -------------------------------------------------------------------------

    def record_candles(self, candles: Candles) -> None:
        """Insert or replace bars; ``candles`` must carry its symbol and timeframe."""
        if not (candles.symbol and candles.timeframe):
            raise ValueError("record_candles needs candles with a symbol and a timeframe")
        rows = ({"symbol": candles.symbol, "timeframe": candles.timeframe,
                 "ts": int(candles.timestamp[i]), "open": float(candles.open[i]),
                 "high": float(candles.high[i]), "low": float(candles.low[i]),
                 "close": float(candles.close[i]), "volume": float(candles.volume[i])}
                for i in range(len(candles)))
        with self.transaction():
            self._insert("candles", rows, pk=("symbol", "timeframe", "ts"))

    def load_candles(self, symbol: str, timeframe: str, *, limit: int | None = None) -> Candles:
        """The latest ``limit`` bars (all when ``None``), oldest first."""
        rows = self._rows(
            "SELECT ts, open, high, low, close, volume FROM candles WHERE symbol = ? AND "
            "timeframe = ? ORDER BY ts DESC LIMIT ?",
            [symbol, timeframe, -1 if limit is None else limit])
        values = [tuple(r.values()) for r in reversed(rows)]
        return Candles.from_rows(values, symbol=symbol, timeframe=timeframe)

    # -- signals and risk --------------------------------------------------------------------

    def record_signal(self, signal: Signal) -> None:
        """Store ``signal`` under its deterministic id (a re-record replaces it)."""
        row = {k: str(v) if k in ("side", "strength") else v
               for k, v in attrs.asdict(signal).items()}
        with self.transaction():
            self._insert("signals", [{"id": signal.id, **row}], pk=("id",))

    def load_signals(self, *, since: int | None = None) -> list[Signal]:
        """Signals with ``timestamp >= since`` (all when ``None``), oldest first."""
        where, params = ("WHERE timestamp >= ?", [since]) if since is not None else ("", [])
        rows = self._rows(f"SELECT * FROM signals {where} ORDER BY timestamp, id", params)
        for row in rows:
            del row["id"]
        return [Signal(**row) for row in rows]

    def record_decisions(self, signal_id: str, decisions: Sequence[RiskDecision]) -> None:
        """Append the policies' verdicts on ``signal_id``, in chain order."""
        with self.transaction():
            seq = self._next_seq("risk_decisions", "signal_id", signal_id)
            self._insert("risk_decisions", (
                {"signal_id": signal_id, "seq": seq + i, "policy": d.policy,
                 "action": d.action.value, "reason": d.reason, "amount": _text(d.amount),
                 "stop_loss": _text(d.stop_loss), "take_profit": _text(d.take_profit),
                 "trailing_stop": _text(d.trailing_stop)}
                for i, d in enumerate(decisions)))

    def load_decisions(self, signal_id: str) -> list[RiskDecision]:
        rows = self._rows("SELECT * FROM risk_decisions WHERE signal_id = ? ORDER BY seq",
                          [signal_id])
        return [RiskDecision(RiskAction(r["action"]), r["policy"], r["reason"],
                             *(_dec(r[k]) for k in ("amount", "stop_loss", "take_profit",
                                                    "trailing_stop")))
                for r in rows]

    # -- orders and fills --------------------------------------------------------------------

    def record_order(self, order: Order, previous: Order | None) -> int:
        """Upsert ``order`` and append its transition from ``previous`` (``None`` when new).

        ``previous`` must be what the store holds (same status), so the history never lies;
        returns the transition's ``seq``.
        """
        cid = order.client_order_id
        if previous is not None and previous.client_order_id != cid:
            raise ValueError(f"order {cid}: previous is order {previous.client_order_id}")
        if previous is not None and not previous.can_transition(order.status):
            raise StorageError(f"order {cid}: illegal transition {previous.status} -> "
                               f"{order.status}")
        with self.transaction():
            stored = self.db.execute("SELECT status FROM orders WHERE client_order_id = ?",
                                     [cid]).fetchone()
            expected = None if previous is None else previous.status.value
            if (stored and stored[0]) != expected:
                raise StorageError(f"order {cid}: store holds status "
                                   f"{stored and stored[0]}, caller says {expected}")
            self._insert("orders", [_order_row(order)], pk=("client_order_id",))
            seq = self._next_seq("order_transitions", "client_order_id", cid)
            self._insert("order_transitions", [
                {"client_order_id": cid, "seq": seq, "from_status": expected,
                 "to_status": order.status.value, "at": order.updated_at,
                 "reason": order.reason, "filled_amount": str(order.filled_amount)}])
        return seq

    def load_orders(self, open_only: bool = True) -> list[Order]:
        """Orders in creation order; only the not-final ones when ``open_only``."""
        where = f"WHERE status IN ({', '.join('?' * len(_OPEN))})" if open_only else ""
        rows = self._rows(f"SELECT * FROM orders {where} ORDER BY rowid",
                          _OPEN if open_only else ())
        return [_order(row) for row in rows]

    def load_transitions(self, client_order_id: str) -> list[Transition]:
        rows = self._rows("SELECT * FROM order_transitions WHERE client_order_id = ? "
                          "ORDER BY seq", [client_order_id])
        return [Transition(r["client_order_id"], r["seq"],
                           r["from_status"] and OrderStatus(r["from_status"]),
                           OrderStatus(r["to_status"]), r["at"], r["reason"],
                           Decimal(r["filled_amount"])) for r in rows]

    def record_fill(self, fill: Fill) -> bool:
        """Store ``fill``; ``False`` (and nothing written) if its ``fill_id`` is already known."""
        row = {k: str(v) if isinstance(v, Decimal | str) else v
               for k, v in attrs.asdict(fill).items()}
        columns = ", ".join(row)
        with self.transaction():
            cursor = self.db.execute(
                f"INSERT OR IGNORE INTO fills ({columns}) VALUES "
                f"({', '.join('?' * len(row))})", list(row.values()))
            return cursor.rowcount == 1

    def load_fills(self, client_order_id: str | None = None) -> list[Fill]:
        """Fills in arrival order, of one order or of all."""
        where, params = ("WHERE client_order_id = ?", [client_order_id]) if client_order_id \
            else ("", [])
        return [Fill(**row) for row in self._rows(f"SELECT * FROM fills {where} ORDER BY rowid",
                                                  params)]

    # -- portfolio ---------------------------------------------------------------------------

    def save_position(self, position: Position, at: int) -> None:
        lots = [[str(lot.amount), str(lot.price)] for lot in position.lots]
        with self.transaction():
            self._insert("positions", [
                {"symbol": position.symbol, "lots": _json(lots),
                 "realized_pnl": str(position.realized_pnl), "fees": str(position.fees),
                 "updated_at": at}], pk=("symbol",))

    def load_positions(self) -> dict[str, Position]:
        """Every saved position (flat ones too: they carry realised PnL and fees)."""
        return {r["symbol"]: Position(
            r["symbol"], tuple(Lot(Decimal(a), Decimal(p)) for a, p in json.loads(r["lots"])),
            Decimal(r["realized_pnl"]), Decimal(r["fees"]))
            for r in self._rows("SELECT * FROM positions ORDER BY symbol")}

    def record_balances(self, ts: int, balances: Iterable[Balance]) -> None:
        """Store a snapshot of ``balances`` taken at ``ts``."""
        with self.transaction():
            self._insert("balances", (
                {"ts": ts, "currency": b.currency, "total": str(b.total),
                 "available": str(b.available)} for b in balances), pk=("ts", "currency"))

    def load_balances(self) -> dict[str, Balance]:
        """The latest snapshot of each currency."""
        rows = self._rows("SELECT currency, total, available FROM balances b WHERE ts = "
                          "(SELECT max(ts) FROM balances WHERE currency = b.currency)")
        return {r["currency"]: Balance(r["currency"], Decimal(r["total"]),
                                       Decimal(r["available"])) for r in rows}

    # -- alerts, audit, flags ----------------------------------------------------------------

    def record_alert(self, alert: Alert) -> None:
        row = attrs.asdict(alert)
        row.update(severity=alert.severity.value, context=_json(dict(alert.context)))
        with self.transaction():
            self._insert("alerts", [row])

    def load_alerts(self, *, limit: int = 100) -> list[Alert]:
        """The latest ``limit`` alerts, oldest first."""
        rows = self._rows("SELECT * FROM alerts ORDER BY id DESC LIMIT ?", [limit])
        return [Alert(**{**r, "context": json.loads(r["context"])})
                for r in reversed([{k: v for k, v in r.items() if k != "id"} for r in rows])]

    def audit(self, ts: int, kind: str, subject: str, message: str,
              data: Mapping[str, Any] | None = None) -> int:
        """Append to the audit log (Decimals in ``data`` become strings); returns its ``seq``."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO audit (ts, kind, subject, message, data) VALUES (?, ?, ?, ?, ?)",
                [ts, kind, subject, message, None if data is None else _json(dict(data))])
            return int(cursor.lastrowid or 0)

    def load_audit(self, *, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Audit entries with ``seq > after``, oldest first."""
        rows = self._rows("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
                          [after, limit])
        return [AuditEntry(**{**r, "data": r["data"] and json.loads(r["data"])}) for r in rows]

    def set_flag(self, name: str, value: FlagValue, at: int) -> None:
        """Persist a switch (emergency stop, auto-trading) so it survives restarts."""
        with self.transaction():
            self._insert("flags", [{"name": name, "value": _json(value), "updated_at": at}],
                         pk=("name",))

    def get_flag(self, name: str, default: FlagValue | None = None) -> FlagValue | None:
        rows = self._rows("SELECT value FROM flags WHERE name = ?", [name])
        return json.loads(rows[0]["value"]) if rows else default

    # -- crash recovery ----------------------------------------------------------------------

    def save_bracket(self, entry_id: str, symbol: str, closed: bool, data: Mapping[str, Any],
                     at: int) -> None:
        """Upsert the links and state of one bracket (Decimals in ``data`` become strings)."""
        with self.transaction():
            self._insert("brackets", [{"entry_id": entry_id, "symbol": symbol,
                                       "closed": int(closed), "data": _json(dict(data)),
                                       "updated_at": at}], pk=("entry_id",))

    def load_brackets(self) -> dict[str, dict[str, Any]]:
        """Every bracket's ``data`` by entry id, in the order they were opened."""
        rows = self._rows("SELECT entry_id, data FROM brackets ORDER BY rowid")
        return {r["entry_id"]: json.loads(r["data"]) for r in rows}

    def save_runtime(self, name: str, value: Mapping[str, Any], at: int) -> None:
        """Upsert a runtime document (the run's identity, the last checkpoint)."""
        with self.transaction():
            self._insert("runtime", [{"name": name, "value": _json(dict(value)),
                                      "updated_at": at}], pk=("name",))

    def load_runtime(self, name: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT value FROM runtime WHERE name = ?", [name])
        return json.loads(rows[0]["value"]) if rows else None

    def count(self, table: str) -> int:
        """Rows in one of the store's tables."""
        if table not in self.db.table_names():
            raise ValueError(f"no table {table!r} in the bot database")
        return int(self._rows(f"SELECT count(*) AS n FROM {table}")[0]["n"])

    # -- manual confirmations ----------------------------------------------------------------

    def request_confirmation(self, signal_id: str, requested_at: int, expires_at: int) -> None:
        """Park ``signal_id`` until a human confirms it or ``expires_at`` (ms) passes."""
        with self.transaction():
            self._insert("confirmations", [
                {"signal_id": signal_id, "status": "pending", "requested_at": requested_at,
                 "expires_at": expires_at}], pk=("signal_id",))

    def confirm(self, signal_id: str, at: int) -> bool:
        """Mark a pending, unexpired confirmation confirmed; ``False`` if there was none."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE confirmations SET status = 'confirmed' WHERE signal_id = ? AND "
                "status = 'pending' AND expires_at > ?", [signal_id, at])
            return cursor.rowcount == 1

    def expire_confirmations(self, now: int) -> list[str]:
        """Expire pending confirmations whose deadline is ``<= now``; return their ids."""
        with self.transaction():
            ids = [r[0] for r in self.db.execute(
                "SELECT signal_id FROM confirmations WHERE status = 'pending' AND "
                "expires_at <= ? ORDER BY requested_at, signal_id", [now])]
            self.db.execute("UPDATE confirmations SET status = 'expired' WHERE "
                            "status = 'pending' AND expires_at <= ?", [now])
        return ids

    def confirmation(self, signal_id: str) -> Confirmation | None:
        rows = self._rows("SELECT * FROM confirmations WHERE signal_id = ?", [signal_id])
        return Confirmation(**rows[0]) if rows else None

    def pending_confirmations(self) -> list[Confirmation]:
        rows = self._rows("SELECT * FROM confirmations WHERE status = 'pending' "
                          "ORDER BY requested_at, signal_id")
        return [Confirmation(**r) for r in rows]


def _order_row(order: Order) -> dict[str, Any]:
    request = attrs.asdict(order.request)
    state = attrs.asdict(order, recurse=False, filter=lambda a, _: a.name != "request")
    row = {**request, **state}
    return {k: str(v) if isinstance(v, Decimal | str) else v for k, v in row.items()}


def _order(row: dict[str, Any]) -> Order:
    # SQLite has no bool: the three flags come back as 0/1.
    request = OrderRequest(**{f.name: bool(row[f.name]) if f.type in (bool, "bool")
                              else row[f.name] for f in attrs.fields(OrderRequest)})
    return Order(request, OrderStatus(row["status"]), Decimal(row["filled_amount"]),
                 _dec(row["average_price"]), row["exchange_order_id"], row["updated_at"],
                 row["reason"])

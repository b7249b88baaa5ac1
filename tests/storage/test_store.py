"""The SQLite state store: exact round-trips, migrations, append-only audit, atomicity, crashes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from genesis_core.models import (
    Alert,
    Balance,
    Candles,
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    Position,
    RiskDecision,
    Signal,
)
from genesis_core.storage import SCHEMA_VERSION, StorageError, Store
from genesis_core.storage.migrations import migrate, schema_version


S = OrderStatus


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    with Store.open(path) as opened:
        yield opened


def reopen(store: Store) -> Store:
    store.close()
    return Store.open(store.path)


def make_signal(ts: int = 3_600_000, **changes: object) -> Signal:
    fields = dict(symbol="BTCUSD", timeframe="1h", side="BUY", confidence=0.7, timestamp=ts,
                  price=30123.456789, strategy="ema_cross", reason="fast > slow",
                  stop_loss=29000.1, take_profit=None)
    return Signal.make(**{**fields, **changes})


def limit_order(cid: str = "g1", **changes: object) -> Order:
    fields = dict(client_order_id=cid, symbol="BTCUSD", side="BUY", type="STOP_LIMIT",
                  amount=Decimal("0.12345678"), price=Decimal("30000.10"),
                  stop_price=Decimal("3E+4"), reduce_only=True, hidden=True,
                  group_id="oco1", parent_id="g0", signal_id="ema:BTCUSD:1h:1")
    return Order(OrderRequest(**{**fields, **changes}))


def make_fill(fill_id: str = "f1", cid: str = "g1", side: str = "BUY",
              amount: str = "0.05", price: str = "30000.10", symbol: str = "BTCUSD") -> Fill:
    return Fill(fill_id, cid, symbol, side, Decimal(amount), Decimal(price),
                Decimal("-0.0000012"), "USD", 7_200_000, "MAKER")


def lifecycle(order: Order) -> list[Order]:
    """PENDING -> SUBMITTED -> OPEN -> PARTIALLY_FILLED -> FILLED, one Order per step."""
    steps = [order]
    for n, (status, filled) in enumerate([(S.SUBMITTED, None), (S.OPEN, None),
                                          (S.PARTIALLY_FILLED, Decimal("0.05")),
                                          (S.FILLED, order.request.amount)], start=1):
        steps.append(steps[-1].transition(status, at=n * 1000, reason=f"step {n}",
                                          filled_amount=filled,
                                          average_price=filled and Decimal("30000.10"),
                                          exchange_order_id="ex-9" if n > 1 else None))
    return steps


# -- migrations ----------------------------------------------------------------------------


def test_fresh_database_is_migrated_and_in_wal_mode(store: Store) -> None:
    assert SCHEMA_VERSION == schema_version(store.db)
    assert "wal" == store.db.journal_mode
    assert {"candles", "signals", "risk_decisions", "orders", "order_transitions", "fills",
            "positions", "balances", "alerts", "flags", "confirmations",
            "audit"} <= set(store.db.table_names())


def test_reopen_applies_nothing_twice_and_keeps_data(store: Store) -> None:
    store.set_flag("emergency_stop", True, at=1)
    store = reopen(store)
    try:
        assert 0 == migrate(store.db, store.path)
        assert SCHEMA_VERSION == store.db["_sqlite_migrations"].count
        assert store.get_flag("emergency_stop") is True
    finally:
        store.close()


def test_a_version_1_database_gains_the_recovery_tables_and_keeps_its_data(
        path: Path) -> None:
    from sqlite_utils import Database

    from genesis_core.storage.migrations import MIGRATIONS

    db = Database(path)
    MIGRATIONS.apply(db, stop_before="0002_recovery")
    assert 1 == schema_version(db)
    db.execute("INSERT INTO flags (name, value, updated_at) VALUES ('auto_trading', 'false', 1)")
    db.conn.commit()
    db.close()
    with Store.open(path) as store:
        assert 2 == SCHEMA_VERSION == schema_version(store.db)
        assert {"brackets", "runtime"} <= set(store.db.table_names())
        assert store.get_flag("auto_trading") is False


def test_database_from_newer_version_is_refused(path: Path) -> None:
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('genesis', '9999_from_the_future', 'later')")
    conn.close()
    with pytest.raises(StorageError) as info:
        Store.open(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"version {SCHEMA_VERSION + 1} is newer" in message
    assert f"supports ({SCHEMA_VERSION})" in message


def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StorageError, match=r"junk\.db: cannot open bot database"):
        Store.open(junk)


# -- round-trips ---------------------------------------------------------------------------


def test_recovery_documents_and_brackets_round_trip(store: Store) -> None:
    checkpoint = {"now": 7_200_000, "cursor": [["BTCUSD", "1h", 3_600_000]],
                  "peak": Decimal("10123.4500"), "signals": 3}
    store.save_runtime("checkpoint", checkpoint, 7_200_000)
    store.save_runtime("checkpoint", {**checkpoint, "signals": 4}, 10_800_000)
    assert {**checkpoint, "peak": "10123.4500", "signals": 4} == store.load_runtime(
        "checkpoint")
    assert store.load_runtime("run") is None
    bracket = {"entry_id": "g1", "stop_id": None, "filled": Decimal("0.5"), "closed": False}
    store.save_bracket("g1", "BTCUSD", False, bracket, 1)
    store.save_bracket("g0", "ETHUSD", True, {**bracket, "entry_id": "g0"}, 2)
    store.save_bracket("g1", "BTCUSD", True, {**bracket, "closed": True}, 3)  # keeps its place
    assert {"g1": {**bracket, "filled": "0.5", "closed": True},
            "g0": {**bracket, "entry_id": "g0", "filled": "0.5"}} == store.load_brackets()
    assert ["g1", "g0"] == list(store.load_brackets())
    assert 2 == store.count("brackets")
    with pytest.raises(ValueError, match="no table 'nope'"):
        store.count("nope")


def test_signals_and_decisions_round_trip(store: Store) -> None:
    signals = [make_signal(), make_signal(7_200_000, side="SELL", take_profit=28000.5,
                                          stop_loss=None, confidence=0.95)]
    for s in signals:
        store.record_signal(s)
    store.record_signal(signals[0])  # same id again: replaced, not duplicated
    decisions = [RiskDecision.approve("max_positions"),
                 RiskDecision.resize("fixed_risk", Decimal("0.00123400"), "1% of equity",
                                     stop_loss=Decimal("29000.1"),
                                     trailing_stop=Decimal("1E+2")),
                 RiskDecision.confirm("confidence_band", "0.7 needs a human")]
    store.record_decisions(signals[0].id, decisions[:2])
    store.record_decisions(signals[0].id, decisions[2:])
    store = reopen(store)
    try:
        assert signals == store.load_signals()
        assert signals[1:] == store.load_signals(since=7_200_000)
        assert decisions == store.load_decisions(signals[0].id)
        assert "0.00123400" == str(store.load_decisions(signals[0].id)[1].amount)
    finally:
        store.close()


def test_orders_round_trip_decimal_exact_with_their_history(store: Store) -> None:
    steps = lifecycle(limit_order())
    market = Order(OrderRequest("g2", "ETHUSD", "SELL", "MARKET", Decimal("1.000")))
    store.record_order(market, None)
    for previous, order in zip([None, *steps], steps, strict=False):
        store.record_order(order, previous)
        assert [market, order] == sorted(store.load_orders(open_only=False),
                                         key=lambda o: o.client_order_id != "g2")
    store = reopen(store)
    try:
        assert [market] == store.load_orders()  # g1 is FILLED: final
        loaded = store.load_orders(open_only=False)[1]
        assert steps[-1] == loaded
        assert ("0.12345678", "3E+4") == (str(loaded.request.amount),
                                               str(loaded.request.stop_price))
        history = store.load_transitions("g1")
        assert [1, 2, 3, 4, 5] == [t.seq for t in history]
        assert [None, S.PENDING, S.SUBMITTED, S.OPEN, S.PARTIALLY_FILLED] == [
            t.from_status for t in history]
        assert [o.status for o in steps] == [t.to_status for t in history]
        assert [o.filled_amount for o in steps] == [t.filled_amount for t in history]
        assert "step 3" == history[3].reason
    finally:
        store.close()


def test_record_order_refuses_a_previous_the_store_does_not_hold(store: Store) -> None:
    steps = lifecycle(limit_order())
    store.record_order(steps[0], None)
    with pytest.raises(StorageError, match="store holds status PENDING, caller says OPEN"):
        store.record_order(steps[3], steps[2])
    with pytest.raises(StorageError, match="illegal transition PENDING -> FILLED"):
        store.record_order(steps[4], steps[0])
    assert 1 == len(store.load_transitions("g1"))


def test_duplicate_fill_is_ignored(store: Store) -> None:
    fill = make_fill()
    assert store.record_fill(fill) is True
    assert store.record_fill(make_fill(amount="9")) is False
    assert store.record_fill(make_fill("f2", cid="g2")) is True
    store = reopen(store)
    try:
        assert [fill, make_fill("f2", cid="g2")] == store.load_fills()
        assert [fill] == store.load_fills("g1")
        assert "-0.0000012" == str(store.load_fills()[0].fee)
    finally:
        store.close()


def test_positions_balances_alerts_candles_round_trip(store: Store) -> None:
    position = Position("BTCUSD")
    for fill in (make_fill("a", amount="0.3", price="100.10"),
                 make_fill("b", amount="0.1", price="101.333"),
                 make_fill("c", side="SELL", amount="0.35", price="99.9")):
        position = position.apply(fill)
    short = Position("ETHUSD").apply(make_fill("d", side="SELL", amount="2.50", symbol="ETHUSD"))
    store.save_position(position, at=1)
    store.save_position(short, at=2)
    store.record_balances(10, [Balance("USD", Decimal("1000.00"), Decimal("900.50"))])
    latest = [Balance("USD", Decimal("999.10"), Decimal("999.10")),
              Balance("BTC", Decimal("0.05000000"), Decimal("0"))]
    store.record_balances(20, latest)
    alert = Alert("drawdown", "high", "Drawdown 12%", "equity fell", 5, "BTCUSD",
                  {"drawdown": "0.12"})
    store.record_alert(alert)
    candles = Candles.from_rows([(0, 1.1, 2.2, 0.5, 1.7, 10.25), (3_600_000, 1.7, 1.9, 1.3,
                                  1.3, 0.0), (7_200_000, 1.3, 1.4, 1.0, 1.1, 3.0)],
                                symbol="BTCUSD", timeframe="1h")
    store.record_candles(candles)
    store.record_candles(candles[1:])  # overlapping write: replaced, not duplicated
    store = reopen(store)
    try:
        assert {"BTCUSD": position, "ETHUSD": short} == store.load_positions()
        assert position.lots == store.load_positions()["BTCUSD"].lots
        assert {b.currency: b for b in latest} == store.load_balances()
        assert [alert] == store.load_alerts()
        loaded = store.load_candles("BTCUSD", "1h")
        assert [c.tolist() for c in candles.arrays()] == [c.tolist() for c in loaded.arrays()]
        assert [7_200_000] == store.load_candles("BTCUSD", "1h", limit=1).timestamp.tolist()
    finally:
        store.close()


def test_flags_survive_a_restart(store: Store) -> None:
    assert store.get_flag("auto_trading", default=True) is True
    store.set_flag("auto_trading", False, at=1)
    store.set_flag("emergency_stop", True, at=2)
    store.set_flag("note", "paused by alice", at=3)
    store = reopen(store)
    try:
        assert store.get_flag("auto_trading") is False
        assert store.get_flag("emergency_stop") is True
        assert "paused by alice" == store.get_flag("note")
    finally:
        store.close()


def test_confirmations_are_confirmed_or_expire(store: Store) -> None:
    store.request_confirmation("s1", requested_at=0, expires_at=1000)
    store.request_confirmation("s2", requested_at=10, expires_at=2000)
    store.request_confirmation("s3", requested_at=20, expires_at=500)
    assert store.confirm("s3", at=500) is False  # the deadline has passed
    assert store.confirm("s1", at=999) is True
    assert store.confirm("s1", at=999) is False  # only once
    assert ["s2", "s3"] == [c.signal_id for c in store.pending_confirmations()]
    assert ["s3"] == store.expire_confirmations(now=1500)
    store = reopen(store)
    try:
        assert ["s2"] == [c.signal_id for c in store.pending_confirmations()]
        assert 2000 == store.pending_confirmations()[0].expires_at
        assert ["s2"] == store.expire_confirmations(now=2000)
        assert [] == store.pending_confirmations()
    finally:
        store.close()


# -- audit, transactions, threads ----------------------------------------------------------


def test_audit_log_is_append_only(store: Store, path: Path) -> None:
    seq = store.audit(1, "flag", "emergency_stop", "engaged by /stop",
                      {"flatten": True, "equity": Decimal("1234.50")})
    assert [1, 2] == [seq, store.audit(2, "order", "g1", "submitted")]
    entries = store.load_audit()
    assert {"flatten": True, "equity": "1234.50"} == entries[0].data
    assert entries[1].data is None
    assert not hasattr(store, "delete_audit")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("UPDATE audit SET message = 'edited'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("DELETE FROM audit WHERE seq = 1")
    other = sqlite3.connect(path)  # the trigger lives in the file, not in Store
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        other.execute("DELETE FROM audit")
    other.close()
    assert entries == store.load_audit()


def test_a_transaction_that_raises_rolls_everything_back(store: Store) -> None:
    steps = lifecycle(limit_order())

    def crash_between_writes() -> None:
        with store.transaction():
            store.record_signal(make_signal())
            store.record_order(steps[0], None)
            store.record_fill(make_fill())
            store.audit(1, "order", "g1", "new")
            raise RuntimeError("crash between writes")

    def fail_on_second_order_write() -> None:
        with store.transaction():
            store.record_order(steps[0], None)
            store.record_order(steps[2], steps[1])  # stale previous: the whole group is undone

    with pytest.raises(RuntimeError):
        crash_between_writes()
    with pytest.raises(StorageError):
        fail_on_second_order_write()
    for table in ("signals", "orders", "order_transitions", "fills", "audit"):
        assert 0 == store.db[table].count, table
    assert store.record_fill(make_fill()) is True  # the fill id was never taken


def test_the_store_can_be_used_from_a_worker_thread(store: Store) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            store.record_order(limit_order(), None)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert [] == errors
    assert [limit_order()] == store.load_orders()


# -- crash safety --------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from decimal import Decimal
    from genesis_core.models import Fill, Order, OrderRequest, OrderStatus as S
    from genesis_core.storage import Store

    store = Store.open(sys.argv[1])
    i = 0
    while True:
        with store.transaction():
            order = Order(OrderRequest(f"o{i}", "BTCUSD", "BUY", "LIMIT", Decimal("0.3"),
                                       price=Decimal("100.5")))
            store.record_order(order, None)
            print(i, flush=True)  # "0..i-1 committed, i in flight": the kill lands mid-way
            for n, status in enumerate((S.SUBMITTED, S.OPEN, S.FILLED), start=1):
                new = order.transition(status, at=i * 10 + n,
                                       filled_amount=Decimal("0.3") if n == 3 else None)
                store.record_order(new, order)
                order = new
            store.record_fill(Fill(f"f{i}", f"o{i}", "BTCUSD", "BUY", Decimal("0.3"),
                                   Decimal("100.5"), Decimal("0.01"), "USD", i))
            store.audit(i, "order", f"o{i}", "filled")
        i += 1
""")


def test_a_writer_killed_mid_loop_leaves_a_consistent_database(path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        in_flight = -1
        while in_flight < 30:
            line = proc.stdout.readline()
            assert line, f"writer died: {proc.stderr.read()}"
            in_flight = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert -signal.SIGKILL == proc.returncode
    with Store.open(path) as store:
        assert "ok" == store.db.execute("PRAGMA integrity_check").fetchone()[0]
        orders = store.load_orders(open_only=False)
        n = len(orders)
        assert n >= in_flight  # every transaction before the one in flight is there
        assert [f"o{i}" for i in range(n)] == [o.client_order_id for o in orders]
        assert all(S.FILLED is o.status for o in orders)
        for order in orders:
            history = store.load_transitions(order.client_order_id)
            assert [None, S.PENDING, S.SUBMITTED, S.OPEN] == [t.from_status for t in history]
            assert order.status is history[-1].to_status
        assert n == len(store.load_fills()) == store.db["audit"].count


def test_a_write_committed_by_another_connection_meanwhile_never_fails_a_transaction(
        tmp_path) -> None:
    # The bot reads, then writes, in one transaction while `genesis stop` (another process)
    # sets a flag. A deferred transaction failed its first write with "database is locked".
    bot, cli = Store.open(tmp_path / "s.db"), Store.open(tmp_path / "s.db")
    flagged = threading.Event()

    def stop() -> None:
        cli.set_flag("emergency_stop_request", "flatten", 1)
        flagged.set()

    with bot, cli:
        other = threading.Thread(target=stop)
        with bot.transaction():
            bot.load_audit()                # a read opens the transaction's snapshot
            other.start()
            flagged.wait(timeout=0.5)       # the other writer waits for this one to commit
            bot.audit(2, "bot", "b", "written after the other writer tried")
        other.join(timeout=30)
        assert flagged.is_set()
        assert "flatten" == bot.get_flag("emergency_stop_request")
        assert ["written after the other writer tried"] == [e.message for e in bot.load_audit()]

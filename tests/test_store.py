import sqlite3
import threading

import pytest

from d1sandbox.db import Database


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "t.db")
    database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data TEXT)")
    yield database
    database.close()


def test_wal_mode(db):
    assert db.scalar("PRAGMA journal_mode") == "wal"


def test_transaction_is_all_or_nothing(db):
    with pytest.raises(sqlite3.IntegrityError):
        with db.transaction():
            db.insert("t", {"name": "first"})
            db.insert("t", {"name": None})  # violates NOT NULL half-way
    assert db.scalar("SELECT COUNT(*) FROM t") == 0


def test_nested_transactions_join_the_outer_one(db):
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.insert("t", {"name": "outer"})
            with db.transaction():
                db.insert("t", {"name": "inner"})
            raise RuntimeError("crash after the inner block")
    assert db.scalar("SELECT COUNT(*) FROM t") == 0


def test_json_values_round_trip(db):
    with db.transaction():
        row_id = db.insert("t", {"name": "x", "data": {"a": [1, 2]}})
    db.update("t", {"id": row_id}, {"name": "y"})
    assert db.get("t", id=row_id)["data"] == '{"a":[1,2]}'
    assert db.get("t", id=row_id)["name"] == "y"


def test_threads_get_their_own_connections(db):
    seen = []

    def work():
        with db.transaction():
            db.insert("t", {"name": threading.current_thread().name})
        seen.append(id(db.conn))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.scalar("SELECT COUNT(*) FROM t") == 4
    assert len(set(seen)) == 4


def test_service_schemas_are_idempotent(tmp_path):
    from issuer.store import create_schema as issuer_schema
    from simulator.store import create_schema as sim_schema

    db = Database(tmp_path / "s.db")
    sim_schema(db)
    sim_schema(db)
    db2 = Database(tmp_path / "i.db")
    issuer_schema(db2)
    issuer_schema(db2)
    names = {r["name"] for r in db.all("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "journal_correlation" in names and "outbox_due" in names

import pytest

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.outbox import Outbox, RetryLater


@pytest.fixture
def outbox(tmp_path):
    db = Database(tmp_path / "o.db")
    Outbox.create_schema(db)
    db.execute("CREATE TABLE state (v TEXT)")
    return Outbox(db, Clock(), base_delay=10)


def test_message_exists_only_if_the_state_change_committed(outbox):
    with pytest.raises(RuntimeError):
        with outbox.db.transaction():
            outbox.db.insert("state", {"v": "x"})
            outbox.enqueue("notify", {"n": 1})
            raise RuntimeError("crash")
    assert outbox.stats() == {}


def test_delivers_and_marks_done(outbox):
    seen = []
    outbox.register("notify", lambda payload, row: seen.append(payload))
    with outbox.db.transaction():
        outbox.enqueue("notify", {"n": 1})
    assert outbox.drain() == 1
    assert seen == [{"n": 1}] and outbox.stats() == {"done": 1}


def test_retries_with_backoff_then_dead(outbox):
    calls = []

    def flaky(payload, row):
        calls.append(row["attempts"])
        raise RetryLater("issuer down")

    outbox.register("notify", flaky)
    outbox.enqueue("notify", {}, max_attempts=3)
    outbox.drain()
    assert outbox.drain() == 0  # not due until the backoff passes
    outbox.clock.advance(10)
    outbox.drain()
    outbox.clock.advance(20)
    outbox.drain()
    assert calls == [0, 1, 2]
    assert outbox.stats() == {"dead": 1}
    assert outbox.pending()[0]["last_error"] == "issuer down"


def test_pending_rows_survive_a_restart(tmp_path):
    db = Database(tmp_path / "o.db")
    Outbox.create_schema(db)
    Outbox(db, Clock()).enqueue("notify", {"n": 7})
    db.close()
    reopened = Outbox(Database(tmp_path / "o.db"), Clock())
    got = []
    reopened.register("notify", lambda p, r: got.append(p))
    reopened.drain()
    assert got == [{"n": 7}]


def test_handler_bug_does_not_kill_delivery_of_others(outbox):
    outbox.register("bad", lambda p, r: 1 / 0)
    good = []
    outbox.register("good", lambda p, r: good.append(p))
    outbox.enqueue("bad", {})
    outbox.enqueue("good", {"ok": True})
    outbox.drain()
    assert good == [{"ok": True}]

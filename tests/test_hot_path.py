"""The machinery behind the hot-path work (docs/performance.md): after-commit hooks, the in-process
write lock, the background checkpointer, the event-driven outbox worker and its batched drain, the
outbox filter of the sandbox API, keep-alive after a 204 under waitress, schema reuse by the argument
parser. Behaviour only: how fast is `d1sandbox bench`'s business."""

from __future__ import annotations

import http.client
import threading
import time

import pytest

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.outbox import Outbox
from d1sandbox.serve import stop_threaded


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "t.db")
    database.execute("CREATE TABLE t (v INTEGER)")
    yield database
    database.close()


def test_after_commit_runs_once_committed_never_on_rollback(db):
    ran = []
    with db.transaction():
        db.insert("t", {"v": 1})
        db.after_commit(lambda: ran.append(db.scalar("SELECT COUNT(*) FROM t")))
        with db.transaction():  # nested: joins, the callback still waits for the outer COMMIT
            db.after_commit(lambda: ran.append("nested"))
        assert ran == []
    assert ran == [1, "nested"]
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.after_commit(lambda: ran.append("rolled back"))
            raise RuntimeError
    assert ran == [1, "nested"]
    db.after_commit(lambda: ran.append("no transaction"))
    assert ran[-1] == "no transaction"


def test_writers_in_many_threads_queue_instead_of_failing(db):
    errors = []

    def writer(n):
        try:
            for _ in range(25):
                with db.transaction():
                    value = db.scalar("SELECT COUNT(*) FROM t")
                    db.insert("t", {"v": value + 1})
        except Exception as exc:  # "database is locked" would land here
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Read-then-write inside one transaction stayed atomic: every value is distinct.
    assert db.scalar("SELECT COUNT(DISTINCT v) FROM t") == 150


def _queued(db, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    while len(db._group_queue) < n:
        assert time.monotonic() < deadline, f"only {len(db._group_queue)} of {n} callers queued"
        time.sleep(0.001)


def _commits(db):
    seen = []
    db.conn  # noqa: B018  (the leader's connection must exist to be traced)
    for conn in db._all:
        conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


def _behind_a_blocked_leader(db, leader_work, followers, *, before_release=lambda threads: None):
    """The leader's batch holds only `leader_work`, which waits on a gate while every work of
    `followers` ({name: work}) queues behind it; then the gate opens. Returns {name: result or the
    exception raised}, the leader's under "lead"."""
    gate = threading.Event()
    outcome = {}

    def caller(name, work):
        try:
            outcome[name] = db.group_commit(work)
        except BaseException as exc:  # noqa: B036  (interruptions are among what is checked)
            outcome[name] = exc

    def gated():
        gate.wait(5)
        return leader_work()

    leader = threading.Thread(target=caller, args=("lead", gated))
    leader.start()
    time.sleep(0.05)  # the leader has taken its batch (the queue is empty again) and waits on the gate
    threads = [threading.Thread(target=caller, args=item) for item in followers.items()]
    for t in threads:
        t.start()
    _queued(db, len(threads))
    before_release(threads)
    gate.set()
    for t in [leader, *threads]:
        t.join(5)
    assert not any(t.is_alive() for t in threads)
    return outcome


def test_group_commit_shares_one_commit_among_concurrent_writers_and_hands_over_the_lead(db):
    traced = []

    def nth(n):
        def work():
            db.insert("t", {"v": n})
            return n * 10
        return work

    def before_release(threads):
        for t in threads:
            assert t.is_alive()  # nobody returns before the COMMIT holding their row
        traced.append(_commits(db))  # COMMITs from here on

    def first():
        db.insert("t", {"v": 0})
        return "first"

    outcome = _behind_a_blocked_leader(db, first, {n: nth(n) for n in range(1, 8)}, before_release=before_release)
    assert not any(isinstance(v, BaseException) for v in outcome.values())
    assert outcome == {"lead": "first", **{n: n * 10 for n in range(1, 8)}}
    assert sorted(r["v"] for r in db.all("SELECT v FROM t")) == list(range(8))
    # One COMMIT for the first batch, one for the seven that queued behind it (the lead was handed
    # to one of them); connections opened by the follower threads are traced too.
    assert len(traced[0]) == 2
    assert db._group_queue == [] and db._group_leading is False


def test_group_commit_one_failing_writer_fails_alone(db):
    def blocker():
        db.insert("t", {"v": 100})

    def good(n):
        def work():
            db.insert("t", {"v": n})
            db.after_commit(lambda: outcome.setdefault(f"after-{n}", db.scalar("SELECT COUNT(*) FROM t")))
            return n
        return work

    def bad():
        db.insert("t", {"v": -1})
        raise ValueError("refused")

    outcome = {}  # the after-commit callbacks add to it while the batch commits
    outcome.update(_behind_a_blocked_leader(db, blocker, {1: good(1), 2: bad, 3: good(3)}))
    assert outcome[1] == 1 and outcome[3] == 3 and outcome["lead"] is None
    assert isinstance(outcome[2], ValueError)
    assert sorted(r["v"] for r in db.all("SELECT v FROM t")) == [1, 3, 100]  # nothing of the failed one
    assert outcome["after-1"] >= 2 and outcome["after-3"] >= 2  # callbacks ran after a COMMIT


class _Abort(BaseException):
    pass


def test_group_commit_interrupted_batch_reports_no_false_success_and_frees_the_lead(db):
    def write(n):
        def work():
            db.insert("t", {"v": n})
            return n
        return work

    def interrupted():
        db.insert("t", {"v": -1})
        raise _Abort

    outcome = _behind_a_blocked_leader(db, lambda: None, {1: write(1), 2: interrupted})
    # whoever led the interrupted batch saw the interruption; nobody was told their rows were kept
    assert [r["v"] for r in db.all("SELECT v FROM t")] == []
    assert all(isinstance(outcome[n], BaseException) for n in (1, 2))
    assert db._group_leading is False
    assert db.group_commit(write(3)) == 3  # and the lead is free for the next caller


def test_group_commit_alone_and_inside_a_transaction(db):
    assert db.group_commit(lambda: db.insert("t", {"v": 1}) and "done") == "done"
    with pytest.raises(KeyError):
        db.group_commit(lambda: (db.insert("t", {"v": 2}), {}["missing"]))
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.group_commit(lambda: db.insert("t", {"v": 3}))  # joins the open transaction …
            raise RuntimeError
    assert [r["v"] for r in db.all("SELECT v FROM t")] == [1]  # … and is rolled back with it
    assert db._group_leading is False


def test_checkpointer_turns_automatic_checkpoints_off_and_stops_on_close(tmp_path):
    database = Database(tmp_path / "c.db")
    database.execute("CREATE TABLE t (v INTEGER)")
    assert database.scalar("PRAGMA wal_autocheckpoint") == 1000
    database.start_checkpointer(interval=0.01)
    fresh = []
    threading.Thread(target=lambda: fresh.append(database.scalar("PRAGMA wal_autocheckpoint"))).start()
    deadline = time.monotonic() + 5
    while not fresh and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fresh == [0] and database.scalar("PRAGMA wal_autocheckpoint") == 0
    thread = database._checkpointer
    database.close()
    assert not thread.is_alive()


def test_the_worker_is_woken_by_the_commit_not_by_its_poll(tmp_path):
    database = Database(tmp_path / "o.db")
    Outbox.create_schema(database)
    outbox = Outbox(database, Clock())
    delivered = threading.Event()
    outbox.register("ping", lambda payload, row: delivered.set())
    outbox.start(poll_interval=60)  # a poll would come far too late: only the wake-up can deliver
    try:
        time.sleep(0.05)  # let the worker finish its first (empty) drain and wait
        with database.transaction():
            outbox.enqueue("ping", {})
            time.sleep(0.2)  # a worker woken now would find nothing committed and sleep its 60 s poll
        assert delivered.wait(10)
    finally:
        outbox.stop()
        database.close()


def test_a_drain_delivers_more_than_one_batch_in_order(tmp_path):
    database = Database(tmp_path / "o.db")
    Outbox.create_schema(database)
    outbox = Outbox(database, Clock())
    seen = []
    outbox.register("n", lambda payload, row: seen.append(payload["i"]))
    with database.transaction():
        for i in range(Outbox.BATCH * 2 + 7):
            outbox.enqueue("n", {"i": i})
    assert outbox.drain() == Outbox.BATCH * 2 + 7
    assert seen == list(range(Outbox.BATCH * 2 + 7))
    assert outbox.drain(limit=5) == 0
    database.close()


def test_outbox_stats_and_list_by_kind(tmp_path):
    database = Database(tmp_path / "o.db")
    Outbox.create_schema(database)
    outbox = Outbox(database, Clock())
    for kind in ("a", "a", "b"):
        outbox.enqueue(kind, {})
    assert outbox.stats() == {"pending": 3}
    assert outbox.stats("a") == {"pending": 2} and outbox.stats("c") == {}
    assert [r["kind"] for r in outbox.pending("a")] == ["a", "a"]
    assert len(outbox.pending(limit=1)) == 1 and outbox.pending("b", limit=0) == []
    database.close()


def test_sandbox_outbox_endpoint_filters_by_kind(world, sim):
    from d1sandbox import demo
    from scenarios.threeds_server import build_areq

    card = next(c for c in demo.test_cards() if c["behavior"] == "frictionless")
    assert sim.post("/ds/areq", json=build_areq(card)).json["transStatus"] == "Y"
    body = sim.get("/sandbox/outbox?kind=issuer.3ds-notification&limit=0").json
    assert body["stats"] == {"pending": 1} and body["undelivered"] == []
    assert sim.get("/sandbox/outbox?kind=nothing-like-it").json == {"stats": {}, "undelivered": []}
    assert sim.get("/sandbox/outbox?limit=-1").status_code == 422


def _serve(app):
    from waitress.server import create_server

    from d1sandbox.serve import _keep_alive_channel

    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    server.channel_class = _keep_alive_channel()
    threading.Thread(target=server.run, daemon=True).start()
    return server


def _no_content(environ, start_response):
    if environ["PATH_INFO"] == "/204":
        start_response("204 No Content", [("Content-Type", "application/json")])
        return [b""]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return (part for part in (b"stream", b"ed"))  # a body of unknown length: waitress closes after it


def test_a_204_keeps_the_connection_alive_under_our_waitress():
    server = _serve(_no_content)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=5)
        for _ in range(3):
            conn.request("POST", "/204", body=b"{}", headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            assert resp.status == 204 and resp.read() == b"" and not resp.will_close
            assert resp.getheader("Content-Length") is None  # RFC 9110: never on a 204
        sock = conn.sock
        conn.request("GET", "/streamed")
        assert conn.sock is sock  # the same connection carries the fourth request
        resp = conn.getresponse()
        assert resp.read() == b"streamed" and resp.getheader("Connection") == "close"
        conn.close()
        http10 = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=5)
        http10._http_vsn, http10._http_vsn_str = 10, "HTTP/1.0"
        http10.request("POST", "/204", body=b"{}")
        assert http10.getresponse().will_close  # HTTP/1.0 without keep-alive: closed as before
        http10.close()
    finally:
        stop_threaded(server)


def test_argument_schemas_are_built_once(monkeypatch):
    from marshmallow import Schema, fields

    from d1sandbox.webapp import SchemaReusingParser

    built = []

    class Body(Schema):
        n = fields.Integer()

        def __init__(self, *a, **kw):
            built.append(1)
            super().__init__(*a, **kw)

    parser = SchemaReusingParser()
    first = parser._get_schema(Body, None)
    assert parser._get_schema(Body, None) is first and len(built) == 1
    instance = Body()
    assert parser._get_schema(instance, None) is instance

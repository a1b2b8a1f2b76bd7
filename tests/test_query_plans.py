"""The hot-path queries are index look-ups, whatever the tables hold: evidence from SQLite's own
EXPLAIN QUERY PLAN of the statements the code really runs (captured with a trace callback), so the
journal of a transaction is found in O(log n) at 10,000 transactions as at 10 (`d1sandbox bench`
measures the times; this proves the plan)."""

from __future__ import annotations

import re
import uuid

from d1sandbox import demo
from scenarios.threeds_server import build_areq


def captured_selects(db, action) -> list[str]:
    """The SELECT statements `action()` runs on `db` in this thread, with their bound values."""
    seen: list[str] = []
    conn = db.conn
    conn.set_trace_callback(seen.append)
    try:
        action()
    finally:
        conn.set_trace_callback(None)
    return [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]


def plan(db, sql: str) -> list[str]:
    return [row["detail"] for row in db.all("EXPLAIN QUERY PLAN " + sql)]


def assert_indexed(db, sql: str, table: str, index: str | None = None) -> None:
    steps = plan(db, sql)
    on_table = [s for s in steps if re.search(rf"\b{table}\b", s)]
    assert on_table, (sql, steps)
    for step in on_table:
        assert not step.startswith("SCAN"), f"full scan of {table}: {step}\n{sql}"
        assert "USING" in step, (step, sql)
    if index:
        assert any(index in s for s in on_table), (index, steps)


def frictionless(world) -> dict:
    card = next(c for c in demo.test_cards() if c["behavior"] == "frictionless")
    resp = world.sim_app.test_client().post("/ds/areq", json=build_areq(card, server_url="http://3ds-server.test"))
    assert resp.json["transStatus"] == "Y"
    return resp.json


def test_journal_by_any_transaction_id_is_two_index_lookups(world):
    ares = frictionless(world)
    journal, db = world.sim.journal, world.sim.db
    for wanted in (ares["threeDSServerTransID"], ares["acsTransID"], ares["dsTransID"]):
        found = []
        selects = captured_selects(db, lambda w=wanted, out=found: out.extend(journal.for_transaction(w)))
        assert found and {e["transaction"] for e in found} == {ares["threeDSServerTransID"]}
        assert len(selects) == 2, selects  # resolve the alias, then read the entries
        assert_indexed(db, selects[0], "journal_alias")
        assert_indexed(db, selects[1], "journal", "journal_correlation")


def test_journal_queries_keep_their_plan_with_many_transactions(world):
    db, journal = world.sim.db, world.sim.journal
    with db.transaction():  # 2,000 other transactions of 5 entries each
        for _ in range(2000):
            correlation = str(uuid.uuid4())
            journal.record_many(correlation, [{"source": "a", "target": "b", "label": "x", "body": {"n": i}}
                                              for i in range(5)], aliases=[str(uuid.uuid4())])
    db.execute("ANALYZE")  # let the planner see the real sizes: it must still choose the indexes
    ares = frictionless(world)
    selects = captured_selects(db, lambda: journal.for_transaction(ares["acsTransID"]))
    assert_indexed(db, selects[0], "journal_alias")
    assert_indexed(db, selects[1], "journal", "journal_correlation")


def test_outbox_worker_reads_due_rows_by_index(world):
    frictionless(world)  # queues a 3DS notification
    selects = captured_selects(world.sim.db, world.drain)
    due = [s for s in selects if "FROM outbox" in s]
    assert due
    assert_indexed(world.sim.db, due[0], "outbox", "outbox_due")


def test_issuer_redelivery_check_uses_the_operation_index(world):
    frictionless(world)
    issuer_db = world.issuer.db
    # The delivery runs the issuer's receiver in this thread (in-process transport): capture there.
    selects = captured_selects(issuer_db, world.drain)
    check = [s for s in selects if "FROM notifications" in s]
    assert check, selects
    assert_indexed(issuer_db, check[0], "notifications", "notifications_3ds_operation")


def test_sandbox_handset_reads_by_recipient_index(world):
    from simulator.messaging.inbox import Inbox

    inbox = Inbox(world.sim.db, world.sim.clock)
    inbox.deliver(channel="sms", to="+16175550199", sender="Bank", sent_by="d1", body="hello")
    selects = captured_selects(world.sim.db, lambda: inbox.list(to="+16175550199", channel="sms"))
    assert_indexed(world.sim.db, selects[0], "messages")


def test_threeds_transaction_lookups_are_indexed(world):
    from simulator.threeds.service import service

    ares = frictionless(world)
    db, transactions = world.sim.db, service(world.sim).transactions
    selects = captured_selects(db, lambda: (transactions.get(ares["acsTransID"]),
                                            transactions.by_server_id(ares["threeDSServerTransID"])))
    assert len(selects) == 2
    for sql in selects:
        assert_indexed(db, sql, "threeds_transactions")

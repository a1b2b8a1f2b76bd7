from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.journal import Journal, mermaid


def make(tmp_path):
    db = Database(tmp_path / "j.db")
    Journal.create_schema(db)
    return Journal(db, Clock())


def test_entries_come_back_in_order_by_any_alias(tmp_path):
    journal = make(tmp_path)
    journal.record("tx-1", "3DS Server", "DS", "AReq", {"messageType": "AReq"}, aliases=["ds-1", "acs-1"])
    journal.record("tx-1", "DS", "3DS Server", "ARes", {"transStatus": "Y"}, kind="response", status=200)
    journal.record("tx-2", "X", "Y", "other", {})
    for key in ("tx-1", "ds-1", "acs-1"):
        entries = journal.for_transaction(key)
        assert [e["label"] for e in entries] == ["AReq", "ARes"]
    assert journal.for_transaction("unknown") == []


def test_nothing_secret_is_stored(tmp_path):
    journal = make(tmp_path)
    journal.record("tx", "D1", "Issuer backend", "DeliverOTP",
                   {"otp": "123456", "pan": "4000000003000009", "text": "use 123456"}, secrets=["123456"])
    raw = journal.db.scalar("SELECT body FROM journal")
    assert "123456" not in raw
    assert "4000000003000009" not in raw
    assert "0009" in raw


def test_mermaid_has_every_actor_and_message(tmp_path):
    journal = make(tmp_path)
    journal.record("tx", "3DS Server", "DS", "AReq", {})
    journal.record("tx", "DS", "ACS", "AReq", {})
    journal.record("tx", "ACS", "DS", "ARes", {"transStatus": "C"}, kind="response", status=200)
    text = mermaid(journal.for_transaction("tx"))
    assert text.startswith("sequenceDiagram")
    assert "participant ACS as ACS" in text
    assert "ACS-->>DS: ARes (200) [transStatus=C]" in text
    assert text.count("->>") == 3


def test_journal_and_diagram_endpoints(sim, world):
    world.sim.journal.record("tx-9", "3DS Server", "DS", "AReq", {"acctNumber": "4000000003000009"},
                             aliases=["alias-9"])
    entries = sim.get("/sandbox/journal?transaction=alias-9").json
    assert entries[0]["body"]["acctNumber"] == "****0009"
    diagram = sim.get("/sandbox/journal/alias-9/diagram")
    assert diagram.status_code == 200 and diagram.mimetype == "text/plain"
    assert "3DS_Server->>DS: AReq" in diagram.get_data(as_text=True)
    missing = sim.get("/sandbox/journal/nothing/diagram")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"

"""Issuer notifications through the outbox (simulator/notify.py) and consumer details fetched from
the issuer's consumer API (simulator/consumers.py)."""

from __future__ import annotations

import pytest

from simulator.consumers import fetch_consumer
from simulator.notify import KIND_3DS, KIND_CONSUMER, enqueue_3ds_notification, enqueue_consumer_notification

THREEDS_BODY = {"operationId": "op-1", "threeDSServerTransID": "tx-3ds-1", "acsTransID": "acs-1", "dsTransID": "ds-1",
                "messageVersion": "2.2.0", "messageCategory": "01", "deviceChannel": "02", "transStatus": "Y",
                "transStatusReason": None, "challengeMethod": "FRICTIONLESS", "eci": "05", "purchaseAmount": "4999",
                "purchaseCurrency": "978", "merchantName": "Demo Shop"}


def test_3ds_notification_reaches_the_issuer_and_is_journaled(world, issuer):
    with world.sim.db.transaction():
        enqueue_3ds_notification(world.sim, "demo-issuer", "card-0001", THREEDS_BODY)
    assert world.sim.outbox.stats() == {"pending": 1}
    world.drain()
    assert world.sim.outbox.stats() == {"done": 1}
    stored = issuer.get("/admin/notifications?kind=3ds").json
    assert len(stored) == 1 and stored[0]["cardId"] == "card-0001" and stored[0]["consumerId"] == "consumer-0001"
    assert stored[0]["body"]["transStatus"] == "Y" and stored[0]["body"]["timestamp"]
    labels = [(e["label"], e["kind"], e["status"]) for e in world.sim.journal.for_transaction("tx-3ds-1")]
    assert labels == [("3ds-notification", "request", None), ("3ds-notification", "response", 204)]


def test_enqueued_inside_a_rolled_back_transaction_nothing_is_sent(world):
    with pytest.raises(RuntimeError):
        with world.sim.db.transaction():
            enqueue_3ds_notification(world.sim, "demo-issuer", "card-0001", THREEDS_BODY)
            raise RuntimeError("the state change failed")
    assert world.sim.outbox.stats() == {}


def test_a_failing_issuer_is_retried_with_backoff(world, issuer, sim):
    sim.post("/sandbox/faults", json={"target": "issuer", "operation": "3ds-notification", "status": 503, "count": 2})
    with world.sim.db.transaction():
        enqueue_3ds_notification(world.sim, "demo-issuer", "card-0001", THREEDS_BODY)
    world.drain()
    row = world.sim.db.one("SELECT * FROM outbox")
    assert row["status"] == "pending" and row["attempts"] == 1 and "HTTP 503" in row["last_error"]
    world.clock.advance(1)
    world.drain()
    world.clock.advance(2)
    world.drain()
    assert world.sim.db.one("SELECT status, attempts FROM outbox") == {"status": "done", "attempts": 3}
    assert len(issuer.get("/admin/notifications?kind=3ds").json) == 1


@pytest.mark.parametrize("status, dead_at_once", [(400, True), (404, True), (422, True), (429, False),
                                                  (408, False), (500, False), (503, False)])
def test_a_refusing_issuer_is_dead_lettered_at_once_and_redelivered_once_fixed(world, issuer, sim, status,
                                                                                 dead_at_once):
    """A 4xx says the message itself was refused: retrying it for minutes cannot help. It is kept
    (dead) and `POST /sandbox/outbox/redeliver` queues it again once the issuer backend is fixed."""
    sim.post("/sandbox/faults", json={"target": "issuer", "operation": "3ds-notification", "status": status,
                                      "count": 1})
    with world.sim.db.transaction():
        enqueue_3ds_notification(world.sim, "demo-issuer", "card-0001", THREEDS_BODY)
    world.drain()
    row = world.sim.db.one("SELECT status, attempts, last_error FROM outbox")
    assert row["status"] == ("dead" if dead_at_once else "pending") and row["attempts"] == 1
    assert f"HTTP {status}" in row["last_error"]
    if not dead_at_once:
        return
    assert sim.post("/sandbox/outbox/redeliver", json={"kind": "nope"}).json["requeued"] == 0
    answer = sim.post("/sandbox/outbox/redeliver", json={"kind": KIND_3DS}).json
    assert answer == {"requeued": 1, "stats": {"pending": 1}}
    world.drain()
    assert world.sim.db.one("SELECT status, attempts FROM outbox") == {"status": "done", "attempts": 1}
    assert len(issuer.get("/admin/notifications?kind=3ds").json) == 1


def test_redeliver_refuses_unknown_fields(sim):
    r = sim.post("/sandbox/outbox/redeliver", json={"knd": "x"})
    assert r.status_code == 422 and "knd" in r.get_data(as_text=True)


def test_a_redelivered_notification_is_stored_once(world, issuer):
    with world.sim.db.transaction():
        enqueue_3ds_notification(world.sim, "demo-issuer", "card-0001", THREEDS_BODY)
        enqueue_3ds_notification(world.sim, "demo-issuer", "card-0001", THREEDS_BODY)
        enqueue_consumer_notification(world.sim, "demo-issuer", "consumer-0001",
                                      {"eventType": "TOKEN_CREATED", "eventId": "evt-1", "tokenRefId": "t-1"})
        enqueue_consumer_notification(world.sim, "demo-issuer", "consumer-0001",
                                      {"eventType": "TOKEN_CREATED", "eventId": "evt-1", "tokenRefId": "t-1"})
    world.drain()
    assert world.sim.outbox.stats() == {"done": 4}
    assert len(issuer.get("/admin/notifications?kind=3ds").json) == 1
    assert len(issuer.get("/admin/notifications?kind=consumer").json) == 1


def test_consumer_notification_fields_and_kinds(world, issuer):
    with world.sim.db.transaction():
        enqueue_consumer_notification(world.sim, "demo-issuer", "consumer-0007", "TOKEN_ACTIVATED",
                                      tokenRefId="tok-1", tokenRequestorId="wallet-1", cardId="card-0010")
    world.drain()
    body = issuer.get("/admin/notifications?consumerId=consumer-0007").json[0]["body"]
    assert body["eventType"] == "TOKEN_ACTIVATED" and body["tokenRefId"] == "tok-1" and body["cardId"] == "card-0010"
    assert {row["kind"] for row in world.sim.db.all("SELECT kind FROM outbox")} == {KIND_CONSUMER}
    assert KIND_3DS != KIND_CONSUMER


def test_consumer_notification_rejects_what_the_contract_does_not_know(world):
    with pytest.raises(ValueError):
        enqueue_consumer_notification(world.sim, "demo-issuer", "consumer-0001", "CARD_EXPLODED")
    with pytest.raises(ValueError):
        enqueue_consumer_notification(world.sim, "demo-issuer", "consumer-0001", "TOKEN_CREATED", colour="red")


# -- consumer details -------------------------------------------------------------------------------
def test_fetch_consumer_reads_the_issuer_and_refreshes_d1s_copy(world, issuer):
    issuer.post("/admin/consumers", json={"consumerId": "c-new", "name": "Nora New", "phoneNumber": "+16175550177",
                                          "email": "nora@mail.example", "locale": "ja"})
    consumer = fetch_consumer(world.sim, "demo-issuer", "c-new", correlation="tx-1")
    assert consumer.source == "issuer"
    assert (consumer.phone, consumer.email, consumer.locale, consumer.name) == (
        "+16175550177", "nora@mail.example", "ja", "Nora New")
    row = world.sim.db.get("consumers", issuer_id="demo-issuer", consumer_id="c-new")
    assert row["phone"] == "+16175550177" and row["locale"] == "ja"
    labels = [e["label"] for e in world.sim.journal.for_transaction("tx-1")]
    assert labels == ["consumer", "consumer"]


def test_fetch_consumer_falls_back_to_d1s_copy_when_the_issuer_is_down(world, sim):
    sim.post("/sandbox/faults", json={"target": "issuer", "operation": "consumer", "status": 503})
    consumer = fetch_consumer(world.sim, "demo-issuer", "consumer-0003", correlation="tx-2")
    assert consumer.source == "cache" and consumer.phone == "+16175550103"
    notes = [e for e in world.sim.journal.for_transaction("tx-2") if e["kind"] == "note"]
    assert notes and "unavailable" in notes[0]["label"]


def test_fetch_consumer_unknown_to_the_issuer_is_none(world):
    assert fetch_consumer(world.sim, "demo-issuer", "nobody", correlation="tx-3") is None


def test_fetch_consumer_rejects_a_malformed_answer_and_uses_the_cache(world, monkeypatch):
    from d1sandbox.outbound import OutboundResult

    client = world.sim.issuer_link.client("demo-issuer")
    monkeypatch.setattr(client, "call", lambda *a, **kw: OutboundResult(
        200, body={"consumerId": "consumer-0003", "phoneNumber": "0617555", "email": "not-an-email"}))
    consumer = fetch_consumer(world.sim, "demo-issuer", "consumer-0003", correlation="tx-4")
    assert consumer.source == "cache" and consumer.phone == "+16175550103"
    note = [e for e in world.sim.journal.for_transaction("tx-4") if e["kind"] == "note"][0]
    assert set(note["body"]["fields"]) == {"phoneNumber", "email"}


def test_fetch_consumer_refuses_an_answer_about_someone_else(world, monkeypatch):
    from d1sandbox.outbound import OutboundResult

    client = world.sim.issuer_link.client("demo-issuer")
    monkeypatch.setattr(client, "call", lambda *a, **kw: OutboundResult(
        200, body={"consumerId": "consumer-0001", "phoneNumber": "+16175550101"}))
    consumer = fetch_consumer(world.sim, "demo-issuer", "consumer-0003", correlation="tx-5")
    assert consumer.source == "cache" and consumer.phone == "+16175550103"

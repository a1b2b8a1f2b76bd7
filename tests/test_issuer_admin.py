"""The reference issuer's back office and its D1 client: consumers and cards created locally and
registered in D1 (OAuth2 token cached and renewed, retries, journal), renew/replace/delete, and
nothing half-written when D1 refuses or is unreachable."""

from __future__ import annotations

import pytest
import requests

from d1sandbox import demo

PAN = demo.with_check_digit("400000770000001")
PAN2 = demo.with_check_digit("400000770000002")


@pytest.fixture
def consumer(issuer):
    resp = issuer.post("/admin/consumers", json={"consumerId": "cons-a", "name": "Ann Admin",
                                                  "phoneNumber": "+16175550170", "email": "ann@mail.example"})
    assert resp.status_code == 201, resp.json
    return resp.json


def d1_card(world, card_id):
    return world.sim.db.get("cards", card_id=card_id)


def local(world, table="cards"):
    return world.issuer.db.all(f"SELECT * FROM {table} ORDER BY rowid")


# -- consumers ---------------------------------------------------------------------------------------
def test_create_consumer(issuer, consumer):
    assert consumer == {"consumerId": "cons-a", "name": "Ann Admin", "phoneNumber": "+16175550170",
                        "email": "ann@mail.example", "locale": "en", "appInstanceId": None, "appReachable": True}
    assert issuer.get("/admin/consumers/cons-a").json == consumer
    dup = issuer.post("/admin/consumers", json={"consumerId": "cons-a", "name": "X", "phoneNumber": "+16175550171"})
    assert dup.status_code == 409 and "consumerId" in dup.json["fields"]


@pytest.mark.parametrize("body, field", [
    ({"name": "N", "phoneNumber": "0617555"}, "phoneNumber"),
    ({"name": "N", "phoneNumber": "+16175550171", "email": "nope"}, "email"),
    ({"phoneNumber": "+16175550171"}, "name"),
    ({"name": "N", "phoneNumber": "+16175550171", "locale": "English!"}, "locale"),
    ({"name": "N", "phoneNumber": "+16175550171", "shoeSize": 42}, "shoeSize"),
])
def test_create_consumer_validation_names_the_field(issuer, world, body, field):
    before = local(world, "consumers")
    resp = issuer.post("/admin/consumers", json=body)
    assert resp.status_code == 422 and field in resp.json["fields"], resp.json
    assert local(world, "consumers") == before


# -- cards -------------------------------------------------------------------------------------------
def test_create_card_registers_it_in_d1(issuer, world, consumer):
    resp = issuer.post("/admin/cards", json={"cardId": "bank-1", "consumerId": "cons-a", "pan": PAN, "expiry": "3112"})
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["cardId"] == "bank-1" and body["d1Status"] == "REGISTERED" and body["panLast4"] == PAN[-4:]
    assert body["d1"]["state"] == "ACTIVE" and body["d1"]["maskedPan"] == "****" + PAN[-4:]
    assert PAN not in resp.get_data(as_text=True)
    assert d1_card(world, "bank-1")["consumer_id"] == "cons-a"
    assert world.sim.services["cards"].lookup_pan(PAN)["card_id"] == "bank-1"
    # The bank's journal shows the call, PAN masked.
    entries = world.issuer.journal.for_transaction("bank-1")
    assert [e["label"] for e in entries] == ["register-card", "register-card"]
    assert entries[0]["body"]["pan"] == "****" + PAN[-4:] and PAN not in str(entries)
    # D1 reads the contact details from the bank when it needs them.
    from simulator.consumers import fetch_consumer

    assert fetch_consumer(world.sim, "demo-issuer", "cons-a", "tx").phone == "+16175550170"


def test_create_card_with_d1s_create_operation(issuer, world, consumer):
    resp = issuer.post("/admin/cards", json={"cardId": "bank-2", "consumerId": "cons-a", "pan": PAN, "expiry": "3112",
                                             "registration": "create"})
    assert resp.status_code == 201
    assert world.sim.db.one("SELECT operation FROM card_audit WHERE card_id = 'bank-2'")["operation"] == "create"


def test_create_card_twice_is_idempotent(issuer, world, consumer):
    body = {"cardId": "bank-1", "consumerId": "cons-a", "pan": PAN, "expiry": "3112"}
    assert issuer.post("/admin/cards", json=body).status_code == 201
    again = issuer.post("/admin/cards", json=body)
    assert again.status_code == 200 and again.json["d1"]["state"] == "ACTIVE"
    assert world.issuer.db.scalar("SELECT COUNT(*) FROM cards WHERE card_id = 'bank-1'") == 1
    other = issuer.post("/admin/cards", json={**body, "pan": PAN2})
    assert other.status_code == 409


def test_the_d1_token_is_cached_and_renewed(issuer, world, consumer):
    token = world.issuer.d1.token
    issuer.post("/admin/cards", json={"cardId": "bank-1", "consumerId": "cons-a", "pan": PAN, "expiry": "3112"})
    issuer.post("/admin/cards/bank-1/renew", json={"expiry": "3212"})
    assert token.fetch_count == 1
    world.clock.advance(3600)  # past expiry (minus the 30 s margin)
    issuer.post("/admin/cards/bank-1/renew", json={"expiry": "3312"})
    assert token.fetch_count == 2


def test_a_token_d1_revoked_is_replaced_transparently(issuer, world, sim, consumer):
    issuer.post("/admin/cards", json={"cardId": "bank-1", "consumerId": "cons-a", "pan": PAN, "expiry": "3112"})
    token = world.issuer.d1.token
    revoke = sim.post("/oauth2/revoke", data={"token": token.get()},
                      auth=(demo.DEMO_D1_CLIENT_ID, demo.DEMO_D1_CLIENT_SECRET))
    assert revoke.status_code == 200
    resp = issuer.post("/admin/cards/bank-1/renew", json={"expiry": "3212"})
    assert resp.status_code == 200 and token.fetch_count == 2


@pytest.mark.parametrize("body, field", [
    ({"consumerId": "cons-a", "pan": "4000000001000002", "expiry": "3112"}, "pan"),
    ({"consumerId": "cons-a", "pan": PAN, "expiry": "3113"}, "expiry"),
    ({"consumerId": "nobody", "pan": PAN, "expiry": "3112"}, "consumerId"),
    ({"consumerId": "cons-a", "expiry": "3112"}, "pan"),
    ({"consumerId": "cons-a", "pan": PAN, "expiry": "3112", "registration": "fax"}, "registration"),
])
def test_bad_card_input_is_refused_before_d1_is_called(issuer, world, consumer, body, field):
    calls_before = len(world.issuer.journal.recent(1000))
    resp = issuer.post("/admin/cards", json=body)
    assert resp.status_code == 422 and field in resp.json["fields"], resp.json
    assert len(world.issuer.journal.recent(1000)) == calls_before


def test_d1_refusal_comes_back_naming_the_field_and_nothing_is_written(issuer, world, consumer):
    outside = demo.with_check_digit("411111111111111")  # Luhn-valid, outside the bank's card ranges in D1
    before = local(world)
    resp = issuer.post("/admin/cards", json={"cardId": "bank-x", "consumerId": "cons-a", "pan": outside,
                                             "expiry": "3112"})
    assert resp.status_code == 422 and resp.json["fields"] == {"pan": ["not in any of the issuer's card ranges"]}
    assert resp.json["message"].startswith("D1 refused")
    assert local(world) == before and d1_card(world, "bank-x") is None
    expired = issuer.post("/admin/cards", json={"cardId": "bank-x", "consumerId": "cons-a", "pan": PAN,
                                                "expiry": "2001"})
    assert expired.status_code == 422 and "expiry" in expired.json["fields"]
    assert local(world) == before


def fake_response(status: int, body: str = '{"error": "unavailable", "message": "busy"}') -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body.encode()
    resp.headers["Content-Type"] = "application/json"
    return resp


def test_d1_unreachable_is_502_and_nothing_is_written(issuer, world, consumer, monkeypatch):
    calls = []

    def down(method, url, **kw):
        calls.append(url)
        raise requests.ConnectionError("refused")

    world.issuer.d1.token.get()  # token already cached: the card call itself fails
    monkeypatch.setattr(world.issuer.d1.session, "request", down)
    before = local(world)
    resp = issuer.post("/admin/cards", json={"cardId": "bank-1", "consumerId": "cons-a", "pan": PAN, "expiry": "3112"})
    assert resp.status_code == 502 and resp.json["error"] == "d1_unavailable"
    assert len(calls) == 2  # one retry (OUTBOUND_RETRIES = 1)
    assert local(world) == before and d1_card(world, "bank-1") is None


def test_a_transient_d1_failure_is_retried(issuer, world, consumer, monkeypatch):
    real = world.issuer.d1.session.request
    answers = [fake_response(503)]

    def flaky(method, url, **kw):
        return answers.pop(0) if answers and "/v2/" in url else real(method, url, **kw)

    monkeypatch.setattr(world.issuer.d1.session, "request", flaky)
    resp = issuer.post("/admin/cards", json={"cardId": "bank-1", "consumerId": "cons-a", "pan": PAN, "expiry": "3112"})
    assert resp.status_code == 201
    statuses = [e["status"] for e in world.issuer.journal.for_transaction("bank-1") if e["kind"] == "response"]
    assert statuses == [503, 201]


def test_renew_replace_delete_from_the_admin_api(issuer, world, consumer):
    issuer.post("/admin/cards", json={"cardId": "bank-1", "consumerId": "cons-a", "pan": PAN, "expiry": "3112"})
    renewed = issuer.post("/admin/cards/bank-1/renew", json={"expiry": "3212"})
    assert renewed.status_code == 200 and renewed.json["expiry"] == "3212"
    assert d1_card(world, "bank-1")["expiry"] == "3212"

    replaced = issuer.post("/admin/cards/bank-1/replace", json={"pan": PAN2, "expiry": "3312", "newCardId": "bank-1b",
                                                                 "reason": "STOLEN"})
    assert replaced.status_code == 201
    assert replaced.json["cardId"] == "bank-1b" and replaced.json["replaces"] == "bank-1"
    old = issuer.get("/admin/cards/bank-1").json
    assert old["state"] == "REPLACED" and old["replacedBy"] == "bank-1b" and old["d1"]["state"] == "REPLACED"
    assert world.sim.services["cards"].lookup_pan(PAN) is None

    deleted = issuer.post("/admin/cards/bank-1b/delete", json={"reason": "CLOSED"})
    assert deleted.status_code == 200 and deleted.json["state"] == "DELETED"
    assert deleted.json["d1"]["state"] == "DELETED"
    assert world.sim.services["cards"].lookup_pan(PAN2) is None
    again = issuer.post("/admin/cards/bank-1b/delete")
    assert again.status_code == 200

    refused = issuer.post("/admin/cards/bank-1b/renew", json={"expiry": "3412"})
    assert refused.status_code == 409 and refused.json["error"] == "card_deleted"
    assert issuer.get("/admin/cards/bank-1b").json["expiry"] == "3312"


def test_replace_retried_after_a_lost_answer_converges(issuer, world, consumer, monkeypatch):
    """D1 replaced the card but its answer was lost: the bank retries and both sides agree."""
    issuer.post("/admin/cards", json={"cardId": "bank-1", "consumerId": "cons-a", "pan": PAN, "expiry": "3112"})
    real = world.issuer.d1.session.request
    lost = []

    def lose_answer(method, url, **kw):
        resp = real(method, url, **kw)
        if "/operations/replace" in url and not lost:
            lost.append(resp.status_code)
            raise requests.ReadTimeout("answer lost")
        return resp

    monkeypatch.setattr(world.issuer.d1.session, "request", lose_answer)
    resp = issuer.post("/admin/cards/bank-1/replace", json={"pan": PAN2, "expiry": "3312", "newCardId": "bank-1b"})
    assert lost == [201]
    assert resp.status_code == 201 and resp.json["cardId"] == "bank-1b"
    assert world.sim.db.scalar("SELECT COUNT(*) FROM cards WHERE replaces = 'bank-1'") == 1


def test_admin_card_operations_on_unknown_cards_are_404(issuer):
    for path, body in (("renew", {"expiry": "3212"}), ("replace", {"pan": PAN2, "expiry": "3212"}), ("delete", {})):
        resp = issuer.post(f"/admin/cards/nope/{path}", json=body)
        assert resp.status_code == 404 and resp.json["error"] == "card_not_found"


def test_admin_renew_validation_names_the_field(issuer):
    resp = issuer.post("/admin/cards/card-0001/renew", json={"expiry": "12/30"})
    assert resp.status_code == 422 and "expiry" in resp.json["fields"]

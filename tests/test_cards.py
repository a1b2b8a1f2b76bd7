"""D1's card registry: create / register / renew / replace / delete, the rules a real platform
enforces, idempotent repeats, the audit trail, and nothing half-written."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from d1sandbox import demo
from simulator.cards.models import card_product, expiry_problems, pan_problems

CLIENT = (demo.DEMO_D1_CLIENT_ID, demo.DEMO_D1_CLIENT_SECRET)
BASE = "/v2/issuers/demo-issuer/cards"
NEW_PAN = demo.with_check_digit("400000990000001")  # in the demo Visa range, not a test card
OTHER_PAN = demo.with_check_digit("400000990000002")
THIRD_PAN = demo.with_check_digit("400000990000003")


def fresh_auth(sim):
    resp = sim.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
    return {"Authorization": "Bearer " + resp.json["access_token"]}


@pytest.fixture
def auth(sim):
    return fresh_auth(sim)


def card_body(**over):
    body = {"consumerId": "consumer-0001", "pan": NEW_PAN, "expiry": "3112"}
    body.update(over)
    return body


def audit(world, card_id):
    return [r["operation"] for r in world.sim.db.all("SELECT operation FROM card_audit WHERE card_id = ? ORDER BY id",
                                                      (card_id,))]


def snapshot(world):
    db = world.sim.db
    return (db.all("SELECT * FROM cards ORDER BY card_id"), db.all("SELECT * FROM card_audit ORDER BY id"),
            db.all("SELECT * FROM card_idempotency"), db.all("SELECT * FROM consumers ORDER BY consumer_id"))


# -- pure rules --------------------------------------------------------------------------------------
NOW = datetime(2026, 6, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize("pan, problem", [
    ("4000000001000001", None),
    ("4000000001000002", "fails the Luhn check"),
    ("400000000100000", "fails the Luhn check"),
    ("40000000010", "must have 13 to 19 digits"),
    ("4000 0000 0100 0001", "must contain digits only"),
    ("", "must contain digits only"),
])
def test_pan_rules(pan, problem):
    assert pan_problems(pan) == ([] if problem is None else [problem])


@pytest.mark.parametrize("expiry, problem", [
    ("2606", None),  # valid through the end of its month
    ("2605", "the card has expired"),
    ("4612", None),
    ("4701", "is more than 20 years ahead"),
    ("2613", "must be YYMM (e.g. 3012 for December 2030)"),
    ("12/30", "must be YYMM (e.g. 3012 for December 2030)"),
])
def test_expiry_rules(expiry, problem):
    assert expiry_problems(expiry, NOW) == ([] if problem is None else [problem])


def test_card_product_by_bin_range():
    products = demo.CARD_PRODUCTS
    assert card_product("4000000001000001", products)["scheme"] == "visa"
    assert card_product("5100000012000004", products)["scheme"] == "mastercard"
    assert card_product("4111111111111111", products) is None


# -- create ------------------------------------------------------------------------------------------
def test_create_card_never_echoes_the_pan(sim, auth, world):
    resp = sim.post(BASE, json=card_body(cardId="card-new-1"), headers=auth)
    assert resp.status_code == 201
    body = resp.json
    assert body["cardId"] == "card-new-1" and body["state"] == "ACTIVE" and body["scheme"] == "visa"
    assert body["panLast4"] == NEW_PAN[-4:] and body["maskedPan"] == "****" + NEW_PAN[-4:]
    assert NEW_PAN not in resp.get_data(as_text=True)
    row = world.sim.db.get("cards", card_id="card-new-1")
    assert NEW_PAN not in str(row.values()) and row["pan_ref"] == world.sim.pan_ref(NEW_PAN)
    assert NEW_PAN not in str(world.sim.journal.for_transaction("card-new-1"))
    assert audit(world, "card-new-1") == ["create"]
    # The consumerId registered with the card is known to D1 (contact details come from the issuer).
    assert world.sim.db.get("consumers", issuer_id="demo-issuer", consumer_id="consumer-0001")


def test_create_without_card_id_generates_one(sim, auth):
    resp = sim.post(BASE, json=card_body(), headers=auth)
    assert resp.status_code == 201 and resp.json["cardId"].startswith("card-")


def test_create_repeated_with_the_same_card_id_answers_the_same(sim, auth, world):
    first = sim.post(BASE, json=card_body(cardId="card-new-1"), headers=auth)
    again = sim.post(BASE, json=card_body(cardId="card-new-1"), headers=auth)
    assert again.status_code == 200 and again.json == first.json
    assert audit(world, "card-new-1") == ["create"]
    clash = sim.post(BASE, json=card_body(cardId="card-new-1", pan=OTHER_PAN), headers=auth)
    assert clash.status_code == 409 and clash.json["fields"] == {"cardId": ["already in use with different card data"]}


@pytest.mark.parametrize("override, field", [
    ({"pan": "4000000001000002"}, "pan"),         # Luhn
    ({"pan": "4000abc"}, "pan"),
    ({"pan": demo.with_check_digit("411111111111111")}, "pan"),  # outside the issuer's card ranges
    ({"expiry": "2001"}, "expiry"),              # expired
    ({"expiry": "3113"}, "expiry"),              # no month 13
    ({"consumerId": ""}, "consumerId"),
    ({"consumerId": "a b"}, "consumerId"),
    ({"behavior": "magic"}, "behavior"),
    ({"cardId": "bad id!"}, "cardId"),
    ({"colour": "red"}, "colour"),                # unknown fields are errors, not ignored
])
def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(sim, auth, world, override, field):
    before = snapshot(world)
    resp = sim.post(BASE, json=card_body(**override), headers=auth)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["fields"], resp.json
    assert resp.json["error"] == "validation_error"
    assert NEW_PAN not in resp.get_data(as_text=True)
    assert snapshot(world) == before


def test_missing_fields_are_named(sim, auth):
    resp = sim.post(BASE, json={}, headers=auth)
    assert resp.status_code == 422
    assert set(resp.json["fields"]) == {"consumerId", "pan", "expiry"}


def test_a_pan_lives_on_one_active_card(sim, auth):
    assert sim.post(BASE, json=card_body(cardId="a-1"), headers=auth).status_code == 201
    resp = sim.post(BASE, json=card_body(cardId="a-2"), headers=auth)
    assert resp.status_code == 409 and resp.json["error"] == "pan_registered" and "pan" in resp.json["fields"]
    seeded = sim.post(BASE, json=card_body(pan="4000000001000001"), headers=auth)
    assert seeded.status_code == 409


def test_expiry_uses_the_sandbox_clock(sim, auth, world):
    now = world.clock.utcnow()
    this_month = f"{now.year % 100:02d}{now.month:02d}"
    assert sim.post(BASE, json=card_body(cardId="c-now", expiry=this_month), headers=auth).status_code == 201
    world.clock.advance(40 * 86400)
    resp = sim.post(BASE, json=card_body(cardId="c-later", pan=OTHER_PAN, expiry=this_month), headers=fresh_auth(sim))
    assert resp.status_code == 422 and resp.json["fields"]["expiry"] == ["the card has expired"]


# -- register (PUT) ----------------------------------------------------------------------------------
def test_register_is_idempotent(sim, auth, world):
    first = sim.put(f"{BASE}/card-reg-1", json=card_body(), headers=auth)
    assert first.status_code == 201 and first.json["cardId"] == "card-reg-1"
    again = sim.put(f"{BASE}/card-reg-1", json=card_body(), headers=auth)
    assert again.status_code == 200 and again.json == first.json
    assert audit(world, "card-reg-1") == ["register"]


def test_register_updates_the_consumer_but_not_pan_or_expiry(sim, auth, world):
    sim.put(f"{BASE}/card-reg-1", json=card_body(), headers=auth)
    moved = sim.put(f"{BASE}/card-reg-1", json=card_body(consumerId="consumer-0003"), headers=auth)
    assert moved.status_code == 200 and moved.json["consumerId"] == "consumer-0003"
    assert audit(world, "card-reg-1") == ["register", "update"]
    pan = sim.put(f"{BASE}/card-reg-1", json=card_body(consumerId="consumer-0003", pan=OTHER_PAN), headers=auth)
    assert pan.status_code == 409 and pan.json["error"] == "pan_mismatch" and "replace" in pan.json["message"]
    exp = sim.put(f"{BASE}/card-reg-1", json=card_body(consumerId="consumer-0003", expiry="3212"), headers=auth)
    assert exp.status_code == 409 and exp.json["error"] == "expiry_mismatch" and "renew" in exp.json["message"]
    assert audit(world, "card-reg-1") == ["register", "update"]


def test_register_another_issuers_card_id_is_refused_without_detail(sim, auth):
    sim.put("/sandbox/issuers/other-bank", json={"client_id": "other-bank", "client_secret": "other-bank-secret-1",
                                                 "card_products": demo.CARD_PRODUCTS})
    tok = sim.post("/oauth2/token", data={"grant_type": "client_credentials"},
                   auth=("other-bank", "other-bank-secret-1")).json["access_token"]
    resp = sim.put("/v2/issuers/other-bank/cards/card-0001", json=card_body(pan=OTHER_PAN),
                   headers={"Authorization": "Bearer " + tok})
    assert resp.status_code == 409 and resp.json["error"] == "card_id_taken"
    # Reading it is a plain 404: no cross-issuer probing.
    other = {"Authorization": "Bearer " + tok}
    assert sim.get("/v2/issuers/other-bank/cards/card-0001", headers=other).status_code == 404


# -- renew ---------------------------------------------------------------------------------------------
def test_renew_keeps_the_card_and_moves_the_expiry(sim, auth, world):
    resp = sim.post(f"{BASE}/card-0001/operations/renew", json={"expiry": "3212"}, headers=auth)
    assert resp.status_code == 200
    assert resp.json["cardId"] == "card-0001" and resp.json["expiry"] == "3212" and resp.json["state"] == "ACTIVE"
    again = sim.post(f"{BASE}/card-0001/operations/renew", json={"expiry": "3212"}, headers=auth)
    assert again.status_code == 200 and again.json == resp.json
    assert audit(world, "card-0001") == ["seed", "renew"]
    detail = world.sim.db.one("SELECT detail FROM card_audit WHERE card_id = 'card-0001' AND operation = 'renew'")
    assert '"from":"3012"' in detail["detail"] and '"to":"3212"' in detail["detail"]


def test_renew_must_move_the_expiry_forward(sim, auth):
    resp = sim.post(f"{BASE}/card-0001/operations/renew", json={"expiry": "2912"}, headers=auth)
    assert resp.status_code == 422 and "expiry" in resp.json["fields"]
    resp = sim.post(f"{BASE}/card-0001/operations/renew", json={}, headers=auth)
    assert resp.status_code == 422 and "expiry" in resp.json["fields"]


def test_operations_on_an_unknown_card_are_404(sim, auth):
    for op, body in (("renew", {"expiry": "3212"}), ("replace", {"pan": OTHER_PAN, "expiry": "3212"}),
                     ("delete", {})):
        resp = sim.post(f"{BASE}/no-such-card/operations/{op}", json=body, headers=auth)
        assert resp.status_code == 404 and resp.json["error"] == "card_not_found"
    assert sim.post(f"{BASE}/card-0001/operations/suspend", json={}, headers=auth).status_code == 404


# -- replace -------------------------------------------------------------------------------------------
def test_replace_links_the_new_card_and_stops_3ds_on_the_old_pan(sim, auth, world):
    old_pan = "4000000001000001"
    registry = world.sim.services["cards"]
    assert registry.lookup_pan(old_pan)["card_id"] == "card-0001"
    resp = sim.post(f"{BASE}/card-0001/operations/replace",
                    json={"pan": NEW_PAN, "expiry": "3212", "newCardId": "card-0001b", "reason": "LOST"}, headers=auth)
    assert resp.status_code == 201
    new = resp.json
    assert new["cardId"] == "card-0001b" and new["replaces"] == "card-0001" and new["state"] == "ACTIVE"
    assert new["consumerId"] == "consumer-0001" and new["behavior"] == "frictionless"  # inherits the test behavior
    old = sim.get(f"{BASE}/card-0001", headers=auth).json
    assert old["state"] == "REPLACED" and old["replacedBy"] == "card-0001b"
    assert registry.lookup_pan(old_pan) is None
    assert registry.lookup_pan(NEW_PAN)["card_id"] == "card-0001b"
    assert audit(world, "card-0001") == ["seed", "replace"]
    assert audit(world, "card-0001b") == ["create"]
    assert NEW_PAN not in resp.get_data(as_text=True)


def test_replace_repeated_answers_the_same_new_card(sim, auth, world):
    body = {"pan": NEW_PAN, "expiry": "3212"}
    first = sim.post(f"{BASE}/card-0001/operations/replace", json=body, headers=auth)
    again = sim.post(f"{BASE}/card-0001/operations/replace", json=body, headers=auth)
    assert again.status_code == 200 and again.json == first.json
    assert world.sim.db.scalar("SELECT COUNT(*) FROM cards WHERE replaces = 'card-0001'") == 1
    other = sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": OTHER_PAN, "expiry": "3212"}, headers=auth)
    assert other.status_code == 409 and other.json["error"] == "card_replaced"
    assert other.json["replacedBy"] == first.json["cardId"]


def test_replace_needs_a_new_pan_and_a_free_card_id(sim, auth):
    same = sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": "4000000001000001", "expiry": "3212"},
                    headers=auth)
    assert same.status_code == 422 and "pan" in same.json["fields"]
    taken = sim.post(f"{BASE}/card-0001/operations/replace",
                     json={"pan": NEW_PAN, "expiry": "3212", "newCardId": "card-0002"}, headers=auth)
    assert taken.status_code == 409 and "newCardId" in taken.json["fields"]
    in_use = sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": "4000000002000000", "expiry": "3212"},
                      headers=auth)
    assert in_use.status_code == 409 and in_use.json["error"] == "pan_registered"
    assert sim.get(f"{BASE}/card-0001", headers=auth).json["state"] == "ACTIVE"


def test_a_replaced_card_cannot_be_renewed(sim, auth):
    sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": NEW_PAN, "expiry": "3212", "newCardId": "n1"},
             headers=auth)
    resp = sim.post(f"{BASE}/card-0001/operations/renew", json={"expiry": "3312"}, headers=auth)
    assert resp.status_code == 409 and resp.json["error"] == "card_not_active" and resp.json["replacedBy"] == "n1"


# -- delete --------------------------------------------------------------------------------------------
def test_delete_makes_the_card_unknown_to_3ds_and_is_idempotent(sim, auth, world):
    resp = sim.post(f"{BASE}/card-0001/operations/delete", json={"reason": "CLOSED"}, headers=auth)
    assert resp.status_code == 200 and resp.json["state"] == "DELETED"
    assert world.sim.services["cards"].lookup_pan("4000000001000001") is None
    assert world.sim.db.get("cards", card_id="card-0001")["pan_ref"] is None  # D1 forgets the PAN reference
    again = sim.post(f"{BASE}/card-0001/operations/delete", headers=auth)
    assert again.status_code == 200 and again.json == resp.json
    assert audit(world, "card-0001") == ["seed", "delete"]


def test_operations_on_a_deleted_card_are_4xx(sim, auth, world):
    sim.post(f"{BASE}/card-0001/operations/delete", headers=auth)
    before = snapshot(world)
    renew = sim.post(f"{BASE}/card-0001/operations/renew", json={"expiry": "3212"}, headers=auth)
    replace = sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": NEW_PAN, "expiry": "3212"}, headers=auth)
    register = sim.put(f"{BASE}/card-0001", json=card_body(pan="4000000001000001", expiry="3012"), headers=auth)
    for resp in (renew, replace, register):
        assert resp.status_code == 409 and resp.json["error"] == "card_deleted", resp.json
    assert snapshot(world) == before


def test_a_deleted_cards_pan_can_be_registered_again(sim, auth):
    sim.post(f"{BASE}/card-0001/operations/delete", headers=auth)
    resp = sim.post(BASE, json=card_body(pan="4000000001000001", cardId="card-0001-again"), headers=auth)
    assert resp.status_code == 201


def test_delete_a_replaced_card(sim, auth):
    sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": NEW_PAN, "expiry": "3212", "newCardId": "n1"},
             headers=auth)
    assert sim.post(f"{BASE}/card-0001/operations/delete", headers=auth).json["state"] == "DELETED"
    assert sim.get(f"{BASE}/n1", headers=auth).json["state"] == "ACTIVE"


# -- Idempotency-Key -----------------------------------------------------------------------------------
def test_idempotency_key_replays_the_first_answer(sim, auth, world):
    headers = {**auth, "Idempotency-Key": "k-123"}
    first = sim.post(BASE, json=card_body(), headers=headers)
    again = sim.post(BASE, json=card_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert world.sim.db.scalar("SELECT COUNT(*) FROM cards WHERE pan_last4 = ?", (NEW_PAN[-4:],)) == 1
    assert NEW_PAN not in str(world.sim.db.all("SELECT * FROM card_idempotency"))


def test_idempotency_key_with_another_body_is_refused(sim, auth):
    headers = {**auth, "Idempotency-Key": "k-123"}
    sim.post(BASE, json=card_body(), headers=headers)
    resp = sim.post(BASE, json=card_body(pan=OTHER_PAN), headers=headers)
    assert resp.status_code == 422 and resp.json["error"] == "idempotency_key_reused"
    assert "Idempotency-Key" in resp.json["fields"]


def test_idempotency_keys_expire_after_a_day(sim, auth, world):
    headers = {**auth, "Idempotency-Key": "k-renew"}
    sim.post(f"{BASE}/card-0001/operations/renew", json={"expiry": "3212"}, headers=headers)
    world.clock.advance(86401)
    headers = {**fresh_auth(sim), "Idempotency-Key": "k-renew"}
    resp = sim.post(f"{BASE}/card-0001/operations/renew", json={"expiry": "3312"}, headers=headers)
    assert resp.status_code == 200 and resp.json["expiry"] == "3312" and "Idempotent-Replayed" not in resp.headers


def test_bad_idempotency_key_is_named(sim, auth):
    resp = sim.post(BASE, json=card_body(), headers={**auth, "Idempotency-Key": "has space"})
    assert resp.status_code == 422 and "Idempotency-Key" in resp.json["fields"]


def test_idempotency_keys_are_per_issuer(sim, auth):
    sim.put("/sandbox/issuers/other-bank", json={"client_id": "other-bank", "client_secret": "other-bank-secret-1",
                                                 "card_products": demo.CARD_PRODUCTS})
    tok = sim.post("/oauth2/token", data={"grant_type": "client_credentials"},
                   auth=("other-bank", "other-bank-secret-1")).json["access_token"]
    sim.post(BASE, json=card_body(), headers={**auth, "Idempotency-Key": "same"})
    resp = sim.post("/v2/issuers/other-bank/cards", json=card_body(pan=OTHER_PAN),
                    headers={"Authorization": "Bearer " + tok, "Idempotency-Key": "same"})
    assert resp.status_code == 201 and resp.json["issuerId"] == "other-bank"


# -- audit and atomicity -------------------------------------------------------------------------------
def test_the_audit_trail_is_readable_and_holds_no_pan(sim, auth):
    sim.post(f"{BASE}/card-0001/operations/renew", json={"expiry": "3212"}, headers={**auth, "X-Request-ID": "r-1"})
    sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": NEW_PAN, "expiry": "3212"}, headers=auth)
    sim.post(f"{BASE}/card-0001/operations/delete", headers=auth)
    resp = sim.get(f"{BASE}/card-0001/audit", headers=auth)
    assert [e["operation"] for e in resp.json] == ["seed", "renew", "replace", "delete"]
    assert resp.json[1]["requestId"] == "r-1"
    assert NEW_PAN not in resp.get_data(as_text=True)


def test_a_failure_mid_change_leaves_nothing_half_written(sim, auth, world, monkeypatch):
    """Replace writes the new card, the old card's state and two audit rows: a crash before the last
    write must undo the first ones."""
    registry = world.sim.services["cards"]
    before = snapshot(world)
    real_audit = registry._audit

    def crash_on_replace_audit(card_id, issuer_id, operation, request_id, detail):
        if operation == "replace":
            raise RuntimeError("disk full")
        real_audit(card_id, issuer_id, operation, request_id, detail)

    monkeypatch.setattr(registry, "_audit", crash_on_replace_audit)
    resp = sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": NEW_PAN, "expiry": "3212"},
                    headers={**auth, "Idempotency-Key": "crash-1"})
    assert resp.status_code == 500 and resp.json["error"] == "internal_error"
    assert "disk full" not in resp.get_data(as_text=True)
    assert snapshot(world) == before
    monkeypatch.setattr(registry, "_audit", real_audit)
    retry = sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": NEW_PAN, "expiry": "3212"},
                     headers={**auth, "Idempotency-Key": "crash-1"})
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_card_changes_are_journaled_redacted(sim, auth, world):
    sim.post(f"{BASE}/card-0001/operations/replace", json={"pan": NEW_PAN, "expiry": "3212", "newCardId": "n1"},
             headers=auth)
    entries = world.sim.journal.for_transaction("card-0001")
    assert [e["label"] for e in entries] == ["replace card", "replace card"]
    assert entries[0]["body"]["pan"] == "****" + NEW_PAN[-4:]
    assert NEW_PAN not in str(entries)
    assert world.sim.journal.for_transaction("n1")  # the new card id finds the same exchange


def test_get_card(sim, auth):
    resp = sim.get(f"{BASE}/card-0002", headers=auth)
    assert resp.status_code == 200 and resp.json["behavior"] == "challenge-oob" and "pan" not in resp.json
    assert sim.get(f"{BASE}/nope", headers=auth).status_code == 404


def test_a_refused_change_is_journaled_with_its_answer(sim, auth, world):
    sim.post(f"{BASE}/card-0001/operations/delete", headers=auth)
    sim.post(f"{BASE}/card-0001/operations/renew", json={"expiry": "3212"}, headers=auth)
    last = world.sim.journal.for_transaction("card-0001")[-1]
    assert last["kind"] == "response" and last["status"] == 409 and last["body"]["error"] == "card_deleted"

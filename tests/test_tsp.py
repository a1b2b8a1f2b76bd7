"""Tokenization with OTP step-up (flow E) through HTTP: decisions, OTP delivery by SMS and email (by D1
or the issuer), activation rules, lifecycle, the issuer's view and notifications, and no OTP/PAN leaks."""

from __future__ import annotations

import json
import logging
import re

import pytest

from d1sandbox import demo

TRID = "40010030273"
CARDS = {c["behavior"]: c for c in demo.test_cards()}
SMS_CARD, EMAIL_CARD = CARDS["stepup-sms"], CARDS["stepup-email"]


def tokenize(sim, card=SMS_CARD, **extra):
    body = {"cardId": card["cardId"], "tokenRequestorId": TRID, **extra}
    r = sim.post("/tsp/v1/tokenize", json=body)
    assert r.status_code == 200, r.json
    return r.json


def request_otp(sim, ref, method="sms-1", status=200):
    r = sim.post(f"/tsp/v1/tokens/{ref}/otp", json={"methodId": method})
    assert r.status_code == status, r.json
    return r.json


def activate(sim, ref, otp, status=200):
    r = sim.post(f"/tsp/v1/tokens/{ref}/activate", json={"otp": otp})
    assert r.status_code == status, r.json
    return r.json


def last_code(sim, to, last4):
    msg = sim.get("/sandbox/messages", query_string={"to": to}).json[0]
    assert msg["status"] == "delivered", msg
    return next(c for c in re.findall(r"(?<!\d)\d{6}(?!\d)", msg["body"]) if c != last4), msg


def wrong(code):
    return code[:-1] + ("1" if code[-1] != "1" else "2")


def issuer_headers(sim):
    r = sim.post("/oauth2/token", data={"grant_type": "client_credentials"},
                 auth=(demo.DEMO_D1_CLIENT_ID, demo.DEMO_D1_CLIENT_SECRET))
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['access_token']}"}


def issuer_events(world, issuer, ref):
    world.drain()
    rows = issuer.get("/admin/notifications", query_string={"kind": "consumer"}).json
    return [r["body"]["eventType"] for r in reversed(rows) if r["body"].get("tokenRefId") == ref]


# -- SMS step-up, end to end -------------------------------------------------------------------
def test_sms_step_up_activates_the_token_and_notifies_the_issuer(world, sim, issuer):
    answer = tokenize(sim, deviceInfo={"deviceType": "PHONE", "language": "en-US"})
    assert (answer["decision"], answer["status"]) == ("REQUIRE_STEP_UP", "INACTIVE")
    assert answer["stepUpMethods"] == [{"id": "sms-1", "type": "SMS", "target": "+1******0107"}]
    ref = answer["tokenRefId"]
    sent = request_otp(sim, ref)
    assert sent["delivery"] == {"mode": "D1", "status": "delivered", "locale": "en"}
    assert sent["target"] == "+1******0107" and sent["resendsLeft"] == 3
    code, msg = last_code(sim, SMS_CARD["phone"], SMS_CARD["pan"][-4:])
    assert code not in json.dumps(sent)  # the OTP only ever shows in the inbox
    assert msg["sent_by"] == "d1" and msg["from"] == "DemoBank"
    assert f"card ending {SMS_CARD['pan'][-4:]}" in msg["body"]

    bad = activate(sim, ref, wrong(code), status=400)
    assert (bad["error"], bad["reason"], bad["remainingAttempts"], bad["tokenStatus"]) == (
        "otp_incorrect", "INCORRECT", 2, "INACTIVE")
    assert "otp" in bad["fields"]
    assert activate(sim, ref, code) == {"tokenRefId": ref, "status": "ACTIVE"}
    assert sim.get(f"/tsp/v1/tokens/{ref}").json["status"] == "ACTIVE"
    assert activate(sim, ref, code, status=409)["error"] == "invalid_token_state"
    assert issuer_events(world, issuer, ref) == ["TOKEN_CREATED", "TOKEN_ACTIVATED"]


def test_email_step_up_in_japanese_from_the_issuer_subdomain(sim):
    answer = tokenize(sim, EMAIL_CARD)
    assert answer["stepUpMethods"] == [{"id": "email-1", "type": "EMAIL", "target": "h***@mail.example"}]
    sent = request_otp(sim, answer["tokenRefId"], "email-1")
    assert sent["delivery"]["locale"] == "ja"
    code, msg = last_code(sim, EMAIL_CARD["email"], EMAIL_CARD["pan"][-4:])
    assert msg["from"] == "no-reply@email.demobank.example" and msg["subject"] == "Demo Bank 確認コードのお知らせ"
    assert f"末尾{EMAIL_CARD['pan'][-4:]}のカード" in msg["body"]
    assert activate(sim, answer["tokenRefId"], code)["status"] == "ACTIVE"


def test_issuer_delivers_the_otp_when_configured(sim, world):
    assert sim.put("/sandbox/issuers/demo-issuer", json={"otp_delivery": "ISSUER"}).status_code == 200
    answer = tokenize(sim)
    sent = request_otp(sim, answer["tokenRefId"])
    assert sent["delivery"]["mode"] == "ISSUER" and sent["delivery"]["status"] == "sent"
    code, msg = last_code(sim, SMS_CARD["phone"], SMS_CARD["pan"][-4:])
    assert msg["sent_by"] == "issuer"
    assert activate(sim, answer["tokenRefId"], code)["status"] == "ACTIVE"
    labels = [e["label"] for e in world.sim.journal.for_transaction(answer["tokenRefId"])]
    assert "DeliverOTP" in labels


# -- decisions ---------------------------------------------------------------------------------
def test_frictionless_card_by_pan_is_approved_and_active(world, sim, issuer):
    card = CARDS["frictionless"]
    r = sim.post("/tsp/v1/tokenize", json={"pan": card["pan"], "expiry": card["expiry"], "tokenRequestorId": TRID})
    assert r.status_code == 200
    answer = r.json
    assert (answer["decision"], answer["status"], answer["stepUpMethods"]) == ("APPROVED", "ACTIVE", [])
    assert answer["tokenInfo"]["tokenLast4"].isdigit() and len(answer["tokenInfo"]["tokenExpiry"]) == 4
    assert card["pan"] not in json.dumps(answer)
    assert issuer_events(world, issuer, answer["tokenRefId"]) == ["TOKEN_CREATED", "TOKEN_ACTIVATED"]


def test_rejected_card_is_declined(world, sim, issuer):
    answer = tokenize(sim, CARDS["rejected"])
    assert (answer["decision"], answer["status"], answer["reasons"]) == ("DECLINED", "DECLINED",
                                                                         ["TEST_CARD_REJECTED"])
    assert "tokenInfo" not in answer
    assert issuer_events(world, issuer, answer["tokenRefId"]) == ["TOKEN_DECLINED"]
    assert request_otp(sim, answer["tokenRefId"], status=409)["tokenStatus"] == "DECLINED"


def test_deleted_card_is_declined(world, sim):
    with world.sim.db.transaction():
        world.sim.db.update("cards", {"card_id": SMS_CARD["cardId"]}, {"state": "DELETED"})
    assert tokenize(sim)["reasons"] == ["CARD_NOT_ACTIVE"]


def test_expiry_mismatch_is_declined(sim):
    r = sim.post("/tsp/v1/tokenize", json={"pan": SMS_CARD["pan"], "expiry": "2901", "tokenRequestorId": TRID})
    assert r.json["reasons"] == ["EXPIRY_MISMATCH"]


def test_configurable_rules(sim):
    card = CARDS["challenge-sms-d1"]  # not a tokenization test card: the issuer's rules decide
    assert tokenize(sim, card)["decision"] == "APPROVED"
    r = sim.put("/sandbox/issuers/demo-issuer", json={"tsp": {
        "default_decision": "REQUIRE_STEP_UP", "step_up_methods": ["EMAIL", "SMS"], "decline_device_score_below": 2}})
    assert r.status_code == 200, r.json
    answer = tokenize(sim, card)
    assert [m["type"] for m in answer["stepUpMethods"]] == ["EMAIL", "SMS"]
    assert tokenize(sim, card, riskData={"deviceScore": 1})["reasons"] == ["LOW_DEVICE_SCORE"]
    assert tokenize(sim, card, riskData={"recommendation": "DECLINE"})["reasons"] == ["WALLET_RECOMMENDS_DECLINE"]


@pytest.mark.parametrize("tsp, field", [
    ({"default_decision": "MAYBE"}, "tsp"), ({"step_up_methods": ["PIGEON"]}, "tsp"),
    ({"decline_device_score_below": 9}, "tsp"), ({"surprise": 1}, "tsp"),
])
def test_bad_rules_are_422_naming_the_field(sim, tsp, field):
    r = sim.put("/sandbox/issuers/demo-issuer", json={"tsp": tsp})
    assert r.status_code == 422 and field in r.json["fields"]


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("body, field", [
    ({"cardId": "card-0010"}, "tokenRequestorId"),
    ({"cardId": "card-0010", "tokenRequestorId": "123"}, "tokenRequestorId"),
    ({"tokenRequestorId": TRID}, "cardId"),
    ({"cardId": "card-0010", "pan": SMS_CARD["pan"], "expiry": "3012", "tokenRequestorId": TRID}, "cardId"),
    ({"pan": SMS_CARD["pan"], "tokenRequestorId": TRID}, "expiry"),
    ({"pan": "4000000000000001", "expiry": "3012", "tokenRequestorId": TRID}, "pan"),  # Luhn
    ({"pan": SMS_CARD["pan"], "expiry": "3013", "tokenRequestorId": TRID}, "expiry"),
    ({"cardId": "card-0010", "tokenRequestorId": TRID, "riskData": {"deviceScore": 7}}, "riskData"),
])
def test_bad_tokenize_requests_are_422_naming_the_field(sim, body, field):
    r = sim.post("/tsp/v1/tokenize", json=body)
    assert r.status_code == 422 and field in r.json["fields"], r.json
    assert SMS_CARD["pan"] not in json.dumps(r.json)


def test_unknown_card_is_404_without_echoing_the_pan(sim):
    pan = demo.with_check_digit("400000009999999")
    r = sim.post("/tsp/v1/tokenize", json={"pan": pan, "expiry": "3012", "tokenRequestorId": TRID})
    assert r.status_code == 404 and r.json["error"] == "card_not_found" and "pan" in r.json["fields"]
    assert pan not in json.dumps(r.json)
    r = sim.post("/tsp/v1/tokenize", json={"cardId": "card-0010", "issuerId": "other", "tokenRequestorId": TRID})
    assert r.status_code == 404


def test_otp_request_errors(sim):
    ref = tokenize(sim)["tokenRefId"]
    assert request_otp(sim, ref, "email-1", status=422)["fields"]["methodId"]
    assert sim.post(f"/tsp/v1/tokens/{ref}/otp", json={}).status_code == 422
    assert request_otp(sim, "DNITHE-nope", status=404)["error"] == "token_not_found"
    assert activate(sim, ref, "123456", status=409)["error"] == "otp_not_requested"
    approved = tokenize(sim, CARDS["frictionless"])["tokenRefId"]
    assert request_otp(sim, approved, status=409)["tokenStatus"] == "ACTIVE"


# -- OTP rules at activation -------------------------------------------------------------------
def test_attempts_run_out_and_the_token_is_declined(world, sim, issuer):
    ref = tokenize(sim)["tokenRefId"]
    request_otp(sim, ref)
    code, _ = last_code(sim, SMS_CARD["phone"], SMS_CARD["pan"][-4:])
    assert activate(sim, ref, wrong(code), status=400)["remainingAttempts"] == 2
    assert activate(sim, ref, wrong(code), status=400)["remainingAttempts"] == 1
    last = activate(sim, ref, wrong(code), status=403)
    assert (last["error"], last["tokenStatus"]) == ("otp_attempts_exhausted", "DECLINED")
    assert activate(sim, ref, code, status=409)["tokenStatus"] == "DECLINED"  # the right code is too late
    assert issuer_events(world, issuer, ref) == ["TOKEN_CREATED", "TOKEN_DECLINED"]


def test_expired_otp_then_a_fresh_one_works(world, sim):
    ref = tokenize(sim)["tokenRefId"]
    request_otp(sim, ref)
    old, _ = last_code(sim, SMS_CARD["phone"], SMS_CARD["pan"][-4:])
    world.clock.advance(301)
    expired = activate(sim, ref, old, status=400)
    assert (expired["error"], expired["tokenStatus"]) == ("otp_expired", "INACTIVE")
    again = request_otp(sim, ref)
    assert again["resendsLeft"] == 2
    new, _ = last_code(sim, SMS_CARD["phone"], SMS_CARD["pan"][-4:])
    if new != old:
        assert activate(sim, ref, old, status=400)["error"] == "otp_incorrect"  # the old code is dead
    assert activate(sim, ref, new)["status"] == "ACTIVE"


def test_resend_limit(sim):
    ref = tokenize(sim)["tokenRefId"]
    for left in (3, 2, 1, 0):
        assert request_otp(sim, ref)["resendsLeft"] == left
    assert request_otp(sim, ref, status=429)["error"] == "otp_resend_limit"


def test_rate_limit_per_consumer(sim):
    sim.put("/sandbox/issuers/demo-issuer", json={"otp_policy": {"rate_limit_per_hour": 2}})
    for _ in range(2):
        request_otp(sim, tokenize(sim)["tokenRefId"])
    limited = sim.post(f"/tsp/v1/tokens/{tokenize(sim)['tokenRefId']}/otp", json={"methodId": "sms-1"})
    assert limited.status_code == 429 and limited.json["error"] == "otp_rate_limited"
    assert int(limited.headers["Retry-After"]) > 0


def test_issuer_otp_policy_applies(sim):
    sim.put("/sandbox/issuers/demo-issuer", json={"otp_policy": {"length": 8, "max_attempts": 1}})
    ref = tokenize(sim)["tokenRefId"]
    request_otp(sim, ref)
    body = sim.get("/sandbox/messages", query_string={"to": SMS_CARD["phone"]}).json[0]["body"]
    code = re.match(r"(\d{8}) ", body).group(1)
    assert activate(sim, ref, wrong(code), status=403)["tokenStatus"] == "DECLINED"


# -- email needs the sending domain ------------------------------------------------------------
def test_email_without_published_dns_is_a_clear_error_and_nothing_is_sent(sim):
    sim.delete("/sandbox/issuers/demo-issuer/dns", query_string={"only": ["DKIM", "DMARC"]})
    ref = tokenize(sim, EMAIL_CARD)["tokenRefId"]
    r = sim.post(f"/tsp/v1/tokens/{ref}/otp", json={"methodId": "email-1"})
    assert r.status_code == 409 and r.json["error"] == "email_domain_not_ready"
    assert r.json["missing"] == ["DKIM", "DMARC"] and r.json["subdomain"] == "email.demobank.example"
    assert "DKIM, DMARC" in r.json["message"]
    [msg] = sim.get("/sandbox/messages", query_string={"to": EMAIL_CARD["email"]}).json
    assert msg["status"] == "blocked" and "DKIM" in msg["reason"]
    assert sim.get(f"/tsp/v1/tokens/{ref}").json["status"] == "INACTIVE"
    assert activate(sim, ref, "123456", status=409)["error"] == "otp_not_requested"  # no live code exists
    sim.post("/sandbox/issuers/demo-issuer/dns/publish", json={})
    request_otp(sim, ref, "email-1")
    code, _ = last_code(sim, EMAIL_CARD["email"], EMAIL_CARD["pan"][-4:])
    assert activate(sim, ref, code)["status"] == "ACTIVE"


def test_a_new_sending_subdomain_starts_unpublished(sim):
    sim.put("/sandbox/issuers/demo-issuer", json={"email": {"subdomain": "email.newbank.example"}})
    ref = tokenize(sim, EMAIL_CARD)["tokenRefId"]
    r = sim.post(f"/tsp/v1/tokens/{ref}/otp", json={"methodId": "email-1"})
    assert r.status_code == 409 and r.json["subdomain"] == "email.newbank.example"
    assert set(r.json["missing"]) == {"VERIFY", "SPF", "DKIM", "DMARC", "MX"}


# -- delivery failures -------------------------------------------------------------------------
def test_issuer_deliver_otp_failure_is_502_and_the_code_is_dead(sim, world):
    sim.put("/sandbox/issuers/demo-issuer", json={"otp_delivery": "ISSUER"})
    sim.post("/sandbox/faults", json={"target": "issuer", "operation": "otp", "status": 500})
    ref = tokenize(sim)["tokenRefId"]
    r = sim.post(f"/tsp/v1/tokens/{ref}/otp", json={"methodId": "sms-1"})
    assert r.status_code == 502 and r.json["error"] == "issuer_delivery_failed"
    assert activate(sim, ref, "123456", status=409)["error"] == "otp_not_requested"


def test_sms_fallback_and_total_failure(sim):
    sim.post("/sandbox/faults", json={"target": "sms", "operation": "sms-primary", "status": 503})
    ref = tokenize(sim)["tokenRefId"]
    request_otp(sim, ref)
    msg = sim.get("/sandbox/messages", query_string={"to": SMS_CARD["phone"]}).json[0]
    assert msg["status_history"][-2]["provider"] == "Sandbox SMS gateway B"
    sim.post("/sandbox/faults", json={"target": "sms", "operation": "sms", "status": 503})
    r = sim.post(f"/tsp/v1/tokens/{tokenize(sim)['tokenRefId']}/otp", json={"methodId": "sms-1"})
    assert r.status_code == 502 and r.json["error"] == "provider_failed"


# -- lifecycle and the issuer's view -----------------------------------------------------------
def active_token(sim):
    return tokenize(sim, CARDS["frictionless"])["tokenRefId"]


def test_wallet_lifecycle_notifies_the_issuer(world, sim, issuer):
    ref = active_token(sim)
    assert sim.post(f"/tsp/v1/tokens/{ref}/suspend", json={"reason": "lost phone"}).json["status"] == "SUSPENDED"
    assert sim.post(f"/tsp/v1/tokens/{ref}/suspend", json={}).status_code == 409
    assert sim.post(f"/tsp/v1/tokens/{ref}/resume", json={}).json["status"] == "ACTIVE"
    assert sim.post(f"/tsp/v1/tokens/{ref}/delete", json={}).json["status"] == "DELETED"
    assert sim.post(f"/tsp/v1/tokens/{ref}/resume", json={}).status_code == 409
    assert issuer_events(world, issuer, ref) == ["TOKEN_CREATED", "TOKEN_ACTIVATED", "TOKEN_SUSPENDED",
                                                 "TOKEN_RESUMED", "TOKEN_DELETED"]


def test_issuer_sees_and_manages_its_tokens(world, sim, issuer):
    headers = issuer_headers(sim)
    ref = tokenize(sim)["tokenRefId"]
    request_otp(sim, ref)
    view = sim.get(f"/v2/issuers/demo-issuer/tokens/{ref}", headers=headers).json
    assert view["status"] == "INACTIVE" and view["cardId"] == SMS_CARD["cardId"] and view["wallet"] == "Apple Pay"
    assert view["otp"]["status"] == "ACTIVE" and view["otp"]["remainingAttempts"] == 3
    assert [e["event"] for e in view["events"]] == ["TOKENIZE_REQUIRE_STEP_UP", "OTP_REQUESTED"]
    listed = sim.get("/v2/issuers/demo-issuer/tokens", query_string={"cardId": SMS_CARD["cardId"]},
                     headers=headers).json
    assert [t["tokenRefId"] for t in listed] == [ref]
    assert sim.get("/v2/issuers/demo-issuer/tokens", query_string={"status": "ACTIVE"}, headers=headers).json == []

    ref2 = active_token(sim)
    op = sim.post(f"/v2/issuers/demo-issuer/tokens/{ref2}/operations/suspend", json={"reason": "fraud"},
                  headers=headers)
    assert op.status_code == 200 and op.json["status"] == "SUSPENDED"
    assert op.json["events"][-1] == {**op.json["events"][-1], "actor": "Issuer backend", "reason": "fraud"}
    # the issuer made that change itself: no notification echoes it back
    assert "TOKEN_SUSPENDED" not in issuer_events(world, issuer, ref2)
    assert sim.get(f"/v2/issuers/demo-issuer/tokens/{ref}").status_code == 401


def test_deleting_a_card_deletes_its_live_tokens_in_the_same_transaction(world, sim, issuer):
    headers = issuer_headers(sim)
    card = CARDS["frictionless"]
    active = active_token(sim)
    suspended = active_token(sim)
    sim.post(f"/tsp/v1/tokens/{suspended}/suspend", json={})
    rejected = tokenize(sim, CARDS["rejected"])["tokenRefId"]  # another card: untouched
    pending = tokenize(sim)["tokenRefId"]  # the step-up card: untouched too
    r = sim.post(f"/v2/issuers/demo-issuer/cards/{card['cardId']}/operations/delete", json={"reason": "CLOSED"},
                 headers=headers)
    assert r.status_code == 200 and r.json["state"] == "DELETED"
    for ref in (active, suspended):
        view = sim.get(f"/v2/issuers/demo-issuer/tokens/{ref}", headers=headers).json
        assert view["status"] == "DELETED"
        assert view["events"][-1] == {**view["events"][-1], "event": "DELETE", "actor": "D1",
                                      "reason": "card deleted"}
        assert issuer_events(world, issuer, ref)[-1] == "TOKEN_DELETED"
    for ref, status in ((rejected, "DECLINED"), (pending, "INACTIVE")):
        assert sim.get(f"/v2/issuers/demo-issuer/tokens/{ref}", headers=headers).json["status"] == status
    # a repeated delete answers the deleted card and sends nothing more
    before = len(issuer_events(world, issuer, active))
    assert sim.post(f"/v2/issuers/demo-issuer/cards/{card['cardId']}/operations/delete", json={},
                    headers=headers).status_code == 200
    assert len(issuer_events(world, issuer, active)) == before


def test_a_token_that_cannot_be_deleted_leaves_the_card_undeleted(world, sim, monkeypatch):
    from simulator.tsp.service import TokenService

    headers = issuer_headers(sim)
    card = CARDS["frictionless"]
    ref = active_token(sim)

    def crash(self, *a, **kw):
        raise RuntimeError("crash while deleting the tokens")

    monkeypatch.setattr(TokenService, "change", crash)
    r = sim.post(f"/v2/issuers/demo-issuer/cards/{card['cardId']}/operations/delete", json={}, headers=headers)
    assert r.status_code == 500 and "crash" not in r.get_data(as_text=True)
    monkeypatch.undo()
    assert world.sim.db.scalar("SELECT state FROM cards WHERE card_id = ?", (card["cardId"],)) == "ACTIVE"
    assert sim.get(f"/v2/issuers/demo-issuer/tokens/{ref}", headers=headers).json["status"] == "ACTIVE"


def test_issuer_cannot_see_another_issuers_tokens(sim):
    ref = active_token(sim)
    sim.put("/sandbox/issuers/other-bank", json={"name": "Other", "client_id": "other-bank",
                                                 "client_secret": "other-bank-secret-123"})
    token = sim.post("/oauth2/token", data={"grant_type": "client_credentials"},
                     auth=("other-bank", "other-bank-secret-123")).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert sim.get(f"/v2/issuers/demo-issuer/tokens/{ref}", headers=headers).status_code == 403
    assert sim.get(f"/v2/issuers/other-bank/tokens/{ref}", headers=headers).status_code == 404


# -- journal and secrets -----------------------------------------------------------------------
def test_journal_tells_the_story_without_otp_or_pan(world, sim, caplog):
    caplog.set_level(logging.DEBUG)
    card = SMS_CARD
    r = sim.post("/tsp/v1/tokenize", json={"pan": card["pan"], "expiry": card["expiry"], "tokenRequestorId": TRID})
    ref = r.json["tokenRefId"]
    request_otp(sim, ref)
    code, _ = last_code(sim, card["phone"], card["pan"][-4:])
    activate(sim, ref, wrong(code), status=400)
    activate(sim, ref, code)
    world.drain()
    entries = sim.get("/sandbox/journal", query_string={"transaction": ref}).json
    labels = [(e["from"], e["to"], e["label"]) for e in entries]
    assert labels[0] == ("Wallet", "TSP", "POST /tsp/v1/tokenize")
    assert ("TSP", "D1", "deliver OTP on the issuer's behalf") in labels
    assert ("D1", "Sandbox SMS gateway A", "submit SMS") in labels
    assert ("D1", "Issuer backend", "notifications") in labels
    text = json.dumps(entries, ensure_ascii=False)
    assert code not in text and card["pan"] not in text and wrong(code) not in text
    diagram = sim.get(f"/sandbox/journal/{ref}/diagram").data.decode()
    assert "sequenceDiagram" in diagram and code not in diagram
    assert code not in caplog.text and card["pan"] not in caplog.text


def test_a_resend_that_fails_half_way_leaves_the_previous_code_working(world, sim, monkeypatch):
    """Issuing the new code and linking it to the token are one transaction: a failure after the resend
    (here: writing the token event) must not have killed the code the cardholder already holds."""
    from simulator.tsp.service import TokenService

    ref = tokenize(sim)["tokenRefId"]
    request_otp(sim, ref)
    code, _ = last_code(sim, SMS_CARD["phone"], SMS_CARD["pan"][-4:])

    def broken_event(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(TokenService, "_event", broken_event)
    assert sim.post(f"/tsp/v1/tokens/{ref}/otp", json={"methodId": "sms-1"}).status_code == 500
    monkeypatch.undo()
    assert activate(sim, ref, code)["status"] == "ACTIVE"

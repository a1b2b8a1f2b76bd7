"""The reference issuer backend's receivers of D1's outbound API (docs/wire-contract.md): its own
OAuth2 token endpoint, authentication of D1's calls, body validation, the documented answers, the
bank's own SMS gateway for DeliverOTP, and the issuer app's approve/decline."""

from __future__ import annotations

import pytest

from d1sandbox import demo

D1_CLIENT = (demo.DEMO_OUTBOUND_CLIENT_ID, demo.DEMO_OUTBOUND_CLIENT_SECRET)
BANK = "/banking/d1/v1/issuers/demo-issuer/consumers"


@pytest.fixture
def d1(issuer):
    """Headers D1 sends: a token from the bank's own /oauth2/token."""
    resp = issuer.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=D1_CLIENT)
    assert resp.status_code == 200, resp.json
    return {"Authorization": "Bearer " + resp.json["access_token"], "X-Correlation-ID": "tx-1"}


def later(world, seconds=300):
    return world.clock.isoformat(world.clock.now() + seconds)


# -- the bank's OAuth2 -------------------------------------------------------------------------------
def test_token_endpoint_issues_hashed_tokens(issuer, world):
    resp = issuer.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=D1_CLIENT)
    body = resp.json
    assert resp.status_code == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert resp.headers["Cache-Control"] == "no-store"
    rows = world.issuer.db.all("SELECT * FROM access_tokens")
    assert len(rows) == 1 and body["access_token"] not in str(rows[0].values())


def test_token_endpoint_accepts_form_credentials(issuer):
    resp = issuer.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": D1_CLIENT[0],
                                              "client_secret": D1_CLIENT[1]})
    assert resp.status_code == 200


def test_token_endpoint_errors(issuer):
    wrong = issuer.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(D1_CLIENT[0], "nope"))
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    grant = issuer.post("/oauth2/token", data={"grant_type": "password"}, auth=D1_CLIENT)
    assert grant.status_code == 400 and grant.json["error"] == "unsupported_grant_type"
    missing = issuer.post("/oauth2/token", data={}, auth=D1_CLIENT)
    assert missing.status_code == 400 and missing.json["error"] == "invalid_request"


@pytest.mark.parametrize("method, path", [
    ("get", f"{BANK}/consumer-0001"),
    ("post", f"{BANK}/consumer-0004/otp"),
    ("post", f"{BANK}/consumer-0001/notifications"),
    ("post", f"{BANK}/consumer-0002/authentication"),
    ("get", f"{BANK}/consumer-0002/authentication/auth-x"),
    ("post", "/notifications/d1/v1/issuers/demo-issuer/cards/card-0001/3ds/notifications"),
])
def test_every_receiver_authenticates_d1(issuer, world, method, path):
    none = getattr(issuer, method)(path, json={})
    assert none.status_code == 401 and none.headers["WWW-Authenticate"].startswith("Bearer")
    forged = getattr(issuer, method)(path, json={}, headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401 and forged.json["error"] == "invalid_token"


def test_expired_d1_token_is_refused(issuer, d1, world):
    world.clock.advance(3601)
    resp = issuer.get(f"{BANK}/consumer-0001", headers=d1)
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_receivers_are_open_when_inbound_auth_is_off(tmp_path):
    from scenarios.inprocess import build_world

    w = build_world(tmp_path, issuer_config={"REQUIRE_INBOUND_AUTH": False})
    try:
        assert w.issuer_app.test_client().get(f"{BANK}/consumer-0001").status_code == 200
    finally:
        w.close()


# -- consumer information ----------------------------------------------------------------------------
def test_consumer_information_has_the_documented_shape(issuer, d1):
    resp = issuer.get(f"{BANK}/consumer-0003", headers=d1)
    assert resp.status_code == 200
    assert resp.json == {"consumerId": "consumer-0003", "name": "Carol Sms", "phoneNumber": "+16175550103",
                         "email": "carol@mail.example", "locale": "en"}


def test_unknown_consumer_and_other_issuer_are_404(issuer, d1):
    resp = issuer.get(f"{BANK}/nobody", headers=d1)
    assert resp.status_code == 404 and resp.json["error"] == "consumer_not_found"
    resp = issuer.get("/banking/d1/v1/issuers/other-bank/consumers/consumer-0001", headers=d1)
    assert resp.status_code == 404 and resp.json["error"] == "issuer_not_found"


# -- DeliverOTP ----------------------------------------------------------------------------------------
def otp_body(world, **over):
    body = {"otp": "482913", "channel": "SMS", "purpose": "3DS", "transactionId": "acs-tx-1", "cardId": "card-0004",
            "panLast4": "0008", "locale": "en", "expiresAt": later(world), "merchantName": "Demo Shop",
            "amount": "49.99", "currency": "EUR"}
    body.update(over)
    return body


def test_deliver_otp_sends_the_banks_own_sms_and_never_logs_the_otp(issuer, sim, d1, world):
    resp = issuer.post(f"{BANK}/consumer-0004/otp", json=otp_body(world), headers=d1)
    assert resp.status_code == 202
    assert resp.json["status"] == "SENT" and resp.json["deliveryId"].startswith("dlv-")
    inbox = sim.get("/sandbox/messages?to=%2B16175550104").json
    assert len(inbox) == 1
    sms = inbox[0]
    assert sms["from"] == "DemoBank" and sms["sent_by"] == "issuer" and sms["channel"] == "sms"
    assert "482913" in sms["body"] and "0008" in sms["body"] and "Demo Shop" in sms["body"]
    assert sms["body"].startswith("DemoBank:")  # the bank's wording, not D1's template
    # The OTP appears nowhere else: not the bank's journal, not its notification log.
    assert "482913" not in str(world.issuer.journal.recent(500))
    stored = issuer.get("/admin/notifications?kind=otp").json
    assert len(stored) == 1 and stored[0]["body"]["otp"] == "***" and "482913" not in str(stored)
    assert stored[0]["body"]["deliveryId"] == resp.json["deliveryId"]


def test_deliver_otp_in_japanese_and_for_tokenization(issuer, sim, d1, world):
    issuer.post(f"{BANK}/consumer-0008/otp", json=otp_body(world, locale=None, purpose="TOKENIZATION",
                                                         merchantName=None), headers=d1)
    sms = sim.get("/sandbox/messages?to=%2B16175550108").json[0]
    assert "ウォレット" in sms["body"] and "482913" in sms["body"]


def test_deliver_otp_by_email(issuer, sim, d1, world):
    resp = issuer.post(f"{BANK}/consumer-0007/otp", json=otp_body(world, channel="EMAIL", purpose="TOKENIZATION"),
                       headers=d1)
    assert resp.status_code == 202
    mail = sim.get("/sandbox/messages?to=grace@mail.example&channel=email").json[0]
    assert mail["from"] == "no-reply@demobank.example" and mail["subject"] and "482913" in mail["body"]


@pytest.mark.parametrize("override, field", [
    ({"otp": None}, "otp"),
    ({"channel": "PIGEON"}, "channel"),
    ({"purpose": "FUN"}, "purpose"),
    ({"transactionId": ""}, "transactionId"),
    ({"panLast4": "12345"}, "panLast4"),
    ({"expiresAt": "tomorrow"}, "expiresAt"),
])
def test_deliver_otp_validates_the_body(issuer, sim, d1, world, override, field):
    body = {k: v for k, v in otp_body(world, **override).items() if v is not None}
    resp = issuer.post(f"{BANK}/consumer-0004/otp", json=body, headers=d1)
    assert resp.status_code == 422 and field in resp.json["fields"], resp.json
    assert "482913" not in resp.get_data(as_text=True)
    assert sim.get("/sandbox/messages?to=%2B16175550104").json == []


def test_deliver_otp_gateway_failure_is_502(issuer, d1, world, monkeypatch):
    from issuer.gateway import Sent

    monkeypatch.setattr(world.issuer.services["gateway"], "send_sms", lambda *a, **kw: Sent(False, None, "timeout"))
    resp = issuer.post(f"{BANK}/consumer-0004/otp", json=otp_body(world), headers=d1)
    assert resp.status_code == 502 and resp.json["error"] == "gateway_error"
    assert issuer.get("/admin/notifications?kind=otp").json == []


# -- consumer notifications ----------------------------------------------------------------------------
def test_consumer_notification_is_stored_and_acknowledged(issuer, d1, world):
    body = {"eventType": "TOKEN_CREATED", "eventId": "evt-9", "timestamp": later(world, 0), "tokenRefId": "t-9"}
    resp = issuer.post(f"{BANK}/consumer-0007/notifications", json=body, headers=d1)
    assert resp.status_code == 204
    stored = issuer.get("/admin/notifications?kind=consumer&consumerId=consumer-0007").json
    assert stored[0]["body"]["tokenRefId"] == "t-9"


@pytest.mark.parametrize("body, field", [
    ({"eventType": "NOPE", "eventId": "e", "timestamp": "2026-01-01T00:00:00Z"}, "eventType"),
    ({"eventType": "TOKEN_CREATED", "timestamp": "2026-01-01T00:00:00Z"}, "eventId"),
    ({"eventType": "TOKEN_CREATED", "eventId": "e", "timestamp": "2026-01-01T00:00:00"}, "timestamp"),
    ({"eventType": "AUTHENTICATOR_ENROLLED", "eventId": "e", "timestamp": "2026-01-01T00:00:00Z"}, "appInstanceId"),
])
def test_consumer_notification_validates_the_body(issuer, d1, body, field):
    resp = issuer.post(f"{BANK}/consumer-0001/notifications", json=body, headers=d1)
    assert resp.status_code == 422 and field in resp.json["fields"], resp.json
    assert issuer.get("/admin/notifications").json == []


# -- authenticate / result and the issuer app --------------------------------------------------------
def auth_body(world, **over):
    body = {"transactionId": "acs-tx-2", "cardId": "card-0002", "panLast4": "0000", "appInstanceId": "app-0002",
            "merchantName": "Demo Shop", "amount": "49.99", "currency": "EUR", "locale": "en",
            "expiresAt": later(world, 600)}
    body.update(over)
    return body


def test_authenticate_creates_a_pending_step_up_the_app_approves(issuer, d1, world):
    resp = issuer.post(f"{BANK}/consumer-0002/authentication", json=auth_body(world), headers=d1)
    assert resp.status_code == 201 and resp.json["status"] == "PENDING"
    auth_id = resp.json["authenticationId"]
    pending = issuer.get("/app/consumers/consumer-0002/authentications?status=PENDING").json
    assert [p["authenticationId"] for p in pending] == [auth_id]
    assert pending[0]["merchantName"] == "Demo Shop" and pending[0]["panLast4"] == "0000"
    result = issuer.get(f"{BANK}/consumer-0002/authentication/{auth_id}", headers=d1).json
    assert result == {"authenticationId": auth_id, "status": "PENDING", "decidedAt": None}
    approved = issuer.post(f"/app/authentications/{auth_id}/approve")
    assert approved.status_code == 200 and approved.json["status"] == "APPROVED"
    result = issuer.get(f"{BANK}/consumer-0002/authentication/{auth_id}", headers=d1).json
    assert result["status"] == "APPROVED" and result["decidedAt"]
    assert issuer.get("/app/consumers/consumer-0002/authentications?status=PENDING").json == []


def test_decline_and_decision_conflicts(issuer, d1, world):
    auth_id = issuer.post(f"{BANK}/consumer-0002/authentication", json=auth_body(world), headers=d1).json[
        "authenticationId"]
    assert issuer.post(f"/app/authentications/{auth_id}/decline").json["status"] == "DECLINED"
    assert issuer.post(f"/app/authentications/{auth_id}/decline").status_code == 200  # same decision again
    flip = issuer.post(f"/app/authentications/{auth_id}/approve")
    assert flip.status_code == 409 and flip.json["error"] == "already_decided"
    assert issuer.post("/app/authentications/auth-nope/approve").status_code == 404


def test_the_cardholders_decision_is_journaled_under_the_3ds_transaction(issuer, d1, world):
    auth_id = issuer.post(f"{BANK}/consumer-0002/authentication", json=auth_body(world, transactionId="acs-tx-9"),
                          headers=d1).json["authenticationId"]
    assert issuer.post(f"/app/authentications/{auth_id}/approve").status_code == 200
    assert issuer.post(f"/app/authentications/{auth_id}/decline").status_code == 409  # refused: journaled too
    entries = [(e["from"], e["to"], e["label"], e["status"]) for e in world.issuer.journal.for_transaction("acs-tx-9")
               if "step-up" in e["label"]]
    assert entries == [("Issuer app", "Issuer backend", "approve step-up", None),
                       ("Issuer backend", "Issuer app", "approve step-up", 200),
                       ("Issuer app", "Issuer backend", "decline step-up", None),
                       ("Issuer backend", "Issuer app", "decline step-up", 409)]
    assert issuer.get("/app/consumers/consumer-0002/authentications").json[0]["status"] == "APPROVED"


def test_a_step_up_expires_after_expires_at(issuer, d1, world):
    auth_id = issuer.post(f"{BANK}/consumer-0002/authentication", json=auth_body(world, expiresAt=later(world, 60)),
                          headers=d1).json["authenticationId"]
    world.clock.advance(61)
    late = issuer.post(f"/app/authentications/{auth_id}/approve")
    assert late.status_code == 409 and late.json["error"] == "authentication_expired"
    d1_again = issuer.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=D1_CLIENT).json
    result = issuer.get(f"{BANK}/consumer-0002/authentication/{auth_id}",
                        headers={"Authorization": "Bearer " + d1_again["access_token"]}).json
    assert result["status"] == "EXPIRED"
    expired = issuer.get("/app/consumers/consumer-0002/authentications?status=EXPIRED").json
    assert expired[0]["authenticationId"] == auth_id


def test_a_retried_authenticate_answers_the_same_step_up(issuer, d1, world):
    first = issuer.post(f"{BANK}/consumer-0002/authentication", json=auth_body(world), headers=d1).json
    again = issuer.post(f"{BANK}/consumer-0002/authentication", json=auth_body(world), headers=d1).json
    assert again == first
    assert len(issuer.get("/app/consumers/consumer-0002/authentications").json) == 1


def test_unreachable_app_is_503_and_no_app_is_409(issuer, d1, world):
    down = issuer.post(f"{BANK}/consumer-0005/authentication", json=auth_body(world), headers=d1)
    assert down.status_code == 503 and down.json["error"] == "app_unreachable"
    none = issuer.post(f"{BANK}/consumer-0003/authentication", json=auth_body(world), headers=d1)
    assert none.status_code == 409 and none.json["error"] == "no_app_instance"
    assert world.issuer.db.scalar("SELECT COUNT(*) FROM authentications") == 0


@pytest.mark.parametrize("drop, field", [("transactionId", "transactionId"), ("expiresAt", "expiresAt")])
def test_authenticate_validates_the_body(issuer, d1, world, drop, field):
    body = auth_body(world)
    del body[drop]
    resp = issuer.post(f"{BANK}/consumer-0002/authentication", json=body, headers=d1)
    assert resp.status_code == 422 and field in resp.json["fields"]


def test_result_of_another_consumers_authentication_is_404(issuer, d1, world):
    auth_id = issuer.post(f"{BANK}/consumer-0002/authentication", json=auth_body(world), headers=d1).json[
        "authenticationId"]
    resp = issuer.get(f"{BANK}/consumer-0001/authentication/{auth_id}", headers=d1)
    assert resp.status_code == 404 and resp.json["error"] == "authentication_not_found"


def test_app_list_validates_status_and_consumer(issuer):
    assert issuer.get("/app/consumers/consumer-0002/authentications?status=MAYBE").status_code == 422
    assert issuer.get("/app/consumers/nobody/authentications").status_code == 404


# -- 3DS notifications -------------------------------------------------------------------------------
def threeds_body(world, **over):
    body = {"operationId": "op-7", "threeDSServerTransID": "t", "dsTransID": "d", "acsTransID": "a",
            "messageVersion": "2.2.0", "messageCategory": "01", "deviceChannel": "02", "transStatus": "Y",
            "transStatusReason": None, "challengeMethod": "OOB", "eci": "05", "purchaseAmount": "4999",
            "purchaseCurrency": "978", "merchantName": "Demo Shop", "timestamp": later(world, 0)}
    body.update(over)
    return body


def test_3ds_notification_is_stored_and_listed(issuer, d1, world):
    path = "/notifications/d1/v1/issuers/demo-issuer/cards/card-0002/3ds/notifications"
    assert issuer.post(path, json=threeds_body(world), headers=d1).status_code == 204
    assert issuer.post(path, json=threeds_body(world), headers=d1).status_code == 204  # redelivery
    stored = issuer.get("/admin/notifications?cardId=card-0002").json
    assert len(stored) == 1 and stored[0]["kind"] == "3ds" and stored[0]["consumerId"] == "consumer-0002"
    assert stored[0]["body"]["challengeMethod"] == "OOB"


@pytest.mark.parametrize("override, field", [
    ({"transStatus": "Z"}, "transStatus"),
    ({"operationId": None}, "operationId"),
    ({"challengeMethod": "TELEPATHY"}, "challengeMethod"),
    ({"timestamp": "noon"}, "timestamp"),
])
def test_3ds_notification_validates_the_body(issuer, d1, world, override, field):
    body = {k: v for k, v in threeds_body(world, **override).items() if not (k == "operationId" and v is None)}
    path = "/notifications/d1/v1/issuers/demo-issuer/cards/card-0002/3ds/notifications"
    resp = issuer.post(path, json=body, headers=d1)
    assert resp.status_code == 422 and field in resp.json["fields"], resp.json


def test_notifications_listing_filters_and_validates(issuer):
    assert issuer.get("/admin/notifications?kind=weird").status_code == 422
    assert issuer.get("/admin/notifications?limit=0").status_code == 422
    assert issuer.get("/admin/notifications").json == []


def test_openapi_describes_every_receiver(issuer):
    spec = issuer.get("/openapi.json").json
    paths = spec["paths"]
    for path in ("/oauth2/token", "/banking/d1/v1/issuers/{issuer_id}/consumers/{consumer_id}",
                 "/banking/d1/v1/issuers/{issuer_id}/consumers/{consumer_id}/otp",
                 "/banking/d1/v1/issuers/{issuer_id}/consumers/{consumer_id}/notifications",
                 "/banking/d1/v1/issuers/{issuer_id}/consumers/{consumer_id}/authentication",
                 "/banking/d1/v1/issuers/{issuer_id}/consumers/{consumer_id}/authentication/{authentication_id}",
                 "/notifications/d1/v1/issuers/{issuer_id}/cards/{card_id}/3ds/notifications",
                 "/app/consumers/{consumer_id}/authentications", "/app/authentications/{authentication_id}/approve",
                 "/admin/consumers", "/admin/cards", "/admin/notifications"):
        assert path in paths, path
        for method, op in paths[path].items():
            if method == "parameters":
                continue
            assert op.get("summary") or op.get("description"), path
    assert spec["components"]["securitySchemes"]["d1Bearer"]["scheme"] == "bearer"



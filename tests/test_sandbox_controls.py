"""The sandbox controls of the contract."""

from d1sandbox import demo

BEHAVIORS = {"frictionless", "challenge-oob", "challenge-sms-d1", "challenge-sms-issuer", "oob-unavailable",
             "not-authenticated", "rejected", "unavailable", "attempted", "stepup-sms", "stepup-email"}


def test_health_on_both_services(sim, issuer):
    assert sim.get("/health").json == {"status": "ok"}
    assert issuer.get("/health").json == {"status": "ok"}


def test_test_cards_cover_every_behavior(sim):
    cards = sim.get("/sandbox/test-cards").json
    assert BEHAVIORS <= {card["behavior"] for card in cards}
    for card in cards:
        assert set(card) >= {"issuerId", "cardId", "consumerId", "pan", "expiry", "behavior", "phone", "email"}
        assert len(card["expiry"]) == 4 and card["expiry"].isdigit()


def test_issuers_list_shows_sandbox_credentials(sim):
    issuers = sim.get("/sandbox/issuers").json
    assert issuers[0]["issuerId"] == demo.DEMO_ISSUER_ID
    assert issuers[0]["client_id"] == demo.DEMO_D1_CLIENT_ID
    assert issuers[0]["client_secret"] == demo.DEMO_D1_CLIENT_SECRET
    # The issuer backend's own secret for D1's outbound calls is not echoed.
    assert issuers[0]["config"]["backend"]["auth"]["client_secret"] == "***"


def test_onboard_a_new_issuer_and_merge_changes(sim):
    resp = sim.put("/sandbox/issuers/acme-bank", json={
        "name": "Acme Bank", "backend": {"url": "http://acme.test"}, "otp_delivery": "ISSUER",
        "sender_id": "ACME", "templates": {"fr": {"sms": "Code {otp} pour la carte {last4}"}},
    })
    assert resp.status_code == 200, resp.json
    view = resp.json
    assert view["client_secret"].startswith("sandbox-")
    assert view["config"]["otp_delivery"] == "ISSUER"
    assert "fr" in view["config"]["templates"]
    again = sim.put("/sandbox/issuers/acme-bank", json={"oob_enabled": False}).json
    assert again["version"] == 2
    assert again["config"]["otp_delivery"] == "ISSUER" and again["config"]["oob_enabled"] is False
    assert sim.get("/sandbox/issuers/acme-bank").json["name"] == "Acme Bank"


def test_bad_issuer_configuration_names_each_field(sim):
    resp = sim.put("/sandbox/issuers/demo-issuer", json={
        "otp_policy": {"length": 2}, "templates": {"en": {"sms": "no code here"}}, "otp_delivery": "PIGEON",
        "sender_id": "WAY-TOO-LONG-SENDER", "backend": {"url": "not a url"},
    })
    assert resp.status_code == 422
    fields = resp.json["fields"]
    assert {"otp_policy", "templates", "otp_delivery", "sender_id", "backend"} <= set(fields)
    assert "{otp}" in str(fields["templates"])
    assert sim.get("/sandbox/issuers/demo-issuer").json["version"] == 1  # nothing half-written


def test_unknown_issuer_is_404(sim):
    resp = sim.get("/sandbox/issuers/nobody")
    assert resp.status_code == 404 and resp.json["error"] == "not_found"


def test_apps_put_and_get(sim):
    body = {"client_secret": "app-secret-123456", "name": "Demo App", "redirect_uris": ["https://app.test/cb"],
            "public_signups": True, "otp": {"length": 8, "expiration_minutes": 3}}
    resp = sim.put("/sandbox/apps/demo-app", json=body)
    assert resp.status_code == 200, resp.json
    got = sim.get("/sandbox/apps/demo-app").json
    assert got["otp"] == {"length": 8, "expiration_minutes": 3, "lockout_attempts": 5, "lockout_minutes": 15}
    bad = sim.put("/sandbox/apps/demo-app", json={**body, "redirect_uris": ["nope"]})
    assert bad.status_code == 422 and "redirect_uris" in bad.json["fields"]


def test_faults_add_list_consume_clear(sim, world):
    created = sim.post("/sandbox/faults", json={"operation": "authentication", "status": 503, "count": 1})
    assert created.status_code == 201
    assert sim.get("/sandbox/faults").json[0]["remaining"] == 1
    fault = world.sim.faults.take("issuer", "authentication", demo.DEMO_ISSUER_ID)
    assert fault.status == 503
    assert world.sim.faults.take("issuer", "authentication", demo.DEMO_ISSUER_ID) is None
    assert sim.delete("/sandbox/faults").json == {"cleared": 1}
    useless = sim.post("/sandbox/faults", json={"operation": "otp"})
    assert useless.status_code == 422 and "status" in useless.json["fields"]


def test_messages_inbox_filters_newest_first(sim, world):
    from simulator.messaging.inbox import Inbox

    inbox = Inbox(world.sim.db, world.clock)
    inbox.deliver(channel="sms", to="+16175550101", sender="DemoBank", sent_by="d1", body="first")
    world.clock.advance(1)
    inbox.deliver(channel="sms", to="+16175550101", sender="DemoBank", sent_by="issuer", body="second")
    inbox.deliver(channel="email", to="alice@mail.example", sender="no-reply@x", sent_by="d1", body="mail")
    got = sim.get("/sandbox/messages?to=%2B16175550101&channel=sms").json
    assert [m["body"] for m in got] == ["second", "first"]
    assert set(got[0]) >= {"id", "channel", "to", "from", "sent_by", "body", "status", "created_at"}
    assert sim.get("/sandbox/messages?channel=fax").status_code == 422


def test_reset_restores_the_demo_state(sim, world):
    sim.put("/sandbox/issuers/temp-bank", json={"name": "Temp"})
    sim.post("/sandbox/clock", json={"advance_seconds": 100})
    world.sim.journal.record("tx", "a", "b", "x", {})
    assert sim.post("/sandbox/reset").status_code == 200
    assert [i["issuerId"] for i in sim.get("/sandbox/issuers").json] == [demo.DEMO_ISSUER_ID]
    assert world.sim.journal.for_transaction("tx") == []
    assert sim.get("/sandbox/clock").json["offset_seconds"] == 0
    cards = world.sim.db.scalar("SELECT COUNT(*) FROM cards")
    assert cards == len(demo.TEST_CARDS)


def test_network_sms_delivers_to_the_handset(sim):
    resp = sim.post("/sandbox/network/sms", json={"to": "+16175550104", "from": "DemoBank", "body": "hello"})
    assert resp.status_code == 202, resp.json
    assert sim.get("/sandbox/messages?to=%2B16175550104").json[0]["sent_by"] == "issuer"
    bad = sim.post("/sandbox/network/sms", json={"to": "12345", "from": "DemoBank", "body": "x"})
    assert bad.status_code == 422 and "to" in bad.json["fields"]


def test_network_email_delivers_to_the_mailbox(sim):
    resp = sim.post("/sandbox/network/email", json={"to": "dan@mail.example", "from": "otp@bank.example",
                                                     "subject": "Code", "body": "hello"})
    assert resp.status_code == 202, resp.json
    assert sim.get("/sandbox/messages?to=dan@mail.example&channel=email").json[0]["subject"] == "Code"

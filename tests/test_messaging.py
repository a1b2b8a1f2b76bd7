"""The messaging service: templates and locales, recipients, both delivery modes, the email sending
domain (DNS), provider retries/fallback/failures, and that no OTP leaks outside the inbox."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask, jsonify, request

from simulator.messaging import templates as tpl
from simulator.messaging.addresses import InvalidRecipient, normalise_email, normalise_phone, sms_encoding
from simulator.messaging.service import DeliveryError, MessagingService, OtpContext, messaging_for

CODE = "482913"
CAROL = {"consumerId": "consumer-0003", "phone": "+16175550103", "email": "carol@mail.example", "locale": "en"}
HANAKO = {"consumerId": "consumer-0008", "phone": "+16175550108", "email": "hanako@mail.example", "locale": "ja"}


def ctx(**kw):
    base = {"purpose": "3DS", "correlation": "acs-test-1", "ttl_seconds": 300, "pan_last4": "0003",
            "card_id": "card-0003"}
    base.update(kw)
    return OtpContext(**base)


@pytest.fixture
def rt(world):
    with world.sim_app.app_context():
        yield world.sim


def journal_text(rt, correlation) -> str:
    return json.dumps(rt.journal.for_transaction(correlation), ensure_ascii=False)


# -- templates and locales (pure) --------------------------------------------------------------
def test_render_fills_every_issuer_placeholder():
    out = tpl.render("{issuer}: {otp} for card {last4}, {ttl_minutes} min",
                     {"otp": "1234", "issuer": "Bank", "last4": "0003", "ttl_minutes": "5"}, tpl.ISSUER_PLACEHOLDERS)
    assert out == "Bank: 1234 for card 0003, 5 min"


@pytest.mark.parametrize("template, problem", [
    ("your code {code}", "unknown placeholder"),
    ("your code {}", "positional"),
    ("{otp.__class__}", "unknown placeholder"),
    ("{otp:>10}", "format spec"),
    ("{otp!r}", "format spec"),
    ("broken {otp", "not well formed"),
])
def test_bad_templates_are_refused(template, problem):
    with pytest.raises(tpl.TemplateError) as err:
        tpl.check_template(template, tpl.ISSUER_PLACEHOLDERS, {"otp"})
    assert problem in str(err.value)


def test_template_without_otp_is_refused():
    with pytest.raises(tpl.TemplateError, match=r"\{otp\}"):
        tpl.check_template("hello {issuer}", tpl.ISSUER_PLACEHOLDERS, {"otp"})


@pytest.mark.parametrize("consumer, browser, expected", [
    ("ja", None, "ja"),
    (None, "ja-JP,ja;q=0.9,en;q=0.8", "ja"),
    ("en", "ja-JP", "en"),             # the consumer's own choice beats the browser's
    ("fr", None, "en"),                # no French template: the issuer's default
    (None, "fr-CH, fr;q=0.9, ja;q=0.5", "ja"),
    ("ja_JP", None, "ja"),
])
def test_locale_negotiation(consumer, browser, expected):
    assert tpl.negotiate(tpl.preferred_locales(consumer, browser), ["en", "ja"], "en") == expected


def test_negotiation_prefers_the_issuer_default_over_english():
    assert tpl.negotiate(["fr"], ["en", "ja"], "ja") == "ja"


def test_ttl_minutes_round_up():
    assert (tpl.ttl_minutes(300), tpl.ttl_minutes(301), tpl.ttl_minutes(30)) == (5, 6, 1)


# -- recipients (pure) -------------------------------------------------------------------------
def test_e164():
    assert normalise_phone("+16175550103") == "+16175550103"
    assert normalise_phone(" +81 90-1234-5678 ") == "+819012345678"
    for bad in ("6175550103", "+1555", "+999123456789", "phone", ""):
        with pytest.raises(InvalidRecipient):
            normalise_phone(bad)


def test_rfc5322_addresses():
    assert normalise_email("carol@mail.example") == "carol@mail.example"
    for bad in ("carol", "carol@", "@mail.example", "a b@mail.example", "carol@@mail.example"):
        with pytest.raises(InvalidRecipient):
            normalise_email(bad)


def test_sms_segments():
    assert sms_encoding("1234 is your code") == ("GSM-7", 1)
    assert sms_encoding("x" * 161) == ("GSM-7", 2)
    assert sms_encoding("確認コードは123456です") == ("UCS-2", 1)
    assert sms_encoding("確" * 71) == ("UCS-2", 2)


# -- D1 mode -----------------------------------------------------------------------------------
def test_d1_sends_sms_with_template_sender_and_status_history(rt, sim):
    delivery = messaging_for(rt).send_otp("demo-issuer", CAROL, "SMS", CODE, ctx())
    assert (delivery.mode, delivery.status, delivery.locale) == ("D1", "delivered", "en")
    assert delivery.target == "+1******0103"
    [msg] = sim.get("/sandbox/messages?to=%2B16175550103").json
    assert msg["sent_by"] == "d1" and msg["from"] == "DemoBank" and msg["channel"] == "sms"
    assert msg["body"].startswith(f"{CODE} is your Demo Bank code for the card ending 0003")
    assert "expires in 5 minutes" in msg["body"]
    assert [h["status"] for h in msg["status_history"]] == ["queued", "sent", "delivered"]
    assert msg["correlation"] == "acs-test-1"
    assert sim.get(f"/sandbox/messages/{msg['id']}").json["status"] == "delivered"


def test_d1_sends_japanese_email_from_the_issuer_subdomain(rt, sim):
    delivery = messaging_for(rt).send_otp("demo-issuer", HANAKO, "EMAIL", CODE, ctx(pan_last4="0011"))
    assert delivery.status == "delivered" and delivery.locale == "ja"
    [msg] = sim.get("/sandbox/messages?to=hanako@mail.example&channel=email").json
    assert msg["from"] == "no-reply@email.demobank.example"
    assert msg["subject"] == "Demo Bank 確認コードのお知らせ"
    assert "末尾0011のカードの確認コードは 482913 です" in msg["body"]


def test_browser_language_picks_the_template_when_the_consumer_has_none(rt, sim):
    person = {**CAROL, "locale": None}
    delivery = messaging_for(rt).send_otp("demo-issuer", person, "SMS", CODE, ctx(accept_language="ja-JP,ja;q=0.9"))
    assert delivery.locale == "ja"
    assert "確認コードは482913です" in sim.get("/sandbox/messages?to=%2B16175550103").json[0]["body"]


def test_issuer_templates_and_sender_id_are_used(rt, sim):
    r = sim.put("/sandbox/issuers/demo-issuer", json={
        "sender_id": "AcmeBank", "templates": {"en": {"sms": "Acme: {otp} ({last4})"}}})
    assert r.status_code == 200, r.json
    messaging_for(rt).send_otp("demo-issuer", CAROL, "SMS", CODE, ctx())
    msg = sim.get("/sandbox/messages?to=%2B16175550103").json[0]
    assert (msg["from"], msg["body"]) == ("AcmeBank", f"Acme: {CODE} (0003)")


def test_contact_details_are_fetched_when_only_the_consumer_id_is_given(rt, sim):
    delivery = messaging_for(rt).send_otp("demo-issuer", "consumer-0003", "SMS", CODE, ctx())
    assert delivery.status == "delivered"
    assert sim.get("/sandbox/messages?to=%2B16175550103").json[0]["body"].startswith(CODE)
    labels = [e["label"] for e in rt.journal.for_transaction("acs-test-1")]
    assert "consumer" in labels  # D1 asked the issuer backend (GET …/consumers/consumer-0003)


def test_invalid_phone_from_the_issuer_is_not_sent(rt):
    delivery = messaging_for(rt).send_otp("demo-issuer", {**CAROL, "phone": "+1555"}, "SMS", CODE, ctx())
    assert (delivery.status, delivery.error) == ("failed", "invalid_recipient")
    assert "phoneNumber" in delivery.fields
    with pytest.raises(DeliveryError) as err:
        delivery.raise_for_status()
    assert err.value.status == 409 and CODE not in json.dumps(err.value.body())


def test_missing_contact(rt):
    delivery = messaging_for(rt).send_otp("demo-issuer", {**CAROL, "email": None}, "EMAIL", CODE, ctx())
    assert (delivery.status, delivery.error, delivery.fields) == ("failed", "consumer_contact_missing",
                                                                  {"email": ["missing"]})


# -- email sending domain (DNS) ----------------------------------------------------------------
def onboard(sim, issuer_id="acme-bank", **extra):
    body = {"name": "Acme Bank", "email": {"subdomain": "email.acmebank.example"}, **extra}
    r = sim.put(f"/sandbox/issuers/{issuer_id}", json=body)
    assert r.status_code == 200, r.json
    return issuer_id


def test_demo_issuer_records_are_published_at_seed(sim):
    view = sim.get("/sandbox/issuers/demo-issuer/dns").json
    assert view["status"] == "VERIFIED" and view["canSendEmail"] and view["missing"] == []


def test_reset_republishes_the_demo_records(sim):
    sim.delete("/sandbox/issuers/demo-issuer/dns")
    assert sim.get("/sandbox/issuers/demo-issuer/dns").json["status"] == "PENDING"
    sim.post("/sandbox/reset")
    assert sim.get("/sandbox/issuers/demo-issuer/dns").json["status"] == "VERIFIED"


def test_generated_records_look_like_an_esps(sim):
    onboard(sim)
    view = sim.get("/sandbox/issuers/acme-bank/dns").json
    assert view["status"] == "PENDING" and not view["canSendEmail"]
    records = {r["id"]: r for r in view["records"]}
    assert set(records) == {"VERIFY", "SPF", "DKIM", "DMARC", "MX"}
    assert records["SPF"]["name"] == "email.acmebank.example"
    assert records["SPF"]["value"].startswith("v=spf1 include:") and records["SPF"]["value"].endswith("-all")
    assert records["DKIM"]["name"].endswith("._domainkey.email.acmebank.example")
    assert records["DKIM"]["value"].startswith("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A")  # RSA-2048
    assert records["DMARC"]["name"] == "_dmarc.email.acmebank.example"
    assert records["DMARC"]["value"].startswith("v=DMARC1; p=quarantine")
    assert records["MX"]["type"] == "MX" and records["MX"]["value"].startswith("10 ")
    assert records["VERIFY"]["value"].startswith("d1-verification=")


def test_email_is_blocked_until_every_record_is_published(rt, sim):
    issuer_id = onboard(sim)
    delivery = messaging_for(rt).send_otp(issuer_id, CAROL, "EMAIL", CODE, ctx())
    assert (delivery.status, delivery.error) == ("blocked", "email_domain_not_ready")
    assert "DKIM" in delivery.reason and "email.acmebank.example" in delivery.reason
    [msg] = sim.get("/sandbox/messages?to=carol@mail.example").json
    assert msg["status"] == "blocked" and "DNS records" in msg["reason"] and CODE not in json.dumps(msg)
    with pytest.raises(DeliveryError) as err:
        delivery.raise_for_status()
    body = err.value.body()
    assert err.value.status == 409 and body["error"] == "email_domain_not_ready"
    assert set(body["missing"]) == {"VERIFY", "SPF", "DKIM", "DMARC", "MX"} and "dns" in body["fields"]

    partial = sim.post(f"/sandbox/issuers/{issuer_id}/dns/publish", json={"only": ["SPF", "DKIM", "VERIFY"]}).json
    assert partial["missing"] == ["DMARC", "MX"] and partial["status"] == "PENDING"
    delivery = messaging_for(rt).send_otp(issuer_id, CAROL, "EMAIL", CODE, ctx())
    assert delivery.status == "blocked" and "DMARC, MX" in delivery.reason

    assert sim.post(f"/sandbox/issuers/{issuer_id}/dns/publish", json={}).json["status"] == "VERIFIED"
    delivery = messaging_for(rt).send_otp(issuer_id, CAROL, "EMAIL", CODE, ctx())
    assert delivery.status == "delivered"
    assert sim.get("/sandbox/messages?to=carol@mail.example").json[0]["from"] == "no-reply@email.acmebank.example"


def test_a_typo_in_a_published_record_counts_as_missing(sim):
    issuer_id = onboard(sim)
    view = sim.post(f"/sandbox/issuers/{issuer_id}/dns/publish", json={"values": {"DKIM": "v=DKIM1; p=typo"}}).json
    assert view["missing"] == ["DKIM"]


def test_withdrawing_and_changing_the_subdomain(sim):
    issuer_id = onboard(sim)
    sim.post(f"/sandbox/issuers/{issuer_id}/dns/publish", json={})
    assert sim.delete(f"/sandbox/issuers/{issuer_id}/dns?only=DMARC").json["missing"] == ["DMARC"]
    sim.post(f"/sandbox/issuers/{issuer_id}/dns/publish", json={})
    old_dkim = {r["id"]: r for r in sim.get(f"/sandbox/issuers/{issuer_id}/dns").json["records"]}["DKIM"]
    sim.put(f"/sandbox/issuers/{issuer_id}", json={"email": {"subdomain": "mail.acme.example"}})
    view = sim.get(f"/sandbox/issuers/{issuer_id}/dns").json
    assert view["subdomain"] == "mail.acme.example" and view["status"] == "PENDING"
    new_dkim = {r["id"]: r for r in view["records"]}["DKIM"]
    assert new_dkim["value"] != old_dkim["value"]  # a fresh key for a fresh domain


def test_dns_controls_validate_and_404(sim):
    assert sim.get("/sandbox/issuers/nobody/dns").status_code == 404
    r = sim.post("/sandbox/issuers/demo-issuer/dns/publish", json={"only": ["TXT"]})
    assert r.status_code == 422 and "only" in r.json["fields"]


def test_issuer_mode_email_needs_no_d1_dns(rt, world, sim):
    mount_stub(world, StubIssuer())
    onboard(sim, backend={"url": STUB_URL, "auth": {"type": "none"}}, otp_delivery="ISSUER")
    delivery = messaging_for(rt).send_otp("acme-bank", "consumer-0003", "EMAIL", CODE, ctx())
    assert (delivery.mode, delivery.status) == ("ISSUER", "sent")


# -- provider retries, backoff, fallback -------------------------------------------------------
def fault(sim, **body):
    r = sim.post("/sandbox/faults", json=body)
    assert r.status_code == 201, r.json


def test_primary_down_falls_back_to_secondary(rt, sim):
    fault(sim, target="sms", operation="sms-primary", status=503)
    delivery = messaging_for(rt).send_otp("demo-issuer", CAROL, "SMS", CODE, ctx())
    assert delivery.status == "delivered" and delivery.provider == "Sandbox SMS gateway B"
    assert delivery.attempts == 4  # primary: 1 + 2 retries, secondary: 1
    msg = sim.get(f"/sandbox/messages/{delivery.message_id}").json
    assert [h["status"] for h in msg["status_history"]] == ["queued"] * 4 + ["sent", "delivered"]
    assert msg["body"].startswith(CODE)


def test_transient_error_is_retried_on_the_same_provider_with_backoff(world):
    sleeps = []
    with world.sim_app.app_context():
        service = MessagingService(world.sim, retries=2, backoff=0.2, sleep=sleeps.append)
        world.sim.faults.add("sms", "sms-primary", status=503, count=2)
        delivery = service.send_otp("demo-issuer", CAROL, "SMS", CODE, ctx())
    assert (delivery.provider, delivery.attempts) == ("Sandbox SMS gateway A", 3)
    assert sleeps == [0.2, 0.4]  # exponential backoff between attempts


def test_permanent_error_goes_straight_to_the_fallback(world):
    sleeps = []
    with world.sim_app.app_context():
        service = MessagingService(world.sim, retries=2, backoff=0.2, sleep=sleeps.append)
        world.sim.faults.add("email", "email-primary", status=400)
        delivery = service.send_otp("demo-issuer", HANAKO, "EMAIL", CODE, ctx())
    assert (delivery.provider, delivery.attempts, sleeps) == ("Sandbox mail relay B", 2, [])


def test_timeouts_count_as_transient(rt, sim):
    fault(sim, target="sms", operation="sms-primary", timeout=True, count=1)
    delivery = messaging_for(rt).send_otp("demo-issuer", CAROL, "SMS", CODE, ctx())
    assert (delivery.provider, delivery.attempts) == ("Sandbox SMS gateway A", 2)


def test_every_provider_down_fails_with_the_reason_and_no_otp(rt, sim):
    fault(sim, target="sms", operation="sms", status=503)
    delivery = messaging_for(rt).send_otp("demo-issuer", CAROL, "SMS", CODE, ctx())
    assert (delivery.status, delivery.error, delivery.attempts) == ("failed", "provider_failed", 6)
    msg = sim.get(f"/sandbox/messages/{delivery.message_id}").json
    assert msg["status"] == "failed" and "every provider failed" in msg["reason"]
    assert CODE not in json.dumps(msg)  # never delivered, so never shown
    with pytest.raises(DeliveryError) as err:
        delivery.raise_for_status()
    assert err.value.status == 502
    notes = [e for e in rt.journal.for_transaction("acs-test-1") if e["label"] == "SMS failed"]
    assert notes and "every provider failed" in notes[0]["body"]["reason"]


def test_faults_are_per_channel(rt, sim):
    fault(sim, target="email", operation="*", status=503)
    assert messaging_for(rt).send_otp("demo-issuer", CAROL, "SMS", CODE, ctx()).status == "delivered"


# -- ISSUER mode (DeliverOTP) ------------------------------------------------------------------
STUB_URL = "http://stub-issuer.test"


class StubIssuer:
    """A minimal issuer backend answering DeliverOTP, recording what it got."""

    def __init__(self, status=202):
        self.status = status
        self.calls = []
        self.app = Flask("stub-issuer")

        @self.app.post("/banking/d1/v1/issuers/<iid>/consumers/<cid>/otp")
        def deliver(iid, cid):
            self.calls.append({"issuer": iid, "consumer": cid, "body": request.get_json(),
                               "correlation": request.headers.get("X-Correlation-ID")})
            if self.status >= 400:
                return jsonify({"error": "gateway_down", "message": "no SMS today"}), self.status
            return jsonify({"deliveryId": "dlv-1", "status": "SENT"}), self.status


def mount_stub(world, stub):
    """Make the stub reachable from D1's outbound session (another issuer backend on the network)."""
    from d1sandbox.wsgi_transport import mount

    mount(world.sim.http, {STUB_URL: stub.app})


def test_issuer_mode_calls_deliver_otp_with_the_wire_body(rt, world, sim):
    stub = StubIssuer()
    mount_stub(world, stub)
    onboard(sim, backend={"url": STUB_URL, "auth": {"type": "none"}}, otp_delivery="ISSUER")
    delivery = messaging_for(rt).send_otp(
        "acme-bank", "consumer-0003", "SMS", CODE,
        ctx(purpose="TOKENIZATION", correlation="tok-1", expires_at=rt.clock.now() + 300, accept_language="ja-JP"))
    assert (delivery.mode, delivery.status, delivery.delivery_id) == ("ISSUER", "sent", "dlv-1")
    [call] = stub.calls
    assert call["consumer"] == "consumer-0003"
    body = call["body"]
    assert body["otp"] == CODE and body["channel"] == "SMS" and body["purpose"] == "TOKENIZATION"
    assert body["transactionId"] == "tok-1" and body["panLast4"] == "0003" and body["cardId"] == "card-0003"
    assert body["locale"] == "ja_JP" and body["expiresAt"].endswith("Z")
    # D1 sent nothing itself, and the journal shows the call with the OTP masked
    assert sim.get("/sandbox/messages?to=%2B16175550103").json == []
    text = journal_text(rt, "tok-1")
    assert "DeliverOTP" in text and CODE not in text


def test_issuer_mode_failure_is_reported(rt, world, sim):
    stub = StubIssuer(status=500)
    mount_stub(world, stub)
    onboard(sim, backend={"url": STUB_URL, "auth": {"type": "none"}}, otp_delivery="ISSUER")
    delivery = messaging_for(rt).send_otp("acme-bank", "consumer-0003", "SMS", CODE, ctx())
    assert (delivery.status, delivery.error) == ("failed", "issuer_delivery_failed")
    assert "HTTP 500" in delivery.reason and "gateway_down" in delivery.reason
    assert CODE not in delivery.reason


def test_mode_can_be_forced_per_call(rt, world, sim):
    stub = StubIssuer()
    mount_stub(world, stub)
    onboard(sim, backend={"url": STUB_URL, "auth": {"type": "none"}})  # otp_delivery D1 by default
    assert messaging_for(rt).send_otp("acme-bank", CAROL, "SMS", CODE, ctx(), mode="ISSUER").mode == "ISSUER"
    assert len(stub.calls) == 1


# -- login -------------------------------------------------------------------------------------
def test_login_otp_default_and_custom_messages(rt, sim):
    service = messaging_for(rt)
    d = service.send_login_otp("+16175550101", "1234", app_name="Demo App", correlation="otl-1")
    assert d.status == "delivered"
    msg = sim.get("/sandbox/messages?to=%2B16175550101").json[0]
    assert msg["body"] == "1234 is your Demo App verification code. Do not share it." and msg["from"] == "DemoApp"
    service.send_login_otp("+16175550101", "5678", app_name="Demo App", sender_id="Shop",
                           custom_message="{app}: code {otp}", correlation="otl-2")
    msg = sim.get("/sandbox/messages?to=%2B16175550101").json[0]
    assert (msg["body"], msg["from"]) == ("Demo App: code 5678", "Shop")
    ja = service.send_login_otp("+16175550101", "9999", app_name="デモ", accept_language="ja")
    assert ja.locale == "ja"
    bad = service.send_login_otp("+16175550101", "1111", app_name="Demo", custom_message="{who} {otp}")
    assert bad.error == "template_error" and "custom_message" in bad.fields


# -- configuration validation (PUT /sandbox/issuers) -------------------------------------------
@pytest.mark.parametrize("patch, field", [
    ({"templates": {"en": {"sms": "your code is ready"}}}, "templates"),
    ({"templates": {"en": {"email_body": "hi {name} {otp}"}}}, "templates"),
    ({"templates": {"en": {"sms": "{otp:>8}"}}}, "templates"),
    ({"templates": {"xx": {"sms": "{otp}"}}}, "templates"),
    ({"otp_policy": {"length": 2}}, "otp_policy"),
    ({"otp_policy": {"ttl_seconds": 5}}, "otp_policy"),
    ({"sender_id": "+1555"}, "sender_id"),
    ({"sender_id": "+16175550100999"}, "sender_id"),
    ({"sender_id": "ThisIsTooLongForSms"}, "sender_id"),
    ({"default_locale": "zz"}, "default_locale"),
    ({"email": {"subdomain": "not a domain"}}, "email"),
    ({"otp_delivery": "CARRIER_PIGEON"}, "otp_delivery"),
])
def test_bad_configuration_is_422_naming_the_field(sim, patch, field):
    r = sim.put("/sandbox/issuers/demo-issuer", json=patch)
    assert r.status_code == 422, r.json
    assert field in r.json["fields"]


def test_good_configuration_round_trips(sim):
    r = sim.put("/sandbox/issuers/demo-issuer", json={
        "sender_id": "+16175550199", "otp_policy": {"length": 8, "alphabet": "alphanumeric"},
        "templates": {"pt_BR": {"sms": "{otp} é o seu código {issuer}"}}})
    assert r.status_code == 200, r.json
    assert r.json["config"]["otp_policy"]["length"] == 8


# -- no OTP outside the inbox ------------------------------------------------------------------
def test_no_otp_in_journal_logs_or_errors(rt, sim, caplog):
    caplog.set_level(logging.DEBUG)
    service = messaging_for(rt)
    service.send_otp("demo-issuer", CAROL, "SMS", CODE, ctx())
    service.send_otp("demo-issuer", HANAKO, "EMAIL", CODE, ctx())
    fault(sim, target="sms", operation="*", status=503)
    failed = service.send_otp("demo-issuer", CAROL, "SMS", CODE, ctx())
    with pytest.raises(DeliveryError) as err:
        failed.raise_for_status()
    everything = json.dumps(rt.journal.recent(1000), ensure_ascii=False)
    assert "***" in everything and CODE not in everything
    assert CODE not in caplog.text
    assert CODE not in json.dumps(err.value.body())
    assert "+16175550103" not in everything  # recipients masked in the journal

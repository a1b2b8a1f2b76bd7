"""Flow F end to end through HTTP: send SMS OTP → validate → follow the result URI → exchange the code,
with the app's OTP policy, users, redirect allowlist and OAuth2-style errors."""

from __future__ import annotations

import json
import logging
import re

import pytest

from d1sandbox import demo
from scenarios.inprocess import SIM_URL
from scenarios.login_app import LoginAppDriver, latest_sms, read_otp

NEW_PHONE = "+16175550150"
CALLBACK = "https://app.example/callback"


@pytest.fixture
def app(world) -> LoginAppDriver:
    return LoginAppDriver.register(world.sandbox, "test-login-app", name="Acme Shop",
                                   otp={"length": 6, "expiration_minutes": 5, "lockout_attempts": 3,
                                        "lockout_minutes": 10})


@pytest.fixture
def demo_app(world) -> LoginAppDriver:
    return LoginAppDriver(world.sandbox, demo.DEMO_LOGIN_CLIENT_ID, demo.DEMO_LOGIN_CLIENT_SECRET,
                          SIM_URL + demo.DEMO_LOGIN_CALLBACK_PATH)


def users(world) -> dict:
    return {row["phone"]: row for row in world.sim.db.all("SELECT * FROM login_users")}


def wrong(code: str) -> str:
    return "".join("1" if ch != "1" else "2" for ch in code)


def test_seeded_demo_app_logs_in_the_seeded_user(world, demo_app):
    out = demo_app.login(demo.DEMO_LOGIN_USER_PHONE)
    claims = out["claims"]
    assert claims["sub"] == "usr-demo-0001"
    assert claims["iss"] == SIM_URL and claims["aud"] == demo.DEMO_LOGIN_CLIENT_ID
    assert claims["phone_number"] == demo.DEMO_LOGIN_USER_PHONE and claims["phone_number_verified"] is True
    assert claims["exp"] > claims["iat"]
    tokens = out["tokens"]
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0 and tokens["access_token"]
    sms = latest_sms(world.sandbox, demo.DEMO_LOGIN_USER_PHONE)
    assert sms["from"] == "DemoLogin" and sms["sent_by"] == "d1" and "Demo Login" in sms["body"]
    # The result URI redirected to the demo callback page, which shows the code it received.
    page = world.sim_app.test_client().get(f"{demo.DEMO_LOGIN_CALLBACK_PATH}?code=abc")
    assert page.status_code == 200 and page.json["code"] == "abc"


def test_new_user_is_created_when_the_code_is_exchanged(world, app):
    app.send_otp(NEW_PHONE, create_new_user=True)
    result = app.validate(NEW_PHONE, read_otp(world.sandbox, NEW_PHONE)).json()["result"]
    code = app.follow(result)
    assert NEW_PHONE not in users(world)  # the seed: "created once the code is exchanged"
    tokens = app.exchange(code).json()
    user = users(world)[NEW_PHONE]
    assert user["phone_verified"] == 1 and user["created_by_client"] == "test-login-app"
    assert app.verify_id_token(tokens["id_token"])["sub"] == user["user_id"]
    # Next time the same phone is an existing user: found without create_new_user.
    again = app.login(NEW_PHONE)
    assert again["claims"]["sub"] == user["user_id"]


def test_unknown_phone_without_create_new_user_is_a_clear_404(world, app):
    body = app.send_otp(NEW_PHONE, expect=404).json()
    assert body["error"] == "user_not_found" and "create_new_user" in body["message"]
    assert world.sandbox.sim("t", "GET", "/sandbox/messages?to=%2B16175550150").json() == []


def test_sign_up_needs_public_signups(world):
    closed = LoginAppDriver.register(world.sandbox, "closed-app", public_signups=False)
    body = closed.send_otp(NEW_PHONE, create_new_user=True, expect=403).json()
    assert body["error"] == "access_denied" and "public sign-ups" in body["message"]
    # Existing users still log in to an app without public sign-ups.
    assert closed.login(demo.DEMO_LOGIN_USER_PHONE)["claims"]["sub"] == "usr-demo-0001"


@pytest.mark.parametrize("redirect_uri", [CALLBACK + "/", CALLBACK + "?next=x", "https://app.example/call",
                                          "https://APP.example/callback", "https://evil.example/callback"])
def test_redirect_uri_must_match_the_allowlist_exactly(world, app, redirect_uri):
    body = app.send_otp(demo.DEMO_LOGIN_USER_PHONE, redirect_uri=redirect_uri, expect=400).json()
    assert body["error"] == "invalid_request" and "redirect_uri" in body["fields"]
    assert world.sandbox.sim("t", "GET", "/sandbox/messages?to=%2B16175550120").json() == []


@pytest.mark.parametrize("phone", ["6175550120", "+1617555", "+99912345678", "not a phone", "+1 617 555 01200"])
def test_phone_number_must_be_e164(world, app, phone):
    body = app.send_otp(phone, create_new_user=True, expect=400).json()
    assert body["error"] == "invalid_request" and "phone_number" in body["fields"]


def test_phone_number_is_normalised_to_e164(world, app):
    app.send_otp("+1 (617) 555-0120")
    assert read_otp(world.sandbox, "+16175550120")


def test_custom_message_and_sender_id(world, app):
    app.send_otp(demo.DEMO_LOGIN_USER_PHONE, custom_message="Your {app} verification code is: {otp}",
                 sender_id="ACME")
    sms = latest_sms(world.sandbox, demo.DEMO_LOGIN_USER_PHONE)
    code = read_otp(world.sandbox, demo.DEMO_LOGIN_USER_PHONE)
    assert sms["body"] == f"Your Acme Shop verification code is: {code}"
    assert sms["from"] == "ACME"


def test_app_sender_id_is_the_default(world):
    branded = LoginAppDriver.register(world.sandbox, "branded-app", name="Branded", sender_id="BrandCo")
    branded.send_otp(demo.DEMO_LOGIN_USER_PHONE)
    assert latest_sms(world.sandbox, demo.DEMO_LOGIN_USER_PHONE)["from"] == "BrandCo"


@pytest.mark.parametrize("message, why", [("Your code is {otp}", "{app}"), ("{app} says hello", "{otp}"),
                                          ("{app} {otp} {name}", "unknown placeholder"),
                                          ("{app} {otp:>9}", "format")])
def test_custom_message_must_contain_app_and_otp(world, app, message, why):
    body = app.send_otp(demo.DEMO_LOGIN_USER_PHONE, custom_message=message, expect=400).json()
    assert body["error"] == "invalid_request" and why in body["message"]
    assert body["error_description"] == body["message"]


def test_bad_sender_id_is_refused(world, app):
    body = app.send_otp(demo.DEMO_LOGIN_USER_PHONE, sender_id="this-is-not-valid", expect=400).json()
    assert body["error"] == "invalid_request" and "sender_id" in body["fields"]


def test_code_length_follows_the_app_policy(world):
    long_codes = LoginAppDriver.register(world.sandbox, "long-codes", otp={"length": 8, "expiration_minutes": 2,
                                                                           "lockout_attempts": 5, "lockout_minutes": 5})
    assert long_codes.send_otp(demo.DEMO_LOGIN_USER_PHONE).json()["expires_in"] == 120
    assert len(read_otp(world.sandbox, demo.DEMO_LOGIN_USER_PHONE)) == 8


def test_passcode_expires_after_the_app_expiration_minutes(world, app):
    phone = demo.DEMO_LOGIN_USER_PHONE
    app.send_otp(phone)
    code = read_otp(world.sandbox, phone)
    world.clock.advance(5 * 60)
    body = app.validate(phone, code, expect=400).json()
    assert body["error"] == "invalid_grant" and body["otp_status"] == "EXPIRED"
    # A fresh code works.
    app.send_otp(phone)
    assert app.validate(phone, read_otp(world.sandbox, phone)).json()["result"]


def test_lockout_after_failed_attempts_then_released_after_lockout_minutes(world, app):
    phone = demo.DEMO_LOGIN_USER_PHONE
    app.send_otp(phone)
    code = read_otp(world.sandbox, phone)
    first = app.validate(phone, wrong(code), expect=400).json()
    assert first["otp_status"] == "WRONG" and first["remaining_attempts"] == 2
    app.validate(phone, wrong(code), expect=400)
    locked = app.validate(phone, wrong(code), expect=429)
    assert locked.json()["error"] == "otp_locked" and int(locked.headers["Retry-After"]) == 600
    # Locked: even the right code and a new send are refused.
    assert app.validate(phone, code, expect=429).json()["error"] == "otp_locked"
    assert app.send_otp(phone, expect=429).json()["error"] == "otp_locked"
    world.clock.advance(10 * 60)
    assert app.login(phone)["claims"]["sub"] == "usr-demo-0001"


def test_a_new_code_replaces_the_previous_one(world, app):
    phone = demo.DEMO_LOGIN_USER_PHONE
    app.send_otp(phone)
    old = read_otp(world.sandbox, phone)
    app.send_otp(phone)
    new = read_otp(world.sandbox, phone)
    if old != new:  # 1 in 10^6 they coincide; then the check below cannot tell them apart
        assert app.validate(phone, old, expect=400).json()["otp_status"] == "WRONG"
    assert app.validate(phone, new).json()["result"]


def test_validation_without_a_pending_code(world, app):
    body = app.validate(demo.DEMO_LOGIN_USER_PHONE, "123456", expect=400).json()
    assert body["error"] == "invalid_grant" and body["otp_status"] == "NOT_FOUND"


def test_result_uri_is_single_use_and_short_lived(world, app):
    phone = demo.DEMO_LOGIN_USER_PHONE
    app.send_otp(phone)
    result = app.validate(phone, read_otp(world.sandbox, phone)).json()["result"]
    assert result.startswith(SIM_URL + "/cis/v1/auth/otp/sms/result/")
    app.follow(result)
    again = world.sandbox.call("t", "sim", "GET", result, allow_redirects=False, expect=400).json()
    assert again["error"] == "invalid_request"

    app.send_otp(phone)
    result = app.validate(phone, read_otp(world.sandbox, phone)).json()["result"]
    world.clock.advance(301)
    world.sandbox.call("t", "sim", "GET", result, allow_redirects=False, expect=400)


def test_redirect_keeps_the_redirect_uri_query(world):
    with_query = LoginAppDriver.register(world.sandbox, "query-app", redirect_uri="https://app.example/cb?tenant=7")
    with_query.send_otp(demo.DEMO_LOGIN_USER_PHONE)
    result = with_query.validate(demo.DEMO_LOGIN_USER_PHONE,
                                 read_otp(world.sandbox, demo.DEMO_LOGIN_USER_PHONE)).json()["result"]
    resp = world.sandbox.call("t", "sim", "GET", result, allow_redirects=False, expect=302)
    assert resp.headers["Location"].startswith("https://app.example/cb?tenant=7&code=")


def test_login_api_needs_a_client_access_token(world, app):
    sb = world.sandbox
    body = {"phone_number": demo.DEMO_LOGIN_USER_PHONE, "redirect_uri": CALLBACK}
    missing = sb.sim("t", "POST", "/cis/v1/auth/otp/sms", json_body=body, expect=401)
    assert missing.json()["error"] == "invalid_token" and "Bearer" in missing.headers["WWW-Authenticate"]
    forged = sb.sim("t", "POST", "/cis/v1/auth/otp/sms", json_body=body, headers={"Authorization": "Bearer nope"},
                    expect=401)
    assert forged.json()["error"] == "invalid_token"
    # A user access token is not a client access token.
    user_token = app.login(demo.DEMO_LOGIN_USER_PHONE)["tokens"]["access_token"]
    wrong_kind = sb.sim("t", "POST", "/cis/v1/auth/otp/sms/validation",
                        headers={"Authorization": f"Bearer {user_token}"},
                        json_body={"phone_number": demo.DEMO_LOGIN_USER_PHONE, "passcode": "123456"}, expect=403)
    assert wrong_kind.json()["error"] == "insufficient_scope"
    # Client access tokens expire.
    world.clock.advance(3600)
    assert app.send_otp(demo.DEMO_LOGIN_USER_PHONE, expect=401).json()["error"] == "invalid_token"


def test_malformed_requests_get_oauth2_style_400s(world, app):
    headers = {"Authorization": f"Bearer {app.client_token()}"}
    sb = world.sandbox
    body = sb.sim("t", "POST", "/cis/v1/auth/otp/sms", json_body={"create_new_user": True}, headers=headers,
                  expect=400).json()
    assert body["error"] == "invalid_request" and {"phone_number", "redirect_uri"} <= set(body["fields"])
    assert body["message"] and body["error_description"]
    broken = sb.sim("t", "POST", "/cis/v1/auth/otp/sms/validation", data="{not json",
                    headers={**headers, "Content-Type": "application/json"}, expect=400).json()
    assert broken["error"] == "invalid_request" and broken["message"]


def test_sms_delivery_failure_is_reported_and_the_code_is_dead(world, app):
    world.sandbox.sim("t", "POST", "/sandbox/faults", json_body={"target": "sms", "status": 503}, expect=201)
    body = app.send_otp(demo.DEMO_LOGIN_USER_PHONE, expect=502).json()
    assert body["error"] == "provider_failed" and body["message"] and "delivery" in body
    world.sandbox.sim("t", "DELETE", "/sandbox/faults", expect=200)
    assert app.validate(demo.DEMO_LOGIN_USER_PHONE, "123456", expect=400).json()["otp_status"] == "NOT_FOUND"


def test_no_otp_code_token_or_secret_in_journal_logs_or_errors(world, app, caplog):
    caplog.set_level(logging.DEBUG)
    phone = demo.DEMO_LOGIN_USER_PHONE
    error_bodies = []
    app.send_otp(phone)
    otp = read_otp(world.sandbox, phone)
    error_bodies.append(app.validate(phone, wrong(otp), expect=400).text)
    result = app.validate(phone, otp).json()["result"]
    ticket = result.rsplit("/", 1)[1]
    code = app.follow(result)
    tokens = app.exchange(code).json()
    error_bodies.append(app.exchange(code, expect=400).text)
    error_bodies.append(world.sandbox.sim("t", "POST", "/oidc/token", data={
        "grant_type": "client_credentials", "client_id": app.client_id, "client_secret": app.client_secret + "x"},
        expect=401).text)
    secrets = {"otp": otp, "ticket": ticket, "code": code, "client secret": app.client_secret,
               "client token": app.client_token(), "access token": tokens["access_token"],
               "id token": tokens["id_token"]}

    journal = json.dumps(world.sandbox.sim("t", "GET", "/sandbox/journal?limit=5000").json())
    logs = "\n".join(record.getMessage() for record in caplog.records)
    stored = json.dumps([world.sim.db.all(f"SELECT * FROM {table}") for table in
                         ("login_attempts", "login_results", "oidc_codes", "oidc_tokens", "otp_challenges")])
    for name, value in secrets.items():
        # Whole-token match: a 6-digit OTP could otherwise turn up inside a stored timestamp by chance.
        leaked = re.compile(rf"(?<![\w-]){re.escape(value)}(?![\w-])")
        assert not leaked.search(journal), f"{name} leaked into the journal"
        assert not leaked.search(logs), f"{name} leaked into the logs"
        assert not leaked.search(stored), f"{name} stored in clear"
        for body in error_bodies:
            assert not leaked.search(body), f"{name} leaked into an error body"
    assert "otl-" in journal  # the login did get journaled (redacted), so the checks above saw it


def test_sms_bombing_guard_limits_codes_per_phone(world, app):
    for _ in range(10):
        app.send_otp(demo.DEMO_LOGIN_USER_PHONE)
    limited = app.send_otp(demo.DEMO_LOGIN_USER_PHONE, expect=429)
    assert limited.json()["error"] == "otp_rate_limited" and int(limited.headers["Retry-After"]) > 0
    assert len(world.sandbox.sim("t", "GET", "/sandbox/messages?to=%2B16175550120").json()) == 10

"""Named scenario of flow F: one-time login with SMS OTP and OIDC tokens (seed 003)."""

from __future__ import annotations

import secrets

from .client import Sandbox, ScenarioFailed
from .login_app import LoginAppDriver
from .registry import scenario

CLIENT_ID = "scenario-login-app"
REDIRECT_URI = "https://app.example/verify"


@scenario("login-sms-otp", "One-time login: client token, SMS OTP sent and validated, result URI followed, "
                           "code exchanged for an ID token verified against the JWKS, code replay refused")
def login_sms_otp(sb: Sandbox) -> dict:
    app = LoginAppDriver.register(sb, CLIENT_ID, name="Scenario App", redirect_uri=REDIRECT_URI)
    # A fictional 555-01xx number per run, so repeated runs on one sandbox stay under the per-phone
    # SMS rate limit; create_new_user signs it up the first time.
    phone = f"+1617555{secrets.randbelow(50) + 150:04d}"
    out = app.login(phone, create_new_user=True)
    claims = out["claims"]
    if claims.get("phone_number") != phone or claims.get("phone_number_verified") is not True:
        raise ScenarioFailed(f"the ID token names {claims.get('phone_number')!r}, not the phone that logged in")
    info = app.userinfo(out["tokens"]["access_token"]).json()
    if info.get("sub") != claims["sub"]:
        raise ScenarioFailed("userinfo and the ID token disagree on the subject")
    replay = app.exchange(out["code"], expect=400).json()
    if replay.get("error") != "invalid_grant":
        raise ScenarioFailed(f"a replayed code answered {replay.get('error')!r}, not invalid_grant")
    app.userinfo(out["tokens"]["access_token"], expect=401)  # revoked by the replay
    journal = sb.sim("Operator", "GET", f"/sandbox/journal?transaction={out['login_id']}", expect=200).json()
    if not journal:
        raise ScenarioFailed("the login left no journal entries")
    return {"transaction": out["login_id"], "sub": claims["sub"], "iss": claims["iss"], "aud": claims["aud"],
            "journal_entries": len(journal)}

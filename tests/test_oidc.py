"""The OIDC provider as relying parties use it: discovery, JWKS, token endpoint (client credentials
and authorization code), userinfo — and the ID token checked with an independent JWT library
(PyJWT) against the keys published at the discovery document's `jwks_uri`."""

from __future__ import annotations

import base64
import os
import stat

import jwt as pyjwt
import pytest

from d1sandbox import demo
from scenarios.inprocess import SIM_URL, build_world
from scenarios.login_app import LoginAppDriver, read_otp

PHONE = demo.DEMO_LOGIN_USER_PHONE


@pytest.fixture
def app(world) -> LoginAppDriver:
    return LoginAppDriver.register(world.sandbox, "rp-app", name="Relying Party")


def code_for(world, app: LoginAppDriver) -> str:
    app.send_otp(PHONE)
    return app.follow(app.validate(PHONE, read_otp(world.sandbox, PHONE)).json()["result"])


def token(sb, data=None, **kw):
    return sb.sim("t", "POST", "/oidc/token", data=data, **kw)


# -- discovery and keys ------------------------------------------------------------------------------
def test_discovery_names_this_issuer_and_its_endpoints(world):
    meta = world.sandbox.sim("t", "GET", "/.well-known/openid-configuration", expect=200).json()
    assert meta["issuer"] == world.sim.public_url == SIM_URL
    for key in ("token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert meta[key].startswith(SIM_URL + "/oidc/")
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"authorization_code", "client_credentials"} <= set(meta["grant_types_supported"])
    assert {"client_secret_basic", "client_secret_post"} <= set(meta["token_endpoint_auth_methods_supported"])


def test_jwks_publishes_the_public_rsa_key_only(world):
    jwks_uri = world.sandbox.sim("t", "GET", "/.well-known/openid-configuration").json()["jwks_uri"]
    keys = world.sandbox.call("t", "sim", "GET", jwks_uri, expect=200).json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    assert len(base64.urlsafe_b64decode(key["n"] + "==")) * 8 >= 2048


def test_signing_key_is_persisted_under_the_data_dir_and_survives_a_restart(tmp_path):
    first = build_world(tmp_path)
    kid = first.sandbox.sim("t", "GET", "/oidc/jwks").json()["keys"][0]["kid"]
    path = tmp_path / "simulator" / "oidc-signing-key.pem"
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()
    first.close()
    second = build_world(tmp_path)
    assert second.sandbox.sim("t", "GET", "/oidc/jwks").json()["keys"][0]["kid"] == kid
    second.close()


# -- the ID token, checked by an independent library ----------------------------------------------------
def test_id_token_verifies_with_pyjwt_against_the_published_jwks(world, app):
    tokens = app.exchange(code_for(world, app)).json()
    sb = world.sandbox
    meta = sb.sim("rp", "GET", "/.well-known/openid-configuration").json()
    jwks = sb.call("rp", "sim", "GET", meta["jwks_uri"], expect=200).json()

    header = pyjwt.get_unverified_header(tokens["id_token"])
    assert header["alg"] == "RS256" and header["kid"]
    signing_key = pyjwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = pyjwt.decode(tokens["id_token"], signing_key.key, algorithms=["RS256"], audience="rp-app",
                          issuer=meta["issuer"],
                          options={"require": ["iss", "aud", "sub", "iat", "exp"]})
    assert claims["sub"] == "usr-demo-0001"
    assert claims["phone_number"] == PHONE and claims["phone_number_verified"] is True
    assert claims["exp"] - claims["iat"] == 3600

    with pytest.raises(pyjwt.InvalidAudienceError):
        pyjwt.decode(tokens["id_token"], signing_key.key, algorithms=["RS256"], audience="another-app",
                     issuer=meta["issuer"])
    head, payload, signature = tokens["id_token"].split(".")
    forged_payload = base64.urlsafe_b64encode(base64.urlsafe_b64decode(payload + "==").replace(
        b"usr-demo-0001", b"usr-demo-0002")).rstrip(b"=").decode()
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(f"{head}.{forged_payload}.{signature}", signing_key.key, algorithms=["RS256"],
                     audience="rp-app", issuer=meta["issuer"])


# -- token endpoint: client credentials -----------------------------------------------------------------
def test_client_credentials_by_form_or_http_basic(world, app):
    sb = world.sandbox
    by_form = token(sb, {"grant_type": "client_credentials", "client_id": "rp-app",
                         "client_secret": app.client_secret}, expect=200)
    assert by_form.json()["token_type"] == "Bearer" and by_form.json()["expires_in"] == 3600
    assert by_form.headers["Cache-Control"] == "no-store"
    assert "id_token" not in by_form.json()
    by_basic = token(sb, {"grant_type": "client_credentials"}, auth=("rp-app", app.client_secret), expect=200)
    assert by_basic.json()["access_token"] != by_form.json()["access_token"]


def test_wrong_secret_and_unknown_client_get_the_same_invalid_client(world, app):
    sb = world.sandbox
    wrong = token(sb, {"grant_type": "client_credentials", "client_id": "rp-app",
                       "client_secret": "not-the-secret"}, expect=401)
    unknown = token(sb, {"grant_type": "client_credentials", "client_id": "no-such-app",
                         "client_secret": "not-the-secret"}, expect=401)
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "invalid_client" and wrong.json()["message"]
    assert "not-the-secret" not in wrong.text
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    token(sb, {"grant_type": "client_credentials", "client_id": "rp-app"}, expect=401)


def test_client_secret_is_compared_in_constant_time(world, app, monkeypatch):
    import hmac

    from simulator.login.apps import LoginApps

    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    apps = LoginApps(world.sim.db)
    for client_id in ("rp-app", "no-such-app"):
        with pytest.raises(Exception) as exc:
            apps.authenticate(client_id, "guess")
        assert exc.value.error == "invalid_client"
    assert len(calls) == 2  # the unknown client is compared too (against a dummy), not short-circuited
    assert apps.authenticate("rp-app", app.client_secret).client_id == "rp-app"


@pytest.mark.parametrize("data, status, error", [
    ({}, 400, "invalid_request"),
    ({"grant_type": "password", "username": "u", "password": "p"}, 400, "unsupported_grant_type"),
    ({"grant_type": "authorization_code", "client_id": "rp-app", "client_secret": "scenario-login-secret"},
     400, "invalid_request"),
])
def test_token_endpoint_errors_are_oauth2_shaped(world, app, data, status, error):
    body = token(world.sandbox, data, expect=status).json()
    assert body["error"] == error and body["message"] and body["error_description"]


def test_basic_and_form_secret_together_is_refused(world, app):
    body = token(world.sandbox, {"grant_type": "client_credentials", "client_secret": app.client_secret},
                 auth=("rp-app", app.client_secret), expect=400).json()
    assert body["error"] == "invalid_request"


# -- token endpoint: authorization code -----------------------------------------------------------------
def test_reused_code_is_invalid_grant_and_revokes_what_it_issued(world, app):
    code = code_for(world, app)
    first = app.exchange(code).json()
    app.userinfo(first["access_token"], expect=200)
    replay = app.exchange(code, expect=400).json()
    assert replay["error"] == "invalid_grant" and "already used" in replay["message"]
    assert app.userinfo(first["access_token"], expect=401).json()["error"] == "invalid_token"


def test_redirect_uri_must_match_the_one_the_code_was_issued_for(world):
    app = LoginAppDriver.register(world.sandbox, "two-uris", extra_redirect_uris=("https://app.example/other",))
    code = code_for(world, app)
    body = app.exchange(code, redirect_uri="https://app.example/other", expect=400).json()
    assert body["error"] == "invalid_grant" and "redirect_uri" in body["message"]
    app.exchange(code, expect=200)  # the mismatch did not burn the code for its rightful owner


def test_code_is_bound_to_its_client(world, app):
    other = LoginAppDriver.register(world.sandbox, "other-app")
    code = code_for(world, app)
    body = other.exchange(code, expect=400).json()
    assert body["error"] == "invalid_grant"
    app.exchange(code, expect=200)


def test_code_is_short_lived(world, app):
    code = code_for(world, app)
    world.clock.advance(121)
    body = app.exchange(code, expect=400).json()
    assert body["error"] == "invalid_grant" and "expired" in body["message"]


def test_unknown_code(world, app):
    assert app.exchange("made-up-code", expect=400).json()["error"] == "invalid_grant"


# -- userinfo -------------------------------------------------------------------------------------------
def test_userinfo_with_user_and_client_tokens(world, app):
    tokens = app.exchange(code_for(world, app)).json()
    info = app.userinfo(tokens["access_token"]).json()
    assert info == {"sub": "usr-demo-0001", "phone_number": PHONE, "phone_number_verified": True}
    assert app.userinfo(app.client_token(), expect=403).json()["error"] == "insufficient_scope"
    assert world.sandbox.sim("t", "GET", "/oidc/userinfo", expect=401).json()["error"] == "invalid_token"
    world.clock.advance(3600)
    app.userinfo(tokens["access_token"], expect=401)

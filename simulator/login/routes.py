"""HTTP for the one-time login API (Mosaic-style `/cis/v1/auth/otp/sms…`). Thin: authenticate the
client token, parse, call `OneTimeLogin`, render."""

from __future__ import annotations

from flask import redirect, request
from flask_smorest import Blueprint

from ..runtime import Runtime, current
from . import schemas as s
from .http import NO_STORE, bearer_token, register_oauth_validation_errors
from .wiring import install

blp = Blueprint("login", __name__, description="One-time login with SMS OTP (Mosaic-style). Requests need a "
                "client access token from POST /oidc/token (grant_type=client_credentials).")
register_oauth_validation_errors(blp)


def init(rt: Runtime) -> None:
    install(rt)


def _login():
    rt = current()
    return rt.services["login"], rt.services["oidc"]


@blp.post("/cis/v1/auth/otp/sms")
@blp.arguments(s.SendSmsOtpSchema)
@blp.response(200, s.SendSmsOtpResponseSchema)
@blp.alt_response(400, description="invalid_request: bad phone number, redirect URI not allowlisted, bad message")
@blp.alt_response(401, description="invalid_token: missing, expired or revoked client access token")
@blp.alt_response(403, description="access_denied: new user but public sign-ups are off")
@blp.alt_response(404, description="user_not_found: no user has this phone and create_new_user is false")
@blp.alt_response(429, description="otp_locked / otp_rate_limited (Retry-After)")
def send_sms_otp(body):
    """Send an SMS OTP to a phone number, to log in an existing user or sign up a new one."""
    login, provider = _login()
    grant = provider.client_grant(bearer_token())
    return login.send_sms_otp(grant.client_id, accept_language=request.headers.get("Accept-Language"), **body)


@blp.post("/cis/v1/auth/otp/sms/validation")
@blp.arguments(s.ValidateSmsOtpSchema)
@blp.response(200, s.ValidationResultSchema)
@blp.alt_response(400, description="invalid_grant: wrong, expired or used passcode (otp_status says which)")
@blp.alt_response(401, description="invalid_token")
@blp.alt_response(429, description="otp_locked: too many wrong passcodes (Retry-After)")
def validate_sms_otp(body):
    """Validate the passcode the user typed; answers the URI to follow to the app's redirect URI."""
    login, provider = _login()
    grant = provider.client_grant(bearer_token())
    return login.validate_sms_otp(grant.client_id, **body), 200, NO_STORE


@blp.get("/cis/v1/auth/otp/sms/result/<ticket>")
@blp.response(302, description="redirect to redirect_uri?code=… (single use, short-lived)")
@blp.alt_response(400, description="invalid_request: unknown, expired or already used result URI")
def follow_result(ticket):
    """The result URI of a successful validation: redirects the browser to the app with a code."""
    login, _ = _login()
    resp = redirect(login.follow_result(ticket), code=302)
    resp.set_data(b"")  # the code travels in Location only, not again in an HTML body
    resp.headers.update(NO_STORE)
    return resp


@blp.get("/sandbox/login/callback")
@blp.arguments(s.CallbackSchema, location="query")
@blp.response(200)
def demo_callback(query):
    """Sandbox: the demo login app's redirect URI. Shows the code it received, and how to redeem it."""
    rt = current()
    return {"code": query["code"], "error": query["error"],
            "next": f"POST {rt.public_url}/oidc/token with grant_type=authorization_code, this code, "
                    f"redirect_uri={rt.public_url}/sandbox/login/callback and the app's client credentials"}, \
        200, NO_STORE

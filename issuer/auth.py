"""The bank's side of OAuth2 for D1's outbound calls (seed 004, "Secure outbound calls with OAuth 2.0").

`POST /oauth2/token` issues client-credentials tokens to D1 (client `d1-outbound` by default; HTTP
Basic or form fields). Tokens are opaque and stored only as a SHA-256 hash in `access_tokens`; they
expire on the clock. `d1_auth_required` guards every receiver when `REQUIRE_INBOUND_AUTH` is on."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
from urllib.parse import unquote

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from d1sandbox.errors import ApiError, Unauthorized

from .runtime import current

blp = Blueprint("issuer_oauth2", __name__, description="OAuth2 token endpoint for D1's outbound calls")

TOKEN_TTL_SECONDS = 3600
SCOPE = "d1-outbound"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SECURITY_SCHEME = "d1Bearer"


class D1TokenRequestSchema(Schema):
    grant_type = fields.String(required=True, metadata={"description": "client_credentials"})
    client_id = fields.String()
    client_secret = fields.String()
    scope = fields.String()


class D1TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    scope = fields.String()


def _oauth_error(status: int, error: str, message: str, headers: dict | None = None) -> ApiError:
    return ApiError(message, status=status, error=error, headers={**NO_STORE, **(headers or {})},
                    extra={"error_description": message})


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _client_credentials() -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        if "client_id" in request.form or "client_secret" in request.form:
            raise _oauth_error(400, "invalid_request", "use either HTTP Basic or form credentials, not both")
        try:
            client_id, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, sep, secret = "", "", ""
        if not sep:
            raise _oauth_error(401, "invalid_client", "malformed HTTP Basic credentials",
                               {"WWW-Authenticate": 'Basic realm="issuer"'})
        return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
    return request.form.get("client_id"), request.form.get("client_secret")


@blp.post("/oauth2/token")
@blp.doc(requestBody={"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": D1TokenRequestSchema}}})
@blp.response(200, D1TokenSchema)
@blp.alt_response(400, description="invalid_request / unsupported_grant_type")
@blp.alt_response(401, description="invalid_client")
def token():
    """Get authentication token: D1 authenticates (client credentials) before calling this backend."""
    rt = current()
    client_id, client_secret = _client_credentials()
    grant_type = request.form.get("grant_type")
    if not grant_type:
        raise _oauth_error(400, "invalid_request", "grant_type is required")
    expected_id, expected_secret = rt.config["INBOUND_CLIENT_ID"], rt.config["INBOUND_CLIENT_SECRET"]
    ok = (client_id is not None and client_secret is not None
          and hmac.compare_digest(client_id.encode(), expected_id.encode())
          & hmac.compare_digest(client_secret.encode(), expected_secret.encode()))
    if not ok:
        raise _oauth_error(401, "invalid_client", "client authentication failed",
                           {"WWW-Authenticate": 'Basic realm="issuer"'})
    if grant_type != "client_credentials":
        raise _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    access_token = secrets.token_urlsafe(32)
    now = rt.clock.now()
    with rt.db.transaction():
        rt.db.execute("DELETE FROM access_tokens WHERE expires_at < ?", (now - 86400,))
        rt.db.insert("access_tokens", {"token_hash": _hash(access_token), "client_id": client_id, "scope": SCOPE,
                                       "expires_at": now + TOKEN_TTL_SECONDS})
    return ({"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS, "scope": SCOPE},
            200, NO_STORE)


def check_d1_token() -> None:
    rt = current()
    if not rt.config.get("REQUIRE_INBOUND_AUTH", True):
        return
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("D1 must send a bearer token from POST /oauth2/token",
                           headers={"WWW-Authenticate": 'Bearer realm="issuer"'})
    row = rt.db.get("access_tokens", token_hash=_hash(value.strip()))
    if row is None or row["expires_at"] <= rt.clock.now():
        raise Unauthorized("the access token is invalid or expired", error="invalid_token",
                           headers={"WWW-Authenticate": 'Bearer realm="issuer", error="invalid_token"'})


def d1_auth_required(view):
    """Authenticate D1's call (bearer token this backend issued) before the view runs."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        check_d1_token()
        return view(*args, **kwargs)

    doc = getattr(checked, "_apidoc", {})
    manual = doc.setdefault("manual_doc", {})
    manual["security"] = [{SECURITY_SCHEME: []}]
    manual.setdefault("responses", {}).setdefault("401", {"description": "Missing, invalid or expired token"})
    checked._apidoc = doc
    return checked


def document_security(bp) -> None:
    def record(state):
        api = state.app.extensions["flask-smorest"]["blp_name_to_api"].get(bp.name)
        if api is not None and SECURITY_SCHEME not in api.spec.components.security_schemes:
            api.spec.components.security_scheme(SECURITY_SCHEME, {
                "type": "http", "scheme": "bearer",
                "description": "Token D1 got from this backend's POST /oauth2/token (when OAuth2 is enabled)"})

    bp.record_once(record)

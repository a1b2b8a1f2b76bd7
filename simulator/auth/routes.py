"""HTTP for D1's OAuth2 server: `POST /oauth2/token` (client credentials) and `POST /oauth2/revoke`
(RFC 7009). Form-encoded in, JSON out, errors per RFC 6749 §5.2."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..runtime import current
from .guard import tokens
from .models import SCOPES, OAuthError, invalid_client

blp = Blueprint("oauth2", __name__, description="D1 inbound API: OAuth2 client credentials for issuers")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class IssuerTokenRequestSchema(Schema):
    grant_type = fields.String(required=True, metadata={"description": "must be `client_credentials`"})
    scope = fields.String(metadata={"description": "space-separated subset of: " + ", ".join(sorted(SCOPES))})
    client_id = fields.String(metadata={"description": "when not using HTTP Basic"})
    client_secret = fields.String(metadata={"description": "when not using HTTP Basic"})


class IssuerTokenSchema(Schema):
    access_token = fields.String(required=True, metadata={"description": "opaque bearer token"})
    token_type = fields.String(required=True, metadata={"description": "always `Bearer`"})
    expires_in = fields.Integer(required=True, metadata={"description": "lifetime in seconds (sandbox clock)"})
    scope = fields.String(required=True, metadata={"description": "scopes granted, space-separated"})


class IssuerTokenRevokeSchema(Schema):
    token = fields.String(required=True, metadata={"description": "the access token to revoke"})
    token_type_hint = fields.String(metadata={"description": "`access_token` (the only kind D1 issues)"})


class IssuerOAuthErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "RFC 6749 error code, e.g. invalid_client"})
    error_description = fields.String(metadata={"description": "what went wrong"})
    message = fields.String(metadata={"description": "same as error_description"})


def _client_credentials(form) -> tuple[str | None, str | None]:
    """HTTP Basic or form fields (RFC 6749 §2.3.1) — one method, not both."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    in_form = "client_id" in form or "client_secret" in form
    if scheme.lower() == "basic":
        if in_form:
            raise OAuthError(400, "invalid_request", "use either HTTP Basic or form credentials, not both")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise invalid_client("the HTTP Basic credentials are not valid base64") from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise invalid_client("the HTTP Basic credentials must be client_id:client_secret")
        # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
        return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
    if header and scheme.lower() != "basic":
        raise invalid_client("only HTTP Basic client authentication is supported in the Authorization header")
    return form.get("client_id"), form.get("client_secret")


def _form() -> dict:
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
        raise OAuthError(400, "invalid_request", "send the parameters as application/x-www-form-urlencoded")
    form = request.form
    for name in form:
        if len(form.getlist(name)) > 1:  # RFC 6749 §3.2: parameters MUST NOT be repeated
            raise OAuthError(400, "invalid_request", f"parameter {name!r} is repeated")
    return form.to_dict()


@blp.post("/oauth2/token")
@blp.doc(requestBody={"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": IssuerTokenRequestSchema}}})
@blp.response(200, IssuerTokenSchema, description="An access token for this issuer's resources", headers={
    "Cache-Control": {"description": "no-store", "schema": {"type": "string"}}})
@blp.alt_response(400, schema=IssuerOAuthErrorSchema,
                  description="invalid_request, unsupported_grant_type or invalid_scope")
@blp.alt_response(401, schema=IssuerOAuthErrorSchema, description="invalid_client (WWW-Authenticate: Basic)")
def token():
    """Get an access token (client credentials, RFC 6749 §4.4).

    Authenticate with HTTP Basic (`client_id:client_secret`) or with `client_id`/`client_secret` form
    fields. The token opens only the calling issuer's resources and expires after `expires_in` seconds
    of sandbox time."""
    rt = current()
    form = _form()
    grant_type = form.get("grant_type")
    client_id, client_secret = _client_credentials(form)
    if not grant_type:
        raise OAuthError(400, "invalid_request", "grant_type is required")
    # Authenticate before judging the grant: an unauthenticated caller learns nothing else.
    issuer_id = tokens(rt).authenticate_client(client_id, client_secret)
    if grant_type != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported; "
                                                         "use client_credentials")
    answer = tokens(rt).issue(issuer_id, client_id, form.get("scope"))
    rt.journal.record("oauth2-inbound", issuer_id, "D1", "POST /oauth2/token", answer, kind="response",
                      method="POST", path="/oauth2/token", status=200)
    return answer, 200, NO_STORE


@blp.post("/oauth2/revoke")
@blp.doc(requestBody={"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": IssuerTokenRevokeSchema}}})
@blp.response(200, description="Revoked (or already unusable): the token no longer opens anything")
@blp.alt_response(400, schema=IssuerOAuthErrorSchema, description="invalid_request, or the token is another client's")
@blp.alt_response(401, schema=IssuerOAuthErrorSchema, description="invalid_client")
def revoke():
    """Revoke an access token (RFC 7009). The client authenticates as for the token endpoint; revoking
    an unknown or already revoked token answers 200 too."""
    rt = current()
    form = _form()
    client_id, client_secret = _client_credentials(form)
    tokens(rt).authenticate_client(client_id, client_secret)
    if not form.get("token"):
        raise OAuthError(400, "invalid_request", "token is required")
    if form.get("token_type_hint") not in (None, "access_token"):
        raise OAuthError(400, "unsupported_token_type", "D1 only issues access tokens")
    tokens(rt).revoke(client_id, form["token"])
    return {}, 200, NO_STORE

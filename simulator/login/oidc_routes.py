"""HTTP for the OIDC provider: discovery, JWKS, token and userinfo endpoints."""

from __future__ import annotations

from flask_smorest import Blueprint

from ..runtime import Runtime, current
from . import schemas as s
from .errors import InvalidRequest, OAuthError, UnsupportedGrantType
from .http import NO_STORE, basic_credentials, bearer_token, register_oauth_validation_errors
from .service import APP, D1
from .wiring import install

blp = Blueprint("oidc", __name__, description="OpenID Connect provider of the one-time login")
register_oauth_validation_errors(blp)

GRANT_TYPES = ("authorization_code", "client_credentials")


def init(rt: Runtime) -> None:
    install(rt)


def _provider():
    return current().services["oidc"]


@blp.get("/.well-known/openid-configuration")
@blp.response(200, description="OpenID Provider Metadata")
def discovery():
    """OpenID Connect Discovery 1.0: issuer, endpoints, JWKS URI, supported algorithms."""
    return _provider().discovery(), 200, {"Cache-Control": "public, max-age=300"}


@blp.get("/oidc/jwks")
@blp.response(200, description="JWK Set with the RS256 public signing key(s)")
def jwks():
    """The public keys that verify ID tokens (pick by the JWS header's `kid`)."""
    return _provider().jwks(), 200, {"Cache-Control": "public, max-age=300"}


@blp.post("/oidc/token")
@blp.arguments(s.TokenRequestSchema, location="form")
@blp.response(200, s.TokenResponseSchema)
@blp.alt_response(400, description="invalid_request, invalid_grant, unsupported_grant_type")
@blp.alt_response(401, description="invalid_client")
def token(form):
    """Token endpoint (application/x-www-form-urlencoded). `client_credentials`: a client access token
    for the one-time login API. `authorization_code`: exchange the code from the redirect for an ID
    token and an access token. Client authentication: HTTP Basic or client_id/client_secret fields."""
    rt = current()
    provider = _provider()
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is required", fields={"grant_type": ["missing"]})
    if grant_type not in GRANT_TYPES:
        raise UnsupportedGrantType(f"grant_type must be one of {', '.join(GRANT_TYPES)}")
    basic = basic_credentials()
    if basic and form.get("client_secret"):
        raise InvalidRequest("use one client authentication method, not HTTP Basic and client_secret both")
    client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
    app = rt.services["login"].apps.authenticate(client_id, client_secret)
    if grant_type == "client_credentials":
        return provider.client_credentials(app), 200, NO_STORE

    missing = [name for name in ("code", "redirect_uri") if not form.get(name)]
    if missing:
        raise InvalidRequest(f"{' and '.join(missing)} required for grant_type=authorization_code",
                             fields={name: ["missing"] for name in missing})
    try:
        grant = provider.exchange_code(app, form["code"], form["redirect_uri"])
    except OAuthError as exc:  # journal the refusal (a replayed code matters) in its login's transaction
        correlation = getattr(exc, "correlation", None)
        rt.journal.record(correlation, APP, D1, "POST /oidc/token (authorization_code)",
                          {"client_id": app.client_id, "grant_type": grant_type, "code": form["code"]},
                          method="POST", path="/oidc/token")
        rt.journal.record(correlation, D1, APP, f"{exc.status} {exc.error}", exc.body(), kind="response",
                          status=exc.status)
        raise
    rt.journal.record(grant.correlation, APP, D1, "POST /oidc/token (authorization_code)",
                      {"client_id": app.client_id, "grant_type": grant_type, "redirect_uri": form["redirect_uri"],
                       "code": form["code"]}, method="POST", path="/oidc/token")
    rt.journal.record(grant.correlation, D1, APP, "200 ID token + access token",
                      {"sub": grant.user_id, "user_created": grant.user_created, **grant.tokens},
                      kind="response", status=200)
    return grant.tokens, 200, NO_STORE


@blp.route("/oidc/userinfo", methods=["GET", "POST"])
@blp.response(200, s.UserinfoSchema)
@blp.alt_response(401, description="invalid_token")
@blp.alt_response(403, description="insufficient_scope: not a user access token")
def userinfo():
    """OIDC UserInfo: the claims of the user the access token was issued for."""
    return _provider().userinfo(bearer_token()), 200, NO_STORE

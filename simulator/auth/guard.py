"""Bearer-token checks for the D1 inbound API, reusable by every domain.

    from simulator.auth import issuer_token_required

    @blp.get("/issuers/<issuer_id>/things")
    @issuer_token_required("card:read")          # reads the `issuer_id` view argument
    def things(issuer_id): ...

or, inside a view, `grant = require_issuer_token(issuer_id, "card:read")`.

Answers follow RFC 6750 §3: no token → 401 with a bare `WWW-Authenticate: Bearer realm=…`;
a forged, expired or revoked token → 401 `invalid_token`; a token of another issuer → 403
`forbidden`; a token without the needed scope → 403 `insufficient_scope`."""

from __future__ import annotations

import functools

from flask import g, request

from d1sandbox.errors import Forbidden, Unauthorized

from .models import TokenInfo

REALM = "d1sandbox"
SECURITY_SCHEME = "issuerBearer"


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def require_issuer_token(issuer_id: str, scope: str | None = None) -> TokenInfo:
    """The caller's grant for `issuer_id`, or an ApiError (401/403) the error handler renders."""
    from ..runtime import current

    header = request.headers.get("Authorization")
    token = bearer_token()
    if token is None:
        if header:  # something was sent, but not a bearer token
            raise Unauthorized("the Authorization header must be 'Bearer <access token>'", error="invalid_request",
                               headers={"WWW-Authenticate": _challenge("invalid_request")})
        raise Unauthorized("a bearer access token is required; get one at POST /oauth2/token",
                           headers={"WWW-Authenticate": _challenge()})
    grant = tokens(current()).verify(token)
    if grant is None:
        raise Unauthorized("the access token is invalid, expired or revoked", error="invalid_token",
                           headers={"WWW-Authenticate": _challenge("invalid_token")})
    if grant.issuer_id != issuer_id:
        raise Forbidden("this access token does not grant access to that issuer's resources")
    if scope and scope not in grant.scopes:
        raise Forbidden(f"the access token lacks the {scope!r} scope", error="insufficient_scope",
                        headers={"WWW-Authenticate": _challenge("insufficient_scope", scope=scope)})
    g.issuer_grant = grant
    return grant


def issuer_token_required(scope: str | None = None, *, param: str = "issuer_id"):
    """Decorator form of `require_issuer_token`, reading the issuer from the `param` view argument.
    Also documents the bearer requirement (and the 401/403 answers) in the OpenAPI description."""

    def wrap(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            require_issuer_token(kwargs[param], scope)
            return view(*args, **kwargs)

        doc = getattr(checked, "_apidoc", {})
        manual = doc.setdefault("manual_doc", {})
        manual["security"] = [{SECURITY_SCHEME: [scope] if scope else []}]
        responses = manual.setdefault("responses", {})
        responses.setdefault("401", {"description": "Missing, forged, expired or revoked access token "
                                                    "(WWW-Authenticate: Bearer)"})
        responses.setdefault("403", {"description": "The token belongs to another issuer or lacks the scope"})
        checked._apidoc = doc
        return checked

    return wrap


def tokens(rt):
    """The runtime's TokenService (created on first use so any domain can rely on it)."""
    service = rt.services.get("issuer_tokens")
    if service is None:
        from .models import DEFAULT_TTL_SECONDS, TokenService

        service = TokenService(rt.db, rt.clock, rt.keyed_hash, rt.issuers,
                               ttl_seconds=int(rt.config.get("ISSUER_TOKEN_TTL", DEFAULT_TTL_SECONDS)))
        rt.services["issuer_tokens"] = service
    return service


def document_security(blp) -> None:
    """Declare the bearer security scheme in the OpenAPI description when `blp` is registered."""

    def record(state):
        api = state.app.extensions["flask-smorest"]["blp_name_to_api"].get(blp.name)
        if api is not None and SECURITY_SCHEME not in api.spec.components.security_schemes:
            api.spec.components.security_scheme(SECURITY_SCHEME, {
                "type": "http", "scheme": "bearer",
                "description": "Access token from POST /oauth2/token (client credentials). Opens only the "
                               "resources of the issuer it was issued to.",
            })

    blp.record_once(record)

"""HTTP helpers shared by the two login blueprints: bearer tokens, HTTP Basic client credentials and
OAuth2-shaped validation errors."""

from __future__ import annotations

from urllib.parse import unquote_plus

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from d1sandbox.errors import ApiError, _flatten_messages

from .errors import InvalidClient, InvalidRequest, InvalidToken

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("a bearer access token is required (Authorization: Bearer …)", error="invalid_token")
    return token.strip()


def basic_credentials() -> tuple[str, str] | None:
    """client_secret_basic (RFC 6749 §2.3.1: id and secret are form-urlencoded before base64)."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    auth = request.authorization
    if auth is None or auth.type != "basic" or auth.username is None:
        raise InvalidClient("the Authorization header must be HTTP Basic client credentials")
    return unquote_plus(auth.username), unquote_plus(auth.password or "")


def render(error: ApiError):
    resp = jsonify(error.body())
    resp.status_code = error.status
    resp.headers.update(error.headers)
    return resp


def register_oauth_validation_errors(blp) -> None:
    """Within these blueprints a malformed body is an OAuth2 `invalid_request` (400), not the
    sandbox's generic 422, so OAuth2 clients see the error shape they know."""

    def handler(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        if "messages" in data:
            fields = _flatten_messages(data["messages"])
            error = InvalidRequest(f"invalid fields: {', '.join(sorted(str(k) for k in fields))}", fields=fields)
        else:
            error = InvalidRequest("the request body is not valid JSON")
        return render(error)

    blp.register_error_handler(422, handler)
    blp.register_error_handler(400, handler)

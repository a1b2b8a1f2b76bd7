"""The bank's calls to D1 (card lifecycle, 3DS history, authenticators) through `rt.d1`, the one
outbound client (OAuth2 client credentials with token caching and renewal, retries on 429/5xx and
timeouts, journal). This module only turns D1's answers into the bank's own API answers."""

from __future__ import annotations

from typing import Any

from d1sandbox.errors import ApiError

from .runtime import current


class D1Refused(ApiError):
    """D1 answered 4xx: its error (and the fields it named) are passed on unchanged."""


class D1Unavailable(ApiError):
    status = 502
    error = "d1_unavailable"


def d1_call(method: str, path: str, *, operation: str, json: Any = None, params: dict | None = None,
            correlation: str | None = None) -> tuple[int, Any]:
    result = current().d1.call(method, path, operation=operation, json=json, params=params, correlation=correlation)
    if result.ok:
        return result.status, result.body
    body = result.body if isinstance(result.body, dict) else {}
    if result.status in (401, 403):
        # Our credentials or token are wrong: the caller cannot fix that, the bank's operator must.
        raise D1Unavailable(f"D1 refused the bank's credentials (HTTP {result.status})", error="d1_auth_failed")
    if result.status is not None and 400 <= result.status < 500:
        raise D1Refused(f"D1 refused: {body.get('message', 'HTTP %s' % result.status)}", status=result.status,
                        error=body.get("error", "d1_refused"), fields=body.get("fields"),
                        extra={k: v for k, v in body.items() if k not in ("error", "message", "fields")})
    raise D1Unavailable(f"D1 could not be reached ({result.describe()} after {result.attempts} attempt(s)); "
                        "nothing was changed, retry later")

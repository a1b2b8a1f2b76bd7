"""OAuth2-style errors (RFC 6749 §5.2, RFC 6750 §3.1) for the login and OIDC endpoints.

Every body carries the sandbox-wide `error` and `message` keys plus the OAuth2 `error_description`,
so both generic clients and OAuth2 libraries read it. Messages never contain a code, token, secret or
OTP."""

from __future__ import annotations

from d1sandbox.errors import ApiError


class OAuthError(ApiError):
    status = 400
    error = "invalid_request"

    def __init__(self, message: str, **kw):
        super().__init__(message, **kw)
        self.extra.setdefault("error_description", message)


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """Client authentication failed (unknown client, wrong secret, no credentials)."""

    status = 401
    error = "invalid_client"

    def __init__(self, message: str = "client authentication failed", **kw):
        kw.setdefault("headers", {"WWW-Authenticate": 'Basic realm="d1sandbox-oidc"'})
        super().__init__(message, **kw)


class InvalidGrant(OAuthError):
    """The code is unknown, expired, already used, or bound to another client or redirect URI."""

    error = "invalid_grant"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidToken(OAuthError):
    status = 401
    error = "invalid_token"

    def __init__(self, message: str = "a valid bearer access token is required", **kw):
        error = kw.get("error") or self.error
        kw.setdefault("headers", {"WWW-Authenticate": f'Bearer realm="d1sandbox", error="{error}"'})
        super().__init__(message, **kw)


class InsufficientScope(OAuthError):
    status = 403
    error = "insufficient_scope"

    def __init__(self, message: str, **kw):
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="d1sandbox", error="insufficient_scope"'})
        super().__init__(message, **kw)


class AccessDenied(OAuthError):
    status = 403
    error = "access_denied"


class UserNotFound(OAuthError):
    status = 404
    error = "user_not_found"


class OtpInvalid(OAuthError):
    """A wrong, expired or already-used passcode (never says which digits were wrong)."""

    error = "invalid_grant"


class LoginLocked(OAuthError):
    status = 429
    error = "otp_locked"

    def __init__(self, message: str, retry_after: int, **kw):
        kw.setdefault("headers", {"Retry-After": str(retry_after)})
        kw.setdefault("extra", {"retryAfter": retry_after})
        super().__init__(message, **kw)


class TooManyCodes(OAuthError):
    status = 429
    error = "otp_rate_limited"

    def __init__(self, message: str, retry_after: int, **kw):
        kw.setdefault("headers", {"Retry-After": str(retry_after)})
        kw.setdefault("extra", {"retryAfter": retry_after})
        super().__init__(message, **kw)

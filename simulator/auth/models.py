"""OAuth2 client credentials for issuers (RFC 6749 §4.4), token revocation (RFC 7009) and bearer
token checks (RFC 6750). Plain Python over the database: no HTTP here.

Tokens are opaque random strings (256 bits). Only a keyed hash is stored, so the database never holds
a usable token, and revocation takes effect on the next request (a signed JWT could not be revoked
without the same lookup). Expiry reads the sandbox clock, so `POST /sandbox/clock` expires tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from d1sandbox.errors import ApiError

# What a token may open. A client gets every scope unless it asks for fewer.
SCOPES = {
    "card:write": "create, register, renew, replace and delete cards",
    "card:read": "read cards and their audit trail",
    "3ds:read": "read the 3DS operation history of cards",
    "authenticator:write": "enroll and delete OOB authenticators of issuer app instances",
}
DEFAULT_TTL_SECONDS = 3600
TOKEN_BYTES = 32
HASH_PURPOSE = "issuer-access-token"


class OAuthError(ApiError):
    """An RFC 6749 §5.2 error: `error` is the RFC code; `error_description` repeats the message."""

    def __init__(self, status: int, error: str, message: str, *, headers: dict | None = None):
        super().__init__(message, status=status, error=error, headers=headers,
                         extra={"error_description": message})
        self.headers.setdefault("Cache-Control", "no-store")
        self.headers.setdefault("Pragma", "no-cache")


def invalid_client(message: str = "client authentication failed") -> OAuthError:
    # RFC 6749 §5.2: 401 with WWW-Authenticate naming the scheme the client may use.
    return OAuthError(401, "invalid_client", message, headers={"WWW-Authenticate": 'Basic realm="d1sandbox"'})


@dataclass(frozen=True)
class TokenInfo:
    issuer_id: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float


class TokenService:
    """Issues, verifies and revokes issuer access tokens."""

    def __init__(self, db, clock, keyed_hash, registry, ttl_seconds: int = DEFAULT_TTL_SECONDS):
        self.db = db
        self.clock = clock
        self._hash = lambda token: keyed_hash(token, HASH_PURPOSE)
        self.registry = registry
        self.ttl_seconds = ttl_seconds

    # -- client authentication ------------------------------------------------------------------
    def authenticate_client(self, client_id: str | None, client_secret: str | None) -> str:
        """The issuer owning these credentials, or `invalid_client`. The same answer for an unknown
        client and a wrong secret, so the endpoint does not reveal which client ids exist."""
        if not client_id or client_secret is None:
            raise invalid_client("client authentication is required (HTTP Basic or client_id/client_secret)")
        issuer_id = self.registry.by_client_credentials(client_id, client_secret)
        if issuer_id is None:
            raise invalid_client()
        return issuer_id

    # -- tokens ---------------------------------------------------------------------------------
    @staticmethod
    def parse_scope(requested: str | None) -> frozenset[str]:
        if requested is None or not requested.strip():
            return frozenset(SCOPES)
        wanted = frozenset(requested.split())
        unknown = sorted(wanted - set(SCOPES))
        if unknown:
            raise OAuthError(400, "invalid_scope", f"unknown scope(s) {unknown}; known: {sorted(SCOPES)}")
        return wanted

    def issue(self, issuer_id: str, client_id: str, scope: str | None) -> dict:
        scopes = self.parse_scope(scope)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock.now()
        with self.db.transaction():
            # Housekeeping on the write path: expired tokens of this issuer are of no use to anyone.
            self.db.execute("DELETE FROM issuer_access_tokens WHERE issuer_id = ? AND expires_at < ?",
                            (issuer_id, now - 86400))
            self.db.insert("issuer_access_tokens", {
                "token_hash": self._hash(token), "issuer_id": issuer_id, "client_id": client_id,
                "scope": " ".join(sorted(scopes)), "issued_at": now, "expires_at": now + self.ttl_seconds,
                "revoked_at": None,
            })
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.ttl_seconds,
                "scope": " ".join(sorted(scopes))}

    def verify(self, token: str) -> TokenInfo | None:
        """The token's grant, or None when it is unknown, forged, expired or revoked."""
        if not token or len(token) > 512:
            return None
        row = self.db.get("issuer_access_tokens", token_hash=self._hash(token))
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= self.clock.now():
            return None
        return TokenInfo(row["issuer_id"], row["client_id"], frozenset((row["scope"] or "").split()),
                         row["expires_at"])

    def revoke(self, client_id: str, token: str) -> bool:
        """RFC 7009: revoke a token the calling client holds. Unknown tokens are not an error (the
        client's goal, an unusable token, is met); another client's token is refused."""
        token_hash = self._hash(token)
        with self.db.transaction():
            row = self.db.get("issuer_access_tokens", token_hash=token_hash)
            if row is None:
                return False
            if row["client_id"] != client_id:
                raise OAuthError(400, "unauthorized_client", "the token was not issued to this client")
            if row["revoked_at"] is None:
                self.db.update("issuer_access_tokens", {"token_hash": token_hash}, {"revoked_at": self.clock.now()})
        return True

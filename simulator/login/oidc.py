"""The OIDC provider: client access tokens, authorization codes, ID/access tokens, userinfo.

Rules (OAuth 2.0 RFC 6749, OIDC Core 1.0, OAuth 2.0 Security BCP):
* codes are random (256 bits), stored only as a keyed hash, single use, short-lived (`code_ttl`) and
  bound to the client and the exact redirect URI they were issued for;
* a code presented twice → `invalid_grant`, and every token issued from it is revoked (§4.1.2);
* access tokens are opaque, stored only as a keyed hash, expire, and can be revoked;
* ID tokens are RS256 JWTs signed by `SigningKeys` (joserfc), `kid` in the header, `iss` equal to the
  discovery document's `issuer`, `aud` the client id.
No method puts a code, token or secret into an exception message."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Callable

from d1sandbox.clock import Clock
from d1sandbox.db import Database

from .apps import LoginApp
from .errors import AccessDenied, InsufficientScope, InvalidGrant, InvalidToken
from .keys import ALGORITHM, SigningKeys
from .users import Users

CLIENT, USER = "client", "user"
USER_SCOPE = "openid phone"


@dataclass(frozen=True)
class OidcSettings:
    code_ttl: int = 120            # seconds; RFC 6749 §4.1.2 recommends ≤ 10 minutes
    access_token_ttl: int = 3600
    client_token_ttl: int = 3600
    id_token_ttl: int = 3600

    @classmethod
    def from_config(cls, cfg: dict) -> "OidcSettings":
        return cls(code_ttl=int(cfg.get("OIDC_CODE_TTL", cls.code_ttl)),
                   access_token_ttl=int(cfg.get("OIDC_ACCESS_TOKEN_TTL", cls.access_token_ttl)),
                   client_token_ttl=int(cfg.get("OIDC_CLIENT_TOKEN_TTL", cls.client_token_ttl)),
                   id_token_ttl=int(cfg.get("OIDC_ID_TOKEN_TTL", cls.id_token_ttl)))


@dataclass(frozen=True)
class AccessGrant:
    """What a valid bearer token stands for."""

    token_id: str
    kind: str            # CLIENT (client credentials) or USER (authorization code)
    client_id: str
    user_id: str | None
    scope: str
    expires_at: float


@dataclass(frozen=True)
class CodeGrant:
    """The result of a successful code exchange."""

    tokens: dict
    correlation: str | None
    user_id: str
    user_created: bool


class OidcProvider:
    def __init__(self, db: Database, clock: Clock, keys: SigningKeys, issuer: str,
                 hasher: Callable[[str, str], str], users: Users, settings: OidcSettings | None = None):
        self.db = db
        self.clock = clock
        self.keys = keys
        self.issuer = issuer.rstrip("/")
        self._hash = hasher
        self.users = users
        self.settings = settings or OidcSettings()

    # -- discovery -------------------------------------------------------------------------------
    def discovery(self) -> dict:
        """OpenID Provider Metadata (OIDC Discovery 1.0 §3) for what this provider really does."""
        base = self.issuer
        return {
            "issuer": base,
            "token_endpoint": f"{base}/oidc/token",
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "jwks_uri": f"{base}/oidc/jwks",
            "scopes_supported": ["openid", "phone"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "auth_time", "amr", "phone_number",
                                 "phone_number_verified"],
            "claim_types_supported": ["normal"],
            "request_uri_parameter_supported": False,
        }

    def jwks(self) -> dict:
        return self.keys.jwks()

    # -- client credentials ------------------------------------------------------------------------
    def client_credentials(self, app: LoginApp) -> dict:
        """A client access token: authorizes the app's calls to the one-time login API."""
        ttl = self.settings.client_token_ttl
        with self.db.transaction():
            token = self._new_token(CLIENT, app.client_id, None, None, "", ttl)
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    # -- authorization codes -----------------------------------------------------------------------
    def issue_code(self, *, client_id: str, redirect_uri: str, phone: str, user_id: str | None,
                   create_new_user: bool, auth_time: float, correlation: str | None) -> str:
        """Inside the caller's transaction: a fresh code for this client + redirect URI."""
        now = self.clock.now()
        code = secrets.token_urlsafe(32)
        # Used codes are kept until the tokens they issued are dead, so a replay can still revoke them.
        self.db.execute("DELETE FROM oidc_codes WHERE expires_at < ?", (now - self.settings.access_token_ttl,))
        self.db.insert("oidc_codes", {
            "code_hash": self._hash(code, "oidc-code"), "client_id": client_id, "redirect_uri": redirect_uri,
            "phone": phone, "user_id": user_id, "create_new_user": int(bool(create_new_user)),
            "auth_time": auth_time, "correlation": correlation, "created_at": now,
            "expires_at": now + self.settings.code_ttl, "used_at": None,
        })
        return code

    def exchange_code(self, app: LoginApp, code: str | None, redirect_uri: str | None) -> CodeGrant:
        """`grant_type=authorization_code` for an authenticated client."""
        self.keys.load()  # generating the key (first use) must not happen under the write lock
        now = self.clock.now()
        code_hash = self._hash(code or "", "oidc-code")
        revoked = 0
        with self.db.transaction():
            row = self.db.get("oidc_codes", code_hash=code_hash) if code else None
            if row is not None and row["used_at"] is not None and row["client_id"] == app.client_id:
                # Replay: the code may have been stolen; kill what it issued (RFC 6749 §4.1.2).
                revoked = self.db.execute(
                    "UPDATE oidc_tokens SET revoked_at = ? WHERE code_hash = ? AND revoked_at IS NULL",
                    (now, code_hash)).rowcount
            elif row is not None and row["used_at"] is None and row["client_id"] == app.client_id \
                    and now < row["expires_at"] and row["redirect_uri"] == redirect_uri:
                return self._redeem(app, row, code_hash, now)
        # Outside the transaction, so the revocation above is committed before we answer.
        if row is None or row["client_id"] != app.client_id:
            error = InvalidGrant("the authorization code is invalid")
        elif row["used_at"] is not None:
            error = InvalidGrant("the authorization code was already used; the tokens issued from it are revoked",
                                 extra={"revoked_tokens": revoked})
        elif now >= row["expires_at"]:
            error = InvalidGrant("the authorization code has expired")
        else:
            error = InvalidGrant("redirect_uri does not match the one the authorization code was issued for")
        # Journal only: the login transaction this code belongs to (never in the body).
        error.correlation = row["correlation"] if row is not None and row["client_id"] == app.client_id else None
        raise error

    def _redeem(self, app: LoginApp, row: dict, code_hash: str, now: float) -> CodeGrant:
        self.db.update("oidc_codes", {"code_hash": code_hash}, {"used_at": now})
        created = False
        user = self.users.get(row["user_id"]) if row["user_id"] else self.users.by_phone(row["phone"])
        if user is None:
            # The seed: "a new user is created once the code is exchanged if no user is found".
            if not (row["create_new_user"] and app.public_signups):
                raise AccessDenied("no user has this phone number and sign-ups are not allowed for this app")
            user, created = self.users.find_or_create(row["phone"], app.client_id)
        self.users.mark_login(user["user_id"])
        access = self._new_token(USER, app.client_id, user["user_id"], code_hash, USER_SCOPE,
                                 self.settings.access_token_ttl)
        id_token = self.id_token(app, user["user_id"], row["phone"], auth_time=row["auth_time"])
        tokens = {"access_token": access, "id_token": id_token, "token_type": "Bearer",
                  "expires_in": self.settings.access_token_ttl, "scope": USER_SCOPE}
        return CodeGrant(tokens, row["correlation"], user["user_id"], created)

    def id_token(self, app: LoginApp, user_id: str, phone: str, *, auth_time: float) -> str:
        iat = int(self.clock.now())
        claims = {
            "iss": self.issuer, "sub": user_id, "aud": app.client_id, "iat": iat,
            "exp": iat + self.settings.id_token_ttl, "auth_time": int(auth_time), "amr": ["sms"],
            "jti": uuid.uuid4().hex, "phone_number": phone, "phone_number_verified": True,
        }
        return self.keys.sign(claims)

    # -- access tokens -----------------------------------------------------------------------------
    def _new_token(self, kind: str, client_id: str, user_id: str | None, code_hash: str | None, scope: str,
                   ttl: int) -> str:
        now = self.clock.now()
        token = secrets.token_urlsafe(32)
        self.db.execute("DELETE FROM oidc_tokens WHERE expires_at < ?", (now - 86400,))
        self.db.insert("oidc_tokens", {
            "token_hash": self._hash(token, "oidc-token"), "token_id": "tok-" + uuid.uuid4().hex[:16],
            "kind": kind, "client_id": client_id, "user_id": user_id, "code_hash": code_hash, "scope": scope,
            "created_at": now, "expires_at": now + ttl, "revoked_at": None,
        })
        return token

    def bearer(self, token: str | None) -> AccessGrant:
        """The grant behind a bearer token, or `InvalidToken` (unknown, expired, revoked)."""
        row = self.db.get("oidc_tokens", token_hash=self._hash(token, "oidc-token")) if token else None
        if row is None or row["revoked_at"] is not None or self.clock.now() >= row["expires_at"]:
            raise InvalidToken("the access token is invalid, expired or revoked")
        return AccessGrant(row["token_id"], row["kind"], row["client_id"], row["user_id"], row["scope"] or "",
                           row["expires_at"])

    def client_grant(self, token: str | None) -> AccessGrant:
        """A client access token (client credentials), as the one-time login API requires."""
        grant = self.bearer(token)
        if grant.kind != CLIENT:
            raise InsufficientScope("this API needs a client access token (grant_type=client_credentials)")
        return grant

    def userinfo(self, token: str | None) -> dict:
        grant = self.bearer(token)
        if grant.kind != USER or not grant.user_id:
            raise InsufficientScope("userinfo needs a user access token (grant_type=authorization_code)")
        user = self.users.get(grant.user_id)
        if user is None:
            raise InvalidToken("the access token's user no longer exists")
        return {"sub": user["user_id"], "phone_number": user["phone"],
                "phone_number_verified": bool(user["phone_verified"])}

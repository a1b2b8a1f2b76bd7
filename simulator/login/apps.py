"""One-time-login apps (OIDC clients), as configured with `PUT /sandbox/apps/{clientId}`.

The `apps` table is written by the sandbox controls; this module reads it and holds the rules that
depend on an app: client authentication (constant time), the exact-match redirect URI allowlist,
public sign-ups and the app's OTP policy."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from d1sandbox.db import Database, loads

from ..otp import OtpPolicy
from .errors import InvalidClient, InvalidRequest

# Compared against when the client is unknown, so an unknown client id costs the same time as a
# wrong secret (no client enumeration by timing).
_DUMMY_SECRET = "x" * 32


@dataclass(frozen=True)
class LoginApp:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: tuple[str, ...]
    public_signups: bool
    otp: dict
    sender_id: str | None = None

    @property
    def otp_policy(self) -> OtpPolicy:
        return OtpPolicy.from_login_app(self.otp)

    def check_redirect_uri(self, redirect_uri: str) -> str:
        """Exact string match against the allowlist (no prefix, no normalisation: RFC 6749 §3.1.2.3
        and OAuth 2.0 Security BCP)."""
        if redirect_uri not in self.redirect_uris:
            raise InvalidRequest("redirect_uri is not an allowed redirect URI of this app",
                                 fields={"redirect_uri": ["not in the app's redirect URI allowlist"]})
        return redirect_uri

    def secret_matches(self, secret: str | None) -> bool:
        return hmac.compare_digest((secret or "").encode(), self.client_secret.encode())


class LoginApps:
    def __init__(self, db: Database):
        self.db = db

    def get(self, client_id: str | None) -> LoginApp | None:
        if not client_id:
            return None
        row = self.db.get("apps", client_id=client_id)
        if row is None:
            return None
        return LoginApp(client_id=row["client_id"], client_secret=row["client_secret"] or "", name=row["name"],
                        redirect_uris=tuple(loads(row["redirect_uris"], [])),
                        public_signups=bool(row["public_signups"]), otp=loads(row["otp_policy"], {}) or {},
                        sender_id=row.get("sender_id"))

    def authenticate(self, client_id: str | None, client_secret: str | None) -> LoginApp:
        """The app whose credentials these are, or `InvalidClient` — the same answer, in the same
        time, for an unknown client and a wrong secret."""
        app = self.get(client_id)
        expected = app.client_secret if app else _DUMMY_SECRET
        ok = hmac.compare_digest((client_secret or "").encode(), expected.encode())
        if app is None or not ok or not client_secret:
            raise InvalidClient()
        return app

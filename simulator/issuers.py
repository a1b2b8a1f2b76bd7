"""Issuers onboarded on the sandbox D1: credentials and configuration.

Configuration is parsed once per change and cached by version, so the hot path never re-reads or
re-validates it."""

from __future__ import annotations

import copy
import hmac
import secrets
import threading
from typing import Any

from d1sandbox import demo
from d1sandbox.clock import Clock
from d1sandbox.db import Database, loads
from d1sandbox.errors import NotFound

DEFAULT_TEMPLATES = {
    "en": {
        "sms": "{otp} is your {issuer} code for the card ending {last4}. It expires in {ttl_minutes} minutes. "
               "Never share it.",
        "email_subject": "Your {issuer} verification code",
        "email_body": "Hello,\n\nUse {otp} to confirm the card ending {last4}. The code expires in "
                      "{ttl_minutes} minutes.\nIf you did not ask for it, ignore this message.\n\n{issuer}",
    },
    "ja": {
        "sms": "{issuer}：末尾{last4}のカードの確認コードは{otp}です。"
               "有効期限は{ttl_minutes}分です。第三者に教えないでください。",
        "email_subject": "{issuer} 確認コードのお知らせ",
        "email_body": "末尾{last4}のカードの確認コードは {otp} です。\n有効期限は{ttl_minutes}分です。\n"
                      "お心当たりのない場合は、このメールを破棄してください。\n\n{issuer}",
    },
}

DEFAULT_OTP_POLICY = {
    "length": 6,
    "alphabet": "numeric",
    "ttl_seconds": 300,
    "max_attempts": 3,
    "max_resends": 3,
    "rate_limit_per_hour": 10,
}


def default_config(issuer_id: str, name: str, backend_url: str) -> dict:
    return {
        "name": name,
        "backend": {
            "url": backend_url,
            "auth": {
                "type": "oauth2",
                "token_path": "/oauth2/token",
                "client_id": demo.DEMO_OUTBOUND_CLIENT_ID,
                "client_secret": demo.DEMO_OUTBOUND_CLIENT_SECRET,
            },
        },
        "otp_delivery": "D1",
        "oob_enabled": True,
        "sender_id": "DemoBank",
        "default_locale": "en",
        "templates": copy.deepcopy(DEFAULT_TEMPLATES),
        "email": {"subdomain": demo.DEMO_EMAIL_SUBDOMAIN, "from_local_part": "no-reply"},
        "otp_policy": dict(DEFAULT_OTP_POLICY),
        "card_products": copy.deepcopy(demo.CARD_PRODUCTS),
        "acs": {"challenge_amount_threshold": None, "challenge_window_seconds": 600},
        "tsp": {},
    }


class IssuerRegistry:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock
        self._cache: dict[str, tuple[int, dict]] = {}
        self._lock = threading.Lock()

    def upsert(self, issuer_id: str, config: dict, *, client_id: str | None = None,
               client_secret: str | None = None) -> dict:
        with self.db.transaction():
            row = self.db.get("issuers", issuer_id=issuer_id)
            if row is None:
                self.db.insert("issuers", {
                    "issuer_id": issuer_id, "name": config.get("name", issuer_id),
                    "client_id": client_id or issuer_id,
                    "client_secret": client_secret or "sandbox-" + secrets.token_urlsafe(18),
                    "config": config, "version": 1, "updated_at": self.clock.now(),
                })
            else:
                values = {"name": config.get("name", row["name"]), "config": config,
                          "version": row["version"] + 1, "updated_at": self.clock.now()}
                if client_id:
                    values["client_id"] = client_id
                if client_secret:
                    values["client_secret"] = client_secret
                self.db.update("issuers", {"issuer_id": issuer_id}, values)
        return self.get(issuer_id)

    def exists(self, issuer_id: str) -> bool:
        return self.db.scalar("SELECT 1 FROM issuers WHERE issuer_id = ?", (issuer_id,)) is not None

    def get(self, issuer_id: str) -> dict:
        """Public view with credentials: {issuerId, client_id, client_secret, version, config}."""
        row = self.db.get("issuers", issuer_id=issuer_id)
        if row is None:
            raise NotFound(f"issuer {issuer_id!r} is not onboarded", fields={"issuerId": ["unknown issuer"]})
        return {"issuerId": row["issuer_id"], "name": row["name"], "client_id": row["client_id"],
                "client_secret": row["client_secret"], "version": row["version"], "config": loads(row["config"], {})}

    def config(self, issuer_id: str) -> dict:
        """The parsed configuration, cached until the issuer's version changes."""
        version = self.db.scalar("SELECT version FROM issuers WHERE issuer_id = ?", (issuer_id,))
        if version is None:
            raise NotFound(f"issuer {issuer_id!r} is not onboarded", fields={"issuerId": ["unknown issuer"]})
        cached = self._cache.get(issuer_id)
        if cached and cached[0] == version:
            return cached[1]
        config = self.get(issuer_id)["config"]
        with self._lock:
            self._cache[issuer_id] = (version, config)
        return config

    def list(self) -> list[dict]:
        rows = self.db.all("SELECT issuer_id FROM issuers ORDER BY issuer_id")
        return [self.get(row["issuer_id"]) for row in rows]

    def by_client_credentials(self, client_id: str, client_secret: str) -> str | None:
        """The issuer owning these D1 API credentials, compared in constant time."""
        row = self.db.one("SELECT issuer_id, client_secret FROM issuers WHERE client_id = ?", (client_id,))
        ok = hmac.compare_digest((row or {}).get("client_secret", "").encode(), client_secret.encode())
        return row["issuer_id"] if row and ok else None

    def forget_cache(self) -> None:
        with self._lock:
            self._cache.clear()


def deep_merge(base: dict, patch: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("templates",):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def public_config(view: dict) -> dict[str, Any]:
    """Issuer view for API answers: backend credentials masked."""
    out = copy.deepcopy(view)
    auth = out.get("config", {}).get("backend", {}).get("auth", {})
    if auth.get("client_secret"):
        auth["client_secret"] = "***"
    return out

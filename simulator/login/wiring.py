"""Builds the login domain's objects once per runtime (`rt.services["login"]`, `rt.services["oidc"]`)."""

from __future__ import annotations

from pathlib import Path

from ..otp import engine_for
from ..runtime import Runtime
from .apps import LoginApps
from .delivery import messaging_sender
from .keys import SigningKeys
from .oidc import OidcProvider, OidcSettings
from .service import LoginSettings, OneTimeLogin
from .users import Users


def install(rt: Runtime) -> OneTimeLogin:
    """Idempotent: both blueprints call it from their `init(rt)`."""
    if "login" in rt.services:
        return rt.services["login"]
    cfg = rt.config
    key_path = cfg.get("OIDC_SIGNING_KEY_FILE") or Path(cfg["DATA_DIR"]) / "oidc-signing-key.pem"
    keys = SigningKeys(key_path, pem=cfg.get("OIDC_SIGNING_KEY"))
    users = Users(rt.db, rt.clock)
    apps = LoginApps(rt.db)
    provider = OidcProvider(rt.db, rt.clock, keys, rt.public_url, rt.keyed_hash, users,
                            OidcSettings.from_config(cfg))
    login = OneTimeLogin(db=rt.db, clock=rt.clock, journal=rt.journal, apps=apps, users=users, provider=provider,
                         otp=engine_for(rt), send_sms=messaging_sender(rt),
                         public_url=rt.public_url, hasher=rt.keyed_hash, settings=LoginSettings.from_config(cfg))
    rt.services["oidc"] = provider
    rt.services["login"] = login
    return login

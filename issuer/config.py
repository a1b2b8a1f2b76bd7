"""Issuer backend configuration: explicit, with defaults, read once by the app factory."""

from __future__ import annotations

from pathlib import Path

from d1sandbox import demo

DEFAULTS = {
    "DATA_DIR": "var/issuer",
    "PUBLIC_URL": "http://127.0.0.1:8001",
    "ISSUER_ID": demo.DEMO_ISSUER_ID,
    # The D1 platform this bank talks to, and its D1 API credentials.
    "D1_URL": "http://127.0.0.1:8000",
    "D1_CLIENT_ID": demo.DEMO_D1_CLIENT_ID,
    "D1_CLIENT_SECRET": demo.DEMO_D1_CLIENT_SECRET,
    # Credentials this backend accepts from D1 for D1's outbound calls (its own /oauth2/token).
    "INBOUND_CLIENT_ID": demo.DEMO_OUTBOUND_CLIENT_ID,
    "INBOUND_CLIENT_SECRET": demo.DEMO_OUTBOUND_CLIENT_SECRET,
    "REQUIRE_INBOUND_AUTH": True,
    # {base_url: wsgi_app}: peers called in-process instead of over the network (tests).
    "TRANSPORTS": {},
    "SEED_DEMO": True,
    "OUTBOUND_TIMEOUT": 5.0,
    "OUTBOUND_RETRIES": 1,
}


def resolve(config: dict | None) -> dict:
    merged = dict(DEFAULTS)
    merged.update(config or {})
    if merged.get("DATABASE") is None:
        merged["DATABASE"] = str(Path(merged["DATA_DIR"]) / "issuer.db")
    return merged

"""Simulator configuration: explicit, with defaults, read once by the app factory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULTS = {
    "DATA_DIR": "var/simulator",
    # Base URL the simulator is reachable at; used to build absolute acsURL/result URIs.
    "PUBLIC_URL": "http://127.0.0.1:8000",
    # Where the demo issuer's backend lives (the reference issuer by default).
    "ISSUER_URL": "http://127.0.0.1:8001",
    # {base_url: wsgi_app}: peers called in-process instead of over the network (tests).
    "TRANSPORTS": {},
    "SEED_DEMO": True,
    "OUTBOX_WORKER": False,  # `d1sandbox up` turns it on; tests drain the outbox explicitly
    "OUTBOUND_TIMEOUT": 5.0,
    "OUTBOUND_RETRIES": 1,
    "SERVER_SECRET": None,  # HMAC key for OTPs and PAN references; generated into DATA_DIR when absent
}


def resolve(config: dict | None) -> dict:
    merged = dict(DEFAULTS)
    merged.update(config or {})
    if merged.get("DATABASE") is None:
        merged["DATABASE"] = str(Path(merged["DATA_DIR"]) / "simulator.db")
    if not merged.get("SERVER_SECRET"):
        merged["SERVER_SECRET"] = _load_or_create_secret(Path(merged["DATA_DIR"]))
    return merged


def _load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / "server-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value

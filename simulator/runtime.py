"""The simulator's object graph, built once by the app factory and reached through `current()`.

No module-level state: two simulator apps in one process (tests) have two runtimes."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import current_app

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.faults import Faults
from d1sandbox.journal import Journal
from d1sandbox.outbox import Outbox

from .issuer_link import IssuerLink
from .issuers import IssuerRegistry

EXTENSION = "d1sandbox.simulator"


@dataclass
class Runtime:
    config: dict
    db: Database
    clock: Clock
    journal: Journal
    outbox: Outbox
    faults: Faults
    issuers: IssuerRegistry
    issuer_link: IssuerLink
    http: requests.Session
    secret: bytes
    # Domain services register themselves here by name (e.g. "cards", "acs", "otp").
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def public_url(self) -> str:
        return self.config["PUBLIC_URL"].rstrip("/")

    def keyed_hash(self, value: str, purpose: str) -> str:
        """HMAC-SHA256 of a secret value (OTP, PAN) under the server secret, per purpose."""
        return hmac.new(self.secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def pan_ref(self, pan: str) -> str:
        return self.keyed_hash(pan, "pan")


def current() -> Runtime:
    return current_app.extensions[EXTENSION]

"""The issuer backend's object graph, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from flask import current_app

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.journal import Journal
from d1sandbox.outbound import OutboundClient

EXTENSION = "d1sandbox.issuer"


@dataclass
class Runtime:
    config: dict
    db: Database
    clock: Clock
    journal: Journal
    d1: OutboundClient  # the bank's one client to D1 (OAuth2 client credentials, retries, journal)
    http: requests.Session
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def issuer_id(self) -> str:
        return self.config["ISSUER_ID"]


def current() -> Runtime:
    return current_app.extensions[EXTENSION]

"""D1's one outbound client to issuer backends.

Every call D1 makes to an issuer (consumer info, DeliverOTP, authenticate, authentication result,
notifications) goes through `IssuerLink.client(issuer_id)`: timeouts, retries, the issuer's OAuth2
token (when the issuer enabled OAuth2 for outbound calls), journaling and sandbox faults included.
Clients are cached per issuer configuration version, with one pooled HTTP session."""

from __future__ import annotations

import threading

import requests

from d1sandbox.clock import Clock
from d1sandbox.faults import Faults
from d1sandbox.journal import Journal
from d1sandbox.outbound import ClientCredentialsToken, OutboundClient

from .issuers import IssuerRegistry

D1 = "D1"
ISSUER = "Issuer backend"


class IssuerLink:
    def __init__(self, registry: IssuerRegistry, journal: Journal, faults: Faults, clock: Clock,
                 session: requests.Session, *, timeout: float, retries: int, sleep=None):
        self.registry = registry
        self.journal = journal
        self.faults = faults
        self.clock = clock
        self.session = session
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep
        self._clients: dict[tuple[str, int], OutboundClient] = {}
        self._lock = threading.Lock()

    def client(self, issuer_id: str, *, base_url: str | None = None) -> OutboundClient:
        """The client for this issuer's backend (or for `base_url`, e.g. a rehearsal target)."""
        config = self.registry.config(issuer_id)
        version = self.registry.db.scalar("SELECT version FROM issuers WHERE issuer_id = ?", (issuer_id,)) or 0
        key = (issuer_id if base_url is None else f"{issuer_id}@{base_url}", version)
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None:
                return cached
        backend = config.get("backend", {})
        url = (base_url or backend.get("url", "")).rstrip("/")
        auth = backend.get("auth") or {}
        token = None
        if auth.get("type") == "oauth2":
            token = ClientCredentialsToken(
                url + auth.get("token_path", "/oauth2/token"), auth.get("client_id", ""),
                auth.get("client_secret", ""), session=self.session, clock=self.clock,
                timeout=self.timeout, journal_hook=self._token_journal(url),
            )
        kwargs = {"sleep": self.sleep} if self.sleep else {}
        client = OutboundClient(
            url, source=D1, target=ISSUER, clock=self.clock, session=self.session,
            journal=self._journal, token=token, fault_hook=self.faults.hook("issuer", issuer_id),
            timeout=self.timeout, retries=self.retries, **kwargs,
        )
        with self._lock:
            self._clients[key] = client
        return client

    def _journal(self, correlation, source, target, label, body, **kw):
        self.journal.record(correlation, source, target, label, body, **kw)

    def _token_journal(self, url: str):
        def hook(status, body):
            self.journal.record("oauth2-outbound", ISSUER, D1, "POST /oauth2/token", body, kind="response",
                                method="POST", path="/oauth2/token", status=status)
        return hook

    def forget(self) -> None:
        with self._lock:
            self._clients.clear()

"""The outbound HTTP client: one class, used for every call one service makes to the other
(D1 → issuer backend, issuer backend → D1, DS → 3DS Server).

It owns what every such call needs: timeouts, retries with exponential backoff, an OAuth2
client-credentials token cache, journaling of request and answer (redacted), and a fault-injection
hook the sandbox uses to make chosen calls fail, hang or slow down."""

from __future__ import annotations

import json as jsonlib
import logging
import os
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter

from .clock import Clock
from .redact import redact

log = logging.getLogger("d1sandbox.outbound")


@dataclass
class Fault:
    """What the fault hook asks the client to do to one call."""

    status: int | None = None  # answer with this HTTP status instead of calling
    delay_ms: int = 0  # wait before calling (counts against the timeout)
    timeout: bool = False  # behave as if the peer never answered
    body: Any = None  # body of the injected answer
    description: str = "injected fault"


@dataclass
class OutboundResult:
    status: int | None
    body: Any = None
    headers: dict = field(default_factory=dict)
    error: str | None = None  # "timeout", "connection", "injected-timeout", …
    elapsed_ms: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Worth sending again later: no answer, a server error, or "not now" (408, 425, 429). Any
        other 4xx says the message itself was refused."""
        return (self.error is not None or self.status is None or self.status >= 500
                or self.status in (408, 425, 429))

    def describe(self) -> str:
        if self.error:
            return self.error
        return f"HTTP {self.status}"


class TokenError(Exception):
    pass


class ClientCredentialsToken:
    """OAuth2 client-credentials tokens, cached until shortly before they expire."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, session: requests.Session,
                 clock: Clock, scope: str | None = None, timeout: float = 5.0, journal_hook=None):
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.session = session
        self.clock = clock
        self.timeout = timeout
        self.journal_hook = journal_hook
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.fetch_count = 0

    def get(self) -> str:
        with self._lock:
            if self._token and self.clock.now() < self._expires_at - 30:
                return self._token
            data = {"grant_type": "client_credentials"}
            if self.scope:
                data["scope"] = self.scope
            try:
                resp = self.session.post(self.token_url, data=data, auth=(self.client_id, self.client_secret),
                                         timeout=self.timeout)
            except requests.RequestException as exc:
                raise TokenError(f"token endpoint unreachable: {type(exc).__name__}") from None
            body = _json_or_text(resp)
            if self.journal_hook:
                self.journal_hook(resp.status_code, body)
            if resp.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
                raise TokenError(f"token endpoint answered HTTP {resp.status_code}")
            # The peer may be a backend under rehearsal: a malformed answer is its error, not our crash.
            access_token, expires_in = body["access_token"], body.get("expires_in", 300)
            if not isinstance(access_token, str) or not access_token:
                raise TokenError("token endpoint answered without a usable access_token")
            if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float, str)):
                raise TokenError("token endpoint answered an expires_in that is not a number")
            try:
                lifetime = float(expires_in)
            except ValueError:
                raise TokenError("token endpoint answered an expires_in that is not a number") from None
            self.fetch_count += 1
            self._token = access_token
            self._expires_at = self.clock.now() + lifetime
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
            self._expires_at = 0.0


FaultHook = Callable[[str], "Fault | None"]
Journaler = Callable[..., None]


class OutboundClient:
    def __init__(
        self,
        base_url: str,
        *,
        source: str,
        target: str,
        clock: Clock,
        session: requests.Session | None = None,
        journal: Journaler | None = None,
        token: ClientCredentialsToken | None = None,
        fault_hook: FaultHook | None = None,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.target = target
        self.clock = clock
        self.session = session or pooled_session()
        self.journal = journal
        self.token = token
        self.fault_hook = fault_hook
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    def call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any = None,
        params: dict | None = None,
        correlation: str | None = None,
        label: str | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        secrets: tuple[str, ...] = (),
    ) -> OutboundResult:
        """Make one logical call (with retries). Never raises for network trouble: the result says."""
        url = self.base_url + path
        label = label or operation
        attempts_allowed = 1 + (self.retries if retries is None else retries)
        timeout = self.timeout if timeout is None else timeout
        result = OutboundResult(status=None, error="not-attempted")
        for attempt in range(1, attempts_allowed + 1):
            self._journal(correlation, self.source, self.target, label, json, kind="request", method=method,
                          path=path, secrets=secrets)
            result = self._attempt(method, url, operation, json, params, timeout, correlation)
            result.attempts = attempt
            self._journal(correlation, self.target, self.source, label,
                          result.body if result.error is None else {"error": result.error},
                          kind="response", method=method, path=path, status=result.status, secrets=secrets)
            if not _retryable(result) or attempt == attempts_allowed:
                break
            self.sleep(self.backoff * (2 ** (attempt - 1)))
        return result

    def _attempt(self, method, url, operation, json, params, timeout, correlation=None) -> OutboundResult:
        started = time.perf_counter()
        fault = self.fault_hook(operation) if self.fault_hook else None
        if fault is not None:
            if fault.delay_ms:
                wait = fault.delay_ms / 1000.0
                if wait >= timeout:
                    self.sleep(timeout)
                    return OutboundResult(None, error="timeout", elapsed_ms=_ms(started))
                self.sleep(wait)
            if fault.timeout:
                return OutboundResult(None, error="timeout", elapsed_ms=_ms(started))
            if fault.status is not None:
                body = fault.body if fault.body is not None else {"error": "injected", "message": fault.description}
                return OutboundResult(fault.status, body=body, elapsed_ms=_ms(started))
        headers = {"Accept": "application/json"}
        correlation_id = _header_value(correlation) if correlation else None
        if correlation_id:
            # Lets the peer tie its own logs to ours (docs/wire-contract.md).
            headers["X-Correlation-ID"] = correlation_id
        for retry_auth in (False, True):
            if self.token is not None:
                try:
                    headers["Authorization"] = f"Bearer {self.token.get()}"
                except TokenError as exc:
                    return OutboundResult(None, error=f"oauth2: {exc}", elapsed_ms=_ms(started))
            try:
                resp = self.session.request(method, url, json=json, params=params, headers=headers, timeout=timeout)
            except requests.Timeout:
                return OutboundResult(None, error="timeout", elapsed_ms=_ms(started))
            except requests.RequestException as exc:
                return OutboundResult(None, error=f"connection: {type(exc).__name__}", elapsed_ms=_ms(started))
            if resp.status_code == 401 and self.token is not None and not retry_auth:
                self.token.invalidate()  # the peer may have rotated keys or dropped our token
                continue
            break
        return OutboundResult(resp.status_code, body=_json_or_text(resp), headers=dict(resp.headers),
                              elapsed_ms=_ms(started))

    def _journal(self, correlation, source, target, label, body, **kw):
        if self.journal is not None:
            try:
                self.journal(correlation, source, target, label, body, **kw)
            except Exception:  # the journal must never break a flow
                log.exception("journal write failed for %s", label)


def _header_value(value: Any) -> str:
    """`value` as an HTTP header allows it. A correlation often comes from outside (a transactionId in
    a request body): leading blanks or a line break made requests refuse the whole call, and a
    non-Latin-1 character breaks http.client, so only visible ASCII is kept."""
    return "".join(ch for ch in str(value) if " " <= ch <= "~").strip()[:200]


def _retryable(result: OutboundResult) -> bool:
    if result.error is not None:
        return not result.error.startswith("oauth2")
    return result.status in (429, 502, 503, 504)


def _json_or_text(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the interpreter recurses
        return {"_text": resp.text[:500]}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def pooled_session(pool_size: int = 16) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if not _proxies_or_netrc():
        # With trust_env requests re-reads the proxy variables and looks for a ~/.netrc on EVERY call
        # (~15 % of an outbound call's CPU). Without proxies or a netrc the environment can only name a
        # CA bundle: read that once here, exactly as requests would, and skip the per-call look-ups.
        session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    return session


def _proxies_or_netrc() -> bool:
    if urllib.request.getproxies() or os.environ.get("NETRC"):
        return True
    home = Path.home()
    return (home / ".netrc").exists() or (home / "_netrc").exists()


def dumps(value: Any) -> str:
    return jsonlib.dumps(redact(value), default=str)

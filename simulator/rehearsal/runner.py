"""Runs the rehearsal plan against one issuer backend, through D1's outbound client.

The `Probe` builds `OutboundClient`s exactly as `IssuerLink.client()` does — the same pooled session
(so in-process transports work in tests), the same clock and the same journal — but pointed at the
backend under test, with no retries (the evidence must show what the backend itself answered) and
with the authentication variant each case needs. Every call is journaled under the rehearsal's own
transaction id, so `GET /sandbox/journal/{transaction}/diagram` draws the whole rehearsal."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from d1sandbox import demo
from d1sandbox.clock import Clock
from d1sandbox.journal import Journal
from d1sandbox.outbound import ClientCredentialsToken, OutboundClient, TokenError

from ..issuer_link import D1, ISSUER
from .checks import Exchange
from .plan import PLAN, Case

DEFAULT_CONSUMER = "consumer-0002"  # the demo consumer with phone, email and an enrolled issuer app
DEFAULT_CARD = "card-0002"
DEFAULT_APP_INSTANCE = "app-0002"
DEFAULT_BUDGET_MS = 3000.0
DEFAULT_TIMEOUT_S = 10.0
# A backend that hangs would otherwise cost (calls x timeout) minutes: after this many timeouts in a
# row the remaining calls are not made and say so.
GIVE_UP_AFTER_TIMEOUTS = 3


@dataclass
class Target:
    """The backend under test and the identities D1 uses with it."""

    issuer_url: str
    issuer_id: str = demo.DEMO_ISSUER_ID
    consumer_id: str = DEFAULT_CONSUMER
    card_id: str = DEFAULT_CARD
    app_instance_id: str = DEFAULT_APP_INSTANCE
    oauth2: bool = True
    client_id: str = demo.DEMO_OUTBOUND_CLIENT_ID
    client_secret: str = field(default=demo.DEMO_OUTBOUND_CLIENT_SECRET, repr=False)
    token_path: str = "/oauth2/token"
    budget_ms: float = DEFAULT_BUDGET_MS
    timeout_s: float = DEFAULT_TIMEOUT_S

    def public(self) -> dict:
        """What a report may show: everything but the secret."""
        view = asdict(self)
        view.pop("client_secret")
        return {"issuerUrl": view["issuer_url"], "issuerId": view["issuer_id"], "consumerId": view["consumer_id"],
                "cardId": view["card_id"], "appInstanceId": view["app_instance_id"], "oauth2": view["oauth2"],
                "clientId": view["client_id"] if self.oauth2 else None, "tokenPath": view["token_path"],
                "latencyBudgetMs": view["budget_ms"], "timeoutSeconds": view["timeout_s"]}


def resolve_target(params: dict, issuer_config: dict | None) -> Target:
    """Fill what the caller left out from the issuer's onboarding configuration (when D1 knows the
    issuer), else from the demo issuer's sandbox credentials."""
    backend = (issuer_config or {}).get("backend", {})
    auth = backend.get("auth") or {}
    url = params.get("issuer_url") or backend.get("url")
    if not url:
        raise ValueError("issuerUrl is required (the issuer is not onboarded with a backend URL)")
    configured_oauth2 = auth.get("type", "oauth2") != "none" if issuer_config else True
    oauth2 = params.get("oauth2")
    return Target(
        issuer_url=url.rstrip("/"),
        issuer_id=params.get("issuer_id") or demo.DEMO_ISSUER_ID,
        consumer_id=params.get("consumer_id") or DEFAULT_CONSUMER,
        card_id=params.get("card_id") or DEFAULT_CARD,
        app_instance_id=params.get("app_instance_id") or DEFAULT_APP_INSTANCE,
        oauth2=configured_oauth2 if oauth2 is None else bool(oauth2),
        client_id=params.get("client_id") or auth.get("client_id") or demo.DEMO_OUTBOUND_CLIENT_ID,
        client_secret=params.get("client_secret") or auth.get("client_secret") or demo.DEMO_OUTBOUND_CLIENT_SECRET,
        token_path=params.get("token_path") or auth.get("token_path") or "/oauth2/token",
        budget_ms=float(params.get("budget_ms") or DEFAULT_BUDGET_MS),
        timeout_s=float(params.get("timeout_s") or DEFAULT_TIMEOUT_S),
    )


class StaticToken:
    """A token source that always offers the same (forged) value: the outbound client's token slot."""

    def __init__(self, value: str):
        self.value = value

    def get(self) -> str:
        return self.value

    def invalidate(self) -> None:
        pass


class Probe:
    """D1's outbound client pointed at the backend under test, one authentication mode per call."""

    def __init__(self, target: Target, *, session: requests.Session, clock: Clock, journal: Journal,
                 correlation: str):
        self.target = target
        self.session = session
        self.clock = clock
        self.journal = journal
        self.correlation = correlation
        self.state: dict[str, Any] = {}
        self.unknown_consumer = f"consumer-unknown-{uuid.uuid4().hex[:10]}"
        self.case_id = ""
        self.timeouts_in_a_row = 0
        self._sent_secrets: list[str] = [target.client_secret]
        self._captured: list[tuple[int, Any]] = []
        self.token = self._token_source(target.client_secret) if target.oauth2 else None
        self._clients: dict[str, OutboundClient] = {}

    # -- identities and time ----------------------------------------------------------------
    def now(self) -> str:
        return self.clock.isoformat()

    def later(self, seconds: float) -> str:
        return self.clock.isoformat(self.clock.now() + seconds)

    def new_otp(self) -> str:
        otp = f"{secrets.randbelow(10**6):06d}"
        self._sent_secrets.append(otp)
        return otp

    def new_transaction(self) -> str:
        """A transactionId for one call; an alias of the rehearsal's journal transaction, so what the
        backend journals under it (e.g. the reference issuer's SMS gateway) joins the diagram."""
        transaction_id = f"rehearsal-{uuid.uuid4()}"
        self.journal.link(self.correlation, transaction_id)
        return transaction_id

    def consumer_path(self, suffix: str = "", *, consumer_id: str | None = None) -> str:
        return (f"/banking/d1/v1/issuers/{quote(self.target.issuer_id, safe='')}/consumers/"
                f"{quote(consumer_id or self.target.consumer_id, safe='')}{suffix}")

    def card_notification_path(self) -> str:
        return (f"/notifications/d1/v1/issuers/{quote(self.target.issuer_id, safe='')}/cards/"
                f"{quote(self.target.card_id, safe='')}/3ds/notifications")

    # -- calls ----------------------------------------------------------------------------------
    def call(self, step: str, operation: str, method: str, path: str, *, body: Any = None, auth: str = "token",
             token: str | None = None) -> Exchange:
        if self.timeouts_in_a_row >= GIVE_UP_AFTER_TIMEOUTS:
            return Exchange(step=step, operation=operation, method=method, path=path, auth=auth, request=body,
                            error=f"not sent: the backend stopped answering ({self.timeouts_in_a_row} timeouts "
                                  f"in a row)", secrets=self.secrets())
        client = self._client(auth, token)
        result = client.call(method, path, operation=operation, json=body, correlation=self.correlation,
                             label=f"{self.case_id} {step}", retries=0, secrets=self.secrets())
        self._count_timeout(result.error)
        auth_used = auth if auth != "token" or self.target.oauth2 else "none"
        headers = {k.lower(): v for k, v in (result.headers or {}).items()}
        return Exchange(step=step, operation=operation, method=method, path=path, auth=auth_used, request=body,
                        status=result.status, body=result.body, content_type=headers.get("content-type"),
                        elapsed_ms=result.elapsed_ms, error=result.error, secrets=self.secrets())

    def token_request(self, step: str, *, wrong_secret: bool = False) -> Exchange:
        """One request to the token endpoint (the client-credentials grant D1 uses), observed."""
        auth = "basic-wrong-secret" if wrong_secret else "basic"
        request = {"grant_type": "client_credentials", "client_id": self.target.client_id,
                   "client_secret": "(HTTP Basic)"}
        if self.timeouts_in_a_row >= GIVE_UP_AFTER_TIMEOUTS:
            return Exchange(step=step, operation="token", method="POST", path=self.target.token_path, auth=auth,
                            request=request, error=f"not sent: the backend stopped answering "
                                                   f"({self.timeouts_in_a_row} timeouts in a row)")
        secret = "wrong-" + secrets.token_urlsafe(12) if wrong_secret else self.target.client_secret
        source = self._token_source(secret) if wrong_secret else self.token
        self._sent_secrets.append(secret)
        self._captured.clear()
        self.journal.record(self.correlation, D1, ISSUER, f"{self.case_id} {step}",
                            {"grant_type": "client_credentials", "client_id": self.target.client_id},
                            kind="request", method="POST", path=self.target.token_path)
        started = time.perf_counter()
        error = None
        if not wrong_secret:
            source.invalidate()  # observe a real token request even if a call already fetched one
        try:
            source.get()
        except TokenError as exc:
            error = None if self._captured else str(exc)
            if error:
                self.journal.record(self.correlation, ISSUER, D1, f"{self.case_id} token", {"error": error},
                                    kind="response", method="POST", path=self.target.token_path)
        self._count_timeout(error)
        elapsed = (time.perf_counter() - started) * 1000
        status, body = self._captured[-1] if self._captured else (None, None)
        if body is not None and isinstance(body, dict) and isinstance(body.get("access_token"), str):
            self._sent_secrets.append(body["access_token"])
        return Exchange(step=step, operation="token", method="POST", path=self.target.token_path, auth=auth,
                        request=request, status=status, body=body, content_type=None, elapsed_ms=elapsed, error=error,
                        secrets=self.secrets())

    def _count_timeout(self, error: str | None) -> None:
        timed_out = error is not None and (error == "timeout" or "Timeout" in error)
        self.timeouts_in_a_row = self.timeouts_in_a_row + 1 if timed_out else 0

    def secrets(self) -> tuple[str, ...]:
        # Literal values masked wherever they appear; very short ones would mask ordinary text instead
        # (the key-based redaction still hides them in their own fields).
        return tuple(dict.fromkeys(s for s in self._sent_secrets if s and len(s) >= 6))

    # -- plumbing -------------------------------------------------------------------------------
    def _token_source(self, secret: str) -> ClientCredentialsToken:
        def hook(status, body):
            self._captured.append((status, body))
            self.journal.record(self.correlation, ISSUER, D1, f"{self.case_id} token", body, kind="response",
                                method="POST", path=self.target.token_path, status=status)
        return ClientCredentialsToken(self.target.issuer_url + self.target.token_path, self.target.client_id,
                                      secret, session=self.session, clock=self.clock,
                                      timeout=self.target.timeout_s, journal_hook=hook)

    def _client(self, auth: str, token: str | None) -> OutboundClient:
        if auth == "forged-token":
            source = StaticToken(token or "forged-" + secrets.token_urlsafe(24))
        elif auth == "none":
            source = None
        else:
            source = self.token
        key = f"{auth}:{token or ''}"
        if key not in self._clients:
            self._clients[key] = OutboundClient(
                self.target.issuer_url, source=D1, target=ISSUER, clock=self.clock, session=self.session,
                journal=self.journal.record, token=source, timeout=self.target.timeout_s, retries=0)
        return self._clients[key]


def run_plan(target: Target, *, session: requests.Session, clock: Clock, journal: Journal,
             plan: list[Case] | None = None, rehearsal_id: str | None = None) -> dict:
    """Run every case in order and return the report (a JSON-ready dict)."""
    rehearsal_id = rehearsal_id or f"rh-{uuid.uuid4().hex[:16]}"
    correlation = f"rehearsal-{rehearsal_id}"
    probe = Probe(target, session=session, clock=clock, journal=journal, correlation=correlation)
    started_at = clock.isoformat()
    started = time.perf_counter()
    everything: list[Exchange] = []
    cases = []
    for case in plan or PLAN:
        probe.case_id = case.id
        case_started = time.perf_counter()
        if case.needs_oauth2 and not target.oauth2:
            cases.append(_case_result(case, "skipped", ["OAuth2 for outbound calls is off for this backend"], [],
                                      0.0))
            continue
        exchanges = case.perform(probe)
        everything += exchanges
        judged = everything if case.over_whole_run else exchanges
        problems = case.judge(judged, target, probe.state)
        cases.append(_case_result(case, "failed" if problems else "passed", problems,
                                  [] if case.over_whole_run else exchanges, time.perf_counter() - case_started,
                                  slowest=max(everything, key=lambda ex: ex.elapsed_ms, default=None)
                                  if case.over_whole_run else None))
    summary = {status: sum(1 for c in cases if c["status"] == status) for status in ("passed", "failed", "skipped")}
    return {
        "id": rehearsal_id,
        "transaction": correlation,
        "target": target.public(),
        "startedAt": started_at,
        "seconds": round(time.perf_counter() - started, 3),
        "passed": summary["failed"] == 0,
        "summary": {"total": len(cases), **summary},
        "cases": cases,
    }


def _case_result(case: Case, status: str, problems: list[str], exchanges: list[Exchange], seconds: float,
                 slowest: Exchange | None = None) -> dict:
    per_exchange = getattr(case.judge, "per_exchange", None)
    evidence = []
    for ex in exchanges:
        item = ex.evidence()
        # Which exchange a problem came from, when the case judges each one on its own.
        item["ok"] = not per_exchange(ex) if per_exchange else status != "failed"
        evidence.append(item)
    if slowest is not None:
        # The latency case shows the slowest call as its evidence.
        evidence = [{**slowest.evidence(), "ok": status != "failed"}]
    return {"id": case.id, "group": case.group, "title": case.title, "why": case.why, "status": status,
            "problems": problems, "seconds": round(seconds, 3), "exchanges": evidence}

"""Notifications D1 owes issuer backends, delivered through the durable outbox.

Any domain that must tell an issuer something (an authenticator enrolled or deleted, a token event, a
3DS outcome) calls one of the two `enqueue_*` functions INSIDE the transaction that makes the state
change, so the notification exists if and only if the change does. The outbox worker then POSTs it
through `rt.issuer_link` (the issuer's OAuth2 token, journal and sandbox faults included) and retries
with backoff until the issuer answers 2xx.

Wire shapes: docs/wire-contract.md ("Consumer notifications", "3DS notification")."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from d1sandbox.outbox import GiveUp, RetryLater

KIND_CONSUMER = "issuer.consumer-notification"
KIND_3DS = "issuer.3ds-notification"

# Operation names used for /sandbox/faults and the journal (docs/wire-contract.md).
OPERATION_CONSUMER = "notifications"
OPERATION_3DS = "3ds-notification"

CONSUMER_EVENTS = frozenset({
    "AUTHENTICATOR_ENROLLED", "AUTHENTICATOR_DELETED", "TOKEN_CREATED", "TOKEN_ACTIVATED", "TOKEN_SUSPENDED",
    "TOKEN_RESUMED", "TOKEN_DELETED", "TOKEN_DECLINED",
})
# Optional fields a consumer notification may carry, by their wire (camelCase) name.
CONSUMER_EVENT_FIELDS = frozenset({"appInstanceId", "cardId", "tokenRefId", "tokenRequestorId"})


def consumer_path(issuer_id: str, consumer_id: str) -> str:
    return f"/banking/d1/v1/issuers/{quote(issuer_id, safe='')}/consumers/{quote(consumer_id, safe='')}/notifications"


def threeds_path(issuer_id: str, card_id: str) -> str:
    return f"/notifications/d1/v1/issuers/{quote(issuer_id, safe='')}/cards/{quote(card_id, safe='')}/3ds/notifications"


def enqueue_consumer_notification(rt, issuer_id: str, consumer_id: str, event: str | dict, *,
                                  correlation: str | None = None, **fields: Any) -> int:
    """Queue `POST …/consumers/{consumerId}/notifications`. Call inside the caller's transaction.

    `event` is the eventType (e.g. "AUTHENTICATOR_ENROLLED") or a whole body with `eventType`; extra
    wire fields (`appInstanceId`, `cardId`, `tokenRefId`, `tokenRequestorId`) come as keywords.
    `eventId` and `timestamp` are filled in when absent. Returns the outbox row id."""
    body = dict(event) if isinstance(event, dict) else {"eventType": event}
    body.update({k: v for k, v in fields.items() if v is not None})
    if body.get("eventType") not in CONSUMER_EVENTS:
        raise ValueError(f"unknown consumer eventType {body.get('eventType')!r}")
    unknown = set(body) - CONSUMER_EVENT_FIELDS - {"eventType", "eventId", "timestamp"}
    if unknown:
        raise ValueError(f"consumer notification fields not in the wire contract: {sorted(unknown)}")
    body.setdefault("eventId", "evt-" + uuid.uuid4().hex)
    body.setdefault("timestamp", rt.clock.isoformat())
    payload = {"issuerId": issuer_id, "consumerId": consumer_id, "body": body}
    return rt.outbox.enqueue(KIND_CONSUMER, payload, correlation=correlation or body["eventId"])


def enqueue_3ds_notification(rt, issuer_id: str, card_id: str, body: dict, *, correlation: str | None = None) -> int:
    """Queue `POST /notifications/d1/v1/issuers/{issuerId}/cards/{cardId}/3ds/notifications`.

    Call inside the transaction that records the 3DS outcome. `body` is the wire body of the contract
    (operationId, the transaction IDs, transStatus, …); `timestamp` is filled in when absent. The journal
    files the delivery under `correlation`, by default the body's threeDSServerTransID (or operationId),
    so it shows up with the rest of the transaction."""
    body = dict(body)
    body.setdefault("timestamp", rt.clock.isoformat())
    correlation = correlation or body.get("threeDSServerTransID") or body.get("operationId")
    payload = {"issuerId": issuer_id, "cardId": card_id, "body": body}
    return rt.outbox.enqueue(KIND_3DS, payload, correlation=correlation)


def register_handlers(rt) -> None:
    """Teach the outbox how to deliver both kinds (called once by the app factory)."""

    def deliver_consumer(payload: dict, row: dict) -> None:
        path = consumer_path(payload["issuerId"], payload["consumerId"])
        _post(rt, payload["issuerId"], path, OPERATION_CONSUMER, payload["body"], row.get("correlation"))

    def deliver_3ds(payload: dict, row: dict) -> None:
        path = threeds_path(payload["issuerId"], payload["cardId"])
        _post(rt, payload["issuerId"], path, OPERATION_3DS, payload["body"], row.get("correlation"))

    rt.outbox.register(KIND_CONSUMER, deliver_consumer)
    rt.outbox.register(KIND_3DS, deliver_3ds)


def _post(rt, issuer_id: str, path: str, operation: str, body: dict, correlation: str | None) -> None:
    # No inline retries: the outbox owns retrying, with backoff that survives restarts.
    result = rt.issuer_link.client(issuer_id).call("POST", path, operation=operation, json=body,
                                                   correlation=correlation, retries=0)
    if not result.ok:
        problem = f"{operation} to issuer {issuer_id}: {result.describe()}"
        raise RetryLater(problem) if result.retryable else GiveUp(problem)

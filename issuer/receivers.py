"""Receivers of D1's outbound API (docs/wire-contract.md), exactly at the paths D1 calls.

Each authenticates D1 (bearer token from this backend's `/oauth2/token`, when REQUIRE_INBOUND_AUTH),
validates the body, answers the documented shape, and stores what D1 said (`GET /admin/notifications`).
Notifications are de-duplicated (D1's outbox retries, so the same one can arrive twice)."""

from __future__ import annotations

import uuid

from flask_smorest import Blueprint

from d1sandbox.errors import ApiError, NotFound
from d1sandbox.redact import redact

from . import schemas as s
from .auth import d1_auth_required, document_security
from .authentications import AuthenticationBook
from .gateway import EMAIL_SUBJECTS, render
from .gateway import build as build_gateway
from .runtime import current

blp = Blueprint("d1_receivers", __name__, description="Receivers of D1's outbound API (what D1 calls)")
document_security(blp)

BANKING = "/banking/d1/v1/issuers/<issuer_id>/consumers/<consumer_id>"


def init(rt) -> None:
    rt.services["authentications"] = AuthenticationBook(rt.db, rt.clock)
    rt.services["gateway"] = build_gateway(rt)


def _this_issuer(issuer_id: str) -> None:
    if issuer_id != current().issuer_id:
        raise NotFound(f"this backend serves issuer {current().issuer_id}, not {issuer_id}",
                       error="issuer_not_found", fields={"issuerId": ["not served here"]})


def _consumer(issuer_id: str, consumer_id: str) -> dict:
    _this_issuer(issuer_id)
    row = current().db.get("consumers", consumer_id=consumer_id)
    if row is None:
        raise NotFound(f"consumer {consumer_id} is unknown", error="consumer_not_found",
                       fields={"consumerId": ["unknown consumer"]})
    return row


def store_notification(kind: str, consumer_id: str | None, card_id: str | None, body: dict,
                       dedupe: tuple[str, str] | None = None) -> bool:
    """Keep what D1 told us; False when it is a repeat of one already kept (same id)."""
    rt = current()
    with rt.db.transaction():
        if dedupe is not None:
            path, value = dedupe
            seen = rt.db.scalar(f"SELECT 1 FROM notifications WHERE kind = ? AND json_extract(body, '{path}') = ?",
                                (kind, value))
            if seen:
                return False
        rt.db.insert("notifications", {"kind": kind, "consumer_id": consumer_id, "card_id": card_id, "body": body,
                                       "received_at": rt.clock.now()})
    return True


@blp.get(BANKING)
@d1_auth_required
@blp.response(200, s.ConsumerInfoSchema)
@blp.alt_response(404, description="consumer_not_found")
def get_consumer(issuer_id, consumer_id):
    """Get consumer information: the contact details D1 uses for OTP delivery."""
    row = _consumer(issuer_id, consumer_id)
    return {"consumerId": row["consumer_id"], "name": row["name"], "phoneNumber": row["phone"],
            "email": row["email"], "locale": row["locale"]}


@blp.post(BANKING + "/otp")
@d1_auth_required
@blp.arguments(s.DeliverOtpSchema)
@blp.response(202, s.DeliveryAnswerSchema)
@blp.alt_response(422, description="No phone/email on file for the channel")
@blp.alt_response(502, description="The bank's SMS/email gateway failed")
def deliver_otp(body, issuer_id, consumer_id):
    """DeliverOTP: send D1's OTP to the cardholder through the bank's own gateway, in the bank's words
    and under its sender ID. The OTP is never logged or stored."""
    rt = current()
    consumer = _consumer(issuer_id, consumer_id)
    otp = body["otp"]
    locale = body.get("locale") or consumer["locale"]
    text = render(body["purpose"], locale, otp, body.get("panLast4"), body.get("merchantName"), body.get("amount"),
                  body.get("currency"))
    gateway = rt.services["gateway"]
    if body["channel"] == "SMS":
        if not consumer["phone"]:
            raise ApiError("the consumer has no phone number on file", status=422, error="no_phone",
                           fields={"channel": ["no phone number on file for this consumer"]})
        sent = gateway.send_sms(consumer["phone"], text, correlation=body["transactionId"], secrets=(otp,))
    else:
        if not consumer["email"]:
            raise ApiError("the consumer has no email address on file", status=422, error="no_email",
                           fields={"channel": ["no email address on file for this consumer"]})
        subject = EMAIL_SUBJECTS.get((locale or "en")[:2], EMAIL_SUBJECTS["en"])
        sent = gateway.send_email(consumer["email"], subject, text, correlation=body["transactionId"], secrets=(otp,))
    if not sent.ok:
        raise ApiError(f"the bank's {body['channel']} gateway failed ({sent.detail})", status=502,
                       error="gateway_error")
    delivery_id = "dlv-" + uuid.uuid4().hex[:16]
    store_notification("otp", consumer_id, body.get("cardId"),
                       {**redact({k: v for k, v in body.items() if k != "otp"}), "otp": "***",
                        "deliveryId": delivery_id, "messageId": sent.message_id, "status": "SENT"})
    return {"deliveryId": delivery_id, "status": "SENT"}


@blp.post(BANKING + "/notifications")
@d1_auth_required
@blp.arguments(s.ConsumerNotificationSchema)
@blp.response(204)
def consumer_notification(body, issuer_id, consumer_id):
    """Notify consumer operation: authenticator enrolled/deleted, token events. The bank keeps its
    record of the consumer's app instance in step with D1."""
    rt = current()
    _consumer(issuer_id, consumer_id)
    with rt.db.transaction():
        fresh = store_notification("consumer", consumer_id, body.get("cardId"), body,
                                   dedupe=("$.eventId", body["eventId"]))
        if fresh and body["eventType"] == "AUTHENTICATOR_ENROLLED":
            rt.db.update("consumers", {"consumer_id": consumer_id},
                         {"app_instance_id": body["appInstanceId"], "updated_at": rt.clock.now()})
        elif fresh and body["eventType"] == "AUTHENTICATOR_DELETED":
            rt.db.execute("UPDATE consumers SET app_instance_id = NULL, updated_at = ? "
                          "WHERE consumer_id = ? AND app_instance_id = ?",
                          (rt.clock.now(), consumer_id, body["appInstanceId"]))
    return None


@blp.post(BANKING + "/authentication")
@d1_auth_required
@blp.arguments(s.AuthenticateSchema)
@blp.response(201, s.AuthenticationStartedSchema)
@blp.alt_response(409, description="no_app_instance: the consumer has no enrolled issuer app")
@blp.alt_response(503, description="app_unreachable: the issuer app cannot be reached (D1 falls back to SMS)")
def authenticate(body, issuer_id, consumer_id):
    """Authenticate: ask the cardholder to approve in the issuer app; answers the authenticationId D1
    polls. A retry for the same transactionId answers the same authentication (one push per payment)."""
    rt = current()
    consumer = _consumer(issuer_id, consumer_id)
    if not consumer["app_instance_id"]:
        raise ApiError("the consumer has no enrolled issuer app", status=409, error="no_app_instance")
    if not consumer["app_reachable"]:
        raise ApiError("the issuer app cannot be reached", status=503, error="app_unreachable")
    _, view = rt.services["authentications"].start(consumer_id, body)
    return {"authenticationId": view["authenticationId"], "status": view["status"]}


@blp.get(BANKING + "/authentication/<authentication_id>")
@d1_auth_required
@blp.response(200, s.AuthenticationResultSchema)
@blp.alt_response(404, description="authentication_not_found")
def authentication_result(issuer_id, consumer_id, authentication_id):
    """Get authentication result: PENDING until the cardholder decides; EXPIRED after expiresAt."""
    _consumer(issuer_id, consumer_id)
    view = current().services["authentications"].get(authentication_id, consumer_id)
    return {"authenticationId": view["authenticationId"], "status": view["status"], "decidedAt": view["decidedAt"]}


@blp.post("/notifications/d1/v1/issuers/<issuer_id>/cards/<card_id>/3ds/notifications")
@d1_auth_required
@blp.arguments(s.ThreeDSNotificationSchema)
@blp.response(204)
def threeds_notification(body, issuer_id, card_id):
    """Notify 3DS card operation: the outcome of a frictionless or challenged authentication."""
    rt = current()
    _this_issuer(issuer_id)
    _store_3ds(rt.db.get("cards", card_id=card_id), card_id, body)
    return None


def _store_3ds(card: dict | None, card_id: str, body: dict) -> None:
    # One notification per operation and outcome: a redelivery of the same one is not stored twice.
    rt = current()
    with rt.db.transaction():
        # The operationId test is written exactly as the expression index notifications_3ds_operation
        # (issuer/store.py) is, so this is an index look-up, not a scan of every notification of the card.
        seen = rt.db.scalar("SELECT 1 FROM notifications WHERE kind = '3ds' AND card_id = ? AND "
                            "json_extract(body, '$.operationId') = ? AND json_extract(body, '$.transStatus') = ?",
                            (card_id, body["operationId"], body["transStatus"]))
        if not seen:
            rt.db.insert("notifications", {"kind": "3ds", "consumer_id": card["consumer_id"] if card else None,
                                           "card_id": card_id, "body": body, "received_at": rt.clock.now()})

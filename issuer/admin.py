"""The bank's back office: consumers and cards, registered in D1 (Flow A of the brief).

Every card change is made in D1 first (retried safely: D1's register/renew/replace/delete are
idempotent), and only then in the bank's own records, in one transaction. If D1 refuses or cannot be
reached, the bank's records stay as they were: nothing is half-written on either side."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from flask_smorest import Blueprint

from d1sandbox.db import loads
from d1sandbox.errors import Conflict, NotFound, ValidationFailed

from . import schemas as s
from .d1_client import d1_call
from .runtime import current

blp = Blueprint("issuer_admin", __name__, url_prefix="/admin",
                description="Back office: consumers, cards (registered in D1), what D1 told the bank")


def _q(value: str) -> str:
    return quote(value, safe="")


def _card_path(card_id: str | None = None) -> str:
    base = f"/v2/issuers/{_q(current().issuer_id)}/cards"
    return base if card_id is None else f"{base}/{_q(card_id)}"


def _consumer_view(row: dict) -> dict:
    return {"consumerId": row["consumer_id"], "name": row["name"], "phoneNumber": row["phone"],
            "email": row["email"], "locale": row["locale"], "appInstanceId": row["app_instance_id"],
            "appReachable": bool(row["app_reachable"])}


def _card_view(row: dict, d1: dict | None = None) -> dict:
    view = {"cardId": row["card_id"], "consumerId": row["consumer_id"], "panLast4": row["pan_last4"],
            "expiry": row["expiry"], "state": row["state"], "d1Status": row["d1_status"],
            "replaces": row.get("replaces"), "replacedBy": row.get("replaced_by")}
    if d1 is not None:
        view["d1"] = d1
    return view


def _local_card(card_id: str) -> dict:
    row = current().db.get("cards", card_id=card_id)
    if row is None:
        raise NotFound(f"card {card_id} is unknown to the bank", error="card_not_found",
                       fields={"cardId": ["unknown card"]})
    return row


# -- consumers ----------------------------------------------------------------------------------
@blp.post("/consumers")
@blp.arguments(s.NewConsumerSchema)
@blp.response(201, s.ConsumerViewSchema)
@blp.alt_response(409, description="consumerId already exists")
def create_consumer(body):
    """A new customer of the bank. D1 learns the consumerId with the first card and reads the contact
    details from `GET /banking/d1/v1/issuers/{issuerId}/consumers/{consumerId}` when it needs them."""
    rt = current()
    consumer_id = body.get("consumerId") or "consumer-" + uuid.uuid4().hex[:12]
    now = rt.clock.now()
    with rt.db.transaction():
        if rt.db.get("consumers", consumer_id=consumer_id) is not None:
            raise Conflict(f"consumer {consumer_id} already exists", error="consumer_exists",
                           fields={"consumerId": ["already exists"]})
        rt.db.insert("consumers", {
            "consumer_id": consumer_id, "name": body["name"], "phone": body["phoneNumber"], "email": body["email"],
            "locale": body["locale"], "app_instance_id": None, "app_reachable": int(body["appReachable"]),
            "created_at": now, "updated_at": now})
    return _consumer_view(rt.db.get("consumers", consumer_id=consumer_id))


@blp.get("/consumers/<consumer_id>")
@blp.response(200, s.ConsumerViewSchema)
def get_consumer(consumer_id):
    row = current().db.get("consumers", consumer_id=consumer_id)
    if row is None:
        raise NotFound(f"consumer {consumer_id} is unknown", error="consumer_not_found",
                       fields={"consumerId": ["unknown consumer"]})
    return _consumer_view(row)


# -- cards --------------------------------------------------------------------------------------
@blp.post("/cards")
@blp.arguments(s.NewCardSchema)
@blp.response(201, s.CardViewSchema)
@blp.alt_response(200, schema=s.CardViewSchema, description="The same card again (registration repeated)")
@blp.alt_response(502, description="D1 unreachable: nothing was created")
def create_card(body):
    """Issue a card: register it in D1 (`PUT …/cards/{cardId}` by default, or `POST …/cards`), then keep
    it in the bank's records. D1's refusal (e.g. a PAN outside the card ranges) comes back as is."""
    rt = current()
    card_id = body.get("cardId") or "card-" + uuid.uuid4().hex[:12]
    if rt.db.get("consumers", consumer_id=body["consumerId"]) is None:
        raise ValidationFailed("consumerId: unknown to the bank; create the consumer first",
                               fields={"consumerId": ["unknown consumer"]})
    existing = rt.db.get("cards", card_id=card_id)
    if existing is not None and not (existing["consumer_id"] == body["consumerId"]
                                     and existing["pan_last4"] == body["pan"][-4:]
                                     and existing["expiry"] == body["expiry"]):
        raise Conflict(f"card {card_id} already exists with other data", error="card_exists",
                       fields={"cardId": ["already exists"]})
    payload = {"consumerId": body["consumerId"], "pan": body["pan"], "expiry": body["expiry"]}
    if body.get("behavior"):
        payload["behavior"] = body["behavior"]
    if body["registration"] == "create":
        status, d1 = d1_call("POST", _card_path(), operation="create-card", json={**payload, "cardId": card_id},
                             correlation=card_id)
    else:
        status, d1 = d1_call("PUT", _card_path(card_id), operation="register-card", json=payload,
                             correlation=card_id)
    now = rt.clock.now()
    with rt.db.transaction():
        if existing is None:
            rt.db.insert("cards", {
                "card_id": card_id, "consumer_id": body["consumerId"], "pan_last4": body["pan"][-4:],
                "expiry": body["expiry"], "state": d1.get("state", "ACTIVE"), "d1_status": "REGISTERED",
                "created_at": now, "updated_at": now})
    return _card_view(rt.db.get("cards", card_id=card_id), d1), 201 if existing is None else 200


@blp.get("/cards/<card_id>")
@blp.response(200, s.CardViewSchema)
def get_card(card_id):
    """The bank's record of a card, with D1's view of it (`d1`, read live; `null` when D1 has none)."""
    row = _local_card(card_id)
    result = current().d1.call("GET", _card_path(card_id), operation="get-card", correlation=card_id)
    return _card_view(row, result.body if result.ok else None)


@blp.post("/cards/<card_id>/renew")
@blp.arguments(s.RenewCardSchema)
@blp.response(200, s.CardViewSchema)
def renew_card(body, card_id):
    """Renew in D1 (same card, later expiry), then in the bank's records."""
    rt = current()
    _local_card(card_id)
    _, d1 = d1_call("POST", _card_path(card_id) + "/operations/renew", operation="renew-card",
                    json={"expiry": body["expiry"]}, correlation=card_id)
    with rt.db.transaction():
        rt.db.update("cards", {"card_id": card_id},
                     {"expiry": d1["expiry"], "state": d1["state"], "updated_at": rt.clock.now()})
    return _card_view(rt.db.get("cards", card_id=card_id), d1)


@blp.post("/cards/<card_id>/replace")
@blp.arguments(s.ReplaceCardSchema)
@blp.response(201, s.CardViewSchema, description="The new card")
def replace_card(body, card_id):
    """Replace in D1 (new PAN, new card linked to this one; 3DS stops for the old PAN), then record
    both cards in the bank's books."""
    rt = current()
    old = _local_card(card_id)
    new_id = body.get("newCardId") or old.get("replaced_by") or "card-" + uuid.uuid4().hex[:12]
    payload = {"pan": body["pan"], "expiry": body["expiry"], "newCardId": new_id}
    if body.get("reason"):
        payload["reason"] = body["reason"]
    _, d1 = d1_call("POST", _card_path(card_id) + "/operations/replace", operation="replace-card", json=payload,
                    correlation=card_id)
    now = rt.clock.now()
    with rt.db.transaction():
        if rt.db.get("cards", card_id=d1["cardId"]) is None:
            rt.db.insert("cards", {
                "card_id": d1["cardId"], "consumer_id": old["consumer_id"], "pan_last4": d1["panLast4"],
                "expiry": d1["expiry"], "state": d1["state"], "d1_status": "REGISTERED", "replaces": card_id,
                "created_at": now, "updated_at": now})
        rt.db.update("cards", {"card_id": card_id},
                     {"state": "REPLACED", "replaced_by": d1["cardId"], "updated_at": now})
    return _card_view(rt.db.get("cards", card_id=d1["cardId"]), d1), 201


@blp.post("/cards/<card_id>/delete")
@blp.arguments(s.DeleteCardSchema, required=False)
@blp.response(200, s.CardViewSchema)
def delete_card(body, card_id):
    """Delete in D1 (the card becomes unknown to 3DS), then mark it deleted in the bank's records."""
    rt = current()
    _local_card(card_id)
    _, d1 = d1_call("POST", _card_path(card_id) + "/operations/delete", operation="delete-card",
                    json={k: v for k, v in (body or {}).items()}, correlation=card_id)
    with rt.db.transaction():
        rt.db.update("cards", {"card_id": card_id},
                     {"state": "DELETED", "d1_status": "DELETED", "updated_at": rt.clock.now()})
    return _card_view(rt.db.get("cards", card_id=card_id), d1)


@blp.get("/cards/<card_id>/3ds/operations")
@blp.response(200, description="D1's answer: {operations, nextCursor}")
def card_3ds_operations(card_id):
    """The card's 3DS operations as D1 records them (D1's `GET /issuers/{issuerId}/cards/{cardId}/3ds/operations`;
    query parameters are passed on)."""
    from flask import request

    _local_card(card_id)
    path = f"/issuers/{_q(current().issuer_id)}/cards/{_q(card_id)}/3ds/operations"
    _, answer = d1_call("GET", path, operation="3ds-operations", params=request.args.to_dict(),
                        correlation=card_id)
    return answer


@blp.post("/app-instances/<app_instance_id>/delete-credentials")
@blp.response(200, description="D1's answer: the app instance, state DELETED")
def delete_credentials(app_instance_id):
    """Remove an app instance's OOB authenticator in D1 (lost phone, closed app): D1's
    `POST /issuers/{issuerId}/appInstances/{appInstanceId}/authnCredentials/operations/delete`."""
    path = f"/issuers/{_q(current().issuer_id)}/appInstances/{_q(app_instance_id)}/authnCredentials/operations/delete"
    _, answer = d1_call("POST", path, operation="delete-credentials", correlation=app_instance_id)
    return answer


# -- what D1 told the bank ----------------------------------------------------------------------
@blp.get("/notifications")
@blp.arguments(s.NotificationsQuerySchema, location="query")
@blp.response(200, s.NotificationViewSchema(many=True))
def notifications(query):
    """Everything D1 sent the bank (consumer notifications, 3DS outcomes, OTP deliveries with the OTP
    masked), newest first."""
    rt = current()
    where, params = [], []
    for column, key in (("kind", "kind"), ("consumer_id", "consumerId"), ("card_id", "cardId")):
        if query.get(key):
            where.append(f"{column} = ?")
            params.append(query[key])
    sql = "SELECT * FROM notifications" + (" WHERE " + " AND ".join(where) if where else "")
    rows = rt.db.all(sql + " ORDER BY id DESC LIMIT ?", params + [query["limit"]])
    return [{"id": r["id"], "kind": r["kind"], "consumerId": r["consumer_id"], "cardId": r["card_id"],
             "body": loads(r["body"], {}), "receivedAt": rt.clock.isoformat(r["received_at"])} for r in rows]

"""HTTP for the D1 inbound card API, the 3DS operation history and OOB authenticators. Thin: check the
bearer token, parse, call the domain object, render. Every path needs an access token of the issuer
named in it (POST /oauth2/token)."""

from __future__ import annotations

import uuid

from flask import request
from flask_smorest import Blueprint
from marshmallow import RAISE

from d1sandbox.errors import ApiError

from ..auth import document_security, issuer_token_required
from ..runtime import current
from . import schemas as s
from .authenticators import Authenticators
from .history import ThreeDSHistory
from .idempotency import HEADER, IdempotencyStore, check_key
from .models import CardData, CardRegistry

blp = Blueprint("cards", __name__, description="D1 inbound API: card lifecycle, 3DS operation history and OOB "
                                               "authenticators (bearer token of the issuer in the path)")
document_security(blp)

ISSUER = "Issuer backend"
D1 = "D1"
IDEMPOTENCY_DOC = {"parameters": [{
    "in": "header", "name": HEADER, "required": False, "schema": {"type": "string", "maxLength": 255},
    "description": "repeat a request safely: the first answer is replayed (Idempotent-Replayed: true) for 24 h; "
                   "the same key with another body is refused (422)"}]}


def init(rt) -> None:
    rt.services["cards"] = CardRegistry(rt.db, rt.clock, rt.pan_ref, rt.issuers.config)
    rt.services["idempotency"] = IdempotencyStore(rt.db, rt.clock, rt.keyed_hash)
    rt.services["threeds_history"] = ThreeDSHistory(rt.db, rt.clock)
    rt.services["authenticators"] = Authenticators(rt)


def cards() -> CardRegistry:
    return current().services["cards"]


def _change(issuer_id: str, card_id: str | None, label: str, body: dict, action):
    """Run one state change with Idempotency-Key support, in one transaction, journaled (redacted)."""
    rt = current()
    key = check_key(request.headers.get(HEADER))
    request_id = key or request.headers.get("X-Request-ID") or "req-" + uuid.uuid4().hex[:16]
    store: IdempotencyStore = rt.services["idempotency"]
    correlation = card_id or request_id
    rt.journal.record(correlation, ISSUER, D1, label, body, kind="request", method=request.method, path=request.path)
    headers = {}
    try:
        with rt.db.transaction():
            replay = None
            if key:
                fingerprint = store.fingerprint(request.method, request.path, body)
                replay = store.replay(issuer_id, key, fingerprint)
            if replay is not None:
                status, view = replay
                headers["Idempotent-Replayed"] = "true"
            else:
                status, view = action(request_id)
                if key:
                    store.remember(issuer_id, key, fingerprint, status, view)
    except ApiError as exc:  # refused: nothing changed; the journal still shows the answer
        rt.journal.record(correlation, D1, ISSUER, label, exc.body(), kind="response", method=request.method,
                          path=request.path, status=exc.status)
        raise
    rt.journal.record(correlation, D1, ISSUER, label, view, kind="response", method=request.method,
                      path=request.path, status=status, aliases=(view.get("cardId"),))
    return view, status, headers


def _data(body: dict) -> CardData:
    return CardData(body["consumerId"], body["pan"], body["expiry"], body.get("behavior"))


# -- cards ---------------------------------------------------------------------------------------
@blp.post("/v2/issuers/<issuer_id>/cards")
@issuer_token_required("card:write")
@blp.arguments(s.CreateCardSchema)
@blp.response(201, s.CardRecordSchema, description="Created")
@blp.alt_response(200, schema=s.CardRecordSchema, description="This cardId already holds exactly this card (a repeat)")
@blp.alt_response(409, description="cardId or PAN already in use")
@blp.doc(**IDEMPOTENCY_DOC)
def create_card(body, issuer_id):
    """Create card: register a new card (PAN, expiry) for a consumer. The PAN is never returned."""
    return _change(issuer_id, body.get("cardId"), "create card", body,
                   lambda rid: cards().create(issuer_id, _data(body), body.get("cardId"), rid))


@blp.put("/v2/issuers/<issuer_id>/cards/<card_id>")
@issuer_token_required("card:write")
@blp.arguments(s.CardRegistrationSchema)
@blp.response(201, s.CardRecordSchema, description="Registered")
@blp.alt_response(200, schema=s.CardRecordSchema, description="Already registered (unchanged, or consumer updated)")
@blp.alt_response(409, description="Registered with another PAN/expiry (use replace/renew), or deleted")
@blp.doc(**IDEMPOTENCY_DOC)
def register_card(body, issuer_id, card_id):
    """Register card under the issuer's own cardId. Idempotent: repeating it answers the card again."""
    return _change(issuer_id, card_id, "register card", body,
                   lambda rid: cards().register(issuer_id, card_id, _data(body), rid))


@blp.get("/v2/issuers/<issuer_id>/cards/<card_id>")
@issuer_token_required("card:read")
@blp.response(200, s.CardRecordSchema)
def get_card(issuer_id, card_id):
    """A card as D1 holds it (state, last four digits, expiry, links to replaced/replacing cards)."""
    return cards().get(issuer_id, card_id)


@blp.get("/v2/issuers/<issuer_id>/cards/<card_id>/audit")
@issuer_token_required("card:read")
@blp.response(200, s.CardAuditEntrySchema(many=True))
def card_audit(issuer_id, card_id):
    """Every change to the card, oldest first (sandbox extension)."""
    return cards().audit(issuer_id, card_id)


@blp.post("/v2/issuers/<issuer_id>/cards/<card_id>/operations/renew")
@issuer_token_required("card:write")
@blp.arguments(s.CardRenewSchema)
@blp.response(200, s.CardRecordSchema)
@blp.alt_response(409, description="The card is replaced or deleted")
@blp.doc(**IDEMPOTENCY_DOC)
def renew_card(body, issuer_id, card_id):
    """Renew card: same card, later expiry. Repeating it with the same expiry answers the same."""
    return _change(issuer_id, card_id, "renew card", body,
                   lambda rid: cards().renew(issuer_id, card_id, body["expiry"], rid))


@blp.post("/v2/issuers/<issuer_id>/cards/<card_id>/operations/replace")
@issuer_token_required("card:write")
@blp.arguments(s.CardReplaceSchema)
@blp.response(201, s.CardRecordSchema, description="The new card (`replaces` names the old one)")
@blp.alt_response(200, schema=s.CardRecordSchema, description="Already replaced by exactly this card (a repeat)")
@blp.alt_response(409, description="Replaced by another card already, or deleted")
@blp.doc(**IDEMPOTENCY_DOC)
def replace_card(body, issuer_id, card_id):
    """Replace card: a new PAN (and card) for the same consumer; the old card becomes REPLACED and its
    PAN stops working for 3DS."""
    return _change(issuer_id, card_id, "replace card", body,
                   lambda rid: cards().replace(issuer_id, card_id, body["pan"], body["expiry"],
                                               body.get("newCardId"), body.get("reason"), rid))


@blp.post("/v2/issuers/<issuer_id>/cards/<card_id>/operations/delete")
@issuer_token_required("card:write")
@blp.arguments(s.CardDeleteSchema, required=False)
@blp.response(200, s.CardRecordSchema)
@blp.doc(**IDEMPOTENCY_DOC)
def delete_card(body, issuer_id, card_id):
    """Delete card: the card becomes unknown to the DS/ACS. Repeating it answers the deleted card."""
    def delete(request_id: str):
        from ..tsp.service import tokens_for

        status, view = cards().delete(issuer_id, card_id, (body or {}).get("reason"), request_id)
        # A deleted card keeps no live token: each one still active, suspended or awaiting its OTP is
        # deleted in the same transaction (TOKEN_DELETED to the issuer, as when a wallet deletes it).
        tokens_for(current()).delete_for_card(issuer_id, card_id, reason="card deleted")
        return status, view

    return _change(issuer_id, card_id, "delete card", body, delete)


# -- 3DS operation history -----------------------------------------------------------------------
@blp.get("/issuers/<issuer_id>/cards/<card_id>/3ds/operations")
@issuer_token_required("3ds:read")
@blp.arguments(s.ThreeDSOperationsQuerySchema, location="query", unknown=RAISE)
@blp.response(200, s.ThreeDSOperationsPageSchema)
def list_operations(query, issuer_id, card_id):
    """Get 3DS operations of a card, newest first, `limit` per page; filter by `from`/`to` (creation
    time), `status` and `transStatus`; follow `nextCursor` for the next page."""
    history: ThreeDSHistory = current().services["threeds_history"]
    return history.list(issuer_id, card_id, since=query.get("from_"), until=query.get("to"),
                        status=query.get("status"), trans_status=query.get("transStatus"),
                        limit=query["limit"], cursor=query.get("cursor"))


@blp.get("/issuers/<issuer_id>/cards/<card_id>/3ds/operations/<operation_id>")
@issuer_token_required("3ds:read")
@blp.response(200, s.ThreeDSOperationSchema)
def get_operation(issuer_id, card_id, operation_id):
    """Get one 3DS operation of a card."""
    return current().services["threeds_history"].get(issuer_id, card_id, operation_id)


# -- OOB authenticators --------------------------------------------------------------------------
@blp.post("/issuers/<issuer_id>/consumers/<consumer_id>/appInstances")
@issuer_token_required("authenticator:write")
@blp.arguments(s.AppInstanceEnrollSchema, required=False)
@blp.response(201, s.AppInstanceSchema, description="Enrolled; the issuer is notified (AUTHENTICATOR_ENROLLED)")
@blp.alt_response(200, schema=s.AppInstanceSchema, description="Already enrolled (or re-enrolled after deletion)")
def enroll_app_instance(body, issuer_id, consumer_id):
    """Enroll an OOB authenticator for an issuer app instance (sandbox stand-in for the D1 SDK's
    enrollment). D1 then tells the issuer by `POST …/consumers/{consumerId}/notifications`."""
    rt = current()
    app_instance_id = (body or {}).get("appInstanceId")
    status, view = rt.services["authenticators"].enroll(issuer_id, consumer_id, app_instance_id)
    rt.journal.record(view["appInstanceId"], ISSUER, D1, "enroll authenticator", {"consumerId": consumer_id},
                      kind="request", method="POST", path=request.path)
    return view, status


@blp.post("/issuers/<issuer_id>/appInstances/<app_instance_id>/authnCredentials/operations/delete")
@issuer_token_required("authenticator:write")
@blp.response(200, s.AppInstanceSchema)
def delete_authn_credentials(issuer_id, app_instance_id):
    """Delete credentials: the app instance's OOB authenticator is removed (the consumer then has no
    OOB; challenges fall back to SMS OTP) and the issuer is notified (AUTHENTICATOR_DELETED).
    Repeating it answers the same."""
    rt = current()
    view = rt.services["authenticators"].delete_credentials(issuer_id, app_instance_id)
    rt.journal.record(app_instance_id, ISSUER, D1, "delete authentication credentials", {}, kind="request",
                      method="POST", path=request.path)
    return view

"""The issuer mobile app's backend API: pending step-ups to approve or decline, and OOB enrollment.

(In a real bank these calls carry the app user's session; the sandbox plays the logged-in app.)"""

from __future__ import annotations

from urllib.parse import quote

from flask import request
from flask_smorest import Blueprint

from d1sandbox.errors import ApiError, NotFound

from . import ISSUER
from . import schemas as s
from .d1_client import d1_call
from .runtime import current

ISSUER_APP = "Issuer app"

blp = Blueprint("issuer_app", __name__, url_prefix="/app", description="The issuer app: approve or decline step-ups")


@blp.get("/consumers/<consumer_id>/authentications")
@blp.arguments(s.AuthenticationsQuerySchema, location="query")
@blp.response(200, s.AuthenticationViewSchema(many=True))
def list_authentications(query, consumer_id):
    """The consumer's step-up requests, newest first (`?status=PENDING` for those awaiting a decision)."""
    rt = current()
    if rt.db.get("consumers", consumer_id=consumer_id) is None:
        raise NotFound(f"consumer {consumer_id} is unknown", error="consumer_not_found",
                       fields={"consumerId": ["unknown consumer"]})
    return rt.services["authentications"].list(consumer_id, query.get("status"))


@blp.post("/authentications/<authentication_id>/approve")
@blp.response(200, s.AuthenticationViewSchema)
@blp.alt_response(409, description="Expired, or already declined")
def approve(authentication_id):
    """The cardholder approves the payment in the app."""
    return _decide(authentication_id, "APPROVED")


@blp.post("/authentications/<authentication_id>/decline")
@blp.response(200, s.AuthenticationViewSchema)
@blp.alt_response(409, description="Expired, or already approved")
def decline(authentication_id):
    """The cardholder declines the payment in the app."""
    return _decide(authentication_id, "DECLINED")


def _decide(authentication_id: str, decision: str) -> dict:
    """The decision and its journal entries in one transaction, under the 3DS transaction's ID, so the
    merged diagram shows the cardholder's tap between D1's authenticate call and its result read."""
    rt = current()
    book = rt.services["authentications"]
    label = f"{decision.lower()[:-1]} step-up"  # "approve step-up" / "decline step-up"

    def journal(correlation, answer, status):
        rt.journal.record(correlation, ISSUER_APP, ISSUER, label, None, kind="request", method="POST",
                          path=request.path)
        rt.journal.record(correlation, ISSUER, ISSUER_APP, label, answer, kind="response", method="POST",
                          path=request.path, status=status)

    try:
        with rt.db.transaction():
            view = book.decide(authentication_id, decision)
            journal(view.get("transactionId"), view, 200)
    except ApiError as exc:  # refused (unknown, expired, already decided): journaled, nothing changed
        try:
            correlation = book.get(authentication_id).get("transactionId")
        except NotFound:
            correlation = None
        journal(correlation, exc.body(), exc.status)
        raise
    return view


@blp.post("/consumers/<consumer_id>/appInstances")
@blp.arguments(s.EnrollAppSchema, required=False)
@blp.response(201, description="D1's answer: the enrolled app instance")
def enroll(body, consumer_id):
    """Enroll this app instance as the consumer's OOB authenticator with D1. D1 confirms by notifying
    the bank (AUTHENTICATOR_ENROLLED), which records the app instance on the consumer."""
    rt = current()
    if rt.db.get("consumers", consumer_id=consumer_id) is None:
        raise NotFound(f"consumer {consumer_id} is unknown", error="consumer_not_found",
                       fields={"consumerId": ["unknown consumer"]})
    path = f"/issuers/{quote(rt.issuer_id, safe='')}/consumers/{quote(consumer_id, safe='')}/appInstances"
    status, answer = d1_call("POST", path, operation="enroll-authenticator", json=body or {}, correlation=consumer_id)
    return answer, status

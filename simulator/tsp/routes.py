"""HTTP for the TSP (wallet side, `/tsp/v1`) and the issuer's view of its tokens (D1 inbound API,
bearer token). Thin: parse, call `TokenService`, journal, render."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from d1sandbox.errors import ApiError

from ..auth import document_security, issuer_token_required
from ..runtime import current
from . import schemas as s
from .service import TSP, WALLET, TokenizeRequest, tokens_for

blp = Blueprint("tsp", __name__, description="TSP: tokenization with OTP step-up (wallet side) and the issuer's "
                                             "view of its tokens")
document_security(blp)
ISSUER = "Issuer backend"


def _journal(correlation, source, target, label, body, **kw):
    current().journal.record(correlation, source, target, label, body, method=request.method, path=request.path, **kw)


def _exchange(token_ref_id: str, source: str, target: str, label: str, body: dict, action, *, secrets=()):
    """Journal the request, run it, journal the answer — errors included (then re-raised)."""
    _journal(token_ref_id, source, target, label, body, kind="request", secrets=secrets)
    try:
        answer = action()
    except ApiError as exc:
        _journal(token_ref_id, target, source, label, exc.body(), kind="response", status=exc.status,
                 secrets=secrets)
        raise
    _journal(token_ref_id, target, source, label, answer, kind="response", status=200, secrets=secrets)
    return answer


@blp.post("/tsp/v1/tokenize")
@blp.arguments(s.TokenizeSchema)
@blp.response(200, s.TokenizeAnswerSchema)
@blp.alt_response(404, description="card_not_found: no such card in D1")
def tokenize(body):
    """A wallet asks to tokenize a card (by cardId, or PAN + expiry). The answer carries the decision;
    on REQUIRE_STEP_UP, the methods the cardholder can receive an OTP by (targets masked)."""
    service = tokens_for(current())
    view = service.tokenize(TokenizeRequest(
        token_requestor_id=body["tokenRequestorId"], card_id=body.get("cardId"), pan=body.get("pan"),
        expiry=body.get("expiry"), issuer_id=body.get("issuerId"), device=body.get("deviceInfo"),
        risk=body.get("riskData"), locale=body.get("locale"), raw=body))
    _journal(view["tokenRefId"], TSP, WALLET, "POST /tsp/v1/tokenize", view, kind="response", status=200)
    return view


@blp.post("/tsp/v1/tokens/<token_ref_id>/otp")
@blp.arguments(s.OtpRequestSchema)
@blp.response(200, s.OtpSentSchema)
@blp.alt_response(409, description="token not awaiting step-up, email sending domain not ready, no contact")
@blp.alt_response(429, description="rate limit or resend limit reached")
@blp.alt_response(502, description="every SMS/email provider failed, or the issuer's DeliverOTP failed")
def request_otp(body, token_ref_id):
    """Send the activation OTP by the chosen step-up method (calling again resends a fresh code)."""
    return _exchange(token_ref_id, WALLET, TSP, "POST /tsp/v1/tokens/{id}/otp", body,
                     lambda: tokens_for(current()).request_otp(token_ref_id, body["methodId"]))


@blp.post("/tsp/v1/tokens/<token_ref_id>/activate")
@blp.arguments(s.ActivateSchema)
@blp.response(200, s.ActivatedSchema)
@blp.alt_response(400, description="otp_incorrect (remainingAttempts) or otp_expired; the token stays INACTIVE")
@blp.alt_response(403, description="otp_attempts_exhausted: the token is DECLINED")
@blp.alt_response(409, description="token not awaiting activation, or no OTP requested")
def activate(body, token_ref_id):
    """Submit the OTP the cardholder received; the right one activates the token."""
    return _exchange(token_ref_id, WALLET, TSP, "POST /tsp/v1/tokens/{id}/activate", body,
                     lambda: tokens_for(current()).activate(token_ref_id, body["otp"]), secrets=(body["otp"],))


@blp.get("/tsp/v1/tokens/<token_ref_id>")
@blp.response(200, s.TokenizeAnswerSchema)
def wallet_token(token_ref_id):
    """The wallet's view of a token."""
    return tokens_for(current()).wallet_view(token_ref_id)


@blp.post("/tsp/v1/tokens/<token_ref_id>/<any(suspend, resume, delete):operation>")
@blp.arguments(s.LifecycleSchema)
@blp.response(200, s.TokenViewSchema)
@blp.alt_response(409, description="the transition is not allowed from the token's state")
def wallet_lifecycle(body, token_ref_id, operation):
    """The wallet suspends, resumes or deletes a token; the issuer is notified."""
    return _exchange(token_ref_id, WALLET, TSP, f"POST /tsp/v1/tokens/{{id}}/{operation}", body,
                     lambda: tokens_for(current()).change(token_ref_id, operation, actor=WALLET,
                                                          reason=body.get("reason")))


# -- the issuer's view (D1 inbound API) ----------------------------------------------------------
@blp.get("/v2/issuers/<issuer_id>/tokens")
@issuer_token_required("card:read")
@blp.arguments(s.TokenListQuerySchema, location="query")
@blp.response(200, s.TokenViewSchema(many=True))
def issuer_tokens(query, issuer_id):
    """The issuer's tokens (newest first), optionally of one card or in one state."""
    return tokens_for(current()).list_for_issuer(issuer_id, query.get("cardId"), query.get("status"))


@blp.get("/v2/issuers/<issuer_id>/tokens/<token_ref_id>")
@issuer_token_required("card:read")
@blp.response(200, s.TokenViewSchema)
def issuer_token(issuer_id, token_ref_id):
    """One token with its state, step-up OTP status (never the OTP) and event history."""
    return tokens_for(current()).issuer_view(token_ref_id, issuer_id)


@blp.post("/v2/issuers/<issuer_id>/tokens/<token_ref_id>/operations/<any(suspend, resume, delete):operation>")
@issuer_token_required("card:write")
@blp.arguments(s.LifecycleSchema)
@blp.response(200, s.TokenViewSchema)
@blp.alt_response(409, description="the transition is not allowed from the token's state")
def issuer_lifecycle(body, issuer_id, token_ref_id, operation):
    """The issuer suspends, resumes or deletes one of its tokens."""
    return _exchange(token_ref_id, ISSUER, "D1", f"POST …/tokens/{{id}}/operations/{operation}", body,
                     lambda: tokens_for(current()).change(token_ref_id, operation, actor=ISSUER,
                                                          reason=body.get("reason"), issuer_id=issuer_id))

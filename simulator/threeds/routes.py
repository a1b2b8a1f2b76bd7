"""HTTP for the Directory Server and the ACS. Thin: read the body, call the domain, render.

Protocol answers (ARes, Erro, CRes) are HTTP 200 whatever their content, as EMV 3DS asks; the
message itself says what went wrong."""

from __future__ import annotations

import json

from flask import Response, request
from flask_smorest import Blueprint

from ..runtime import current
from . import messages as m

blp = Blueprint("threeds", __name__, description="EMV 3DS 2.1.0 / 2.2.0 / 2.3.1: Directory Server and ACS")

MAX_MESSAGE_BYTES = 256 * 1024  # sdkEncData alone may be 64000 characters


def init(rt) -> None:
    from . import rreq
    from .service import service
    from .timers import register as register_timers

    service(rt)
    rreq.register(rt)
    register_timers(rt)


def _versions(message: str) -> dict:
    return {"anyOf": [m.schema_class(message, v) for v in m.VERSIONS]}


def protocol_json(body: dict) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=200,
                    mimetype="application/json")


def read_body() -> tuple[bytes, bool]:
    """(the raw body, whether it is larger than any EMV message can be — then only its head)."""
    data = request.stream.read(MAX_MESSAGE_BYTES + 1)
    return data[:MAX_MESSAGE_BYTES], len(data) > MAX_MESSAGE_BYTES


@blp.post("/ds/areq")
@blp.doc(
    summary="Authentication Request (AReq) → ARes or Erro",
    description=(
        "The Directory Server. Send an EMV 3DS AReq (2.1.0, 2.2.0 or 2.3.1; deviceChannel 01 app, 02 "
        "browser, 03 3RI). The answer is always HTTP 200 with an ARes (transStatus Y, A, N, U, R, I or C) "
        "or an Erro (101 invalid message, 102 version not supported, 201 element missing, 202 critical "
        "extension, 203 invalid format, 204 duplicate element, 301 transaction ID not recognised, 305 card "
        "number outside every card range); `errorDetail` names the offending element(s). The test cards "
        "(`GET /sandbox/test-cards`) choose the outcome."),
    requestBody={"required": True, "content": {"application/json": {"schema": _versions("AReq")}}},
    responses={"200": {"description": "ARes, or Erro when the AReq was not acceptable",
                       "content": {"application/json": {"schema": {
                           "anyOf": [m.schema_class("ARes", v) for v in m.VERSIONS]
                           + [m.schema_class("Erro", m.V231)]}}}}},
)
def areq():
    from .service import service

    raw, oversized = read_body()
    return protocol_json(service(current()).handle_areq(raw, oversized=oversized))


@blp.get("/ds/ca.pem")
@blp.doc(summary="The sandbox DS root certificate (PEM)",
         description="Root of the x5c chain in `acsSignedContent`: what an SDK test set-up pins.",
         responses={"200": {"description": "PEM certificate", "content": {"application/x-pem-file": {}}}})
def ds_root():
    from .service import service

    return Response(service(current()).keys.root_pem(), mimetype="application/x-pem-file")


# -- the ACS's challenge endpoints (acsURL) -------------------------------------------------------
def _page(page) -> Response:
    from flask import render_template

    if page.status >= 400 and request.accept_mimetypes.best_match(["application/json", "text/html"]) != "text/html":
        # Not a browser (no text/html in Accept): the error as JSON, like every other sandbox error.
        body = {"error": "forbidden" if page.status == 403 else "invalid_creq", "message": page.context["text"]}
        if page.context.get("erro"):
            body["erro"] = page.context["erro"]
        resp = protocol_json(body)
        resp.status_code = page.status
        return resp
    html = render_template(page.template, **page.context)
    resp = Response(html, status=page.status, mimetype="text/html")
    # The challenge runs inside the merchant's iframe; nothing here may be cached.
    resp.headers["Cache-Control"] = "no-store"
    return resp


@blp.post("/acs/app/creq")
@blp.doc(
    summary="App channel: CReq → CRes (acsURL of an app challenge)",
    description=(
        "The 3DS SDK's challenge messages, as JSON (the sandbox does not JWE-encrypt them). "
        "`sdkCounterStoA` starts at 000 and grows by one per CReq; the CRes's `acsCounterAtoS` likewise. "
        "Act with `challengeDataEntry` (the OTP), `resendChallenge` Y, `oobContinue` true or `challengeCancel`. "
        "Erro 301 for an unknown `acsTransID` (or IDs of another transaction), 302 for a replayed or skipped "
        "counter, 402 once the challenge timed out; a refused CReq changes nothing."),
    requestBody={"required": True, "content": {"application/json": {"schema": _versions("CReq")}}},
    responses={"200": {"description": "CRes (acsUiType 01 OTP, 04 OOB, or final), or Erro",
                       "content": {"application/json": {"schema": {
                           "anyOf": [m.schema_class("CRes", v) for v in m.VERSIONS]
                           + [m.schema_class("Erro", m.V231)]}}}}},
)
def app_creq():
    from .creq import handle_app_creq

    raw, oversized = read_body()
    if oversized:
        raw = b"(oversized)"
    return protocol_json(handle_app_creq(current(), raw))


@blp.post("/acs/browser/creq")
@blp.doc(
    summary="Browser channel: the challenge page (acsURL of a browser challenge)",
    description=(
        "Form-post `creq` (base64url JSON CReq, no padding) and `threeDSSessionData`. Answers the HTML challenge "
        "in the cardholder's language, sized by `challengeWindowSize`; its last page auto-submits `cres` and "
        "`threeDSSessionData` (unchanged) to the AReq's `notificationURL`."),
    requestBody={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["creq"],
        "properties": {"creq": {"type": "string", "description": "base64url of the CReq JSON"},
                       "threeDSSessionData": {"type": "string", "maxLength": 1024}}}}}},
    responses={"200": {"description": "challenge page (text/html)", "content": {"text/html": {}}},
               "400": {"description": "error page naming the Erro (malformed, unknown or replayed creq)",
                       "content": {"text/html": {}}}},
)
def browser_creq():
    from .creq import open_browser

    return _page(open_browser(current(), request.form.get("creq"), request.form.get("threeDSSessionData")))


@blp.post("/acs/browser/<acs_trans_id>")
@blp.doc(
    summary="Browser channel: the challenge page's own form (OTP entry, resend, continue, cancel)",
    requestBody={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["token", "action"],
        "properties": {"token": {"type": "string", "description": "the page's secret"},
                       "action": {"type": "string", "enum": ["submit", "resend", "continue", "cancel"]},
                       "otp": {"type": "string"}}}}}},
    responses={"200": {"description": "next page, or the final page posting the CRes", "content": {"text/html": {}}},
               "403": {"description": "not this browser's challenge", "content": {"text/html": {}}}},
)
def browser_page(acs_trans_id):
    from .creq import browser_action

    return _page(browser_action(current(), acs_trans_id, request.form.to_dict()))


@blp.get("/acs/browser/<acs_trans_id>/status")
@blp.doc(
    summary="Browser channel: polling of the OOB page",
    parameters=[{"in": "query", "name": "token", "required": True, "schema": {"type": "string"}}],
    responses={"200": {"description": "{\"final\": bool, \"state\": …}"}, "403": {"description": "forbidden"}},
)
def browser_status(acs_trans_id):
    from .creq import browser_status as status

    body, code = status(current(), acs_trans_id, request.args.get("token"))
    resp = protocol_json(body)
    resp.status_code = code
    resp.headers["Cache-Control"] = "no-store"
    return resp

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
    return {"oneOf": [m.schema_class(message, v) for v in m.VERSIONS]}


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
                           "oneOf": [m.schema_class("ARes", v) for v in m.VERSIONS]
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

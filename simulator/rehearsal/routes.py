"""HTTP for the certification rehearsal: run one against an issuer backend, read past reports.

Thin: parse, call `service.Rehearsals`, render (JSON, text or JUnit XML)."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from d1sandbox.errors import NotFound

from ..runtime import Runtime, current
from .report import render
from .service import Rehearsals

blp = Blueprint("rehearsals", __name__, url_prefix="/sandbox/rehearsals",
                description="Certification rehearsal: D1's outbound calls against your own issuer backend "
                            "(sandbox control, not part of D1)")

FORMATS = ("json", "text", "junit")


class RehearsalRequestSchema(Schema):
    issuerUrl = fields.Url(require_tld=False, schemes={"http", "https"}, metadata={
        "description": "Base URL of the issuer backend under test (default: the issuer's onboarded backend URL)"})
    issuerId = fields.String(validate=validate.Length(min=1, max=64),
                             metadata={"description": "issuerId in the paths D1 calls (default demo-issuer)"})
    consumerId = fields.String(validate=validate.Length(min=1, max=128),
                               metadata={"description": "a consumer the backend knows, with an issuer app "
                                                        "(default consumer-0002)"})
    cardId = fields.String(validate=validate.Length(min=1, max=128),
                           metadata={"description": "a card of that consumer (default card-0002)"})
    appInstanceId = fields.String(validate=validate.Length(min=1, max=128),
                                  metadata={"description": "that consumer's issuer app instance (default app-0002)"})
    oauth2 = fields.Boolean(metadata={"description": "whether the backend protects D1's calls with OAuth2 "
                                                     "(default: from the issuer's onboarding, else true)"})
    clientId = fields.String(validate=validate.Length(min=1, max=200),
                             metadata={"description": "client id D1 uses at the backend's token endpoint"})
    clientSecret = fields.String(load_only=True, validate=validate.Length(min=1, max=200),
                                 metadata={"description": "its secret (never echoed, never journaled)"})
    tokenPath = fields.String(validate=validate.Regexp(r"^/"), metadata={"description": "default /oauth2/token"})
    latencyBudgetMs = fields.Integer(validate=validate.Range(min=1, max=60000),
                                     metadata={"description": "slowest acceptable answer (default 3000)"})
    timeoutSeconds = fields.Float(validate=validate.Range(min=0.1, max=60),
                                  metadata={"description": "give up on an answer after this long (default 10)"})


class FormatQuerySchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS),
                           metadata={"description": "json (default), text, or junit (JUnit XML)"})


class ExchangeSchema(Schema):
    step = fields.String()
    method = fields.String()
    path = fields.String()
    auth = fields.String(metadata={"description": "token | none | forged-token | basic | basic-wrong-secret"})
    request = fields.Raw(allow_none=True, metadata={"description": "what D1 sent (redacted)"})
    status = fields.Integer(allow_none=True)
    response = fields.Raw(allow_none=True, metadata={"description": "what the backend answered (redacted)"})
    contentType = fields.String(allow_none=True)
    elapsedMs = fields.Float()
    error = fields.String(allow_none=True, metadata={"description": "timeout, connection failure, …"})
    ok = fields.Boolean(metadata={"description": "false when this exchange is where a problem was found"})


class CaseSchema(Schema):
    id = fields.String()
    group = fields.String()
    title = fields.String()
    why = fields.String(metadata={"description": "why a real D1 cares"})
    status = fields.String(metadata={"description": "passed | failed | skipped"})
    problems = fields.List(fields.String(), metadata={"description": "what was wrong (empty when passed)"})
    seconds = fields.Float()
    exchanges = fields.List(fields.Nested(ExchangeSchema), metadata={"description": "the evidence"})


class ReportSchema(Schema):
    id = fields.String()
    transaction = fields.String(metadata={"description": "journal transaction of every call the rehearsal made"})
    target = fields.Dict()
    startedAt = fields.String()
    seconds = fields.Float()
    passed = fields.Boolean(metadata={"description": "true only when no case failed"})
    summary = fields.Dict(metadata={"description": "{total, passed, failed, skipped}"})
    cases = fields.List(fields.Nested(CaseSchema))


class ReportSummarySchema(Schema):
    id = fields.String()
    issuerId = fields.String()
    issuerUrl = fields.String()
    passed = fields.Boolean()
    createdAt = fields.String()


def init(rt: Runtime) -> None:
    rt.services["rehearsals"] = Rehearsals(rt)


@blp.post("")
@blp.arguments(RehearsalRequestSchema)
@blp.arguments(FormatQuerySchema, location="query")
@blp.response(201, ReportSchema, description="The report (also kept for GET)")
def run_rehearsal(body, query):
    """Run the certification rehearsal: every case of docs/rehearsal.md against the issuer backend at
    `issuerUrl`, through D1's outbound client. Blocks until done; `?format=text|junit` renders it."""
    report = current().services["rehearsals"].run(_params(body))
    return _rendered(report, query["format"], 201)


@blp.get("")
@blp.response(200, ReportSummarySchema(many=True))
def list_rehearsals():
    """Past rehearsals, newest first."""
    return current().services["rehearsals"].list()


@blp.get("/<rehearsal_id>")
@blp.arguments(FormatQuerySchema, location="query")
@blp.response(200, ReportSchema)
def get_rehearsal(query, rehearsal_id):
    """One past report, as JSON, text or JUnit XML."""
    report = current().services["rehearsals"].get(rehearsal_id)
    if report is None:
        raise NotFound(f"no rehearsal {rehearsal_id!r}")
    return _rendered(report, query["format"], 200)


def _params(body: dict) -> dict:
    names = {"issuerUrl": "issuer_url", "issuerId": "issuer_id", "consumerId": "consumer_id", "cardId": "card_id",
             "appInstanceId": "app_instance_id", "oauth2": "oauth2", "clientId": "client_id",
             "clientSecret": "client_secret", "tokenPath": "token_path", "latencyBudgetMs": "budget_ms",
             "timeoutSeconds": "timeout_s"}
    return {names[key]: value for key, value in body.items() if key in names}


def _rendered(report: dict, fmt: str, status: int):
    if fmt == "json":
        return report
    text, mimetype = render(report, fmt)
    resp = Response(text, status=status, mimetype=mimetype)
    resp.headers["X-Rehearsal-Passed"] = "true" if report["passed"] else "false"
    return resp

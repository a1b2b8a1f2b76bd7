"""HTTP for the sandbox controls. Thin: parse, call the domain object, render."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from d1sandbox import demo
from d1sandbox.errors import NotFound, ValidationFailed
from d1sandbox.journal import mermaid

from ..issuers import deep_merge, default_config, public_config
from ..runtime import current
from ..seed import reset
from . import schemas as s

blp = Blueprint("sandbox", __name__, url_prefix="/sandbox", description="Sandbox controls (not part of D1)")


@blp.post("/reset")
@blp.response(200, description="Back to the seeded demo state")
def reset_sandbox():
    rt = current()
    reset(rt)
    return {"status": "reset", "issuers": [i["issuerId"] for i in rt.issuers.list()]}


@blp.get("/test-cards")
@blp.response(200, s.TestCardSchema(many=True))
def test_cards():
    return demo.test_cards()


@blp.get("/issuers")
@blp.response(200, s.IssuerViewSchema(many=True))
def list_issuers():
    return [public_config(view) for view in current().issuers.list()]


@blp.get("/issuers/<issuer_id>")
@blp.response(200, s.IssuerViewSchema)
def get_issuer(issuer_id):
    return public_config(current().issuers.get(issuer_id))


@blp.put("/issuers/<issuer_id>")
@blp.arguments(s.IssuerConfigSchema)
@blp.response(200, s.IssuerViewSchema)
def put_issuer(patch, issuer_id):
    """Onboard an issuer or change its configuration (fields sent are merged onto the current ones)."""
    rt = current()
    if len(issuer_id) > 64 or not issuer_id.replace("-", "").replace("_", "").isalnum():
        raise ValidationFailed("issuerId must be 1-64 letters, digits, '-' or '_'",
                               fields={"issuerId": ["invalid identifier"]})
    client_id = patch.pop("client_id", None)
    client_secret = patch.pop("client_secret", None)
    if rt.issuers.exists(issuer_id):
        base = rt.issuers.get(issuer_id)["config"]
    else:
        base = default_config(issuer_id, patch.get("name", issuer_id), rt.config["ISSUER_URL"])
        base["backend"]["auth"] = {"type": "none"}
    merged = deep_merge(base, patch)
    taken = rt.db.one("SELECT issuer_id FROM issuers WHERE client_id = ? AND issuer_id != ?",
                      (client_id or "", issuer_id))
    if taken:
        raise ValidationFailed("client_id is already used by another issuer", fields={"client_id": ["taken"]})
    view = rt.issuers.upsert(issuer_id, merged, client_id=client_id, client_secret=client_secret)
    return public_config(view)


@blp.get("/messages")
@blp.arguments(s.MessagesQuerySchema, location="query")
@blp.response(200, s.MessageSchema(many=True))
def messages(query):
    """Every SMS/email delivered to a handset or mailbox, newest first."""
    from ..messaging.inbox import Inbox

    rt = current()
    return Inbox(rt.db, rt.clock).list(query.get("to"), query.get("channel"), query["limit"],
                                       correlation=query.get("correlation"))


@blp.post("/network/sms")
@blp.arguments(s.NetworkSmsSchema)
@blp.response(202, s.MessageSchema)
def network_sms(body):
    """The sandbox carrier: an SMS gateway (e.g. the issuer backend's own) hands a message to the phone
    network, which delivers it to the handset inbox."""
    from ..messaging.inbox import Inbox

    rt = current()
    return Inbox(rt.db, rt.clock).deliver(channel="sms", to=body["to"], sender=body["from"],
                                          sent_by=body["sent_by"], body=body["body"])


@blp.post("/network/email")
@blp.arguments(s.NetworkEmailSchema)
@blp.response(202, s.MessageSchema)
def network_email(body):
    """The sandbox mail relay: delivers an email to the mailbox inbox."""
    from ..messaging.inbox import Inbox

    rt = current()
    return Inbox(rt.db, rt.clock).deliver(channel="email", to=body["to"], sender=body["from"],
                                          sent_by=body["sent_by"], body=body["body"], subject=body["subject"])


@blp.put("/apps/<client_id>")
@blp.arguments(s.AppSchema)
@blp.response(200, s.AppViewSchema)
def put_app(app, client_id):
    """Configure a one-time-login app (client, redirect URI allowlist, OTP policy)."""
    rt = current()
    if not 3 <= len(client_id) <= 64:
        raise ValidationFailed("clientId must be 3-64 characters", fields={"clientId": ["invalid length"]})
    with rt.db.transaction():
        rt.db.insert("apps", {
            "client_id": client_id, "client_secret": app["client_secret"], "name": app["name"],
            "redirect_uris": app["redirect_uris"], "public_signups": int(app["public_signups"]),
            "otp_policy": app["otp"], "sender_id": app["sender_id"], "updated_at": rt.clock.now(),
        }, replace=True)
    return _app_view(client_id)


@blp.get("/apps/<client_id>")
@blp.response(200, s.AppViewSchema)
def get_app(client_id):
    return _app_view(client_id)


def _app_view(client_id: str) -> dict:
    from d1sandbox.db import loads

    row = current().db.get("apps", client_id=client_id)
    if row is None:
        raise NotFound(f"app {client_id!r} is not configured")
    return {"client_id": row["client_id"], "client_secret": row["client_secret"], "name": row["name"],
            "redirect_uris": loads(row["redirect_uris"], []), "public_signups": bool(row["public_signups"]),
            "otp": loads(row["otp_policy"], {}), "sender_id": row.get("sender_id")}


@blp.get("/clock")
@blp.response(200, s.ClockViewSchema)
def get_clock():
    clock = current().clock
    return {"now": clock.isoformat(), "offset_seconds": clock.offset}


@blp.post("/clock")
@blp.arguments(s.ClockSchema)
@blp.response(200, s.ClockViewSchema)
def advance_clock(body):
    """Move the sandbox clock forward (expiry without sleeping)."""
    clock = current().clock
    clock.advance(body["advance_seconds"])
    return {"now": clock.isoformat(), "offset_seconds": clock.offset}


@blp.get("/faults")
@blp.response(200, s.FaultViewSchema(many=True))
def list_faults():
    return current().faults.list()


@blp.post("/faults")
@blp.arguments(s.FaultSchema)
@blp.response(201, s.FaultViewSchema)
def add_fault(body):
    """Make chosen outbound calls fail: answer `status`, hang past the timeout, or wait `delay_ms`."""
    return current().faults.add(body["target"], body["operation"], issuer_id=body["issuerId"],
                                status=body["status"], delay_ms=body["delay_ms"], timeout=body["timeout"],
                                count=body["count"])


@blp.delete("/faults")
@blp.response(200)
def clear_faults():
    return {"cleared": current().faults.clear()}


@blp.get("/journal")
@blp.arguments(s.JournalQuerySchema, location="query")
@blp.response(200, s.JournalEntrySchema(many=True))
def journal(query):
    """Every message exchanged for a transaction (any of its IDs), in order, redacted."""
    rt = current()
    if query.get("transaction"):
        if query.get("issuer"):
            from ..sequence_diagrams import transaction_entries

            return transaction_entries(rt, query["transaction"])[0]
        return rt.journal.for_transaction(query["transaction"])
    return rt.journal.recent(query["limit"])


@blp.get("/journal/<transaction_id>/diagram")
@blp.arguments(s.DiagramQuerySchema, location="query")
@blp.response(200, description="Mermaid sequenceDiagram (text/plain)")
def diagram(query, transaction_id):
    """The transaction as a Mermaid sequence diagram: D1's journal merged with the wired issuer backend's
    (`?issuer=false` for D1's side only), every actor and message, redacted."""
    from ..sequence_diagrams import transaction_entries

    rt = current()
    entries, missing = transaction_entries(rt, transaction_id, include_issuer=query["issuer"])
    if not entries:
        raise NotFound(f"no journal entries for transaction {transaction_id!r}")
    text = mermaid(entries, title=f"Transaction {rt.journal.resolve(transaction_id)}")
    if missing:
        text += f"%% issuer backend side not included: {missing}\n"
    return Response(text, mimetype="text/plain")


@blp.get("/outbox")
@blp.arguments(s.OutboxQuerySchema, location="query")
@blp.response(200)
def outbox(query):
    """Deliveries D1 still owes (pending, or dead after every retry); `?kind=` narrows both the stats
    and the list, `?limit=` caps the list (`limit=0`: the stats alone, e.g. to poll a backlog)."""
    rt = current()
    kind = query.get("kind")
    return {"stats": rt.outbox.stats(kind), "undelivered": rt.outbox.pending(kind, query.get("limit"))}


@blp.post("/outbox/redeliver")
@blp.arguments(s.OutboxRedeliverSchema, required=False)
@blp.response(200)
def redeliver_outbox(body):
    """Queue dead deliveries again with fresh attempts (after the issuer backend was fixed): a
    notification the issuer refused (4xx) or that ran out of retries is dead, never dropped."""
    rt = current()
    kind = (body or {}).get("kind")
    return {"requeued": rt.outbox.redeliver(kind), "stats": rt.outbox.stats(kind)}


@blp.post("/outbox/drain")
@blp.response(200)
def drain_outbox():
    """Deliver every notification that is due now, without waiting for the background worker (CI and
    scenarios that check what the issuer received)."""
    rt = current()
    return {"attempted": rt.outbox.drain(), "stats": rt.outbox.stats()}

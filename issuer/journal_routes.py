"""The reference issuer backend's own journal, readable like the simulator's: what the bank sent and
received for a transaction (its SMS gateway, its calls to D1), redacted. The simulator's diagram
endpoint merges it with D1's journal (d1sandbox/diagrams.py). A sandbox control, not part of D1."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from d1sandbox.errors import NotFound
from d1sandbox.journal import mermaid
from d1sandbox.journal_schema import JournalEntrySchema

from .runtime import current

blp = Blueprint("issuer_journal", __name__, url_prefix="/sandbox/journal",
                description="The issuer backend's message journal (sandbox control)")


class IssuerJournalQuerySchema(Schema):
    transaction = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                              metadata={"description": "transaction id(s); repeat to ask for several (e.g. a 3DS "
                                                       "transaction's threeDSServerTransID and acsTransID)"})
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=5000))


@blp.get("")
@blp.arguments(IssuerJournalQuerySchema, location="query")
@blp.response(200, JournalEntrySchema(many=True))
def journal(query):
    """Every message the issuer backend exchanged for these transactions, in order, redacted (or the
    latest `limit` entries)."""
    rt = current()
    ids = query.get("transaction") or []
    if not ids:
        return rt.journal.recent(query["limit"])
    seen: dict[int, dict] = {}
    for transaction_id in ids:
        for entry in rt.journal.for_transaction(transaction_id):
            seen.setdefault(entry["id"], entry)
    return [seen[key] for key in sorted(seen)]


@blp.get("/<transaction_id>/diagram")
@blp.response(200, description="Mermaid sequenceDiagram (text/plain) of the issuer backend's side")
def diagram(transaction_id):
    entries = current().journal.for_transaction(transaction_id)
    if not entries:
        raise NotFound(f"no journal entries for transaction {transaction_id!r}")
    return Response(mermaid(entries, title=f"Issuer backend, transaction {transaction_id}"), mimetype="text/plain")

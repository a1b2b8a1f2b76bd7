"""The wire shape of one journal entry, as both services' `GET /sandbox/journal` answer it (the rows
`Journal.for_transaction()` / `recent()` return). One description, so the two services' OpenAPI say the
same thing and cannot drift apart."""

from __future__ import annotations

from marshmallow import Schema, fields


class JournalEntrySchema(Schema):
    id = fields.Integer()
    at = fields.String()
    transaction = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    label = fields.String()
    kind = fields.String()
    method = fields.String(allow_none=True)
    path = fields.String(allow_none=True)
    status = fields.Integer(allow_none=True)
    body = fields.Raw(allow_none=True)

"""HTTP for the messaging sandbox controls: the issuer's sending-domain DNS zone and message status.
Thin: parse, call the domain object, render."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from d1sandbox.errors import NotFound

from ..runtime import current
from ..sandbox.schemas import MessageSchema
from .dns import RECORD_IDS
from .service import messaging_for

blp = Blueprint("sandbox-messaging", __name__, url_prefix="/sandbox",
                description="Sandbox controls for messaging: the issuer's email DNS zone, message status")


class DnsRecordSchema(Schema):
    id = fields.String(metadata={"description": "VERIFY | SPF | DKIM | DMARC | MX"})
    type = fields.String()
    name = fields.String()
    value = fields.String()
    purpose = fields.String()
    published = fields.Boolean(metadata={"description": "present in the issuer's (simulated) zone with this value"})


class DnsViewSchema(Schema):
    issuerId = fields.String()
    subdomain = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "NOT_CONFIGURED | PENDING | VERIFIED"})
    canSendEmail = fields.Boolean()
    missing = fields.List(fields.String())
    reason = fields.String(allow_none=True)
    records = fields.List(fields.Nested(DnsRecordSchema))


class DnsPublishSchema(Schema):
    only = fields.List(fields.String(validate=validate.OneOf(RECORD_IDS)), validate=validate.Length(min=1),
                       metadata={"description": "publish only these records (default: all)"})
    values = fields.Dict(keys=fields.String(validate=validate.OneOf(RECORD_IDS)),
                         values=fields.String(validate=validate.Length(min=1, max=2048)),
                         metadata={"description": "publish a different value (rehearse a typo: the record then "
                                                  "does not verify)"})


class DnsWithdrawQuerySchema(Schema):
    only = fields.List(fields.String(validate=validate.OneOf(RECORD_IDS)), load_default=None)


def _domain_args(issuer_id: str):
    rt = current()
    subdomain = (rt.issuers.config(issuer_id).get("email") or {}).get("subdomain")  # 404 for unknown issuer
    return messaging_for(rt).domains, subdomain


@blp.get("/issuers/<issuer_id>/dns")
@blp.response(200, DnsViewSchema)
def get_dns(issuer_id):
    """The DNS records D1 generated for the issuer's email sending subdomain (`email.subdomain`), and
    which of them the issuer's (simulated) zone publishes. Email on the issuer's behalf is only sent
    when `canSendEmail` is true."""
    domains, subdomain = _domain_args(issuer_id)
    return domains.status(issuer_id, subdomain).view()


@blp.post("/issuers/<issuer_id>/dns/publish")
@blp.arguments(DnsPublishSchema)
@blp.response(200, DnsViewSchema)
def publish_dns(body, issuer_id):
    """Publish D1's records in the issuer's simulated DNS zone (all, or `only` some of them)."""
    domains, subdomain = _domain_args(issuer_id)
    return domains.publish(issuer_id, subdomain, body.get("only"), body.get("values")).view()


@blp.delete("/issuers/<issuer_id>/dns")
@blp.arguments(DnsWithdrawQuerySchema, location="query")
@blp.response(200, DnsViewSchema)
def withdraw_dns(query, issuer_id):
    """Remove records from the issuer's simulated zone (all, or `?only=DKIM&only=SPF`)."""
    domains, subdomain = _domain_args(issuer_id)
    return domains.withdraw(issuer_id, subdomain, query.get("only")).view()


@blp.get("/messages/<message_id>")
@blp.response(200, MessageSchema)
def get_message(message_id):
    """One message with its delivery status history (queued → sent → delivered, or failed/blocked
    with the reason)."""
    message = messaging_for(current()).inbox.get(message_id)
    if message is None:
        raise NotFound(f"no message {message_id!r}")
    return message

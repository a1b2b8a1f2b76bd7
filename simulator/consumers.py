"""Consumer contact details: D1 fetches them from the issuer backend where it needs them.

The card registration carries only the consumerId; phone, email and locale belong to the issuer and
are read from its consumer API (`GET /banking/d1/v1/issuers/{issuerId}/consumers/{consumerId}`,
docs/wire-contract.md). D1 cannot verify what the issuer answers (seed 001) and uses it as given, but
it does check the answer's shape. A good answer refreshes D1's local `consumers` row; when the issuer
cannot be reached or answers nonsense, D1 falls back to the last details it holds.

    consumer = fetch_consumer(rt, "demo-issuer", "consumer-0003", correlation=acs_trans_id)
    if consumer is None: ...            # unknown to the issuer (404) and to D1
    consumer.phone, consumer.email, consumer.locale, consumer.source  # "issuer" | "cache"
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from urllib.parse import quote

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

log = logging.getLogger("d1sandbox.consumers")

OPERATION = "consumer"
E164 = r"^\+[1-9]\d{6,14}$"


class ConsumerInfoSchema(Schema):
    """The issuer's answer to Get consumer information (docs/wire-contract.md)."""

    class Meta:
        unknown = EXCLUDE  # issuers may send more than D1 needs

    consumerId = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(allow_none=True, validate=validate.Length(max=200))
    phoneNumber = fields.String(allow_none=True,
                                validate=validate.Regexp(E164, error="must be E.164, e.g. +16175550103"))
    email = fields.Email(allow_none=True)
    locale = fields.String(allow_none=True, validate=validate.Regexp(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"))

    @validates_schema
    def _some_contact(self, data, **kwargs):
        if not data.get("phoneNumber") and not data.get("email"):
            raise ValidationError("the answer carries neither phoneNumber nor email", "phoneNumber")


@dataclass(frozen=True)
class Consumer:
    issuer_id: str
    consumer_id: str
    name: str | None
    phone: str | None
    email: str | None
    locale: str | None
    source: str  # "issuer": fresh from the issuer's consumer API; "cache": D1's last known details

    def as_dict(self) -> dict:
        return asdict(self)


def consumer_path(issuer_id: str, consumer_id: str) -> str:
    return f"/banking/d1/v1/issuers/{quote(issuer_id, safe='')}/consumers/{quote(consumer_id, safe='')}"


def fetch_consumer(rt, issuer_id: str, consumer_id: str, correlation: str | None = None) -> Consumer | None:
    """Ask the issuer for the consumer's details; refresh D1's copy; fall back to it on trouble.

    Returns None only when the issuer says the consumer does not exist (404) and D1 knows nothing
    either, or when neither side can provide details."""
    result = rt.issuer_link.client(issuer_id).call(
        "GET", consumer_path(issuer_id, consumer_id), operation=OPERATION, correlation=correlation)
    if result.ok:
        try:
            info = ConsumerInfoSchema().load(result.body if isinstance(result.body, dict) else {})
            if info["consumerId"] != consumer_id:
                raise ValidationError({"consumerId": [f"answer is about {info['consumerId']!r}"]})
        except ValidationError as exc:
            _note(rt, correlation, "consumer answer rejected", {"fields": exc.normalized_messages()})
        else:
            return _refresh(rt, issuer_id, consumer_id, info)
    elif result.status == 404:
        # The issuer is the authority on its customers: an unknown consumer has no usable contact.
        _note(rt, correlation, "consumer unknown to the issuer", {"consumerId": consumer_id})
        return None
    else:
        _note(rt, correlation, "consumer API unavailable, using D1's copy", {"outcome": result.describe()})
    return cached_consumer(rt, issuer_id, consumer_id)


def cached_consumer(rt, issuer_id: str, consumer_id: str) -> Consumer | None:
    """D1's last known details (from the card registration or the last successful fetch)."""
    row = rt.db.get("consumers", issuer_id=issuer_id, consumer_id=consumer_id)
    if row is None:
        return None
    return Consumer(issuer_id, consumer_id, row.get("name"), row.get("phone"), row.get("email"), row.get("locale"),
                    "cache")


def _refresh(rt, issuer_id: str, consumer_id: str, info: dict) -> Consumer:
    now = rt.clock.now()
    values = {"name": info.get("name"), "phone": info.get("phoneNumber"), "email": info.get("email"),
              "locale": info.get("locale")}
    with rt.db.transaction():
        if rt.db.get("consumers", issuer_id=issuer_id, consumer_id=consumer_id) is None:
            rt.db.insert("consumers", {"issuer_id": issuer_id, "consumer_id": consumer_id, **values,
                                       "created_at": now, "updated_at": now})
        else:
            rt.db.update("consumers", {"issuer_id": issuer_id, "consumer_id": consumer_id},
                         {**values, "updated_at": now})
    return Consumer(issuer_id, consumer_id, values["name"], values["phone"], values["email"], values["locale"],
                    "issuer")


def _note(rt, correlation: str | None, label: str, body: dict) -> None:
    log.info("%s (%s)", label, correlation or "-")
    try:
        rt.journal.record(correlation, "D1", "D1", label, body, kind="note")
    except Exception:  # the journal must never break a flow
        log.exception("journal write failed")

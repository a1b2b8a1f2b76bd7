"""Wire schemas of the sandbox controls (validation and OpenAPI from one description)."""

from __future__ import annotations

import re
import string

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from d1sandbox import journal_schema

SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$|^\+[1-9]\d{6,14}$")
ISSUER_PLACEHOLDERS = {"otp", "last4", "issuer", "ttl_minutes"}
LOGIN_PLACEHOLDERS = {"app", "otp"}


def placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValidationError(f"template is not well formed: {exc}") from None


def check_template(template: str, allowed: set[str], required: set[str]) -> None:
    """The messaging service's template rules (simulator/messaging/templates.py) as a validation error:
    unknown or positional placeholders, missing required ones, format specs."""
    from ..messaging.templates import TemplateError
    from ..messaging.templates import check_template as check

    try:
        check(template, allowed, required)
    except TemplateError as exc:
        raise ValidationError(str(exc)) from None


def validate_sender_id(value: str) -> None:
    """An alphanumeric sender ID (1-11 chars, at least one letter) or a valid E.164 number."""
    if not SENDER_ID.match(value):
        raise ValidationError("1-11 letters/digits with at least one letter, or an E.164 number")
    if value.startswith("+"):
        _e164(value)


def validate_locale_tag(value: str) -> None:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(value)
    except (ValueError, UnknownLocaleError):
        raise ValidationError(f"unknown locale {value!r}; use a language code such as en, ja, pt_BR") from None


class OutboundAuthSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(["none", "oauth2"]))
    token_path = fields.String(load_default="/oauth2/token", validate=validate.Regexp(r"^/"))
    client_id = fields.String(validate=validate.Length(min=1, max=200))
    client_secret = fields.String(validate=validate.Length(min=1, max=200), load_only=True)

    @validates_schema
    def _oauth_needs_credentials(self, data, **kwargs):
        if data.get("type") == "oauth2" and not (data.get("client_id") and data.get("client_secret")):
            raise ValidationError("oauth2 needs client_id and client_secret", "client_id")


class BackendSchema(Schema):
    url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    auth = fields.Nested(OutboundAuthSchema)


class TemplateSetSchema(Schema):
    sms = fields.String(validate=validate.Length(min=1, max=480))
    email_subject = fields.String(validate=validate.Length(min=1, max=200))
    email_body = fields.String(validate=validate.Length(min=1, max=5000))

    @validates("sms")
    def _sms(self, value, data_key):
        check_template(value, ISSUER_PLACEHOLDERS, {"otp"})

    @validates("email_body")
    def _email_body(self, value, data_key):
        check_template(value, ISSUER_PLACEHOLDERS, {"otp"})

    @validates("email_subject")
    def _email_subject(self, value, data_key):
        check_template(value, ISSUER_PLACEHOLDERS, set())


class OtpPolicySchema(Schema):
    length = fields.Integer(validate=validate.Range(min=4, max=10))
    alphabet = fields.String(validate=validate.OneOf(["numeric", "alphanumeric"]))
    ttl_seconds = fields.Integer(validate=validate.Range(min=30, max=1800))
    max_attempts = fields.Integer(validate=validate.Range(min=1, max=10))
    max_resends = fields.Integer(validate=validate.Range(min=0, max=10))
    rate_limit_per_hour = fields.Integer(validate=validate.Range(min=1, max=1000))


class BinRangeSchema(Schema):
    start = fields.String(required=True, validate=validate.Regexp(r"^\d{6,11}$"))
    end = fields.String(required=True, validate=validate.Regexp(r"^\d{6,11}$"))

    @validates_schema
    def _ordered(self, data, **kwargs):
        if len(data["start"]) != len(data["end"]) or data["start"] > data["end"]:
            raise ValidationError("start and end must have the same length and start <= end", "end")


class CardProductSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    scheme = fields.String(required=True, validate=validate.OneOf(["visa", "mastercard", "amex", "jcb", "discover"]))
    bin_ranges = fields.List(fields.Nested(BinRangeSchema), required=True, validate=validate.Length(min=1))


class EmailSettingsSchema(Schema):
    subdomain = fields.String(validate=validate.Regexp(
        r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        error="must be a DNS name such as email.bankname.com"))
    from_local_part = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$"))


class AcsSettingsSchema(Schema):
    challenge_amount_threshold = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    challenge_window_seconds = fields.Integer(validate=validate.Range(min=60, max=1800))


class TspSettingsSchema(Schema):
    """Tokenization decision rules (simulator/tsp/decision.py). Test-card behaviours (`stepup-sms`,
    `stepup-email`, `rejected`, …) win over these rules."""

    default_decision = fields.String(validate=validate.OneOf(["APPROVED", "REQUIRE_STEP_UP", "DECLINED"]),
                                     metadata={"description": "decision when no rule fires (default APPROVED)"})
    step_up_methods = fields.List(fields.String(validate=validate.OneOf(["SMS", "EMAIL"])),
                                  validate=validate.Length(min=1, max=2),
                                  metadata={"description": "methods offered on step-up, in order"})
    honor_wallet_recommendation = fields.Boolean(
        metadata={"description": "follow the wallet's own recommendation "
                                 "(DECLINE / REQUIRE_ADDITIONAL_AUTHENTICATION)"})
    decline_device_score_below = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=5))
    step_up_device_score_below = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=5))
    step_up_account_score_below = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=5))
    max_tokens_per_card = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100))


class IssuerConfigSchema(Schema):
    """Issuer onboarding. Every field is optional on PUT: what is sent is merged onto the current
    configuration (or the defaults, for a new issuer)."""

    name = fields.String(validate=validate.Length(min=1, max=100))
    client_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9._-]{3,64}$"),
                              metadata={"description": "D1 API client id (generated for a new issuer)"})
    client_secret = fields.String(validate=validate.Length(min=12, max=200), load_only=True)
    backend = fields.Nested(BackendSchema)
    otp_delivery = fields.String(validate=validate.OneOf(["D1", "ISSUER"]))
    oob_enabled = fields.Boolean()
    sender_id = fields.String(validate=validate_sender_id)
    default_locale = fields.String(validate=[validate.Regexp(r"^[a-z]{2}(_[A-Z]{2})?$"), validate_locale_tag])
    templates = fields.Dict(keys=fields.String(validate=[validate.Regexp(r"^[a-z]{2}(_[A-Z]{2})?$"),
                                                         validate_locale_tag]),
                            values=fields.Nested(TemplateSetSchema))
    email = fields.Nested(EmailSettingsSchema)
    otp_policy = fields.Nested(OtpPolicySchema)
    card_products = fields.List(fields.Nested(CardProductSchema))
    acs = fields.Nested(AcsSettingsSchema)
    tsp = fields.Nested(TspSettingsSchema)


class IssuerViewSchema(Schema):
    issuerId = fields.String()
    name = fields.String()
    client_id = fields.String()
    client_secret = fields.String(metadata={"description": "sandbox test credential, shown on purpose"})
    version = fields.Integer()
    config = fields.Dict()


class OtpLoginPolicySchema(Schema):
    length = fields.Integer(load_default=6, validate=validate.Range(min=4, max=10))
    expiration_minutes = fields.Integer(load_default=5, validate=validate.Range(min=1, max=60))
    lockout_attempts = fields.Integer(load_default=5, validate=validate.Range(min=1, max=20))
    lockout_minutes = fields.Integer(load_default=15, validate=validate.Range(min=1, max=1440))


class AppSchema(Schema):
    client_secret = fields.String(required=True, validate=validate.Length(min=12, max=200))
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    redirect_uris = fields.List(fields.Url(require_tld=False, schemes={"http", "https"}), required=True,
                                validate=validate.Length(min=1, max=20))
    public_signups = fields.Boolean(load_default=False)
    otp = fields.Nested(OtpLoginPolicySchema, load_default=lambda: OtpLoginPolicySchema().load({}))
    sender_id = fields.String(load_default=None, allow_none=True, validate=validate_sender_id, metadata={
        "description": "default SMS sender ID (a send request's sender_id overrides it)"})


class AppViewSchema(Schema):
    client_id = fields.String()
    client_secret = fields.String()
    name = fields.String()
    redirect_uris = fields.List(fields.String())
    public_signups = fields.Boolean()
    otp = fields.Dict()
    sender_id = fields.String(allow_none=True)


class ClockSchema(Schema):
    advance_seconds = fields.Float(required=True, validate=validate.Range(min=0, max=10 * 365 * 86400))


class ClockViewSchema(Schema):
    now = fields.String()
    offset_seconds = fields.Float()


class FaultSchema(Schema):
    target = fields.String(load_default="issuer",
                           validate=validate.OneOf(["issuer", "threeds-server", "sms", "email"]))
    operation = fields.String(load_default="*", validate=validate.Regexp(r"^[a-z0-9*-]{1,40}$"),
                              metadata={"description": "token, consumer, otp, authentication, "
                                        "authentication-result, notifications, 3ds-notification, rreq, sms, email, *"})
    issuerId = fields.String(load_default=None)
    status = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=100, max=599))
    delay_ms = fields.Integer(load_default=0, validate=validate.Range(min=0, max=120000))
    timeout = fields.Boolean(load_default=False)
    count = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=100000))

    @validates_schema
    def _does_something(self, data, **kwargs):
        if data.get("status") is None and not data.get("timeout") and not data.get("delay_ms"):
            raise ValidationError("a fault needs status, timeout or delay_ms", "status")


class FaultViewSchema(Schema):
    id = fields.Integer()
    target = fields.String()
    operation = fields.String()
    issuerId = fields.String(allow_none=True)
    status = fields.Integer(allow_none=True)
    delay_ms = fields.Integer()
    timeout = fields.Boolean()
    remaining = fields.Integer(allow_none=True)
    hits = fields.Integer()


class MessagesQuerySchema(Schema):
    to = fields.String(validate=validate.Length(min=1, max=320))
    channel = fields.String(validate=validate.OneOf(["sms", "email"]))
    correlation = fields.String(validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class MessageSchema(Schema):
    id = fields.String()
    channel = fields.String()
    to = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    sent_by = fields.String()
    subject = fields.String()
    body = fields.String()
    status = fields.String(metadata={"description": "queued | sent | delivered | failed | blocked"})
    status_history = fields.List(fields.Dict())
    reason = fields.String(metadata={"description": "why a failed/blocked message did not arrive"})
    correlation = fields.String(metadata={"description": "the transaction it belongs to (acsTransID, tokenRefId, …)"})
    created_at = fields.String()


def _e164(value: str) -> None:
    from ..messaging.addresses import is_e164

    if not is_e164(value):
        raise ValidationError("must be a valid E.164 phone number such as +16175550101")


class NetworkSmsSchema(Schema):
    to = fields.String(required=True, validate=_e164)
    from_ = fields.String(required=True, data_key="from", attribute="from", validate=validate.Regexp(SENDER_ID))
    body = fields.String(required=True, validate=validate.Length(min=1, max=1600))
    sent_by = fields.String(load_default="issuer", validate=validate.OneOf(["issuer", "d1"]))


class NetworkEmailSchema(Schema):
    to = fields.Email(required=True)
    from_ = fields.Email(required=True, data_key="from", attribute="from")
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    sent_by = fields.String(load_default="issuer", validate=validate.OneOf(["issuer", "d1"]))


class TestCardSchema(Schema):
    issuerId = fields.String()
    cardId = fields.String()
    consumerId = fields.String()
    pan = fields.String()
    expiry = fields.String(metadata={"description": "YYMM"})
    behavior = fields.String()
    scheme = fields.String()
    description = fields.String()
    phone = fields.String()
    email = fields.String()
    locale = fields.String()


class JournalQuerySchema(Schema):
    transaction = fields.String(validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=5000))
    issuer = fields.Boolean(load_default=False, metadata={
        "description": "with `transaction`: merge in the wired issuer backend's journal (its SMS gateway, its "
                       "calls to D1), each entry marked with `service`"})


class OutboxQuerySchema(Schema):
    kind = fields.String(validate=validate.Length(min=1, max=100), metadata={
        "description": "only this kind of delivery, e.g. `issuer.3ds-notification` or `threeds.rreq`"})
    limit = fields.Integer(validate=validate.Range(min=0, max=10000), metadata={
        "description": "list at most this many undelivered rows (the stats still count them all)"})


class OutboxRedeliverSchema(Schema):
    kind = fields.String(validate=validate.Length(min=1, max=100), metadata={
        "description": "only dead rows of this kind (default: every dead row)"})


class DiagramQuerySchema(Schema):
    issuer = fields.Boolean(load_default=True, metadata={
        "description": "merge in the wired issuer backend's journal (default true; false = D1's side only)"})


class JournalEntrySchema(journal_schema.JournalEntrySchema):
    """The shared entry shape, plus where the entry comes from when the journals are merged."""

    service = fields.String(metadata={"description": "simulator or issuer (merged journals only)"})

"""Wire schemas of the reference issuer backend: the bodies D1 sends (docs/wire-contract.md), the
answers it gets, and the bank's own app/admin APIs. Unknown fields in D1's bodies are ignored (D1 may
add fields); missing or malformed required ones are a 422 naming the field."""

from __future__ import annotations

from datetime import datetime

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from d1sandbox.redact import luhn_ok

E164 = validate.Regexp(r"^\+[1-9]\d{6,14}$", error="must be E.164, e.g. +16175550103")
ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", error="1-64 letters, digits, '.', '_' or '-'")
LOCALE = validate.Regexp(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$", error="a language tag such as en or ja")
EXPIRY = validate.Regexp(r"^\d{2}(0[1-9]|1[0-2])$", error="must be YYMM (e.g. 3012 for December 2030)")


class Timestamp(fields.String):
    """ISO 8601 date-time as D1 writes it (e.g. 2026-11-23T10:05:00.000Z)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError("must be an ISO 8601 date-time such as 2026-11-23T10:05:00.000Z") from None
        if moment.tzinfo is None:
            raise ValidationError("must carry a time zone (Z or an offset)")
        return text


class FromD1(Schema):
    class Meta:
        unknown = EXCLUDE


# -- D1 → issuer -----------------------------------------------------------------------------------
class DeliverOtpSchema(FromD1):
    otp = fields.String(required=True, load_only=True, validate=validate.Regexp(r"^[A-Za-z0-9]{4,10}$"))
    channel = fields.String(required=True, validate=validate.OneOf(["SMS", "EMAIL"]))
    purpose = fields.String(required=True, validate=validate.OneOf(["3DS", "TOKENIZATION"]))
    transactionId = fields.String(required=True, validate=validate.Length(min=1, max=128))
    cardId = fields.String(allow_none=True)
    panLast4 = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{4}$"))
    locale = fields.String(allow_none=True, validate=LOCALE)
    expiresAt = Timestamp(allow_none=True)
    merchantName = fields.String(allow_none=True, validate=validate.Length(max=100))
    amount = fields.String(allow_none=True, validate=validate.Length(max=32))
    currency = fields.String(allow_none=True, validate=validate.Length(max=3))


class DeliveryAnswerSchema(Schema):
    deliveryId = fields.String()
    status = fields.String(metadata={"description": "SENT"})


CONSUMER_EVENTS = ["AUTHENTICATOR_ENROLLED", "AUTHENTICATOR_DELETED", "TOKEN_CREATED", "TOKEN_ACTIVATED",
                   "TOKEN_SUSPENDED", "TOKEN_RESUMED", "TOKEN_DELETED", "TOKEN_DECLINED"]


class ConsumerNotificationSchema(FromD1):
    eventType = fields.String(required=True, validate=validate.OneOf(CONSUMER_EVENTS))
    eventId = fields.String(required=True, validate=validate.Length(min=1, max=128))
    timestamp = Timestamp(required=True)
    appInstanceId = fields.String(allow_none=True)
    cardId = fields.String(allow_none=True)
    tokenRefId = fields.String(allow_none=True)
    tokenRequestorId = fields.String(allow_none=True)

    @validates_schema
    def _authenticator_events_name_the_app(self, data, **kwargs):
        if data.get("eventType", "").startswith("AUTHENTICATOR_") and not data.get("appInstanceId"):
            raise ValidationError("required for AUTHENTICATOR_* events", "appInstanceId")


class AuthenticateSchema(FromD1):
    transactionId = fields.String(required=True, validate=validate.Length(min=1, max=128))
    expiresAt = Timestamp(required=True)
    cardId = fields.String(allow_none=True)
    panLast4 = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{4}$"))
    appInstanceId = fields.String(allow_none=True)
    merchantName = fields.String(allow_none=True, validate=validate.Length(max=100))
    amount = fields.String(allow_none=True, validate=validate.Length(max=32))
    currency = fields.String(allow_none=True, validate=validate.Length(max=3))
    locale = fields.String(allow_none=True, validate=LOCALE)


class AuthenticationStartedSchema(Schema):
    authenticationId = fields.String()
    status = fields.String()


class AuthenticationResultSchema(Schema):
    authenticationId = fields.String()
    status = fields.String(metadata={"description": "PENDING | APPROVED | DECLINED | EXPIRED"})
    decidedAt = fields.String(allow_none=True)


class ThreeDSNotificationSchema(FromD1):
    operationId = fields.String(required=True, validate=validate.Length(min=1, max=128))
    acsTransID = fields.String(required=True)
    transStatus = fields.String(required=True, validate=validate.OneOf(list("YNUACDRI")))
    timestamp = Timestamp(required=True)
    threeDSServerTransID = fields.String(allow_none=True)
    dsTransID = fields.String(allow_none=True)
    messageVersion = fields.String(allow_none=True)
    messageCategory = fields.String(allow_none=True)
    deviceChannel = fields.String(allow_none=True)
    transStatusReason = fields.String(allow_none=True)
    challengeMethod = fields.String(allow_none=True, validate=validate.OneOf(["FRICTIONLESS", "OOB", "SMS_OTP"]))
    eci = fields.String(allow_none=True)
    purchaseAmount = fields.String(allow_none=True)
    purchaseCurrency = fields.String(allow_none=True)
    merchantName = fields.String(allow_none=True)


class ConsumerInfoSchema(Schema):
    consumerId = fields.String()
    name = fields.String(allow_none=True)
    phoneNumber = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)


# -- the bank's own app and admin APIs ------------------------------------------------------------
class Strict(Schema):
    class Meta:
        unknown = RAISE


class NewConsumerSchema(Strict):
    consumerId = fields.String(validate=ID, metadata={"description": "generated when absent"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    phoneNumber = fields.String(required=True, validate=E164)
    email = fields.Email(load_default=None)
    locale = fields.String(load_default="en", validate=LOCALE)
    appReachable = fields.Boolean(load_default=True, metadata={"description": "sandbox: false makes the issuer "
                                                                              "app unreachable (OOB fails)"})


class ConsumerViewSchema(Schema):
    consumerId = fields.String()
    name = fields.String()
    phoneNumber = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    appInstanceId = fields.String(allow_none=True)
    appReachable = fields.Boolean()


class PanField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        pan = super()._deserialize(value, attr, data, **kwargs)
        if not pan.isdigit() or not 13 <= len(pan) <= 19:
            raise ValidationError("must be 13 to 19 digits")
        if not luhn_ok(pan):
            raise ValidationError("fails the Luhn check")
        return pan


class NewCardSchema(Strict):
    cardId = fields.String(validate=ID, metadata={"description": "the bank's card id; generated when absent"})
    consumerId = fields.String(required=True, validate=ID)
    pan = PanField(required=True, load_only=True)
    expiry = fields.String(required=True, validate=EXPIRY)
    behavior = fields.String(metadata={"description": "sandbox: test-card behavior in D1"})
    registration = fields.String(load_default="register", validate=validate.OneOf(["register", "create"]),
                                 metadata={"description": "register = PUT …/cards/{cardId} (idempotent, default); "
                                                          "create = POST …/cards"})


class RenewCardSchema(Strict):
    expiry = fields.String(required=True, validate=EXPIRY)


class ReplaceCardSchema(Strict):
    pan = PanField(required=True, load_only=True)
    expiry = fields.String(required=True, validate=EXPIRY)
    newCardId = fields.String(validate=ID)
    reason = fields.String(validate=validate.OneOf(["LOST", "STOLEN", "DAMAGED", "EXPIRED", "UPGRADE", "OTHER"]))


class DeleteCardSchema(Strict):
    reason = fields.String(validate=validate.OneOf(["CLOSED", "FRAUD", "CUSTOMER_REQUEST", "OTHER"]))


class CardViewSchema(Schema):
    cardId = fields.String()
    consumerId = fields.String()
    panLast4 = fields.String()
    expiry = fields.String()
    state = fields.String()
    d1Status = fields.String()
    replaces = fields.String(allow_none=True)
    replacedBy = fields.String(allow_none=True)
    d1 = fields.Dict(metadata={"description": "D1's answer (the card as D1 holds it)"})


class NotificationsQuerySchema(Schema):
    kind = fields.String(validate=validate.OneOf(["consumer", "3ds", "otp"]))
    consumerId = fields.String()
    cardId = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class NotificationViewSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "consumer | 3ds | otp"})
    consumerId = fields.String(allow_none=True)
    cardId = fields.String(allow_none=True)
    body = fields.Dict(metadata={"description": "what D1 sent (an OTP is masked)"})
    receivedAt = fields.String()


class AuthenticationsQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(["PENDING", "APPROVED", "DECLINED", "EXPIRED"]))


class AuthenticationViewSchema(Schema):
    authenticationId = fields.String()
    consumerId = fields.String()
    status = fields.String()
    transactionId = fields.String()
    cardId = fields.String(allow_none=True)
    panLast4 = fields.String(allow_none=True)
    merchantName = fields.String(allow_none=True)
    amount = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)
    expiresAt = fields.String()
    createdAt = fields.String()
    decidedAt = fields.String(allow_none=True)


class EnrollAppSchema(Strict):
    appInstanceId = fields.String(validate=ID)



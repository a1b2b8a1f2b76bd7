"""Wire schemas of the TSP API (validation and OpenAPI from one description)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from d1sandbox.redact import luhn_ok

from .decision import RECOMMENDATIONS


class DeviceInfoSchema(Schema):
    deviceId = fields.String(validate=validate.Length(min=1, max=64))
    deviceType = fields.String(validate=validate.OneOf(["PHONE", "TABLET", "WATCH", "WEARABLE", "PC", "OTHER"]))
    deviceName = fields.String(validate=validate.Length(min=1, max=64))
    osType = fields.String(validate=validate.OneOf(["IOS", "ANDROID", "WINDOWS", "OTHER"]))
    osVersion = fields.String(validate=validate.Length(min=1, max=32))
    language = fields.String(validate=validate.Regexp(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"),
                             metadata={"description": "device language (BCP 47), the fallback for the OTP message"})


class RiskDataSchema(Schema):
    deviceScore = fields.Integer(validate=validate.Range(min=1, max=5), metadata={"description": "1 risky … 5 trusted"})
    accountScore = fields.Integer(validate=validate.Range(min=1, max=5),
                                  metadata={"description": "1 risky … 5 trusted"})
    recommendation = fields.String(validate=validate.OneOf(RECOMMENDATIONS),
                                   metadata={"description": "the wallet's own recommendation"})
    reasonCodes = fields.List(fields.String(validate=validate.Length(min=1, max=8)), validate=validate.Length(max=20))


class TokenizeSchema(Schema):
    issuerId = fields.String(validate=validate.Length(min=1, max=64),
                             metadata={"description": "optional; when given the card must belong to it"})
    cardId = fields.String(validate=validate.Length(min=1, max=64))
    pan = fields.String(validate=validate.Regexp(r"^\d{13,19}$", error="must be 13-19 digits"))
    expiry = fields.String(validate=validate.Regexp(r"^\d{2}(0[1-9]|1[0-2])$", error="must be YYMM"),
                           metadata={"description": "YYMM; required with pan"})
    tokenRequestorId = fields.String(required=True, validate=validate.Regexp(r"^\d{11}$", error="must be 11 digits"))
    deviceInfo = fields.Nested(DeviceInfoSchema, load_default=dict)
    riskData = fields.Nested(RiskDataSchema, load_default=dict)
    locale = fields.String(validate=validate.Regexp(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"))

    @validates("pan")
    def _luhn(self, value, data_key):
        if not luhn_ok(value):
            raise ValidationError("fails the Luhn check")

    @validates_schema
    def _card_reference(self, data, **kwargs):
        if bool(data.get("cardId")) == bool(data.get("pan")):
            raise ValidationError("give either cardId or pan (+ expiry)", "cardId")
        if data.get("pan") and not data.get("expiry"):
            raise ValidationError("expiry is required with pan", "expiry")


class StepUpMethodSchema(Schema):
    id = fields.String()
    type = fields.String(metadata={"description": "SMS | EMAIL"})
    target = fields.String(metadata={"description": "masked phone number or address"})


class TokenInfoSchema(Schema):
    tokenLast4 = fields.String()
    tokenExpiry = fields.String(metadata={"description": "YYMM"})


class TokenizeAnswerSchema(Schema):
    tokenRefId = fields.String()
    decision = fields.String(metadata={"description": "APPROVED | DECLINED | REQUIRE_STEP_UP"})
    status = fields.String(metadata={"description": "INACTIVE | ACTIVE | SUSPENDED | DELETED | DECLINED"})
    reasons = fields.List(fields.String())
    stepUpMethods = fields.List(fields.Nested(StepUpMethodSchema))
    panLast4 = fields.String()
    tokenInfo = fields.Nested(TokenInfoSchema)


class OtpRequestSchema(Schema):
    methodId = fields.String(required=True, validate=validate.Length(min=1, max=32))


class OtpSentSchema(Schema):
    tokenRefId = fields.String()
    methodId = fields.String()
    type = fields.String()
    target = fields.String()
    expiresAt = fields.String()
    resendsLeft = fields.Integer()
    delivery = fields.Dict(metadata={"description": "mode (D1 | ISSUER), status, locale"})


class ActivateSchema(Schema):
    otp = fields.String(required=True, validate=validate.Length(min=4, max=12))


class ActivatedSchema(Schema):
    tokenRefId = fields.String()
    status = fields.String()


class LifecycleSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=200))


class TokenViewSchema(TokenizeAnswerSchema):
    issuerId = fields.String()
    cardId = fields.String()
    consumerId = fields.String()
    tokenRequestorId = fields.String()
    wallet = fields.String()
    device = fields.Dict()
    otp = fields.Dict()
    events = fields.List(fields.Dict())
    createdAt = fields.String()
    updatedAt = fields.String()
    activatedAt = fields.String(allow_none=True)


class TokenListQuerySchema(Schema):
    cardId = fields.String(validate=validate.Length(min=1, max=64))
    status = fields.String(validate=validate.OneOf(["INACTIVE", "ACTIVE", "SUSPENDED", "DELETED", "DECLINED"]))

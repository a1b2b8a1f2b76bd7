"""Wire schemas of the D1 inbound card, 3DS history and authenticator APIs (validation + OpenAPI)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from .models import BEHAVIORS, DELETE_REASONS, ID_PATTERN, REPLACE_REASONS, STATES, pan_problems

ID = validate.Regexp(ID_PATTERN, error="1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
EXPIRY = validate.Regexp(r"^\d{2}(0[1-9]|1[0-2])$", error="must be YYMM (e.g. 3012 for December 2030)")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE  # a misspelt field is an error, not silently ignored


class PanMixin:
    @validates("pan")
    def _pan(self, value, data_key):
        problems = pan_problems(value)
        if problems:
            raise ValidationError(problems)


class CardRegistrationSchema(PanMixin, StrictSchema):
    consumerId = fields.String(required=True, validate=ID,
                               metadata={"description": "the issuer's consumer; contact details are fetched "
                                                        "from the issuer's consumer API when D1 needs them"})
    pan = fields.String(required=True, load_only=True,
                        metadata={"description": "13-19 digits, Luhn-valid, in one of the issuer's card ranges; "
                                                 "never returned"})
    expiry = fields.String(required=True, validate=EXPIRY, metadata={"description": "YYMM, not in the past"})
    behavior = fields.String(validate=validate.OneOf(BEHAVIORS),
                             metadata={"description": "sandbox only: how the ACS treats the card (test-card table)"})


class CreateCardSchema(CardRegistrationSchema):
    cardId = fields.String(validate=ID, metadata={"description": "the issuer's id for the card; generated when "
                                                                 "absent"})


class CardRenewSchema(StrictSchema):
    expiry = fields.String(required=True, validate=EXPIRY, metadata={"description": "new YYMM, later than now"})


class CardReplaceSchema(PanMixin, StrictSchema):
    pan = fields.String(required=True, load_only=True, metadata={"description": "the new card's PAN"})
    expiry = fields.String(required=True, validate=EXPIRY, metadata={"description": "the new card's YYMM"})
    newCardId = fields.String(validate=ID, metadata={"description": "id of the new card; generated when absent"})
    reason = fields.String(validate=validate.OneOf(REPLACE_REASONS))


class CardDeleteSchema(StrictSchema):
    reason = fields.String(validate=validate.OneOf(DELETE_REASONS))


class CardRecordSchema(Schema):
    cardId = fields.String()
    issuerId = fields.String()
    consumerId = fields.String()
    state = fields.String(metadata={"description": " | ".join(STATES)})
    panLast4 = fields.String()
    maskedPan = fields.String(metadata={"description": "the PAN is never returned"})
    expiry = fields.String(metadata={"description": "YYMM"})
    scheme = fields.String(allow_none=True)
    behavior = fields.String(allow_none=True)
    replaces = fields.String(allow_none=True, metadata={"description": "the card this one replaced"})
    replacedBy = fields.String(allow_none=True, metadata={"description": "the card that replaced this one"})
    createdAt = fields.String()
    updatedAt = fields.String()


class CardAuditEntrySchema(Schema):
    id = fields.Integer()
    operation = fields.String()
    requestId = fields.String(allow_none=True)
    detail = fields.Dict()
    at = fields.String()


class DateBound(fields.Field):
    """An ISO 8601 date-time (UTC when it has no offset) or a bare date: as `from` the start of that
    day, as `to` its end, both UTC."""

    def __init__(self, *, end_of_day: bool = False, **kw):
        super().__init__(**kw)
        self.end_of_day = end_of_day

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("must be an ISO 8601 date or date-time")
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            if len(text) == 10:
                day = datetime.fromisoformat(text).date()
                moment = datetime.combine(day, time.min, tzinfo=timezone.utc)
                return moment + timedelta(days=1, milliseconds=-1) if self.end_of_day else moment
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError("must be an ISO 8601 date (2026-01-31) or date-time (2026-01-31T10:00:00Z)") \
                from None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class ThreeDSOperationsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    from_ = DateBound(data_key="from", metadata={"description": "ISO 8601 date or date-time (UTC unless an "
                                                                "offset is given): created at or after",
                                                 "type": "string"})
    to = DateBound(end_of_day=True, metadata={"description": "ISO 8601 date or date-time: created at or before "
                                                             "(a bare date includes that whole day)",
                                              "type": "string"})
    status = fields.String(validate=validate.OneOf(["IN_PROGRESS", "COMPLETED"]))
    transStatus = fields.String(validate=validate.OneOf(list("YNUACDRI")))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(max=200),
                           metadata={"description": "`nextCursor` of the previous page"})


class ThreeDSOperationSchema(Schema):
    operationId = fields.String()
    cardId = fields.String()
    consumerId = fields.String(allow_none=True)
    threeDSServerTransID = fields.String(allow_none=True)
    dsTransID = fields.String(allow_none=True)
    acsTransID = fields.String(allow_none=True)
    sdkTransID = fields.String(allow_none=True)
    messageVersion = fields.String(allow_none=True)
    messageCategory = fields.String(allow_none=True)
    deviceChannel = fields.String(allow_none=True)
    transStatus = fields.String(allow_none=True)
    transStatusReason = fields.String(allow_none=True)
    challengeMethod = fields.String(allow_none=True, metadata={"description": "FRICTIONLESS | OOB | SMS_OTP"})
    eci = fields.String(allow_none=True)
    purchaseAmount = fields.String(allow_none=True)
    purchaseCurrency = fields.String(allow_none=True)
    merchantName = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "IN_PROGRESS | COMPLETED"})
    createdAt = fields.String()
    updatedAt = fields.String()


class ThreeDSOperationsPageSchema(Schema):
    operations = fields.List(fields.Nested(ThreeDSOperationSchema))
    nextCursor = fields.String(allow_none=True, metadata={"description": "null on the last page"})


class AppInstanceEnrollSchema(StrictSchema):
    appInstanceId = fields.String(validate=ID, metadata={"description": "generated when absent"})


class AppInstanceSchema(Schema):
    appInstanceId = fields.String()
    issuerId = fields.String()
    consumerId = fields.String()
    state = fields.String(metadata={"description": "ACTIVE | DELETED"})
    createdAt = fields.String()
    updatedAt = fields.String()

"""Wire schemas of the one-time login API and the OIDC endpoints (validation + OpenAPI)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from ..sandbox.schemas import validate_sender_id


class SendSmsOtpSchema(Schema):
    phone_number = fields.String(required=True, validate=validate.Length(min=1, max=32),
                                 metadata={"description": "E.164, e.g. +16175551212"})
    create_new_user = fields.Boolean(load_default=False, metadata={
        "description": "sign up a new user when none has this phone (needs the app's public sign-ups)"})
    redirect_uri = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={
        "description": "where the result URI redirects with ?code=…; must be in the app's allowlist, exactly"})
    custom_message = fields.String(validate=validate.Length(min=1, max=480), metadata={
        "description": "SMS text; must contain {app} (the app name) and {otp} (the code)"})
    sender_id = fields.String(validate=validate_sender_id, metadata={
        "description": "SMS sender name (1-11 letters/digits) or E.164 number; defaults to the app's"})


class SendSmsOtpResponseSchema(Schema):
    message = fields.String()
    login_id = fields.String(metadata={"description": "sandbox: finds this login in /sandbox/journal"})
    expires_in = fields.Integer(metadata={"description": "seconds the code is valid"})
    delivery = fields.Dict()


class ValidateSmsOtpSchema(Schema):
    phone_number = fields.String(required=True, validate=validate.Length(min=1, max=32))
    passcode = fields.String(required=True, validate=validate.Length(min=1, max=20), load_only=True)


class ValidationResultSchema(Schema):
    result = fields.String(metadata={"description": "GET it to be redirected to redirect_uri?code=…"})


class TokenRequestSchema(Schema):
    """RFC 6749 token request (application/x-www-form-urlencoded). Every field is optional here: the
    endpoint answers missing ones with an OAuth2 `invalid_request`, as clients expect."""

    class Meta:
        unknown = EXCLUDE  # scope, state, nonce, … are ignored, as RFC 6749 §3.2 allows

    grant_type = fields.String(metadata={"description": "authorization_code | client_credentials"})
    code = fields.String(load_only=True)
    redirect_uri = fields.String()
    client_id = fields.String(metadata={"description": "client_secret_post (or HTTP Basic)"})
    client_secret = fields.String(load_only=True)


class TokenResponseSchema(Schema):
    access_token = fields.String()
    id_token = fields.String(metadata={"description": "authorization_code only: RS256 JWT"})
    token_type = fields.String()
    expires_in = fields.Integer()
    scope = fields.String()


class UserinfoSchema(Schema):
    sub = fields.String()
    phone_number = fields.String()
    phone_number_verified = fields.Boolean()


class CallbackSchema(Schema):
    code = fields.String(load_default=None)
    error = fields.String(load_default=None)

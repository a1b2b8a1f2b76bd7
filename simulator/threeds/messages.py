"""EMV 3DS 2.x messages: the one description of every data element, per message type and version.

Each message (AReq, ARes, CReq, CRes, RReq, RRes, Erro) is a table of `Element`s: format, the
versions it exists in, the channels (01 app, 02 browser, 03 3RI) it applies to, and when it is
required. From that table come

* the marshmallow schemas per message type and version (`schema(message, version)`) that check
  formats — a format problem becomes Erro 203 naming the element;
* the presence rules (`missing(message, version, msg)`) — a missing element becomes Erro 201;
* the OpenAPI description of `/ds/areq` and the challenge endpoints (the same schemas, registered
  as components by `routes.py`).

Sources: EMV 3-D Secure Protocol and Core Functions Specification 2.1.0, 2.2.0 and 2.3.1
(Table A.1 data elements), cross-checked against public per-version references of the message
formats. Elements that only exist in a later version are refused (Erro 203) in earlier ones;
elements no version defines are ignored, as the specification asks of receivers."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Iterable

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

V210, V220, V231 = "2.1.0", "2.2.0", "2.3.1"
VERSIONS = (V210, V220, V231)
FROM_220 = (V220, V231)
ONLY_231 = (V231,)

APP, BRW, TRI = "01", "02", "03"  # deviceChannel
CHANNELS = (APP, BRW, TRI)
PA, NPA = "01", "02"  # messageCategory

# Erro codes and their descriptions (EMV 3DS Table A.4).
ERROR_CODES = {
    "101": "Message Received Invalid",
    "102": "Message Version Number Not Supported",
    "103": "Sent Messages Limit Exceeded",
    "201": "Required Data Element Missing",
    "202": "Critical Message Extension Not Recognised",
    "203": "Format of one or more Data Elements is Invalid according to the Specification",
    "204": "Duplicate Data Element",
    "301": "Transaction ID Not Recognised",
    "302": "Data Decryption Failure",
    "303": "Access Denied, Invalid Endpoint",
    "304": "ISO Code Invalid",
    "305": "Transaction data not valid",
    "306": "Merchant Category Code (MCC) Not Valid for Payment System",
    "307": "Serial Number not Valid",
    "402": "Transaction Timed Out",
    "403": "Transient System Failure",
    "404": "Permanent System Failure",
    "405": "System Connection Failure",
}
# errorComponent: who detected the error.
SDK, SERVER, DS, ACS = "C", "S", "D", "A"

# transStatusReason values the sandbox produces (Table A.1, "Transaction Status Reason").
REASONS = {
    "01": "Card authentication failed",
    "05": "Expired card",
    "08": "No card record",
    "11": "Suspected fraud",
    "13": "Cardholder not enrolled in service",
    "14": "Transaction timed out at the ACS",
    "19": "Exceeds ACS maximum challenges",
    "21": "3RI transaction not supported",
    "26": "Authentication attempted but not performed by the cardholder",
}

UUID_RE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_RE)
_JWS = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 36 and _UUID.match(value) is not None


class FullMatch(validate.Validator):
    """Like `validate.Regexp`, but the whole value must match (Regexp's `re.match` lets "...\\n" through)."""

    def __init__(self, pattern: str, error: str = "invalid format"):
        self.regex = re.compile(pattern)
        self.error = error

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self.error)
        return value


# -- presence rules ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Cond:
    """A presence condition on the rest of the message ("Required if …")."""

    text: str
    test: Callable[[dict], bool]

    def __call__(self, msg: dict) -> bool:
        try:
            return bool(self.test(msg))
        except Exception:  # a malformed neighbour (wrong type) cannot make an element required
            return False


def _eq(name: str, *values: str) -> Cond:
    shown = values[0] if len(values) == 1 else "one of [" + ", ".join(values) + "]"
    return Cond(f"{name} is {shown}", lambda m: m.get(name) in values)


def _present(name: str) -> Cond:
    return Cond(f"{name} is present", lambda m: m.get(name) is not None)


def _sub(obj: str, key: str, *values: str) -> Cond:
    return Cond(f"{obj}.{key} is {'/'.join(values)}",
                lambda m: isinstance(m.get(obj), dict) and m[obj].get(key) in values)


def _any(*conds: Cond) -> Cond:
    return Cond(" or ".join(c.text for c in conds), lambda m: any(c(m) for c in conds))


def _all(*conds: Cond) -> Cond:
    return Cond(" and ".join(c.text for c in conds), lambda m: all(c(m) for c in conds))


PA_ONLY = _eq("messageCategory", PA)
JS_ON = Cond("browserJavascriptEnabled is true", lambda m: m.get("browserJavascriptEnabled") is True)


# -- formats -----------------------------------------------------------------------------------
def _date(fmt: str, label: str):
    def check(value: str) -> None:
        try:
            datetime.strptime(value, fmt)
        except (TypeError, ValueError):
            raise ValidationError(f"not a valid {label}") from None
    return check


def _url(value: str) -> None:
    # Absolute http(s) URL without whitespace. (2.3.1 asks for HTTPS; the sandbox also accepts
    # plain http so a 3DS Server on a developer machine can receive RReqs and final CRes posts.)
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        raise ValidationError("not an absolute http(s) URL")


def _ip(value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValidationError("not an IPv4 or IPv6 address") from None


def _min_int(low: int, high: int | None = None):
    def check(value: str) -> None:
        if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
            raise ValidationError(f"must be a number between {low} and {high or 'any'}")
    return check


FORMATS: dict[str, Callable[[str], None]] = {
    "uuid": FullMatch(UUID_RE, error="not a UUID (36 characters, canonical form)"),
    "url": _url,
    "ip": _ip,
    "date8": _date("%Y%m%d", "date (YYYYMMDD)"),
    "datetime14": _date("%Y%m%d%H%M%S", "UTC date and time (YYYYMMDDHHMMSS)"),
    "yymm": FullMatch(r"^\d{2}(0[1-9]|1[0-2])$", error="not a YYMM date"),
    "jws": FullMatch(_JWS, error="not a JWS in compact serialisation"),
    "instalments": _min_int(2, 999),
    "decmaxtime": _min_int(1, 10080),
}


class StrictBoolean(fields.Field):
    """A JSON boolean and nothing else ("true", 1 and "Y" are format errors in EMV 3DS)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        raise ValidationError("must be a JSON boolean (true or false)")


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class PhoneNumberSchema(_Lenient):
    cc = fields.String(required=True, validate=validate.Regexp(r"^\d{1,3}$"))
    subscriber = fields.String(required=True, validate=validate.Regexp(r"^\d{1,15}$"))


class DeviceRenderOptionsSchema(_Lenient):
    sdkInterface = fields.String(required=True, validate=validate.OneOf(["01", "02", "03"]),
                                 metadata={"description": "01 native, 02 HTML, 03 both"})
    sdkUiType = fields.List(fields.String(validate=validate.OneOf(["01", "02", "03", "04", "05", "06", "07"])),
                            required=True, validate=validate.Length(min=1, max=7),
                            metadata={"description": "01 text, 02 single select, 03 multi select, 04 OOB, "
                                                     "05 HTML other"})


class MessageExtensionSchema(_Lenient):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    criticalityIndicator = StrictBoolean(required=True)
    data = fields.Raw(required=True)


class EphemeralKeySchema(_Lenient):
    """A public key as a JWK (RFC 7517); the SDK's is an EC P-256 key."""

    kty = fields.String(required=True, validate=validate.OneOf(["EC", "RSA", "OKP"]))
    crv = fields.String(validate=validate.Length(min=1, max=16))
    x = fields.String(validate=validate.Length(min=1, max=512))
    y = fields.String(validate=validate.Length(min=1, max=512))


class RecurringIndSchema(_Lenient):
    amountInd = fields.String(required=True, validate=validate.OneOf(["01", "02"]))
    frequencyInd = fields.String(required=True, validate=validate.OneOf(["01", "02"]))


class AcsRenderingTypeSchema(_Lenient):
    acsInterface = fields.String(required=True, validate=validate.OneOf(["01", "02"]))
    acsUiTemplate = fields.String(required=True, validate=validate.OneOf(["01", "02", "03", "04", "05"]))


NESTED = {
    "phone": PhoneNumberSchema,
    "deviceRenderOptions": DeviceRenderOptionsSchema,
    "jwk": EphemeralKeySchema,
    "recurringInd": RecurringIndSchema,
    "acsRenderingType": AcsRenderingTypeSchema,
}


@dataclass(frozen=True)
class Element:
    """One data element of one message type."""

    name: str
    kind: str = "str"  # str | bool | obj | strlist | extensions | any
    pattern: str | None = None
    one_of: tuple[str, ...] | None = None
    min_len: int | None = None
    max_len: int | None = None
    fmt: str | None = None  # a key of FORMATS
    nested: str | None = None  # a key of NESTED (kind "obj")
    versions: tuple[str, ...] = VERSIONS
    channels: tuple[str, ...] = CHANNELS
    required: bool | Cond = False
    doc: str = ""
    per_version: dict = field(default_factory=dict)  # version -> overrides (pattern, one_of, max_len, kind)

    def spec(self, version: str) -> "Element":
        over = self.per_version.get(version)
        if not over:
            return self
        return Element(**{**{f: getattr(self, f) for f in self.__dataclass_fields__}, **over, "per_version": {}})

    def is_required(self, msg: dict) -> bool:
        return self.required is True or (isinstance(self.required, Cond) and self.required(msg))

    def describe(self) -> str:
        parts = [self.doc] if self.doc else []
        if isinstance(self.required, Cond):
            parts.append(f"Required if {self.required.text}.")
        if self.channels != CHANNELS:
            names = {APP: "app (01)", BRW: "browser (02)", TRI: "3RI (03)"}
            parts.append("Channels: " + ", ".join(names[c] for c in self.channels) + ".")
        if self.versions != VERSIONS:
            parts.append("Versions: " + ", ".join(self.versions) + ".")
        return " ".join(parts)

    def checker(self) -> Callable[[Any], Any]:
        """A fast check of one value, equivalent to `marshmallow_field()` (the equivalence is tested):
        returns None when the value is right, else what marshmallow would report (a message, or the
        nested schema's error dict)."""
        regex = re.compile(self.pattern) if self.pattern else None
        choices = frozenset(self.one_of) if self.one_of else None
        low, high = self.min_len, self.max_len
        fmt = FORMATS[self.fmt] if self.fmt else None
        kind = self.kind

        def scalar(value: Any) -> str | None:
            if not isinstance(value, str):
                return "Not a valid string."
            if regex is not None and regex.fullmatch(value) is None:
                return "invalid format"
            if choices is not None and value not in choices:
                return "not one of the allowed values"
            if (low is not None and len(value) < low) or (high is not None and len(value) > high):
                return "wrong length"
            if fmt is not None:
                try:
                    fmt(value)
                except ValidationError as exc:
                    return str(exc.messages[0] if isinstance(exc.messages, list) else exc.messages)
            return None

        if kind == "str":
            return scalar
        if kind == "bool":
            return lambda value: None if isinstance(value, bool) else "must be a JSON boolean (true or false)"
        if kind == "any":
            return lambda value: "Field may not be null." if value is None else None
        if kind == "obj" and not self.nested:
            return lambda value: None if isinstance(value, dict) else "Not a valid mapping type."
        if kind == "strlist":
            size = self.max_len or 99

            def strlist(value: Any):
                if not isinstance(value, list):
                    return "Not a valid list."
                if not 1 <= len(value) <= size:
                    return "wrong length"
                for item in value:
                    if not isinstance(item, str) or (regex is not None and regex.fullmatch(item) is None) or \
                            (choices is not None and item not in choices):
                        return "invalid item"
                return None
            return strlist
        if kind == "objlist":
            size = self.max_len or 99
            return lambda value: None if isinstance(value, list) and 1 <= len(value) <= size and all(
                isinstance(item, dict) for item in value) else "Not a valid list of objects."
        # Nested objects and extension lists are rare: their marshmallow schemas do the work.
        field_ = self.marshmallow_field()

        def nested(value: Any):
            try:
                field_.deserialize(value)
            except ValidationError as exc:
                return exc.messages
            return None
        return nested

    def marshmallow_field(self) -> fields.Field:
        checks: list = []
        if self.pattern:
            checks.append(FullMatch(self.pattern))
        if self.one_of:
            checks.append(validate.OneOf(self.one_of, error="must be one of: {choices}"))
        if self.min_len is not None or self.max_len is not None:
            checks.append(validate.Length(min=self.min_len, max=self.max_len))
        if self.fmt:
            checks.append(FORMATS[self.fmt])
        meta = {"description": self.describe()}
        always = self.required is True and self.channels == CHANNELS
        if self.kind == "bool":
            return StrictBoolean(required=always, metadata=meta)
        if self.kind == "obj":
            if self.nested:
                return fields.Nested(NESTED[self.nested], required=always, metadata=meta)
            return fields.Dict(required=always, metadata=meta)
        if self.kind == "strlist":
            size = validate.Length(min=1, max=self.max_len or 99)
            inner = fields.String(validate=[c for c in checks if not isinstance(c, validate.Length)])
            return fields.List(inner, required=always, validate=size, metadata=meta)
        if self.kind == "objlist":
            return fields.List(fields.Dict(), required=always,
                               validate=validate.Length(min=1, max=self.max_len or 99), metadata=meta)
        if self.kind == "extensions":
            return fields.List(fields.Nested(MessageExtensionSchema), required=always,
                               validate=validate.Length(min=1, max=self.max_len or 10), metadata=meta)
        if self.kind == "any":
            return fields.Raw(required=always, metadata=meta)
        return fields.String(required=always, validate=checks, metadata=meta)


E = Element
_DS_SPECIFIC = "|[89][0-9]"  # 80-99: reserved for DS-specific values


def _codes(last: int, extra: str = _DS_SPECIFIC) -> str:
    """^(01|02|…|last|80-99)$ as a regex."""
    values = "|".join(f"{n:02d}" for n in range(1, last + 1))
    return f"^({values}{extra})$"


# -- AReq ----------------------------------------------------------------------------------------
_RECURRING_AUTH = _eq("threeDSRequestorAuthenticationInd", "02", "03")
_RECURRING_3RI = _eq("threeRIInd", "01", "02")
_NPA_PURCHASE = {
    V210: _all(_eq("messageCategory", NPA), _any(_RECURRING_AUTH, _RECURRING_3RI)),
    V220: _all(_eq("messageCategory", NPA), _any(_RECURRING_AUTH,
                                                  _eq("threeRIInd", "01", "02", "06", "07", "08", "09", "11"))),
    V231: _all(_eq("messageCategory", NPA), _any(_eq("threeDSRequestorAuthenticationInd", "02", "03", "07", "08", "09"),
                                                  _eq("threeRIInd", "01", "02", "06", "07", "08", "09", "11", "15"))),
}


def _purchase(name: str, doc: str, **kw) -> Element:
    per = {v: {"required": _any(PA_ONLY, _NPA_PURCHASE[v])} for v in VERSIONS}
    return E(name, required=_any(PA_ONLY, _NPA_PURCHASE[V220]), doc=doc, per_version=per, **kw)


AREQ: tuple[Element, ...] = (
    E("messageType", one_of=("AReq",), required=True, doc="AReq."),
    E("messageVersion", one_of=VERSIONS, required=True, doc="Protocol version: 2.1.0, 2.2.0 or 2.3.1."),
    E("threeDSServerTransID", fmt="uuid", required=True, doc="Transaction ID assigned by the 3DS Server."),
    E("threeDSServerRefNumber", min_len=1, max_len=32, required=True,
      doc="EMVCo-assigned reference number of the 3DS Server."),
    E("threeDSServerOperatorID", min_len=1, max_len=32, doc="DS-assigned 3DS Server identifier."),
    E("threeDSServerURL", fmt="url", max_len=2048, required=True,
      doc="Where the DS sends the RReq after a challenge."),
    E("threeDSRequestorID", min_len=1, max_len=35, required=True, doc="DS-assigned 3DS Requestor identifier."),
    E("threeDSRequestorName", min_len=1, max_len=40, required=True, doc="DS-assigned 3DS Requestor name."),
    E("threeDSRequestorURL", fmt="url", max_len=2048, required=True, doc="Fully qualified URL of the requestor."),
    E("threeDSRequestorAuthenticationInd", pattern=_codes(7), channels=(APP, BRW), required=True,
      doc="Type of authentication request: 01 payment, 02 recurring, 03 instalment, 04 add card, "
          "05 maintain card, 06 EMV token ID&V, 07 billing agreement.",
      per_version={V210: {"pattern": _codes(6)}, V231: {"pattern": _codes(10)}}),
    E("threeDSRequestorAuthenticationInfo", kind="obj", channels=(APP, BRW),
      per_version={V231: {"kind": "objlist", "channels": CHANNELS}}),
    E("threeDSRequestorChallengeInd", pattern=_codes(9), channels=(APP, BRW),
      doc="01 no preference, 02 no challenge requested, 03 challenge requested (preference), "
          "04 challenge requested (mandate), 05-09 (2.2.0+) exemptions and data share; an array in 2.3.1.",
      per_version={V210: {"pattern": _codes(4)},
                   V231: {"kind": "strlist", "pattern": _codes(14), "channels": CHANNELS}}),
    E("threeDSRequestorPriorAuthenticationInfo", kind="obj",
      per_version={V231: {"kind": "objlist"}}),
    E("threeDSReqAuthMethodInd", pattern=r"^(0[1-3]" + _DS_SPECIFIC + ")$", versions=FROM_220,
      channels=(APP, BRW), per_version={V231: {"pattern": _codes(10)}}),
    E("threeDSRequestorDecReqInd", one_of=("Y", "N"), versions=FROM_220,
      doc="Decoupled authentication requested (2.2.0+).", per_version={V231: {"one_of": ("Y", "N", "F", "B")}}),
    E("threeDSRequestorDecMaxTime", pattern=r"^\d{5}$", fmt="decmaxtime", versions=FROM_220,
      required=_eq("threeDSRequestorDecReqInd", "Y"),
      per_version={V231: {"required": _eq("threeDSRequestorDecReqInd", "Y", "F", "B")}}),
    E("threeRIInd", pattern=_codes(11), channels=(TRI,), required=True,
      doc="Type of 3RI request (01 recurring, 02 instalment, 03 add card, …).",
      per_version={V210: {"pattern": _codes(5)}, V231: {"pattern": _codes(19)}}),
    E("threeDSCompInd", one_of=("Y", "N", "U"), channels=(BRW,), required=True,
      doc="Whether the 3DS Method completed."),
    E("deviceChannel", one_of=CHANNELS, required=True, doc="01 app, 02 browser, 03 3RI."),
    E("messageCategory", one_of=(PA, NPA), required=True, doc="01 payment (PA), 02 non-payment (NPA)."),
    E("acctNumber", pattern=r"^\d{13,19}$", required=True, doc="The card number (PAN) or token; 13-19 digits."),
    E("acctType", pattern=r"^(0[1-3]" + _DS_SPECIFIC + ")$"),
    E("acctID", min_len=1, max_len=64),
    E("acctInfo", kind="obj"),
    E("cardExpiryDate", fmt="yymm", doc="YYMM."),
    E("acquirerBIN", min_len=1, max_len=11, required=PA_ONLY),
    E("acquirerMerchantID", min_len=1, max_len=35, required=PA_ONLY),
    E("acquirerCountryCode", pattern=r"^\d{3}$", versions=ONLY_231),
    E("acquirerCountryCodeSource", pattern=r"^\d{2}$", versions=ONLY_231),
    E("mcc", pattern=r"^\d{4}$", required=PA_ONLY, doc="Merchant category code."),
    E("merchantCountryCode", pattern=r"^\d{3}$", required=PA_ONLY, doc="ISO 3166-1 numeric."),
    E("merchantName", min_len=1, max_len=40, required=PA_ONLY),
    E("merchantRiskIndicator", kind="obj"),
    _purchase("purchaseAmount", "Minor units, no punctuation.", pattern=r"^\d{1,48}$"),
    _purchase("purchaseCurrency", "ISO 4217 numeric.", pattern=r"^\d{3}$"),
    _purchase("purchaseExponent", "Minor units of the currency.", pattern=r"^\d$"),
    _purchase("purchaseDate", "UTC, YYYYMMDDHHMMSS.", fmt="datetime14"),
    E("purchaseInstalData", pattern=r"^\d{1,3}$", fmt="instalments",
      required=_any(_eq("threeDSRequestorAuthenticationInd", "03"), _eq("threeRIInd", "02"))),
    E("recurringExpiry", fmt="date8", required=_any(_RECURRING_AUTH, _RECURRING_3RI),
      per_version={V231: {"required": False}}),
    E("recurringFrequency", pattern=r"^\d{1,4}$", required=_any(_RECURRING_AUTH, _RECURRING_3RI),
      per_version={V231: {"required": _sub("recurringInd", "frequencyInd", "01")}}),
    E("recurringInd", kind="obj", nested="recurringInd", versions=ONLY_231,
      required=_any(_RECURRING_AUTH, _RECURRING_3RI)),
    E("recurringAmount", pattern=r"^\d{1,48}$", versions=ONLY_231,
      required=_all(_any(_RECURRING_AUTH, _RECURRING_3RI), _sub("recurringInd", "amountInd", "01"))),
    E("recurringCurrency", pattern=r"^\d{3}$", versions=ONLY_231, required=_present("recurringAmount")),
    E("recurringExponent", pattern=r"^\d$", versions=ONLY_231, required=_present("recurringAmount")),
    E("recurringDate", fmt="date8", versions=ONLY_231),
    E("transType", one_of=("01", "03", "10", "11", "28")),
    # browser
    E("browserAcceptHeader", min_len=1, max_len=2048, channels=(BRW,), required=True),
    E("browserIP", max_len=45, fmt="ip", channels=(BRW,)),
    E("browserJavascriptEnabled", kind="bool", channels=(BRW,), versions=FROM_220, required=True),
    E("browserJavaEnabled", kind="bool", channels=(BRW,), required=JS_ON, per_version={V210: {"required": True}}),
    E("browserLanguage", min_len=1, max_len=8, channels=(BRW,), required=True,
      doc="IETF BCP 47 language tag of the browser.", per_version={V231: {"required": JS_ON, "max_len": 35}}),
    E("acceptLanguage", kind="strlist", max_len=99, channels=(BRW,), versions=ONLY_231, required=True,
      doc="The browser's Accept-Language values (2.3.1)."),
    E("browserColorDepth", one_of=("1", "4", "8", "15", "16", "24", "32", "48"), channels=(BRW,),
      required=JS_ON, per_version={V210: {"required": True}}),
    E("browserScreenHeight", pattern=r"^\d{1,6}$", channels=(BRW,), required=JS_ON,
      per_version={V210: {"required": True}}),
    E("browserScreenWidth", pattern=r"^\d{1,6}$", channels=(BRW,), required=JS_ON,
      per_version={V210: {"required": True}}),
    E("browserTZ", pattern=r"^[+-]?\d{1,4}$", channels=(BRW,), required=JS_ON,
      per_version={V210: {"required": True}}),
    E("browserUserAgent", min_len=1, max_len=2048, channels=(BRW,), required=True),
    E("notificationURL", fmt="url", max_len=256, channels=(BRW,), required=True,
      doc="Where the final CRes is posted by the cardholder's browser."),
    E("threeDSMethodId", fmt="uuid", channels=(BRW,), versions=ONLY_231),
    E("threeDSRequestorSpcSupport", one_of=("Y",), channels=(BRW,), versions=ONLY_231),
    E("spcIncompInd", pattern=r"^\d{2}$", channels=(BRW,), versions=ONLY_231),
    E("deviceId", min_len=1, max_len=64, channels=(BRW,), versions=ONLY_231),
    E("userId", min_len=1, max_len=64, channels=(BRW,), versions=ONLY_231),
    E("payeeOrigin", fmt="url", max_len=2048, versions=ONLY_231, required=_eq("threeDSRequestorSpcSupport", "Y")),
    # app
    E("sdkAppID", fmt="uuid", channels=(APP,), required=True),
    E("sdkEncData", min_len=1, max_len=64000, channels=(APP,), required=True),
    E("sdkEphemPubKey", kind="obj", nested="jwk", channels=(APP,), required=True,
      doc="The SDK's ephemeral public key (JWK)."),
    E("sdkMaxTimeout", pattern=r"^(0[5-9]|[1-9]\d)$", channels=(APP,), required=True,
      doc="Minutes, at least 05."),
    E("sdkReferenceNumber", min_len=1, max_len=32, channels=(APP,), required=True),
    E("sdkTransID", fmt="uuid", channels=(APP,), required=True),
    E("deviceRenderOptions", kind="obj", nested="deviceRenderOptions", channels=(APP,), required=True),
    E("deviceInfo", min_len=1, max_len=64000, channels=(APP,)),
    E("appIp", fmt="ip", max_len=45, channels=(APP,), versions=ONLY_231),
    E("sdkType", one_of=("01", "02"), channels=(APP,), versions=ONLY_231, required=True,
      doc="01 Default-SDK, 02 Split-SDK."),
    E("defaultSdkType", kind="obj", channels=(APP,), versions=ONLY_231, required=_eq("sdkType", "01")),
    E("splitSdkType", kind="obj", channels=(APP,), versions=ONLY_231, required=_eq("sdkType", "02")),
    E("sdkServerSignedContent", fmt="jws", max_len=4000, channels=(APP,), versions=ONLY_231,
      required=_eq("sdkType", "02")),
    E("sdkSignatureTimestamp", fmt="datetime14", channels=(APP,), versions=ONLY_231),
    # cardholder
    E("cardholderName", min_len=2, max_len=45),
    E("email", max_len=254, pattern=r"^[^@\s]+@[^@\s]+$"),
    E("homePhone", kind="obj", nested="phone"),
    E("mobilePhone", kind="obj", nested="phone"),
    E("workPhone", kind="obj", nested="phone"),
    E("addrMatch", one_of=("Y", "N"), channels=(APP, BRW)),
    E("billAddrCity", max_len=50), E("billAddrLine1", max_len=50), E("billAddrLine2", max_len=50),
    E("billAddrLine3", max_len=50), E("billAddrPostCode", max_len=16),
    E("billAddrState", max_len=3), E("billAddrCountry", pattern=r"^\d{3}$", required=_present("billAddrState")),
    E("shipAddrCity", max_len=50), E("shipAddrLine1", max_len=50), E("shipAddrLine2", max_len=50),
    E("shipAddrLine3", max_len=50), E("shipAddrPostCode", max_len=16),
    E("shipAddrState", max_len=3), E("shipAddrCountry", pattern=r"^\d{3}$", required=_present("shipAddrState")),
    # tokens, lists, status indicators
    E("payTokenInd", kind="bool"),
    E("payTokenSource", one_of=("01", "02"), versions=FROM_220,
      required=Cond("payTokenInd is true", lambda m: m.get("payTokenInd") is True)),
    E("payTokenInfo", kind="any", versions=ONLY_231),
    E("whiteListStatus", one_of=("Y", "N", "E", "P", "R", "U"), versions=(V220,)),
    E("whiteListStatusSource", one_of=("01", "02", "03"), versions=(V220,), required=_present("whiteListStatus")),
    E("trustListStatus", one_of=("Y", "N", "E", "P", "R", "U"), versions=ONLY_231),
    E("trustListStatusSource", one_of=("01", "02", "03"), versions=ONLY_231, required=_present("trustListStatus")),
    E("deviceBindingStatus", pattern=r"^\d{2}$", versions=ONLY_231),
    E("deviceBindingStatusSource", one_of=("01", "02", "03"), versions=ONLY_231,
      required=_present("deviceBindingStatus")),
    E("cardSecurityCode", pattern=r"^\d{3,4}$", versions=ONLY_231),
    E("cardSecurityCodeStatus", one_of=("Y", "N", "U"), versions=ONLY_231),
    E("cardSecurityCodeStatusSource", one_of=("01", "02"), versions=ONLY_231,
      required=_present("cardSecurityCodeStatus")),
    E("broadInfo", kind="obj", versions=ONLY_231),
    E("multiTransaction", kind="any", versions=ONLY_231),
    E("sellerInfo", kind="objlist", max_len=50, versions=ONLY_231),
    E("taxId", min_len=1, max_len=45, versions=ONLY_231),
    E("messageExtension", kind="extensions", max_len=10, per_version={V231: {"max_len": 15}}),
)

# Elements the DS itself adds to the AReq it forwards to the ACS: a 3DS Server may not set them,
# and what it sends is replaced.
DS_ADDED = ("dsReferenceNumber", "dsTransID", "dsURL")


# -- ARes ----------------------------------------------------------------------------------------
ARES: tuple[Element, ...] = (
    E("messageType", one_of=("ARes",), required=True),
    E("messageVersion", one_of=VERSIONS, required=True),
    E("threeDSServerTransID", fmt="uuid", required=True),
    E("dsTransID", fmt="uuid", required=True),
    E("acsTransID", fmt="uuid", required=True),
    E("sdkTransID", fmt="uuid", channels=(APP,), required=True),
    E("dsReferenceNumber", max_len=32, required=True),
    E("acsReferenceNumber", max_len=32, required=True),
    E("acsOperatorID", max_len=32),
    E("transStatus", one_of=("Y", "N", "U", "A", "C", "D", "R", "I"), required=PA_ONLY,
      doc="Y authenticated, N not, U could not, A attempted, C challenge, R rejected, I information only.",
      per_version={V210: {"one_of": ("Y", "N", "U", "A", "C", "R")}}),
    E("transStatusReason", pattern=r"^\d{2}$", required=_eq("transStatus", "N", "U", "R")),
    E("eci", pattern=r"^\d{2}$", doc="Electronic Commerce Indicator, per scheme."),
    E("authenticationValue", pattern=r"^[A-Za-z0-9+/]{27}=$", required=_all(PA_ONLY, _eq("transStatus", "Y", "A")),
      doc="28-character base64 cryptogram (CAVV/AAV); optional for non-payment."),
    E("authenticationType", pattern=r"^0[1-4]$", required=_eq("transStatus", "C", "D"),
      doc="01 static, 02 dynamic (OTP), 03 OOB, 04 decoupled."),
    E("acsChallengeMandated", one_of=("Y", "N"), required=_eq("transStatus", "C", "D")),
    E("acsURL", fmt="url", max_len=2048, channels=(BRW,), required=_eq("transStatus", "C")),
    E("acsSignedContent", fmt="jws", channels=(APP,), required=_eq("transStatus", "C"),
      doc="JWS (x5c) over acsTransID, acsRefNumber, acsURL, acsEphemPubKey and sdkEphemPubKey."),
    E("acsRenderingType", kind="obj", nested="acsRenderingType", channels=(APP,), required=_eq("transStatus", "C")),
    # 2.3.1 turned cardholderInfo into an object; the sandbox sends the text form of 2.1.0/2.2.0 only.
    E("cardholderInfo", max_len=128, channels=(APP, BRW), versions=(V210, V220),
      doc="Text the ACS wants the cardholder to read (e.g. why SMS OTP replaces the banking app)."),
    E("authenticationMethod", kind="strlist", pattern=r"^\d{2}$", versions=ONLY_231),
    E("deviceInfoRecognisedVersion", min_len=3, max_len=8, channels=(APP,), versions=ONLY_231),
    E("threeDSRequestorAppURLInd", one_of=("Y", "N"), channels=(APP,), versions=ONLY_231),
    E("messageExtension", kind="extensions", max_len=10, per_version={V231: {"max_len": 15}}),
)

# -- CReq (browser: form-posted to acsURL; app: JSON from the SDK) ------------------------------------
CREQ: tuple[Element, ...] = (
    E("messageType", one_of=("CReq",), required=True),
    E("messageVersion", one_of=VERSIONS, required=True),
    E("threeDSServerTransID", fmt="uuid", required=True),
    E("acsTransID", fmt="uuid", required=True),
    E("sdkTransID", fmt="uuid", channels=(APP,), required=True),
    E("sdkCounterStoA", pattern=r"^\d{3}$", channels=(APP,), required=True,
      doc="000 on the first CReq, then +1 on each; a replayed or skipped value is refused (Erro 302)."),
    E("challengeWindowSize", one_of=("01", "02", "03", "04", "05"), channels=(BRW,), required=True,
      doc="01 250x400, 02 390x400, 03 500x600, 04 600x400, 05 full screen."),
    E("challengeDataEntry", min_len=1, max_len=45, channels=(APP,), doc="What the cardholder typed (the OTP)."),
    E("challengeCancel", pattern=r"^0[1-8]$", channels=(APP,),
      doc="01 cardholder cancelled, 04/05 ACS timeouts, 06 error, 07 unknown, 08 SDK timeout.",
      per_version={V231: {"pattern": r"^(0[1-9]|10)$"}}),
    E("resendChallenge", one_of=("Y", "N"), channels=(APP,)),
    E("oobContinue", kind="bool", channels=(APP,), doc="true: the cardholder says the OOB step is done."),
    E("challengeNoEntry", one_of=("Y",), channels=(APP,)),
    E("challengeHTMLDataEntry", min_len=1, max_len=256, channels=(APP,)),
    E("threeDSRequestorAppURL", fmt="url", max_len=256, channels=(APP,), versions=FROM_220),
    E("whitelistingDataEntry", one_of=("Y", "N"), channels=(APP,), versions=(V220,)),
    E("trustListDataEntry", one_of=("Y", "N"), channels=(APP,), versions=ONLY_231),
    E("messageExtension", kind="extensions", max_len=10, per_version={V231: {"max_len": 15}}),
)

# -- CRes ----------------------------------------------------------------------------------------
CRES: tuple[Element, ...] = (
    E("messageType", one_of=("CRes",), required=True),
    E("messageVersion", one_of=VERSIONS, required=True),
    E("threeDSServerTransID", fmt="uuid", required=True),
    E("acsTransID", fmt="uuid", required=True),
    E("sdkTransID", fmt="uuid", channels=(APP,), required=True),
    E("acsCounterAtoS", pattern=r"^\d{3}$", channels=(APP,), required=True),
    E("challengeCompletionInd", one_of=("Y", "N"), required=True),
    E("transStatus", one_of=("Y", "N"), required=_eq("challengeCompletionInd", "Y")),
    E("acsUiType", one_of=("01", "02", "03", "04", "05"), channels=(APP,),
      required=_eq("challengeCompletionInd", "N"), doc="01 text (OTP entry), 04 OOB."),
    E("challengeInfoHeader", max_len=45, channels=(APP,)),
    E("challengeInfoLabel", max_len=45, channels=(APP,)),
    E("challengeInfoText", max_len=350, channels=(APP,)),
    E("challengeInfoTextIndicator", one_of=("Y", "N"), channels=(APP,)),
    E("challengeAddInfo", max_len=256, channels=(APP,), versions=FROM_220),
    E("submitAuthenticationLabel", max_len=45, channels=(APP,)),
    E("resendInformationLabel", max_len=45, channels=(APP,)),
    E("oobContinueLabel", max_len=45, channels=(APP,)),
    E("oobAppLabel", max_len=45, channels=(APP,), versions=FROM_220),
    E("oobAppURL", fmt="url", max_len=256, channels=(APP,), versions=FROM_220),
    E("whyInfoLabel", max_len=45, channels=(APP,)),
    E("whyInfoText", max_len=256, channels=(APP,)),
    E("expandInfoLabel", max_len=45, channels=(APP,)),
    E("expandInfoText", max_len=256, channels=(APP,)),
    E("issuerImage", kind="obj", channels=(APP,)),
    E("psImage", kind="obj", channels=(APP,)),
    E("messageExtension", kind="extensions", max_len=10, per_version={V231: {"max_len": 15}}),
)

# -- RReq / RRes -----------------------------------------------------------------------------------
RREQ: tuple[Element, ...] = (
    E("messageType", one_of=("RReq",), required=True),
    E("messageVersion", one_of=VERSIONS, required=True),
    E("threeDSServerTransID", fmt="uuid", required=True),
    E("dsTransID", fmt="uuid", required=True),
    E("acsTransID", fmt="uuid", required=True),
    E("sdkTransID", fmt="uuid", channels=(APP,), required=True),
    E("messageCategory", one_of=(PA, NPA), required=True),
    E("transStatus", one_of=("Y", "N", "U", "A", "R"), required=PA_ONLY),
    E("transStatusReason", pattern=r"^\d{2}$", required=_eq("transStatus", "N", "U", "R")),
    E("eci", pattern=r"^\d{2}$"),
    E("authenticationValue", pattern=r"^[A-Za-z0-9+/]{27}=$", required=_all(PA_ONLY, _eq("transStatus", "Y", "A"))),
    E("authenticationType", pattern=r"^0[1-4]$", required=_eq("transStatus", "Y", "N")),
    E("authenticationMethod", kind="strlist", pattern=r"^\d{2}$", versions=ONLY_231),
    E("acsRenderingType", kind="obj", nested="acsRenderingType", channels=(APP,), versions=FROM_220),
    E("interactionCounter", pattern=r"^\d{2}$", channels=(APP, BRW), required=True),
    E("challengeCancel", pattern=r"^(0[1-9]|10)$"),
    E("messageExtension", kind="extensions", max_len=10, per_version={V231: {"max_len": 15}}),
)
RRES: tuple[Element, ...] = (
    E("messageType", one_of=("RRes",), required=True),
    E("messageVersion", one_of=VERSIONS, required=True),
    E("threeDSServerTransID", fmt="uuid", required=True),
    E("dsTransID", fmt="uuid", required=True),
    E("acsTransID", fmt="uuid", required=True),
    E("sdkTransID", fmt="uuid", channels=(APP,), required=True),
    E("resultsStatus", pattern=r"^(0[1-3]" + _DS_SPECIFIC + ")$", required=True,
      doc="01 RReq received for further processing, 02 CReq not sent, 03 ARes challenge data not delivered."),
    E("messageExtension", kind="extensions", max_len=10, per_version={V231: {"max_len": 15}}),
)
ERRO: tuple[Element, ...] = (
    E("messageType", one_of=("Erro",), required=True),
    E("messageVersion", one_of=VERSIONS, required=True),
    E("threeDSServerTransID", fmt="uuid"),
    E("dsTransID", fmt="uuid"),
    E("acsTransID", fmt="uuid"),
    E("sdkTransID", fmt="uuid"),
    E("errorCode", pattern=r"^\d{3}$", required=True, doc="101 … 405, see the specification's Table A.4."),
    E("errorComponent", one_of=(SDK, SERVER, DS, ACS), required=True, doc="C SDK, S 3DS Server, D DS, A ACS."),
    E("errorDescription", min_len=1, max_len=2048, required=True),
    E("errorDetail", min_len=1, max_len=2048, required=True, doc="The offending data element(s)."),
    E("errorMessageType", one_of=("AReq", "ARes", "CReq", "CRes", "RReq", "RRes", "PReq", "PRes")),
)

MESSAGES: dict[str, tuple[Element, ...]] = {
    "AReq": AREQ, "ARes": ARES, "CReq": CREQ, "CRes": CRES, "RReq": RREQ, "RRes": RRES, "Erro": ERRO,
}


# -- per-version views ---------------------------------------------------------------------------
@lru_cache(maxsize=None)
def elements(message: str, version: str) -> tuple[Element, ...]:
    """The message's elements as they are in `version` (overrides applied)."""
    out = []
    for element in MESSAGES[message]:
        spec = element.spec(version)
        if version in spec.versions:
            out.append(spec)
    return tuple(out)


@lru_cache(maxsize=None)
def _by_channel(message: str, version: str, channel: str) -> tuple[frozenset, tuple[Element, ...]]:
    own = tuple(e for e in elements(message, version) if channel in e.channels)
    return frozenset(e.name for e in own), own


@lru_cache(maxsize=None)
def all_names(message: str) -> frozenset[str]:
    """Every element name the message has in any version."""
    return frozenset(e.name for e in MESSAGES[message])


@lru_cache(maxsize=None)
def version_names(message: str, version: str) -> frozenset[str]:
    return frozenset(e.name for e in elements(message, version))


def channel_names(message: str, version: str, channel: str) -> frozenset[str]:
    return _by_channel(message, version, channel)[0]


def missing(message: str, version: str, channel: str, msg: dict) -> list[str]:
    """Names of required elements absent from `msg` (null counts as present: it is a format error)."""
    return [e.name for e in _by_channel(message, version, channel)[1] if e.name not in msg and e.is_required(msg)]


def foreign(message: str, version: str, msg: Iterable[str]) -> list[str]:
    """Elements of this message type that exist in other versions but not in `version`."""
    known, here = all_names(message), version_names(message, version)
    return sorted(name for name in msg if name in known and name not in here)


class EmvSchema(Schema):
    """Base of the generated per-version schemas (unknown elements are excluded, not errors)."""

    class Meta:
        unknown = EXCLUDE


@lru_cache(maxsize=None)
def schema_class(message: str, version: str) -> type[Schema]:
    attrs: dict[str, Any] = {e.name: e.marshmallow_field() for e in elements(message, version)}
    name = f"{message}{version.replace('.', '')}"
    attrs["Meta"] = type("Meta", (), {"unknown": EXCLUDE, "ordered": True})
    return type(name, (EmvSchema,), attrs)


@lru_cache(maxsize=None)
def schema(message: str, version: str) -> Schema:
    """A ready schema instance (schemas are stateless, so one per message and version is shared)."""
    return schema_class(message, version)()


def format_errors(message: str, version: str, msg: dict) -> dict:
    """What is wrong with the elements of `msg`, by element name (empty when every format is right).
    Runs the compiled checkers: the same rules as the marshmallow schema, at a fraction of the cost
    (this is on the DS's hot path)."""
    checks = _checkers(message, version)
    errors = {}
    for name, value in msg.items():
        check = checks.get(name)
        if check is not None:
            problem = check(value)
            if problem is not None:
                errors[name] = problem
    return errors


def schema_errors(message: str, version: str, msg: dict, *, partial: bool = False) -> dict:
    """marshmallow's error dict for `msg` (the reference the compiled checkers are tested against;
    `partial`: formats only, absent elements are not errors)."""
    try:
        # partial by top-level name only: a nested object still needs its own required elements.
        top = tuple(e.name for e in elements(message, version)) if partial else False
        schema(message, version).load(msg, partial=top)
    except ValidationError as exc:
        return exc.normalized_messages() if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return {}


@lru_cache(maxsize=None)
def _checkers(message: str, version: str) -> dict[str, Callable[[Any], Any]]:
    return {e.name: e.checker() for e in elements(message, version)}


def flatten(errors: Any, prefix: str = "") -> list[str]:
    """`{"deviceRenderOptions": {"sdkUiType": {0: [...]}}}` → `["deviceRenderOptions.sdkUiType"]`."""
    if not isinstance(errors, dict):
        return [prefix] if prefix else []
    names: list[str] = []
    for key, value in errors.items():
        if isinstance(key, int):  # a list index: the list itself is the offending element
            names.extend(flatten(value, prefix) if isinstance(value, dict) and not all(
                isinstance(k, int) for k in value) else [prefix])
            continue
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            names.extend(flatten(value, path) or [path])
        else:
            names.append(path)
    seen: list[str] = []
    for name in names:
        if name and name not in seen:
            seen.append(name)
    return seen

"""The ACS's decisions, as pure functions: no database, no HTTP, no clock of its own.

`decide()` turns an AReq, the card (or its absence) and the issuer's ACS rules into a transaction
status; `choose_method()` picks how a challenge runs (OOB in the issuer app or SMS OTP, and who
delivers the SMS); `build_ares()` renders the ARes; `eci()` and `authentication_value()` give the
scheme-correct ECI and the 28-character cryptogram.

Rules, in the order they apply (README "EMV 3DS" lists them with the test cards):

1. No active card for the PAN (never registered, deleted, or replaced) → not enrolled: U (N for
   Mastercard) with transStatusReason 13.
2. The card's expiry has passed → N, reason 05.
3. Outcome cards: `not-authenticated` N/01, `rejected` R/11, `unavailable` U/08, `attempted` A.
4. 3RI (deviceChannel 03): no cardholder to challenge → I (information only; Y in 2.1.0, which has
   no I and allows 3RI for non-payment only).
5. Challenge cards (`challenge-oob`, `challenge-sms-d1`, `challenge-sms-issuer`, `oob-unavailable`):
   the issuer mandates the challenge → C with acsChallengeMandated Y, whatever the requestor asked.
6. Otherwise the requestor's wishes and the issuer's rules: threeDSRequestorChallengeInd 03/04 →
   C; purchaseAmount ≥ `acs.challenge_amount_threshold` (minor units) → C unless the requestor
   asked for no challenge (02, or the 2.2.0+ exemptions 05/07/08); 06 "data share only" → I;
   else Y."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from . import messages as m

CHALLENGE_BEHAVIORS = frozenset({"challenge-oob", "challenge-sms-d1", "challenge-sms-issuer", "oob-unavailable"})
OUTCOME_BEHAVIORS = {
    "not-authenticated": ("N", "01"),
    "rejected": ("R", "11"),
    "unavailable": ("U", "08"),
    "attempted": ("A", None),
}
# ECI by scheme (Visa, Amex, JCB, Discover share the 05/06/07 family; Mastercard 02/01/00).
_ECI = {
    "mastercard": {"Y": "02", "A": "01", "N": "00"},
    "default": {"Y": "05", "A": "06", "N": "07"},
}
OOB, SMS_OTP, FRICTIONLESS = "OOB", "SMS_OTP", "FRICTIONLESS"
AUTHENTICATION_TYPE = {OOB: "03", SMS_OTP: "02"}  # 02 dynamic (OTP), 03 out of band
# 2.3.1 authenticationMethod: 02 SMS OTP, 11 push confirmation (approve in the issuer app).
AUTHENTICATION_METHOD = {OOB: "11", SMS_OTP: "02"}
# Why a challenge runs by SMS OTP although OOB was the first choice.
NO_APP, OOB_DISABLED, OOB_FAILED = "NO_APP_INSTANCE", "OOB_DISABLED", "ISSUER_AUTHENTICATION_FAILED"
PLAIN_FRICTIONLESS = "frictionless"


@dataclass(frozen=True)
class Card:
    """What the ACS knows of a card (from D1's registry; never the PAN)."""

    card_id: str
    issuer_id: str
    consumer_id: str | None
    scheme: str
    state: str
    behavior: str | None
    expiry: str | None  # YYMM
    pan_last4: str


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str | None = None
    mandated: str | None = None  # acsChallengeMandated when status is C
    why: str = ""  # for the journal: which rule decided

    @property
    def challenge(self) -> bool:
        return self.status == "C"


@dataclass(frozen=True)
class Method:
    method: str  # OOB | SMS_OTP
    otp_delivery: str  # D1 | ISSUER (also used if OOB falls back)
    fallback_reason: str | None = None


def eci(scheme: str | None, status: str) -> str | None:
    return _ECI.get(scheme or "", _ECI["default"]).get(status)


def authentication_value(secret: bytes, acs_trans_id: str, status: str) -> str:
    """A 28-character base64 cryptogram (20 bytes, like a CAVV/AAV). Keyed on the transaction so
    the ARes/RReq and any later look-up agree, and so no two transactions share one."""
    digest = hmac.new(secret, f"cavv:{acs_trans_id}:{status}".encode(), hashlib.sha256).digest()
    return base64.b64encode(b"\x00" + digest[:19]).decode()


def challenge_indicators(areq: dict) -> set[str]:
    value = areq.get("threeDSRequestorChallengeInd")
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return {value} if isinstance(value, str) else set()


def not_enrolled(scheme: str | None) -> Decision:
    status = "N" if scheme == "mastercard" else "U"
    return Decision(status, "13", why="no active card record for this PAN (not enrolled)")


def decide(areq: dict, card: Card | None, acs_config: dict | None, *, version: str, today_yymm: str,
           scheme: str | None = None) -> Decision:
    """`scheme`: the card range's scheme (what the DS routed on), for cards the ACS does not know."""
    if card is None or card.state != "ACTIVE":
        return not_enrolled(card.scheme if card else scheme)
    if card.expiry and card.expiry < today_yymm:
        return Decision("N", "05", why="card expired")
    outcome = OUTCOME_BEHAVIORS.get(card.behavior or "")
    if outcome:
        return Decision(outcome[0], outcome[1], why=f"test card behavior {card.behavior}")
    if areq.get("deviceChannel") == m.TRI:
        status = "Y" if version == m.V210 else "I"
        return Decision(status, why="3RI: no cardholder present, nothing to challenge")
    if card.behavior in CHALLENGE_BEHAVIORS:
        return Decision("C", mandated="Y", why=f"test card behavior {card.behavior}: issuer mandates a challenge")
    wishes = challenge_indicators(areq)
    if wishes & {"03", "04"}:
        code = "04" if "04" in wishes else "03"
        return Decision("C", mandated="N", why=f"threeDSRequestorChallengeInd {code}: challenge requested")
    threshold = (acs_config or {}).get("challenge_amount_threshold")
    amount = areq.get("purchaseAmount")
    if threshold is not None and isinstance(amount, str) and amount.isdigit() and int(amount) >= int(threshold):
        opted_out = wishes & ({"02"} if version == m.V210 else {"02", "05", "07", "08"})
        if not opted_out:
            return Decision("C", mandated="N", why=f"purchaseAmount {amount} >= threshold {threshold}")
        return Decision("Y", why=f"amount over threshold but threeDSRequestorChallengeInd {sorted(opted_out)[0]}")
    if version != m.V210 and "06" in wishes:
        return Decision("I", why="threeDSRequestorChallengeInd 06: data share only")
    return Decision("Y", why=PLAIN_FRICTIONLESS)


def choose_method(card: Card, issuer_config: dict, *, has_app: bool) -> Method:
    """OOB in the issuer app when the issuer enabled it and the consumer has an enrolled app
    instance; SMS OTP otherwise. `challenge-sms-*` cards pin SMS OTP and its delivery mode (a
    per-card override of the issuer's `otp_delivery`)."""
    default_delivery = issuer_config.get("otp_delivery") or "D1"
    if card.behavior == "challenge-sms-d1":
        return Method(SMS_OTP, "D1")
    if card.behavior == "challenge-sms-issuer":
        return Method(SMS_OTP, "ISSUER")
    if not issuer_config.get("oob_enabled", True):
        return Method(SMS_OTP, default_delivery, OOB_DISABLED)
    if not has_app:
        return Method(SMS_OTP, default_delivery, NO_APP)
    return Method(OOB, default_delivery)


def rendering_type(method: str) -> dict:
    """acsRenderingType for the app channel: native UI, template 01 (text/OTP) or 04 (OOB)."""
    return {"acsInterface": "01", "acsUiTemplate": "04" if method == OOB else "01"}


def build_ares(areq: dict, ids: dict, decision: Decision, *, version: str, scheme: str | None,
               secret: bytes, acs_reference: str, acs_operator: str, ds_reference: str,
               method: Method | None = None, acs_url: str | None = None, signed_content: str | None = None,
               cardholder_info: str | None = None) -> dict:
    """The ARes for `decision` (elements in the order of the specification's tables)."""
    channel = areq["deviceChannel"]
    status = decision.status
    ares: dict[str, Any] = {
        "messageType": "ARes", "messageVersion": version,
        "threeDSServerTransID": ids["threeDSServerTransID"], "dsTransID": ids["dsTransID"],
        "acsTransID": ids["acsTransID"],
    }
    if channel == m.APP:
        ares["sdkTransID"] = areq["sdkTransID"]
    ares.update({"acsReferenceNumber": acs_reference, "acsOperatorID": acs_operator,
                 "dsReferenceNumber": ds_reference, "transStatus": status})
    if decision.reason:
        ares["transStatusReason"] = decision.reason
    payment = areq.get("messageCategory") == m.PA
    if status in ("Y", "A") and payment:
        ares["authenticationValue"] = authentication_value(secret, ids["acsTransID"], status)
    if payment and status in ("Y", "A", "N"):
        code = eci(scheme, status)
        if code:
            ares["eci"] = code
    if status == "C" and method is not None:
        ares["acsChallengeMandated"] = decision.mandated or "N"
        ares["authenticationType"] = AUTHENTICATION_TYPE[method.method]
        if channel == m.APP:
            ares["acsRenderingType"] = rendering_type(method.method)
            ares["acsSignedContent"] = signed_content
        else:
            ares["acsURL"] = acs_url
        if cardholder_info and version != m.V231:
            ares["cardholderInfo"] = cardholder_info[:128]
        if version == m.V231:
            ares["authenticationMethod"] = [AUTHENTICATION_METHOD[method.method]]
    if version == m.V231 and channel == m.APP:
        ares["deviceInfoRecognisedVersion"] = "1.4"
        ares["threeDSRequestorAppURLInd"] = "N"
    return ares

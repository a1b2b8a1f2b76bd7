"""Named tokenization scenarios (flow E): step-up by SMS and by email, approve, decline."""

from __future__ import annotations

from d1sandbox import demo

from .client import Sandbox, ScenarioFailed
from .registry import scenario
from .wallet import Wallet, issuer_token_events, issuer_token_view, latest_message, otp_in


def _issuer_creds(sb: Sandbox) -> tuple[str, str, str]:
    for issuer in sb.sim("Operator", "GET", "/sandbox/issuers", expect=200).json():
        if issuer["issuerId"] == demo.DEMO_ISSUER_ID:
            return issuer["issuerId"], issuer["client_id"], issuer["client_secret"]
    raise ScenarioFailed("the demo issuer is not onboarded")


def _step_up(sb: Sandbox, behavior: str, method_type: str, channel: str) -> dict:
    wallet = Wallet(sb)
    card = wallet.test_card(behavior)
    answer = wallet.tokenize(card)
    if answer["decision"] != "REQUIRE_STEP_UP":
        raise ScenarioFailed(f"expected REQUIRE_STEP_UP, got {answer['decision']}")
    ref = answer["tokenRefId"]
    method = next((m for m in answer["stepUpMethods"] if m["type"] == method_type), None)
    if method is None or "*" not in (method["target"] or ""):
        raise ScenarioFailed(f"no masked {method_type} step-up method offered: {answer['stepUpMethods']}")
    sent = wallet.request_otp(ref, method["id"])
    to = card["phone"] if channel == "sms" else card["email"]
    message = latest_message(sb, to, channel)
    code = otp_in(message, card["pan"][-4:])
    if card["pan"][-4:] not in message["body"]:
        raise ScenarioFailed("the message does not name the card's last four digits")
    activated = wallet.activate(ref, code)
    if activated["status"] != "ACTIVE":
        raise ScenarioFailed(f"token not ACTIVE: {activated}")
    issuer_id, client_id, secret = _issuer_creds(sb)
    view = issuer_token_view(sb, issuer_id, client_id, secret, ref)
    if view["status"] != "ACTIVE":
        raise ScenarioFailed(f"the issuer sees the token as {view['status']}")
    events = issuer_token_events(sb, card["consumerId"], ref, want={"TOKEN_CREATED", "TOKEN_ACTIVATED"})
    if events[:2] != ["TOKEN_CREATED", "TOKEN_ACTIVATED"]:
        raise ScenarioFailed(f"the issuer backend received {events}, not TOKEN_CREATED then TOKEN_ACTIVATED")
    return {"tokenRefId": ref, "transaction": ref, "delivery": sent["delivery"], "from": message["from"],
            "sent_by": message["sent_by"], "issuer_events": events}


@scenario("tsp-stepup-sms", "Tokenization with step-up: OTP by SMS (D1 sends it), wallet activates the token")
def stepup_sms(sb: Sandbox) -> dict:
    return _step_up(sb, "stepup-sms", "SMS", "sms")


@scenario("tsp-stepup-email", "Tokenization with step-up: OTP by email in Japanese from the issuer's subdomain")
def stepup_email(sb: Sandbox) -> dict:
    return _step_up(sb, "stepup-email", "EMAIL", "email")


@scenario("tsp-approve-decline", "Tokenization decisions: frictionless card approved, rejected card declined")
def approve_decline(sb: Sandbox) -> dict:
    wallet = Wallet(sb)
    approved = wallet.tokenize(wallet.test_card("frictionless"), by_pan=True)
    declined = wallet.tokenize(wallet.test_card("rejected"))
    if (approved["decision"], approved["status"]) != ("APPROVED", "ACTIVE"):
        raise ScenarioFailed(f"frictionless card: {approved['decision']}/{approved['status']}")
    if declined["decision"] != "DECLINED":
        raise ScenarioFailed(f"rejected card: {declined['decision']}")
    return {"approved": approved["tokenRefId"], "declined": declined["tokenRefId"],
            "transaction": approved["tokenRefId"]}

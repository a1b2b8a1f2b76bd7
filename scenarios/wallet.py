"""Driver for the outside actors of flow E (tokenization step-up): the wallet (token requestor) that
asks the TSP for a token and submits the OTP, the cardholder's handset/mailbox that receives it, and
the issuer that watches its tokens.

Speaks HTTP through a `Sandbox`, so it runs against running services or in-process apps alike."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from .client import Sandbox, ScenarioFailed

WALLET = "Wallet"
CARDHOLDER = "Cardholder"
ISSUER = "Issuer"
APPLE_PAY = "40010030273"  # a token requestor ID (11 digits)
DEFAULT_DEVICE = {"deviceId": "device-0001", "deviceType": "PHONE", "deviceName": "Sandbox phone",
                  "osType": "IOS", "osVersion": "18.2", "language": "en-US"}
# Numeric codes of 4-10 digits, not glued to other digits (a PAN's last four are never 4 alone in our
# templates, they follow "ending"/"末尾"): the first such run after removing the card's last four.
_CODE = re.compile(r"(?<![0-9])[0-9]{4,10}(?![0-9])")


@dataclass
class Wallet:
    sb: Sandbox
    token_requestor_id: str = APPLE_PAY
    device: dict = field(default_factory=lambda: dict(DEFAULT_DEVICE))
    actor: str = WALLET

    def test_card(self, behavior: str) -> dict:
        cards = self.sb.sim(self.actor, "GET", "/sandbox/test-cards", expect=200).json()
        for card in cards:
            if card["behavior"] == behavior:
                return card
        raise ScenarioFailed(f"no test card with behavior {behavior!r}")

    def tokenize(self, card: dict, *, by_pan: bool = False, risk: dict | None = None, expect=200) -> dict:
        body = {"tokenRequestorId": self.token_requestor_id, "deviceInfo": self.device}
        if by_pan:
            body.update({"pan": card["pan"], "expiry": card["expiry"]})
        else:
            body["cardId"] = card["cardId"]
        if risk:
            body["riskData"] = risk
        resp = self.sb.sim(self.actor, "POST", "/tsp/v1/tokenize", json_body=body, expect=expect)
        return resp.json()

    def request_otp(self, token_ref_id: str, method_id: str, *, expect=200) -> dict:
        return self.sb.sim(self.actor, "POST", f"/tsp/v1/tokens/{quote(token_ref_id)}/otp",
                           json_body={"methodId": method_id}, expect=expect).json()

    def activate(self, token_ref_id: str, otp: str, *, expect=200) -> dict:
        return self.sb.sim(self.actor, "POST", f"/tsp/v1/tokens/{quote(token_ref_id)}/activate",
                           json_body={"otp": otp}, expect=expect).json()

    def lifecycle(self, token_ref_id: str, operation: str, *, expect=200) -> dict:
        return self.sb.sim(self.actor, "POST", f"/tsp/v1/tokens/{quote(token_ref_id)}/{operation}",
                           json_body={}, expect=expect).json()

    def token(self, token_ref_id: str) -> dict:
        return self.sb.sim(self.actor, "GET", f"/tsp/v1/tokens/{quote(token_ref_id)}", expect=200).json()


# -- the cardholder's handset / mailbox ---------------------------------------------------------
def latest_message(sb: Sandbox, to: str, channel: str, *, since_id: str | None = None, wait: float = 3.0) -> dict:
    """The newest delivered SMS/email for `to` (polls briefly: with running services the issuer's
    gateway may deliver a moment later)."""
    deadline = time.monotonic() + wait
    while True:
        messages = sb.sim(CARDHOLDER, "GET", f"/sandbox/messages?to={quote(to)}&channel={channel}", expect=200).json()
        delivered = [m for m in messages if m["status"] == "delivered"]
        if delivered and delivered[0]["id"] != since_id:
            return delivered[0]
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"no new {channel} delivered to {to}")
        time.sleep(0.05)


def otp_in(message: dict, pan_last4: str | None = None) -> str:
    """The OTP in a message body (the card's last four digits are not it)."""
    for match in _CODE.findall(message["body"]):
        if match != pan_last4:
            return match
    raise ScenarioFailed("no OTP in the message")


# -- the issuer watching its tokens ---------------------------------------------------------------
def issuer_token_view(sb: Sandbox, issuer_id: str, client_id: str, client_secret: str, token_ref_id: str) -> dict:
    """The issuer's view of a token through the D1 inbound API (its own access token)."""
    token = sb.sim(ISSUER, "POST", "/oauth2/token", data={"grant_type": "client_credentials"},
                   auth=(client_id, client_secret), expect=200).json()["access_token"]
    return sb.sim(ISSUER, "GET", f"/v2/issuers/{quote(issuer_id)}/tokens/{quote(token_ref_id)}",
                  headers={"Authorization": f"Bearer {token}"}, expect=200).json()


def issuer_token_events(sb: Sandbox, consumer_id: str, token_ref_id: str, *, wait: float = 5.0,
                        want: set[str] | None = None) -> list[str]:
    """The token events the issuer backend received from D1 for this token (oldest first). Waits
    until `want` are all there (the outbox delivers in the background when services run)."""
    deadline = time.monotonic() + wait
    while True:
        # Deliver what D1 owes now (in-process there is no background worker; running, it is harmless).
        sb.sim(ISSUER, "POST", "/sandbox/outbox/drain", expect=200)
        rows = sb.issuer(ISSUER, "GET", f"/admin/notifications?kind=consumer&consumerId={quote(consumer_id)}",
                         expect=200).json()
        events = [r["body"]["eventType"] for r in reversed(rows) if r["body"].get("tokenRefId") == token_ref_id]
        if not want or want <= set(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)

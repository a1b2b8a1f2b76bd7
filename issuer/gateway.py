"""The bank's own SMS/email gateway, used when the issuer delivers OTPs itself (DeliverOTP).

It hands messages to the sandbox carrier (`POST {carrier}/sandbox/network/sms|email`), like a real
bank's SMS aggregator hands them to the phone network: its own text, its own sender ID, `sent_by:
"issuer"`. The OTP never reaches a log or the journal: every call passes it as a secret to mask."""

from __future__ import annotations

from dataclasses import dataclass

from d1sandbox.outbound import OutboundClient, OutboundResult

SENDER_ID = "DemoBank"
EMAIL_FROM = "no-reply@demobank.example"

# The bank's own wording (not D1's templates), per purpose and locale.
SMS_TEMPLATES = {
    ("3DS", "en"): "DemoBank: {otp} is your code to approve {purchase} with your card ending {last4}. "
                   "Do not share it with anyone.",
    ("3DS", "ja"): "DemoBank：末尾{last4}のカードでの{purchase}の確認コードは{otp}です。誰にも教えないでください。",
    ("TOKENIZATION", "en"): "DemoBank: {otp} is your code to add your card ending {last4} to a digital wallet. "
                            "Do not share it with anyone.",
    ("TOKENIZATION", "ja"): "DemoBank：末尾{last4}のカードをウォレットに追加する確認コードは{otp}です。"
                            "誰にも教えないでください。",
}
EMAIL_SUBJECTS = {"en": "Your DemoBank verification code", "ja": "DemoBank 確認コード"}


def render(purpose: str, locale: str | None, otp: str, last4: str | None, merchant: str | None,
           amount: str | None, currency: str | None) -> str:
    lang = (locale or "en")[:2]
    template = SMS_TEMPLATES.get((purpose, lang)) or SMS_TEMPLATES[(purpose, "en")]
    purchase = " ".join(part for part in (merchant, amount, currency) if part) or (
        "your purchase" if lang != "ja" else "お支払い")
    return template.format(otp=otp, last4=last4 or "----", purchase=purchase)


@dataclass
class Sent:
    ok: bool
    message_id: str | None
    detail: str


class MessageGateway:
    def __init__(self, client: OutboundClient):
        self.client = client

    def send_sms(self, to: str, text: str, *, correlation: str | None, secrets: tuple[str, ...]) -> Sent:
        result = self.client.call("POST", "/sandbox/network/sms", operation="sms", correlation=correlation,
                                  json={"to": to, "from": SENDER_ID, "body": text, "sent_by": "issuer"},
                                  secrets=secrets)
        return _sent(result)

    def send_email(self, to: str, subject: str, text: str, *, correlation: str | None,
                   secrets: tuple[str, ...]) -> Sent:
        result = self.client.call("POST", "/sandbox/network/email", operation="email", correlation=correlation,
                                  json={"to": to, "from": EMAIL_FROM, "subject": subject, "body": text,
                                        "sent_by": "issuer"}, secrets=secrets)
        return _sent(result)


def _sent(result: OutboundResult) -> Sent:
    message_id = result.body.get("id") if result.ok and isinstance(result.body, dict) else None
    return Sent(result.ok, message_id, result.describe())


def build(rt) -> MessageGateway:
    base = rt.config.get("SMS_GATEWAY_URL") or rt.config["D1_URL"]
    client = OutboundClient(base, source="Issuer SMS gateway", target="Phone network", clock=rt.clock,
                            session=rt.http, journal=lambda *a, **kw: rt.journal.record(*a, **kw),
                            timeout=rt.config["OUTBOUND_TIMEOUT"], retries=rt.config["OUTBOUND_RETRIES"])
    return MessageGateway(client)

"""The demo issuer: one definition of the seeded consumers and test cards, read by the simulator's
seed (D1's registry) and the issuer backend's seed (the bank's own records) alike."""

from __future__ import annotations

from .redact import luhn_ok

DEMO_ISSUER_ID = "demo-issuer"
DEMO_ISSUER_NAME = "Demo Bank"
# Sandbox credentials, shown on purpose like test keys on a payment dashboard.
DEMO_D1_CLIENT_ID = "demo-issuer"
DEMO_D1_CLIENT_SECRET = "sandbox-demo-issuer-secret"
# Credentials the issuer backend gives D1 for D1's outbound calls (OAuth2 on the issuer side).
DEMO_OUTBOUND_CLIENT_ID = "d1-outbound"
DEMO_OUTBOUND_CLIENT_SECRET = "sandbox-d1-outbound-secret"
DEMO_EXPIRY = "3012"  # YYMM
DEMO_EMAIL_SUBDOMAIN = "email.demobank.example"
# One-time login (Mosaic-style) demo app and an existing login user (simulator/login/seed.py).
DEMO_LOGIN_CLIENT_ID = "demo-login-app"
DEMO_LOGIN_CLIENT_SECRET = "sandbox-demo-login-secret"
DEMO_LOGIN_APP_NAME = "Demo Login"
DEMO_LOGIN_CALLBACK_PATH = "/sandbox/login/callback"  # on the simulator; shows the code it receives
DEMO_LOGIN_USER_PHONE = "+16175550120"


def with_check_digit(partial: str) -> str:
    for digit in "0123456789":
        if luhn_ok(partial + digit):
            return partial + digit
    raise AssertionError("unreachable")


def _card(n: int, behavior: str, prefix: str, scheme: str, consumer: int, description: str, **extra) -> dict:
    pan = with_check_digit(f"{prefix}{n:04d}".ljust(15, "0")[:15])
    return {
        "cardId": f"card-{n:04d}",
        "consumerId": f"consumer-{consumer:04d}",
        "pan": pan,
        "expiry": DEMO_EXPIRY,
        "behavior": behavior,
        "scheme": scheme,
        "description": description,
        **extra,
    }


# consumerId → contact details. Phones are in the US fictional 555-01xx range.
CONSUMERS = [
    {"consumerId": "consumer-0001", "name": "Alice Frictionless", "phone": "+16175550101",
     "email": "alice@mail.example", "locale": "en", "app_instance": None},
    {"consumerId": "consumer-0002", "name": "Bob Oob", "phone": "+16175550102",
     "email": "bob@mail.example", "locale": "en", "app_instance": "app-0002"},
    {"consumerId": "consumer-0003", "name": "Carol Sms", "phone": "+16175550103",
     "email": "carol@mail.example", "locale": "en", "app_instance": None},
    {"consumerId": "consumer-0004", "name": "Dan IssuerSms", "phone": "+16175550104",
     "email": "dan@mail.example", "locale": "en", "app_instance": None},
    {"consumerId": "consumer-0005", "name": "Erin AppDown", "phone": "+16175550105",
     "email": "erin@mail.example", "locale": "en", "app_instance": "app-0005", "app_reachable": False},
    {"consumerId": "consumer-0006", "name": "Frank Outcomes", "phone": "+16175550106",
     "email": "frank@mail.example", "locale": "en", "app_instance": None},
    {"consumerId": "consumer-0007", "name": "Grace Wallet", "phone": "+16175550107",
     "email": "grace@mail.example", "locale": "en", "app_instance": None},
    {"consumerId": "consumer-0008", "name": "Hanako Yamada", "phone": "+16175550108",
     "email": "hanako@mail.example", "locale": "ja", "app_instance": None},
]

TEST_CARDS = [
    _card(1, "frictionless", "400000", "visa", 1, "Frictionless: ARes Y, ECI 05"),
    _card(2, "challenge-oob", "400000", "visa", 2, "Challenge, OOB approval in the issuer app"),
    _card(3, "challenge-sms-d1", "400000", "visa", 3, "Challenge, SMS OTP sent by D1"),
    _card(4, "challenge-sms-issuer", "400000", "visa", 4, "Challenge, SMS OTP sent by the issuer (DeliverOTP)"),
    _card(5, "oob-unavailable", "400000", "visa", 5, "OOB fails (issuer app unreachable), falls back to SMS OTP"),
    _card(6, "not-authenticated", "400000", "visa", 6, "Frictionless N (transStatusReason 01)"),
    _card(7, "rejected", "400000", "visa", 6, "Frictionless R (transStatusReason 11)"),
    _card(8, "unavailable", "400000", "visa", 6, "Frictionless U (transStatusReason 08)"),
    _card(9, "attempted", "400000", "visa", 6, "Attempts A, ECI 06"),
    _card(10, "stepup-sms", "400000", "visa", 7, "Tokenization: approve with step-up, OTP by SMS"),
    _card(11, "stepup-email", "400000", "visa", 8, "Tokenization: approve with step-up, OTP by email (Japanese)"),
    _card(12, "frictionless", "510000", "mastercard", 1, "Mastercard frictionless: ARes Y, ECI 02"),
]

CARD_PRODUCTS = [
    {"name": "Demo Visa Classic", "scheme": "visa", "bin_ranges": [{"start": "400000", "end": "400000"}]},
    {"name": "Demo Mastercard", "scheme": "mastercard", "bin_ranges": [{"start": "510000", "end": "510000"}]},
]


def consumer(consumer_id: str) -> dict:
    return next(c for c in CONSUMERS if c["consumerId"] == consumer_id)


def test_cards() -> list[dict]:
    """The public test-card table (`GET /sandbox/test-cards`)."""
    out = []
    for card in TEST_CARDS:
        person = consumer(card["consumerId"])
        out.append({"issuerId": DEMO_ISSUER_ID, **card, "phone": person["phone"], "email": person["email"],
                    "locale": person["locale"]})
    return out

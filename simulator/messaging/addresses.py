"""Recipient validation: E.164 phone numbers (phonenumbers) and RFC 5322 addresses (email-validator).

D1 cannot verify that a phone number or address belongs to the cardholder (seed 001), but it can and
does refuse to send to something that is not a phone number or an address at all."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email


class InvalidRecipient(ValueError):
    """The value is not a usable phone number / address; the message says why (never echoing it)."""


def normalise_phone(value: str) -> str:
    """The E.164 form of `value` (which must already be in international `+` form)."""
    value = (value or "").strip()
    if not value.startswith("+"):
        raise InvalidRecipient("phone number must be in E.164 form, starting with + and the country code")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise InvalidRecipient("phone number cannot be parsed as E.164") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidRecipient("phone number is not a valid number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str) -> str:
    """The normalised RFC 5322 address. No DNS lookups: sandbox domains (`*.example`) must pass."""
    try:
        return validate_email((value or "").strip(), check_deliverability=False,
                              test_environment=True).normalized
    except EmailNotValidError as exc:
        raise InvalidRecipient(f"email address is not valid: {exc}") from None


def is_e164(value: str) -> bool:
    try:
        normalise_phone(value)
    except InvalidRecipient:
        return False
    return True


def sms_encoding(text: str) -> tuple[str, int]:
    """(encoding, segments) the carrier would bill: GSM-7 (160/153 chars) or UCS-2 (70/67 chars)."""
    gsm = all(ch in _GSM7 or ch in _GSM7_EXT for ch in text)
    if gsm:
        units = sum(2 if ch in _GSM7_EXT else 1 for ch in text)
        return "GSM-7", 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    return "UCS-2", 1 if units <= 70 else -(-units // 67)


_GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
            "¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXT = set("^{}\\[~]|€")

"""Messaging: SMS and email on an issuer's behalf, and the sandbox phone network that receives them.

One service for every flow: `messaging_for(rt).send_otp(issuer_id, consumer, channel, code, context)`
(3DS, tokenization) and `.send_login_otp(...)` (one-time login). See `service.py` for the API,
`templates.py` (placeholders, locales), `dns.py` (sending subdomain and records), `providers.py`
(retries, fallback, injectable failures) and `inbox.py` (the sandbox handsets and mailboxes)."""

from __future__ import annotations


def __getattr__(name):
    # Lazy: `inbox` is imported by the sandbox routes early; the service pulls in more.
    if name in ("MessagingService", "OtpContext", "Delivery", "DeliveryError", "messaging_for"):
        from . import service

        return getattr(service, name)
    raise AttributeError(name)

"""How a login SMS leaves D1: through the one messaging service (`simulator.messaging`), which picks
the provider, retries, falls back, journals with the OTP masked and lands the SMS in the sandbox
handset inbox. Kept behind this one function so the login flow does not depend on its details."""

from __future__ import annotations

from typing import Protocol

from ..messaging.service import Delivery, messaging_for


class SmsSender(Protocol):
    def __call__(self, *, to: str, code: str, app_name: str, sender_id: str | None, custom_message: str | None,
                 correlation: str, ttl_seconds: int, accept_language: str | None) -> Delivery: ...


def messaging_sender(rt) -> SmsSender:
    def send(*, to: str, code: str, app_name: str, sender_id: str | None, custom_message: str | None,
             correlation: str, ttl_seconds: int, accept_language: str | None) -> Delivery:
        return messaging_for(rt).send_login_otp(to, code, app_name=app_name, sender_id=sender_id,
                                                custom_message=custom_message, correlation=correlation,
                                                ttl_seconds=ttl_seconds, accept_language=accept_language)

    return send

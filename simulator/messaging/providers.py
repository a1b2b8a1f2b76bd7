"""D1's simulated delivery providers: per channel a primary and a secondary (fallback) gateway.

A provider "accepts" a message and hands it to the sandbox phone network / mail relay, which puts it
in the inbox. Failures are injected through `/sandbox/faults` (target `sms` or `email`):

| fault `operation`                 | effect                                                   |
|-----------------------------------|----------------------------------------------------------|
| `sms-primary` / `email-primary`   | only the primary provider fails → delivered by the secondary |
| `sms-secondary` / `email-secondary` | only the secondary fails                               |
| `sms` / `email` / `*`             | every provider attempt fails (while the fault lasts)     |

`status` 429/5xx and `timeout` are transient (the same provider is retried with exponential backoff,
then the next provider is tried); other 4xx are permanent for that provider (straight to fallback)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from d1sandbox.faults import Faults

TRANSIENT = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Provider:
    name: str       # shown in the journal and the message's status history
    channel: str    # "sms" | "email"
    role: str       # "primary" | "secondary"

    @property
    def operation(self) -> str:
        return f"{self.channel}-{self.role}"


@dataclass(frozen=True)
class Attempt:
    provider: Provider
    accepted: bool
    provider_message_id: str | None = None
    error: str | None = None
    transient: bool = False


PROVIDERS = {
    "sms": (Provider("Sandbox SMS gateway A", "sms", "primary"),
            Provider("Sandbox SMS gateway B", "sms", "secondary")),
    "email": (Provider("Sandbox mail relay A", "email", "primary"),
              Provider("Sandbox mail relay B", "email", "secondary")),
}


class ProviderNetwork:
    """Submits one message to one provider, honouring injected faults."""

    def __init__(self, faults: Faults, sleep, timeout_seconds: float = 3.0):
        self.faults = faults
        self.sleep = sleep
        self.timeout_seconds = timeout_seconds

    def submit(self, provider: Provider, issuer_id: str | None) -> Attempt:
        fault = self._fault(provider, issuer_id)
        if fault is not None:
            if fault.delay_ms:
                wait = fault.delay_ms / 1000.0
                if wait >= self.timeout_seconds:
                    self.sleep(self.timeout_seconds)
                    return Attempt(provider, False, error="timeout", transient=True)
                self.sleep(wait)
            if fault.timeout:
                return Attempt(provider, False, error="timeout", transient=True)
            if fault.status is not None and not 200 <= fault.status < 300:
                return Attempt(provider, False, error=f"HTTP {fault.status}", transient=fault.status in TRANSIENT)
        return Attempt(provider, True, provider_message_id=f"{provider.channel}-{uuid.uuid4().hex[:12]}")

    def _fault(self, provider: Provider, issuer_id: str | None):
        if self.faults.db.scalar("SELECT COUNT(*) FROM faults") == 0:  # the common case: one cheap read
            return None
        # One attempt consumes at most one fault: the provider-specific one (or "*") first, then the
        # channel-wide one.
        return (self.faults.take(provider.channel, provider.operation, issuer_id)
                or self.faults.take(provider.channel, provider.channel, issuer_id))

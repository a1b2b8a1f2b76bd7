"""The one messaging service: every OTP D1 sends (3DS SMS OTP, tokenization step-up, one-time login)
goes through `MessagingService`.

Public API::

    from simulator.messaging import messaging_for, OtpContext

    messaging = messaging_for(rt)
    delivery = messaging.send_otp(
        issuer_id, consumer, "SMS" | "EMAIL", code,
        OtpContext(purpose="3DS", correlation=acs_trans_id, ttl_seconds=300, expires_at=issued.expires_at,
                   card_id="card-0003", pan_last4="0003", accept_language="ja-JP,ja;q=0.9",
                   merchant_name="Demo Shop", amount="49.99", currency="EUR"),
        mode=None)                 # None: the issuer's `otp_delivery`; or force "D1" / "ISSUER"
    delivery.raise_for_status()    # ApiError (409/502) naming what went wrong, or nothing
    delivery.status                # "delivered" | "sent" (ISSUER: accepted by the issuer) | "failed" | "blocked"

    delivery = messaging.send_login_otp(phone, code, app_name="Demo App", sender_id="DemoApp",
                                        custom_message=None, correlation=..., ttl_seconds=300)

`consumer` is a `simulator.consumers.Consumer`, a dict with `consumerId`/`phone`/`email`/`locale`, or
just the consumer id (then D1 fetches the contact details from the issuer backend with
`fetch_consumer` — only in D1 mode: in ISSUER mode the issuer knows its customer).

What happens:

* **D1 mode**: recipient validated (E.164 / RFC 5322); for email, the issuer's sending subdomain and
  DNS records must be in place (`dns.py`), otherwise the message is recorded `blocked` with the
  reason and nothing is sent; template picked by locale negotiation (consumer locale, then browser
  Accept-Language, then the issuer's default) and rendered; the message is `queued` in the sandbox
  inbox, submitted to the primary provider (retries with exponential backoff on transient errors),
  then to the secondary provider; `sent` (provider accepted) → `delivered` (in the handset/mailbox),
  or `failed` with the reason. `sent_by` "d1".
* **ISSUER mode**: `DeliverOTP` (`POST /banking/d1/v1/issuers/{iid}/consumers/{cid}/otp`,
  docs/wire-contract.md) through the issuer link; the issuer's own gateway delivers it (`sent_by`
  "issuer").

Every step is journaled under `context.correlation` with the OTP masked and the recipient masked. The
OTP only ever appears in the body of a delivered inbox message."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote

from d1sandbox.errors import ApiError, Conflict
from d1sandbox.redact import redact_text

from ..issuers import DEFAULT_TEMPLATES
from ..otp.engine import mask_target
from . import templates as tpl
from .addresses import InvalidRecipient, normalise_email, normalise_phone, sms_encoding
from .dns import EmailDomains
from .inbox import Inbox
from .providers import PROVIDERS, ProviderNetwork

log = logging.getLogger("d1sandbox.messaging")

D1 = "D1"
CHANNELS = ("SMS", "EMAIL")
DELIVER_OTP_OPERATION = "otp"
LOGIN_TEMPLATES = {
    "en": "{otp} is your {app} verification code. Do not share it.",
    "ja": "{app}の確認コードは{otp}です。第三者に教えないでください。",
}


# -- inputs and outputs ------------------------------------------------------------------------
@dataclass
class OtpContext:
    """What the message is about. Only `purpose` is required."""

    purpose: str                        # "3DS" | "TOKENIZATION" | "LOGIN"
    correlation: str | None = None      # acsTransID / tokenRefId / login transaction: the journal key
    ttl_seconds: int = 300
    expires_at: float | None = None     # epoch seconds (the engine's Issued.expires_at)
    card_id: str | None = None
    pan_last4: str | None = None
    locale: str | None = None           # force a locale (otherwise negotiated)
    accept_language: str | None = None  # the cardholder's browser language (3DS browser flow)
    merchant_name: str | None = None
    amount: str | None = None
    currency: str | None = None

    @classmethod
    def of(cls, value: "OtpContext | Mapping[str, Any]") -> "OtpContext":
        return value if isinstance(value, OtpContext) else cls(**dict(value))


class DeliveryError(ApiError):
    status = 409
    error = "otp_not_delivered"


@dataclass
class Delivery:
    mode: str                      # "D1" | "ISSUER"
    channel: str                   # "SMS" | "EMAIL"
    status: str                    # delivered | sent | failed | blocked
    target: str | None = None      # masked recipient
    message_id: str | None = None  # sandbox inbox id (D1 mode)
    delivery_id: str | None = None # the issuer's id (ISSUER mode)
    provider: str | None = None
    locale: str | None = None
    attempts: int = 0
    error: str | None = None       # machine-readable reason code
    reason: str | None = None      # human-readable reason (no secrets, recipient masked)
    fields: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("delivered", "sent")

    def raise_for_status(self) -> None:
        if self.ok:
            return
        status = 502 if self.error in ("provider_failed", "issuer_delivery_failed") else 409
        raise DeliveryError(self.reason or "the OTP could not be delivered", status=status, error=self.error,
                            fields=self.fields or None, extra={"delivery": self.view(), **self.extra})

    def view(self) -> dict:
        out = {"mode": self.mode, "channel": self.channel, "status": self.status, "target": self.target,
               "messageId": self.message_id, "deliveryId": self.delivery_id, "provider": self.provider,
               "locale": self.locale, "attempts": self.attempts}
        if self.reason:
            out["reason"] = self.reason
        return {k: v for k, v in out.items() if v is not None}


# -- the service -------------------------------------------------------------------------------
class MessagingService:
    def __init__(self, rt, *, retries: int = 2, backoff: float = 0.2, sleep=None):
        self.rt = rt
        self.inbox = Inbox(rt.db, rt.clock)
        self.domains = EmailDomains(rt.db, rt.clock, rt.secret)
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep or time.sleep
        self.network = ProviderNetwork(rt.faults, self.sleep)

    # -- issuer OTPs (3DS, tokenization) ---------------------------------------------------------
    def send_otp(self, issuer_id: str, consumer: Any, channel: str, code: str,
                 context: OtpContext | Mapping[str, Any], *, mode: str | None = None) -> Delivery:
        ctx = OtpContext.of(context)
        channel = channel.upper()
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}")
        config = self.rt.issuers.config(issuer_id)
        mode = (mode or config.get("otp_delivery") or D1).upper()
        consumer_id = _consumer_id(consumer)
        if mode == "ISSUER":
            return self._deliver_otp_via_issuer(issuer_id, consumer_id, channel, code, ctx, config, consumer)
        details = self._contact(issuer_id, consumer, ctx)
        locale = self._locale(config, details, ctx)
        values = {"otp": code, "last4": ctx.pan_last4 or "", "issuer": config.get("name") or issuer_id,
                  "ttl_minutes": str(tpl.ttl_minutes(ctx.ttl_seconds))}
        try:
            rendered = tpl.render_issuer_message(config.get("templates") or {}, channel, locale, values,
                                                 config.get("default_locale") or "en", DEFAULT_TEMPLATES)
        except tpl.TemplateError as exc:
            return Delivery(D1, channel, "failed", error="template_error", reason=str(exc),
                            fields={"templates": [str(exc)]})
        if channel == "SMS":
            to = (details or {}).get("phone")
            return self._send_d1("sms", to, config.get("sender_id") or "D1", rendered, code, issuer_id, ctx,
                                 field_name="phoneNumber")
        to = (details or {}).get("email")
        email_cfg = config.get("email") or {}
        subdomain = email_cfg.get("subdomain")
        sender = f"{email_cfg.get('from_local_part') or 'no-reply'}@{subdomain}" if subdomain else None
        domain = self.domains.status(issuer_id, subdomain)
        if not domain.ready:
            return self._blocked_email(to, sender, rendered, issuer_id, ctx, domain)
        return self._send_d1("email", to, sender, rendered, code, issuer_id, ctx, field_name="email")

    # -- one-time login ----------------------------------------------------------------------------
    def send_login_otp(self, phone: str, code: str, *, app_name: str, sender_id: str | None = None,
                       custom_message: str | None = None, correlation: str | None = None,
                       ttl_seconds: int = 300, locale: str | None = None,
                       accept_language: str | None = None) -> Delivery:
        """An SMS with a login code for a one-time-login app (always sent by D1)."""
        ctx = OtpContext(purpose="LOGIN", correlation=correlation, ttl_seconds=ttl_seconds, locale=locale,
                         accept_language=accept_language)
        if custom_message:
            template, chosen = custom_message, locale or "custom"
        else:
            chosen = tpl.negotiate(tpl.preferred_locales(locale, accept_language), LOGIN_TEMPLATES, "en")
            template = LOGIN_TEMPLATES[chosen]
        try:
            tpl.check_template(template, tpl.LOGIN_PLACEHOLDERS, {"otp"})
            body = tpl.render(template, {"otp": code, "app": app_name}, tpl.LOGIN_PLACEHOLDERS)
        except tpl.TemplateError as exc:
            return Delivery(D1, "SMS", "failed", error="template_error", reason=str(exc),
                            fields={"custom_message": [str(exc)]})
        return self._send_d1("sms", phone, sender_id or _sender_from_name(app_name),
                             tpl.Rendered(chosen, body), code, None, ctx, field_name="phone_number")

    # -- sending domain (sandbox DNS) --------------------------------------------------------------
    def email_domain(self, issuer_id: str):
        subdomain = (self.rt.issuers.config(issuer_id).get("email") or {}).get("subdomain")
        return self.domains.status(issuer_id, subdomain)

    # -- internals ---------------------------------------------------------------------------------
    def _contact(self, issuer_id: str, consumer: Any, ctx: OtpContext) -> dict | None:
        """Contact details as a dict {phone, email, locale}: given, or fetched from the issuer."""
        if isinstance(consumer, str):
            from ..consumers import fetch_consumer

            found = fetch_consumer(self.rt, issuer_id, consumer, correlation=ctx.correlation)
            return None if found is None else {"phone": found.phone, "email": found.email, "locale": found.locale}
        if consumer is None:
            return None
        if isinstance(consumer, Mapping):
            return {"phone": consumer.get("phone") or consumer.get("phoneNumber"), "email": consumer.get("email"),
                    "locale": consumer.get("locale")}
        return {"phone": getattr(consumer, "phone", None), "email": getattr(consumer, "email", None),
                "locale": getattr(consumer, "locale", None)}

    def _locale(self, config: dict, details: dict | None, ctx: OtpContext) -> str:
        available = list((config.get("templates") or {}).keys()) or list(DEFAULT_TEMPLATES)
        prefs = tpl.preferred_locales(ctx.locale or (details or {}).get("locale"), ctx.accept_language)
        return tpl.negotiate(prefs, available, config.get("default_locale") or "en")

    def _send_d1(self, channel: str, to: str | None, sender: str | None, rendered: tpl.Rendered, code: str,
                 issuer_id: str | None, ctx: OtpContext, *, field_name: str) -> Delivery:
        kind = channel.upper()
        journal = self.rt.journal
        if not to:
            reason = f"the consumer has no {'phone number' if channel == 'sms' else 'email address'}"
            journal.record(ctx.correlation, D1, D1, f"{kind} not sent", {"reason": reason}, kind="note")
            return Delivery(D1, kind, "failed", error="consumer_contact_missing", reason=reason,
                            locale=rendered.locale, fields={field_name: ["missing"]})
        try:
            to = normalise_phone(to) if channel == "sms" else normalise_email(to)
        except InvalidRecipient as exc:
            reason = str(exc)
            journal.record(ctx.correlation, D1, D1, f"{kind} not sent", {"reason": reason, "to": mask_target(to)},
                           kind="note")
            return Delivery(D1, kind, "failed", target=mask_target(to), error="invalid_recipient", reason=reason,
                            locale=rendered.locale, fields={field_name: [reason]})
        masked_body = redact_text(rendered.body, (code,))
        masked_subject = redact_text(rendered.subject, (code,)) if rendered.subject else None
        message = self.inbox.deliver(channel=channel, to=to, sender=sender, sent_by="d1", body=masked_body,
                                     subject=masked_subject, status="queued", issuer_id=issuer_id,
                                     correlation=ctx.correlation)
        extra = {}
        if channel == "sms":
            encoding, segments = sms_encoding(rendered.body)
            extra = {"encoding": encoding, "segments": segments}
        attempts = 0
        last_error = None
        for provider in PROVIDERS[channel]:
            for attempt in range(1, self.retries + 2):
                attempts += 1
                journal.record(ctx.correlation, D1, provider.name, f"submit {kind}",
                               {"messageId": message["id"], "to": mask_target(to), "from": sender,
                                "subject": rendered.subject, "text": rendered.body, "locale": rendered.locale,
                                "attempt": attempt, **extra},
                               kind="request", secrets=(code,))
                result = self.network.submit(provider, issuer_id)
                journal.record(ctx.correlation, provider.name, D1, f"submit {kind}",
                               {"accepted": result.accepted, "providerMessageId": result.provider_message_id,
                                "error": result.error}, kind="response")
                if result.accepted:
                    self.inbox.set_status(message["id"], "sent", f"accepted by {provider.name}",
                                          provider=provider.name, attempt=attempts)
                    # The sandbox network hands it to the handset/mailbox at once: the OTP goes in now.
                    self.inbox.set_status(message["id"], "delivered", body=rendered.body)
                    journal.record(ctx.correlation, provider.name, "Cardholder", f"{kind} delivered",
                                   {"messageId": message["id"], "to": mask_target(to)}, kind="note")
                    log.info("%s %s delivered to %s via %s (%s)", kind, message["id"], mask_target(to),
                             provider.name, ctx.correlation or "-")
                    return Delivery(D1, kind, "delivered", target=mask_target(to), message_id=message["id"],
                                    provider=provider.name, locale=rendered.locale, attempts=attempts)
                last_error = f"{provider.name}: {result.error}"
                self.inbox.set_status(message["id"], "queued", f"attempt {attempts} failed ({last_error})",
                                      provider=provider.name)
                if not result.transient or attempt == self.retries + 1:
                    break  # permanent for this provider, or retries used up: fall back to the next one
                self.sleep(self.backoff * (2 ** (attempt - 1)))
        reason = f"every provider failed after {attempts} attempts; last error {last_error}"
        self.inbox.set_status(message["id"], "failed", reason)
        journal.record(ctx.correlation, D1, D1, f"{kind} failed", {"messageId": message["id"], "reason": reason},
                       kind="note")
        log.warning("%s %s failed: %s (%s)", kind, message["id"], reason, ctx.correlation or "-")
        return Delivery(D1, kind, "failed", target=mask_target(to), message_id=message["id"], locale=rendered.locale,
                        attempts=attempts, error="provider_failed", reason=reason)

    def _blocked_email(self, to, sender, rendered, issuer_id, ctx, domain) -> Delivery:
        reason = f"email not sent: {domain.reason()}"
        message_id = None
        target = None
        if to:
            try:
                to = normalise_email(to)
            except InvalidRecipient:
                pass
            target = mask_target(to)
            # Recorded (without the OTP, which was never sent) so the reason shows in /sandbox/messages.
            message = self.inbox.deliver(
                channel="email", to=to, sender=sender or "(no sending domain)", sent_by="d1",
                body="(not sent)", subject=None, status="blocked", issuer_id=issuer_id, correlation=ctx.correlation,
                history=[{"status": "blocked", "at": self.rt.clock.isoformat(), "detail": reason}])
            message_id = message["id"]
        self.rt.journal.record(ctx.correlation, D1, D1, "EMAIL blocked",
                               {"reason": reason, "missing": domain.missing, "to": target}, kind="note")
        fields = ({"email.subdomain": ["not configured"]} if not domain.subdomain
                  else {"dns": [f"{rid} record not published" for rid in domain.missing]})
        return Delivery(D1, "EMAIL", "blocked", target=target, message_id=message_id, locale=rendered.locale,
                        error="email_domain_not_ready", reason=reason, fields=fields,
                        extra={"missing": domain.missing, "subdomain": domain.subdomain})

    def _deliver_otp_via_issuer(self, issuer_id, consumer_id, channel, code, ctx: OtpContext, config,
                                consumer) -> Delivery:
        # The issuer knows its customer's language; D1 passes on what it knows (the consumer's locale if
        # the caller gave it, else the browser's first preference).
        details = None if isinstance(consumer, str) else self._contact(issuer_id, consumer, ctx)
        prefs = tpl.preferred_locales(ctx.locale or (details or {}).get("locale"), ctx.accept_language)
        locale_pref = prefs[0] if prefs else None
        body = {"otp": code, "channel": channel, "purpose": "3DS" if ctx.purpose == "3DS" else "TOKENIZATION",
                "transactionId": ctx.correlation, "cardId": ctx.card_id, "panLast4": ctx.pan_last4,
                "locale": locale_pref or config.get("default_locale") or "en",
                "expiresAt": self.rt.clock.isoformat(ctx.expires_at) if ctx.expires_at else None,
                "merchantName": ctx.merchant_name, "amount": ctx.amount, "currency": ctx.currency}
        body = {k: v for k, v in body.items() if v is not None}
        path = (f"/banking/d1/v1/issuers/{quote(issuer_id, safe='')}/consumers/"
                f"{quote(consumer_id or '', safe='')}/otp")
        result = self.rt.issuer_link.client(issuer_id).call(
            "POST", path, operation=DELIVER_OTP_OPERATION, json=body, correlation=ctx.correlation,
            label="DeliverOTP", secrets=(code,))
        answer = result.body if isinstance(result.body, dict) else {}
        if result.ok:
            return Delivery("ISSUER", channel, "sent", delivery_id=answer.get("deliveryId"), locale=body["locale"],
                            attempts=result.attempts)
        reason = f"the issuer's DeliverOTP failed: {result.describe()}"
        if answer.get("error"):
            reason += f" ({answer['error']})"
        return Delivery("ISSUER", channel, "failed", locale=body["locale"], attempts=result.attempts,
                        error="issuer_delivery_failed", reason=reason)


def _consumer_id(consumer: Any) -> str | None:
    if consumer is None:
        return None
    if isinstance(consumer, str):
        return consumer
    if isinstance(consumer, Mapping):
        return consumer.get("consumerId") or consumer.get("consumer_id")
    return getattr(consumer, "consumer_id", None)


def _sender_from_name(name: str) -> str:
    """An alphanumeric sender ID (max 11 chars, at least one letter) from an app name."""
    cleaned = "".join(ch for ch in name if ch.isascii() and ch.isalnum())[:11]
    return cleaned if any(ch.isalpha() for ch in cleaned) else "Verify"


def messaging_for(rt) -> MessagingService:
    """The runtime's messaging service (`rt.services["messaging"]`), created on first use."""
    service = rt.services.get("messaging")
    if service is None:
        service = rt.services.setdefault("messaging", MessagingService(
            rt, retries=int(rt.config.get("MESSAGING_RETRIES", 2)),
            backoff=float(rt.config.get("MESSAGING_BACKOFF", 0.2)), sleep=rt.config.get("SLEEP")))
    return service


__all__ = ["Conflict", "Delivery", "DeliveryError", "MessagingService", "OtpContext", "messaging_for"]

"""Message templates: per issuer and locale, placeholders, and locale negotiation (babel).

An issuer's `templates` configuration maps a locale ("en", "ja", "pt_BR") to `sms`, `email_subject`
and `email_body` strings with `{placeholders}`:

* issuer flows (3DS, tokenization): `{otp}` (required in sms/email_body), `{last4}`, `{issuer}`,
  `{ttl_minutes}`;
* one-time login: `{app}` and `{otp}` (both required in a custom message).

The locale is negotiated from the cardholder's preferences (the consumer's locale from the issuer
backend, then the browser's Accept-Language) against the locales the issuer has templates for, then
the issuer's `default_locale`, then English."""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import Iterable, Mapping

from babel import Locale, UnknownLocaleError
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

ISSUER_PLACEHOLDERS = frozenset({"otp", "last4", "issuer", "ttl_minutes"})
LOGIN_PLACEHOLDERS = frozenset({"app", "otp"})
TEMPLATE_KEYS = ("sms", "email_subject", "email_body")
DEFAULT_LOGIN_SMS = "{otp} is your {app} verification code."


class TemplateError(ValueError):
    """A template that cannot be used (message names the problem, never a value)."""


def placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise TemplateError(f"template is not well formed: {exc}") from None


def check_template(template: str, allowed: Iterable[str], required: Iterable[str]) -> None:
    """Raise TemplateError for unknown placeholders, missing required ones, or format specs."""
    names = placeholders(template)
    unknown = names - set(allowed)
    if "" in unknown:
        raise TemplateError("positional placeholders {} are not allowed; use names such as {otp}")
    if unknown:
        raise TemplateError(f"unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = set(required) - names
    if missing:
        raise TemplateError(f"template must contain {', '.join('{' + m + '}' for m in sorted(missing))}")
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is not None and (spec or conversion):
            raise TemplateError(f"placeholder {{{name}}} must not carry a format spec or conversion")


def render(template: str, values: Mapping[str, str], allowed: Iterable[str]) -> str:
    """Fill placeholders; only `allowed` names are ever substituted (no attribute access, no specs)."""
    check_template(template, allowed, ())
    return template.format_map({k: str(values.get(k, "")) for k in allowed})


def is_known_locale(tag: str) -> bool:
    try:
        Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return False
    return True


def preferred_locales(consumer_locale: str | None = None, accept_language: str | None = None) -> list[str]:
    """Preferences in order: the consumer's own locale first, then the browser's Accept-Language."""
    prefs: list[str] = []
    if consumer_locale:
        prefs.append(consumer_locale.replace("-", "_"))
    if accept_language:
        accepted = parse_accept_header(accept_language, LanguageAccept)
        prefs.extend(v.replace("-", "_") for v in accepted.values() if v != "*")
    return prefs


def negotiate(preferred: Iterable[str], available: Iterable[str], default: str = "en") -> str:
    """The best available locale for the preferences (babel), else `default` (if available), else
    English, else any."""
    available = list(available)
    if not available:
        return default
    match = Locale.negotiate(list(preferred), available, sep="_")
    if match is not None:
        tag = str(match)
        if tag in available:
            return tag
        # babel answers e.g. "ja" for a "ja_JP" preference; map back to the configured spelling.
        for candidate in available:
            if candidate.split("_")[0] == tag.split("_")[0]:
                return candidate
    for fallback in (default, "en"):
        if fallback in available:
            return fallback
    return sorted(available)[0]


@dataclass(frozen=True)
class Rendered:
    locale: str
    body: str
    subject: str | None = None


def ttl_minutes(ttl_seconds: float) -> int:
    return max(1, math.ceil(ttl_seconds / 60))


def render_issuer_message(templates: Mapping[str, Mapping[str, str]], channel: str, locale: str,
                          values: Mapping[str, str], fallback_locale: str = "en",
                          builtin: Mapping[str, Mapping[str, str]] | None = None) -> Rendered:
    """Render an issuer OTP message. Each template key falls back to the issuer's default locale,
    then to the built-in templates, so a partially configured locale still renders."""
    def pick(key: str) -> str:
        for source, loc in ((templates, locale), (templates, fallback_locale), (builtin or {}, locale),
                            (builtin or {}, "en")):
            text = (source.get(loc) or {}).get(key)
            if text:
                return text
        raise TemplateError(f"no {key} template for locale {locale!r}")

    if channel == "SMS":
        return Rendered(locale, render(pick("sms"), values, ISSUER_PLACEHOLDERS))
    return Rendered(locale, render(pick("email_body"), values, ISSUER_PLACEHOLDERS),
                    render(pick("email_subject"), values, ISSUER_PLACEHOLDERS))

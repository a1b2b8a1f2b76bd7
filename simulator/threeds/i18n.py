"""The challenge UI's words in each language the ACS speaks, and how it picks one.

One catalogue serves both channels: the app's CRes fields (challengeInfoHeader, challengeInfoText,
whyInfoText, …) and the browser's HTML pages. The language is negotiated with babel from what the
cardholder's browser sends (2.3.1 `acceptLanguage`, else `browserLanguage`) or, in the app channel,
from the consumer's locale the issuer registered; amounts are formatted with babel for that locale."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Iterable

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.numbers import format_currency

SUPPORTED = ("en", "ja")
DEFAULT = "en"

# ISO 4217 numeric → alphabetic, for the currencies a sandbox merchant plausibly uses.
CURRENCIES = {
    "036": "AUD", "124": "CAD", "156": "CNY", "208": "DKK", "344": "HKD", "356": "INR", "392": "JPY",
    "410": "KRW", "484": "MXN", "554": "NZD", "578": "NOK", "702": "SGD", "752": "SEK", "756": "CHF",
    "826": "GBP", "840": "USD", "949": "TRY", "978": "EUR", "986": "BRL",
}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Confirm your payment",
        "header": "Purchase authentication",
        "merchant_line": "{merchant}: {amount}",
        "card_line": "Card ending {last4}",
        "otp_info": "We sent a one-time code by SMS to {target}. Enter it to pay {amount} to {merchant}.",
        "otp_info_issuer": "{issuer} sent you a one-time code by SMS. Enter it to pay {amount} to {merchant}.",
        "otp_label": "One-time code",
        "submit": "Confirm",
        "resend": "Send a new code",
        "resent": "We sent a new code. The previous one no longer works.",
        "wrong_code": "That code is not right. Attempts left: {remaining}.",
        "expired_code": "That code has expired. Ask for a new one.",
        "resend_limit": "No more codes can be sent for this payment.",
        "rate_limited": "Too many codes were sent. Try again later.",
        "oob_info": "Open the {issuer} app on your phone and approve the payment of {amount} to {merchant}. "
                    "Then tap Continue.",
        "oob_waiting": "We are still waiting for your approval in the {issuer} app.",
        "oob_label": "Approve in your banking app",
        "continue": "Continue",
        "open_app": "Open {issuer} app",
        "cancel": "Cancel",
        "why_label": "Why am I asked this?",
        "why_text": "{issuer} confirms online payments with you to keep your card safe.",
        "expand_label": "Need help?",
        "expand_text": "Codes expire after {minutes} minutes. If none arrives, ask for a new one. "
                       "We never ask for your code by phone.",
        "fallback_no_app": "Approval in your banking app is not available, so we will send you a one-time code by SMS.",
        "fallback_oob_failed": "We could not reach your banking app, so we sent a one-time code by SMS instead.",
        "fallback_oob_disabled": "We will send you a one-time code by SMS to confirm this payment.",
        "done_Y": "Payment confirmed. Returning to the merchant…",
        "done_N": "The payment was not confirmed. Returning to the merchant…",
        "returning": "Returning to the merchant…",
        "continue_to_merchant": "Continue to the merchant",
        "noscript": "JavaScript is off: press the button to return to the merchant.",
        "send_failed": "We could not send the code. Ask for a new one in a moment.",
        "timed_out": "This payment confirmation has timed out.",
        "error_title": "This payment page cannot be shown",
        "error_text": "The payment session is unknown or has ended. Return to the merchant and try again.",
    },
    "ja": {
        "title": "お支払いの確認",
        "header": "本人認証",
        "merchant_line": "{merchant}：{amount}",
        "card_line": "末尾{last4}のカード",
        "otp_info": "{target} にSMSでワンタイムコードを送信しました。"
            "{merchant} への {amount} のお支払いを確認するため、コードを入力してください。",
        "otp_info_issuer": "{issuer}からSMSでワンタイムコードが届きます。"
            "{merchant} への {amount} のお支払いを確認するため、コードを入力してください。",
        "otp_label": "ワンタイムコード",
        "submit": "確認する",
        "resend": "コードを再送する",
        "resent": "新しいコードを送信しました。以前のコードは使えません。",
        "wrong_code": "コードが正しくありません。残り{remaining}回入力できます。",
        "expired_code": "コードの有効期限が切れました。新しいコードを請求してください。",
        "resend_limit": "このお支払いではこれ以上コードを送信できません。",
        "rate_limited": "コードの送信回数が多すぎます。しばらくしてからお試しください。",
        "oob_info": "スマートフォンで{issuer}アプリを開き、{merchant} への {amount} のお支払いを承認してください。"
            "承認後、「続ける」を押してください。",
        "oob_waiting": "{issuer}アプリでの承認をお待ちしています。",
        "oob_label": "銀行アプリで承認",
        "continue": "続ける",
        "open_app": "{issuer}アプリを開く",
        "cancel": "キャンセル",
        "why_label": "この画面が表示される理由",
        "why_text": "{issuer}はカードを安全にお使いいただくため、オンラインでのお支払いをご本人に確認しています。",
        "expand_label": "お困りの場合",
        "expand_text": "コードの有効期限は{minutes}分です。"
            "届かない場合は再送してください。電話でコードをお尋ねすることはありません。",
        "fallback_no_app": "銀行アプリでの承認をご利用いただけないため、SMSでワンタイムコードをお送りします。",
        "fallback_oob_failed": "銀行アプリに接続できなかったため、代わりにSMSでワンタイムコードを送信しました。",
        "fallback_oob_disabled": "このお支払いを確認するため、SMSでワンタイムコードをお送りします。",
        "done_Y": "お支払いが確認されました。加盟店のページに戻ります…",
        "done_N": "お支払いは確認されませんでした。加盟店のページに戻ります…",
        "returning": "加盟店のページに戻ります…",
        "continue_to_merchant": "加盟店のページへ",
        "noscript": "JavaScriptが無効です。ボタンを押して加盟店のページに戻ってください。",
        "send_failed": "コードを送信できませんでした。しばらくしてから再送してください。",
        "timed_out": "お支払いの確認がタイムアウトしました。",
        "error_title": "このお支払いページは表示できません",
        "error_text": "お支払いのセッションが見つからないか、終了しています。"
            "加盟店のページに戻り、もう一度お試しください。",
    },
}


def negotiate(preferred: Iterable[str] | str | None, fallback: str | None = None) -> str:
    """The supported language closest to the cardholder's preferences ("ja-JP", "en-US;q=0.8" …)."""
    if isinstance(preferred, str):
        preferred = [preferred]
    tags: list[str] = []
    for item in preferred or []:
        if not isinstance(item, str):
            continue
        for part in item.split(","):
            tag = part.split(";")[0].strip().replace("-", "_")
            if tag:
                tags.append(tag)
                tags.append(tag.split("_")[0])
    choice = negotiate_locale(tags, list(SUPPORTED), sep="_") if tags else None
    if choice:
        return choice
    if fallback:
        base = fallback.replace("-", "_").split("_")[0]
        if base in SUPPORTED:
            return base
    return DEFAULT


def text(locale: str, key: str, **values) -> str:
    catalogue = TEXTS.get(locale, TEXTS[DEFAULT])
    template = catalogue.get(key) or TEXTS[DEFAULT][key]
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def amount(purchase: dict, locale: str) -> str:
    """`{"amount": "4999", "currency": "978", "exponent": "2"}` → "€49.99" (en) / "€49.99" (ja)."""
    raw, numeric, exponent = purchase.get("amount"), purchase.get("currency"), purchase.get("exponent")
    if not raw:
        return ""
    try:
        value = Decimal(raw).scaleb(-int(exponent or 0))
    except (InvalidOperation, ValueError):
        return str(raw)
    code = CURRENCIES.get(str(numeric))
    if not code:
        return f"{value} ({numeric})"
    try:
        return format_currency(value, code, locale=Locale.parse(locale))
    except (UnknownLocaleError, ValueError):
        return f"{value} {code}"

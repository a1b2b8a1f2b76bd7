"""Tokenization decisions: approve, decline, or approve with step-up (pure rules, no I/O).

Order of precedence (first match wins):

1. the card is not ACTIVE in D1 (deleted, replaced)               → DECLINED `CARD_NOT_ACTIVE`
2. the PAN's expiry does not match D1's                           → DECLINED `EXPIRY_MISMATCH`
3. test-card behaviours: `rejected` → DECLINED; `stepup-sms` /
   `stepup-email` → REQUIRE_STEP_UP by that method; `frictionless` → APPROVED
4. the issuer's rules (`tsp` block of its configuration):
   `max_tokens_per_card`, the wallet's own recommendation (when `honor_wallet_recommendation`),
   `decline_device_score_below`, `step_up_device_score_below`, `step_up_account_score_below`
5. `default_decision` (APPROVED unless configured)

A step-up needs a method the consumer can receive (a phone for SMS, an address for EMAIL); with none
the tokenization is declined (`NO_STEP_UP_METHOD`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

APPROVED, DECLINED, REQUIRE_STEP_UP = "APPROVED", "DECLINED", "REQUIRE_STEP_UP"
DECISIONS = (APPROVED, DECLINED, REQUIRE_STEP_UP)
RECOMMENDATIONS = ("APPROVE", "DECLINE", "REQUIRE_ADDITIONAL_AUTHENTICATION")


@dataclass(frozen=True)
class RiskData:
    """The wallet's (token requestor's) risk assessment; scores 1 (risky) … 5 (trusted)."""

    device_score: int | None = None
    account_score: int | None = None
    recommendation: str | None = None
    reason_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TspSettings:
    default_decision: str = APPROVED
    step_up_methods: tuple[str, ...] = ("SMS", "EMAIL")
    honor_wallet_recommendation: bool = True
    decline_device_score_below: int | None = None
    step_up_device_score_below: int | None = None
    step_up_account_score_below: int | None = None
    max_tokens_per_card: int | None = None

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> "TspSettings":
        cfg = dict(cfg or {})
        kwargs = {k: cfg[k] for k in ("default_decision", "honor_wallet_recommendation", "decline_device_score_below",
                                      "step_up_device_score_below", "step_up_account_score_below",
                                      "max_tokens_per_card") if k in cfg}
        if cfg.get("step_up_methods"):
            kwargs["step_up_methods"] = tuple(cfg["step_up_methods"])
        return cls(**kwargs)


@dataclass(frozen=True)
class CardFacts:
    behavior: str | None
    state: str
    expiry_matches: bool = True
    live_tokens: int = 0  # tokens of this card that are not deleted/declined


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: tuple[str, ...]
    methods: tuple[str, ...] = field(default=())  # "SMS" / "EMAIL", in the order offered


def decide(card: CardFacts, risk: RiskData, settings: TspSettings, reachable: set[str]) -> Decision:
    """`reachable`: the channels the consumer has contact details for ({"SMS", "EMAIL"})."""
    if card.state != "ACTIVE":
        return Decision(DECLINED, ("CARD_NOT_ACTIVE",))
    if not card.expiry_matches:
        return Decision(DECLINED, ("EXPIRY_MISMATCH",))
    behavior = card.behavior or ""
    if behavior == "rejected":
        return Decision(DECLINED, ("TEST_CARD_REJECTED",))
    if behavior in ("stepup-sms", "stepup-email"):
        return _step_up(("SMS",) if behavior == "stepup-sms" else ("EMAIL",), ("TEST_CARD_STEP_UP",), reachable)
    if behavior == "frictionless":
        return Decision(APPROVED, ("TEST_CARD_APPROVED",))

    if settings.max_tokens_per_card is not None and card.live_tokens >= settings.max_tokens_per_card:
        return Decision(DECLINED, ("TOKEN_LIMIT_REACHED",))
    if settings.honor_wallet_recommendation and risk.recommendation == "DECLINE":
        return Decision(DECLINED, ("WALLET_RECOMMENDS_DECLINE",))
    if _below(risk.device_score, settings.decline_device_score_below):
        return Decision(DECLINED, ("LOW_DEVICE_SCORE",))
    step_up_reasons = []
    if settings.honor_wallet_recommendation and risk.recommendation == "REQUIRE_ADDITIONAL_AUTHENTICATION":
        step_up_reasons.append("WALLET_RECOMMENDS_STEP_UP")
    if _below(risk.device_score, settings.step_up_device_score_below):
        step_up_reasons.append("LOW_DEVICE_SCORE")
    if _below(risk.account_score, settings.step_up_account_score_below):
        step_up_reasons.append("LOW_ACCOUNT_SCORE")
    if step_up_reasons:
        return _step_up(settings.step_up_methods, tuple(step_up_reasons), reachable)
    if settings.default_decision == REQUIRE_STEP_UP:
        return _step_up(settings.step_up_methods, ("DEFAULT_RULE",), reachable)
    return Decision(settings.default_decision, ("DEFAULT_RULE",))


def _below(score: int | None, threshold: int | None) -> bool:
    return score is not None and threshold is not None and score < threshold


def _step_up(wanted: tuple[str, ...], reasons: tuple[str, ...], reachable: set[str]) -> Decision:
    methods = tuple(m for m in wanted if m in reachable)
    if not methods:
        return Decision(DECLINED, reasons + ("NO_STEP_UP_METHOD",))
    return Decision(REQUIRE_STEP_UP, reasons, methods)

"""Tokenization decision rules, on their own (no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.tsp.decision import APPROVED, DECLINED, REQUIRE_STEP_UP, CardFacts, RiskData, TspSettings, decide

BOTH = {"SMS", "EMAIL"}
NO_RISK = RiskData()
DEFAULTS = TspSettings()


def card(behavior=None, state="ACTIVE", expiry_matches=True, live=0):
    return CardFacts(behavior, state, expiry_matches, live)


@pytest.mark.parametrize("behavior, decision, methods", [
    ("frictionless", APPROVED, ()),
    ("rejected", DECLINED, ()),
    ("stepup-sms", REQUIRE_STEP_UP, ("SMS",)),
    ("stepup-email", REQUIRE_STEP_UP, ("EMAIL",)),
    ("challenge-oob", APPROVED, ()),  # not a tokenization test card: the default rule
])
def test_test_cards(behavior, decision, methods):
    verdict = decide(card(behavior), NO_RISK, DEFAULTS, BOTH)
    assert (verdict.decision, verdict.methods) == (decision, methods)


def test_deleted_or_replaced_card_is_declined_whatever_its_behaviour():
    for state in ("DELETED", "REPLACED"):
        assert decide(card("stepup-sms", state), NO_RISK, DEFAULTS, BOTH).reasons == ("CARD_NOT_ACTIVE",)


def test_expiry_mismatch_is_declined():
    verdict = decide(card("frictionless", expiry_matches=False), NO_RISK, DEFAULTS, BOTH)
    assert (verdict.decision, verdict.reasons) == (DECLINED, ("EXPIRY_MISMATCH",))


def test_step_up_without_a_reachable_channel_is_declined():
    verdict = decide(card("stepup-email"), NO_RISK, DEFAULTS, {"SMS"})
    assert (verdict.decision, verdict.reasons) == (DECLINED, ("TEST_CARD_STEP_UP", "NO_STEP_UP_METHOD"))


def test_wallet_recommendation_is_honoured_unless_disabled():
    decline = RiskData(recommendation="DECLINE")
    step_up = RiskData(recommendation="REQUIRE_ADDITIONAL_AUTHENTICATION")
    assert decide(card(), decline, DEFAULTS, BOTH).reasons == ("WALLET_RECOMMENDS_DECLINE",)
    assert decide(card(), step_up, DEFAULTS, BOTH).methods == ("SMS", "EMAIL")
    ignore = TspSettings(honor_wallet_recommendation=False)
    assert decide(card(), decline, ignore, BOTH).decision == APPROVED


def test_score_thresholds():
    settings = TspSettings(decline_device_score_below=2, step_up_device_score_below=4, step_up_account_score_below=3,
                           step_up_methods=("EMAIL", "SMS"))
    assert decide(card(), RiskData(device_score=1), settings, BOTH).reasons == ("LOW_DEVICE_SCORE",)
    assert decide(card(), RiskData(device_score=1), settings, BOTH).decision == DECLINED
    verdict = decide(card(), RiskData(device_score=3, account_score=2), settings, BOTH)
    assert (verdict.decision, verdict.reasons, verdict.methods) == (
        REQUIRE_STEP_UP, ("LOW_DEVICE_SCORE", "LOW_ACCOUNT_SCORE"), ("EMAIL", "SMS"))
    assert decide(card(), RiskData(device_score=4, account_score=3), settings, BOTH).decision == APPROVED


def test_token_limit():
    settings = TspSettings(max_tokens_per_card=2)
    assert decide(card(live=1), NO_RISK, settings, BOTH).decision == APPROVED
    assert decide(card(live=2), NO_RISK, settings, BOTH).reasons == ("TOKEN_LIMIT_REACHED",)


def test_default_decision():
    assert decide(card(), NO_RISK, TspSettings(default_decision=REQUIRE_STEP_UP), {"EMAIL"}).methods == ("EMAIL",)
    assert decide(card(), NO_RISK, TspSettings(default_decision=DECLINED), BOTH).decision == DECLINED


def test_settings_from_config():
    s = TspSettings.from_config({"default_decision": "REQUIRE_STEP_UP", "step_up_methods": ["EMAIL"], "x": 1})
    assert (s.default_decision, s.step_up_methods, s.honor_wallet_recommendation) == (REQUIRE_STEP_UP, ("EMAIL",), True)


@given(behavior=st.sampled_from([None, "frictionless", "rejected", "stepup-sms", "stepup-email", "attempted"]),
       device=st.one_of(st.none(), st.integers(1, 5)), account=st.one_of(st.none(), st.integers(1, 5)),
       rec=st.sampled_from([None, "APPROVE", "DECLINE", "REQUIRE_ADDITIONAL_AUTHENTICATION"]),
       reachable=st.sets(st.sampled_from(["SMS", "EMAIL"])), default=st.sampled_from([APPROVED, REQUIRE_STEP_UP]),
       step_up_below=st.one_of(st.none(), st.integers(1, 5)))
def test_every_decision_is_consistent(behavior, device, account, rec, reachable, default, step_up_below):
    verdict = decide(card(behavior), RiskData(device, account, rec),
                     TspSettings(default_decision=default, step_up_device_score_below=step_up_below), reachable)
    assert verdict.decision in (APPROVED, DECLINED, REQUIRE_STEP_UP) and verdict.reasons
    if verdict.decision == REQUIRE_STEP_UP:
        assert verdict.methods and set(verdict.methods) <= reachable  # never a method the consumer can't receive
    else:
        assert verdict.methods == ()

"""The OTP engine alone: every policy rule, on a bare database and a test clock (no HTTP)."""

from __future__ import annotations

import logging
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.errors import ValidationFailed
from simulator.otp import (
    ChallengeClosed,
    ChallengeNotFound,
    OtpEngine,
    OtpPolicy,
    OtpRateLimited,
    OtpResult,
    ResendLimitReached,
    SubjectLocked,
    mask_target,
)
from simulator.otp.engine import ALPHANUMERIC
from simulator.store import create_schema

PHONE = "+16175550103"


@pytest.fixture
def clock():
    return Clock(source=lambda: 1_800_000_000.0)


@pytest.fixture
def engine(tmp_path, clock):
    db = Database(tmp_path / "otp.db")
    create_schema(db)
    yield OtpEngine(db, clock, b"test-secret")
    db.close()


def wrong(code: str) -> str:
    """A code of the same shape that is not `code`."""
    return code[:-1] + ("1" if code[-1] != "1" else "2")


# -- policy ------------------------------------------------------------------------------------
def test_defaults_follow_nist_style():
    p = OtpPolicy()
    assert (p.length, p.alphabet, p.ttl_seconds, p.max_attempts) == (6, "numeric", 300, 3)
    assert p.ttl_seconds <= 600


def test_policy_from_issuer_config_takes_only_known_keys():
    p = OtpPolicy.from_issuer_config({"length": 8, "ttl_seconds": 120, "surprise": 1})
    assert (p.length, p.ttl_seconds, p.max_attempts) == (8, 120, 3)


def test_policy_from_login_app():
    p = OtpPolicy.from_login_app({"length": 4, "expiration_minutes": 2, "lockout_attempts": 5, "lockout_minutes": 15})
    assert (p.length, p.ttl_seconds, p.lockout_attempts, p.lockout_minutes, p.max_attempts) == (4, 120, 5, 15, 5)


@pytest.mark.parametrize("kwargs, field", [
    ({"length": 2}, "length"), ({"length": 11}, "length"), ({"alphabet": "emoji"}, "alphabet"),
    ({"ttl_seconds": 5}, "ttl_seconds"), ({"max_attempts": 0}, "max_attempts"),
    ({"max_resends": -1}, "max_resends"), ({"rate_limit_per_hour": 0}, "rate_limit_per_hour"),
    ({"lockout_attempts": 3}, "lockout_attempts"),
])
def test_bad_policy_names_the_field(kwargs, field):
    with pytest.raises(ValidationFailed) as err:
        OtpPolicy(**kwargs)
    assert field in err.value.fields


# -- generation --------------------------------------------------------------------------------
@settings(max_examples=200)
@given(length=st.integers(4, 10), alphabet=st.sampled_from(["numeric", "alphanumeric"]))
def test_generated_codes_match_length_and_alphabet(length, alphabet):
    policy = OtpPolicy(length=length, alphabet=alphabet)
    code = OtpEngine.generate(policy)
    assert len(code) == length
    allowed = string.digits if alphabet == "numeric" else ALPHANUMERIC
    assert set(code) <= set(allowed)


def test_alphanumeric_alphabet_has_no_lookalikes():
    assert not set("01OIL") & set(ALPHANUMERIC)


def test_codes_are_not_repeating():
    codes = {OtpEngine.generate(OtpPolicy(length=8)) for _ in range(200)}
    assert len(codes) > 195  # 10^8 space: a collision in 200 draws would point at a broken RNG


# -- issue / storage ---------------------------------------------------------------------------
def test_issue_returns_code_once_and_stores_only_a_keyed_hash(engine):
    issued = engine.issue("3DS", "demo:c3", PHONE, OtpPolicy(), "acs-1")
    challenge_id, code = issued
    assert code not in repr(issued)
    row = engine.db.get("otp_challenges", challenge_id=challenge_id)
    dump = repr(row)
    assert code not in dump and PHONE not in dump
    assert len(row["code_hash"]) == 64
    view = engine.get(challenge_id)
    assert code not in repr(view) and view["target"] == "+1******0103"


def test_same_code_hashes_differently_per_challenge(engine):
    a = engine._code_hash("otp-a", "123456")
    b = engine._code_hash("otp-b", "123456")
    assert a != b


def test_unknown_purpose_is_a_programming_error(engine):
    with pytest.raises(ValueError):
        engine.issue("NOPE", "s", PHONE, OtpPolicy())


# -- verify ------------------------------------------------------------------------------------
def test_right_code_verifies_once(engine):
    cid, code = engine.issue("3DS", "s", PHONE, OtpPolicy())
    assert engine.verify(cid, code).result is OtpResult.OK
    assert engine.verify(cid, code).result is OtpResult.USED


def test_unknown_challenge(engine):
    assert engine.verify("otp-nope", "123456").result is OtpResult.UNKNOWN


def test_wrong_codes_count_down_then_lock_and_right_code_no_longer_works(engine):
    cid, code = engine.issue("3DS", "s", PHONE, OtpPolicy(max_attempts=3))
    first = engine.verify(cid, wrong(code))
    second = engine.verify(cid, wrong(code))
    third = engine.verify(cid, wrong(code))
    assert (first.result, first.remaining_attempts) == (OtpResult.WRONG, 2)
    assert (second.result, second.remaining_attempts) == (OtpResult.WRONG, 1)
    assert (third.result, third.remaining_attempts) == (OtpResult.LOCKED, 0)
    assert engine.verify(cid, code).result is OtpResult.LOCKED
    assert engine.get(cid)["status"] == "LOCKED"


def test_ttl_on_the_sandbox_clock(engine, clock):
    cid, code = engine.issue("3DS", "s", PHONE, OtpPolicy(ttl_seconds=60))
    clock.advance(59)
    cid2, code2 = engine.issue("3DS", "s2", "+16175550104", OtpPolicy(ttl_seconds=60))
    assert engine.verify(cid2, code2).ok
    clock.advance(1)
    assert engine.verify(cid, code).result is OtpResult.EXPIRED
    assert engine.get(cid)["status"] == "EXPIRED"


def test_expired_wrong_code_does_not_spend_attempts(engine, clock):
    cid, code = engine.issue("3DS", "s", PHONE, OtpPolicy(ttl_seconds=60))
    clock.advance(61)
    assert engine.verify(cid, wrong(code)).result is OtpResult.EXPIRED
    assert engine.get(cid)["attempts"] == 0


def test_alphanumeric_codes_are_case_insensitive_and_ignore_separators(engine):
    cid, code = engine.issue("LOGIN", "s", PHONE, OtpPolicy(alphabet="alphanumeric", length=8))
    typed = code[:4].lower() + " - " + code[4:].lower()
    assert engine.verify(cid, typed).ok


def test_cancelled_challenge_is_unknown(engine):
    cid, code = engine.issue("3DS", "s", PHONE, OtpPolicy())
    engine.cancel(cid)
    assert engine.verify(cid, code).result is OtpResult.UNKNOWN


# -- resend ------------------------------------------------------------------------------------
def test_resend_kills_the_old_code_and_keeps_attempts(engine):
    cid, old = engine.issue("3DS", "s", PHONE, OtpPolicy(max_attempts=3))
    assert engine.verify(cid, wrong(old)).remaining_attempts == 2
    again = engine.resend(cid)
    assert again.challenge_id == cid and again.resends_left == 2
    if again.code != old:  # 1-in-a-million collision: then the old code IS the new one
        check = engine.verify(cid, old)
        assert (check.result, check.remaining_attempts) == (OtpResult.WRONG, 1)
    assert engine.verify(cid, again.code).ok


def test_resend_gives_a_fresh_ttl_after_expiry(engine, clock):
    cid, _ = engine.issue("3DS", "s", PHONE, OtpPolicy(ttl_seconds=60))
    clock.advance(120)
    again = engine.resend(cid)
    clock.advance(30)
    assert engine.verify(cid, again.code).ok


def test_resend_limit(engine):
    cid, _ = engine.issue("3DS", "s", PHONE, OtpPolicy(max_resends=2))
    engine.resend(cid)
    engine.resend(cid)
    with pytest.raises(ResendLimitReached) as err:
        engine.resend(cid)
    assert err.value.status == 429


def test_resend_after_lock_or_use_is_refused(engine):
    cid, code = engine.issue("3DS", "s", PHONE, OtpPolicy())
    engine.verify(cid, code)
    with pytest.raises(ChallengeClosed):
        engine.resend(cid)
    cid, code = engine.issue("3DS", "t", "+16175550104", OtpPolicy(max_attempts=1))
    engine.verify(cid, wrong(code))
    with pytest.raises(ChallengeClosed):
        engine.resend(cid)
    with pytest.raises(ChallengeNotFound):
        engine.resend("otp-nope")


# -- rate limits -------------------------------------------------------------------------------
def test_rate_limit_per_target_across_subjects(engine, clock):
    policy = OtpPolicy(rate_limit_per_hour=3)
    for i in range(3):
        engine.issue("3DS", f"consumer-{i}", PHONE, policy)
        clock.advance(60)
    with pytest.raises(OtpRateLimited) as err:
        engine.issue("TOKENIZATION", "consumer-9", PHONE, policy)
    assert err.value.scope == "phone number or address"
    # the first send leaves the hour window 3600 s after it happened; 180 s have passed
    assert err.value.retry_after == 3600 - 180
    assert PHONE not in err.value.message


def test_rate_limit_per_subject_across_targets(engine):
    policy = OtpPolicy(rate_limit_per_hour=2)
    engine.issue("3DS", "demo:c1", "+16175550101", policy)
    engine.issue("3DS", "demo:c1", "c1@mail.example", policy)
    with pytest.raises(OtpRateLimited) as err:
        engine.issue("3DS", "demo:c1", "+16175550109", policy)
    assert err.value.scope == "consumer"


def test_resends_count_towards_the_rate_limit(engine):
    policy = OtpPolicy(rate_limit_per_hour=2, max_resends=5)
    cid, _ = engine.issue("3DS", "s", PHONE, policy)
    engine.resend(cid)
    with pytest.raises(OtpRateLimited):
        engine.resend(cid)


def test_rate_limit_window_slides(engine, clock):
    policy = OtpPolicy(rate_limit_per_hour=1)
    engine.issue("3DS", "s", PHONE, policy)
    with pytest.raises(OtpRateLimited):
        engine.issue("3DS", "s", PHONE, policy)
    clock.advance(3600)
    engine.issue("3DS", "s", PHONE, policy)


# -- login lockout -----------------------------------------------------------------------------
def login_policy(**kw):
    return OtpPolicy.from_login_app({"lockout_attempts": 3, "lockout_minutes": 15, **kw})


def test_lockout_after_m_failures_across_challenges(engine, clock):
    policy = login_policy()
    cid, code = engine.issue("LOGIN", "app1:" + PHONE, PHONE, policy)
    engine.verify(cid, wrong(code))
    engine.verify(cid, wrong(code))
    cid2, code2 = engine.issue("LOGIN", "app1:" + PHONE, PHONE, policy)
    locked = engine.verify(cid2, wrong(code2))
    assert locked.result is OtpResult.LOCKED and locked.locked_until == clock.now() + 15 * 60
    # during the lockout: no new codes, and even the right code fails
    with pytest.raises(SubjectLocked) as err:
        engine.issue("LOGIN", "app1:" + PHONE, PHONE, policy)
    assert err.value.retry_after == 900
    assert engine.verify(cid, code).result is OtpResult.LOCKED
    assert engine.lockout_status("LOGIN", "app1:" + PHONE) is not None
    # after N minutes the subject may try again
    clock.advance(15 * 60)
    cid3, code3 = engine.issue("LOGIN", "app1:" + PHONE, PHONE, policy)
    assert engine.verify(cid3, code3).ok


def test_success_resets_the_failure_count(engine):
    policy = login_policy()
    subject = "app1:" + PHONE
    cid, code = engine.issue("LOGIN", subject, PHONE, policy)
    engine.verify(cid, wrong(code))
    engine.verify(cid, wrong(code))
    assert engine.verify(cid, code).ok
    cid, code = engine.issue("LOGIN", subject, PHONE, policy)
    assert engine.verify(cid, wrong(code)).result is OtpResult.WRONG  # count restarted at 1, not 3


def test_lockout_is_per_subject(engine):
    policy = login_policy(lockout_attempts=1)
    cid, code = engine.issue("LOGIN", "app1:+16175550101", "+16175550101", policy)
    assert engine.verify(cid, wrong(code)).result is OtpResult.LOCKED
    cid, code = engine.issue("LOGIN", "app1:+16175550102", "+16175550102", policy)
    assert engine.verify(cid, code).ok


def test_policies_without_lockout_never_lock_the_subject(engine):
    policy = OtpPolicy(max_attempts=1, rate_limit_per_hour=100)
    for _ in range(5):
        cid, code = engine.issue("3DS", "s", PHONE, policy)
        engine.verify(cid, wrong(code))
    assert engine.lockout_status("3DS", "s") is None


# -- properties --------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(guesses=st.lists(st.text(alphabet=string.digits, min_size=1, max_size=8), min_size=1, max_size=12),
       max_attempts=st.integers(1, 5))
def test_wrong_codes_never_verify_and_attempts_are_monotonic(engine, guesses, max_attempts):
    policy = OtpPolicy(max_attempts=max_attempts, rate_limit_per_hour=1000)
    cid, code = engine.issue("3DS", "prop", PHONE, policy)
    remaining = [max_attempts]
    attempts = [0]
    for guess in guesses:
        if guess == code:
            continue
        check = engine.verify(cid, guess)
        assert check.result in (OtpResult.WRONG, OtpResult.LOCKED)
        remaining.append(check.remaining_attempts)
        attempts.append(engine.get(cid)["attempts"])
    assert remaining == sorted(remaining, reverse=True)
    assert attempts == sorted(attempts)
    assert attempts[-1] <= max_attempts
    if len(remaining) > max_attempts:
        assert engine.verify(cid, code).result is OtpResult.LOCKED


@settings(max_examples=30, deadline=None)
@given(target=st.one_of(st.from_regex(r"\+[1-9]\d{7,14}", fullmatch=True),
                        st.emails()))
def test_masked_targets_hide_most_of_the_value(target):
    masked = mask_target(target)
    assert masked != target
    if "@" not in target:
        assert masked[-4:] == target[-4:] and masked.count("*") >= 2


def test_no_code_in_logs(engine, caplog):
    caplog.set_level(logging.DEBUG)
    cid, code = engine.issue("3DS", "s", PHONE, OtpPolicy())
    engine.verify(cid, wrong(code))
    again = engine.resend(cid)
    engine.verify(cid, again.code)
    assert code not in caplog.text and again.code not in caplog.text

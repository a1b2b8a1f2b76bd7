"""OTP: the one engine every flow (3DS SMS OTP, TSP step-up, one-time login) uses. See `engine.py`."""

from __future__ import annotations

from .engine import (
    ChallengeClosed,
    ChallengeNotFound,
    Issued,
    OtpEngine,
    OtpError,
    OtpPolicy,
    OtpRateLimited,
    OtpResult,
    ResendLimitReached,
    SubjectLocked,
    Verification,
    mask_target,
)

__all__ = ["ChallengeClosed", "ChallengeNotFound", "Issued", "OtpEngine", "OtpError", "OtpPolicy", "OtpRateLimited",
           "OtpResult", "ResendLimitReached", "SubjectLocked", "Verification", "engine_for", "mask_target"]


def engine_for(rt) -> OtpEngine:
    """The runtime's engine (`rt.services["otp"]`), created on first use."""
    engine = rt.services.get("otp")
    if engine is None:
        engine = rt.services.setdefault("otp", OtpEngine(rt.db, rt.clock, rt.secret))
    return engine

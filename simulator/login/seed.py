"""Demo data of the one-time login: the `demo-login-app` client and one existing user.

Idempotent (insert-if-missing), so it also fills a data directory created before login existed."""

from __future__ import annotations

from d1sandbox import demo

from ..runtime import Runtime

DEMO_OTP_POLICY = {"length": 6, "expiration_minutes": 5, "lockout_attempts": 5, "lockout_minutes": 15}


def demo_redirect_uris(rt: Runtime) -> list[str]:
    return [rt.public_url + demo.DEMO_LOGIN_CALLBACK_PATH, "http://localhost:3000/callback"]


def seed_login_demo(rt: Runtime) -> None:
    now = rt.clock.now()
    with rt.db.transaction():
        if rt.db.get("apps", client_id=demo.DEMO_LOGIN_CLIENT_ID) is None:
            rt.db.insert("apps", {
                "client_id": demo.DEMO_LOGIN_CLIENT_ID, "client_secret": demo.DEMO_LOGIN_CLIENT_SECRET,
                "name": demo.DEMO_LOGIN_APP_NAME, "redirect_uris": demo_redirect_uris(rt), "public_signups": 1,
                "otp_policy": DEMO_OTP_POLICY, "sender_id": "DemoLogin", "updated_at": now,
            })
        if rt.db.get("login_users", phone=demo.DEMO_LOGIN_USER_PHONE) is None:
            rt.db.insert("login_users", {
                "user_id": "usr-demo-0001", "phone": demo.DEMO_LOGIN_USER_PHONE, "phone_verified": 1,
                "created_by_client": demo.DEMO_LOGIN_CLIENT_ID, "created_at": now, "updated_at": now,
                "last_login_at": None,
            })

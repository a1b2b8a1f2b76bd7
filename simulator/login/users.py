"""Login users: one per phone number (E.164), shared by every login app of the tenant, as in
Mosaic. A user is found by phone; a new one is created only when the app asked for it
(`create_new_user`) and allows public sign-ups."""

from __future__ import annotations

import uuid

from d1sandbox.clock import Clock
from d1sandbox.db import Database

from ..messaging.addresses import InvalidRecipient, normalise_phone
from .errors import InvalidRequest


def normalize_phone(value: str) -> str:
    """`value` as E.164 (`+16175550101`), or `InvalidRequest`. Only numbers given with their `+`
    country code are accepted: the API has no region to guess from."""
    try:
        return normalise_phone(value)
    except InvalidRecipient:
        raise InvalidRequest("phone_number must be a valid E.164 phone number such as +16175550101",
                             fields={"phone_number": ["not a valid E.164 phone number"]}) from None


class Users:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock

    def by_phone(self, phone: str) -> dict | None:
        return self.db.get("login_users", phone=phone)

    def get(self, user_id: str) -> dict | None:
        return self.db.get("login_users", user_id=user_id)

    def find_or_create(self, phone: str, client_id: str) -> tuple[dict, bool]:
        """Inside the caller's transaction: the user with this phone, created if missing.
        Returns (user, created)."""
        existing = self.by_phone(phone)
        if existing:
            return existing, False
        now = self.clock.now()
        user_id = "usr-" + uuid.uuid4().hex[:20]
        self.db.insert("login_users", {
            "user_id": user_id, "phone": phone, "phone_verified": 0, "created_by_client": client_id,
            "created_at": now, "updated_at": now, "last_login_at": None,
        })
        return self.get(user_id), True

    def mark_login(self, user_id: str) -> None:
        """A successful OTP login proves possession of the phone: it is verified from now on."""
        now = self.clock.now()
        self.db.update("login_users", {"user_id": user_id},
                       {"phone_verified": 1, "last_login_at": now, "updated_at": now})

"""`Idempotency-Key` for the card API (after draft-ietf-httpapi-idempotency-key-header).

The first successful answer to a key is stored, in the same transaction as the change it reports, with
a keyed fingerprint of the request (method, path, body: the body may hold a PAN, so a plain hash would
be guessable). A retry with the same key and request gets that answer again, marked
`Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (422).
Keys live 24 hours of sandbox time. Errors are not stored: nothing took effect, so a retry may succeed."""

from __future__ import annotations

import json
import re
from typing import Callable

from d1sandbox.db import Database, loads
from d1sandbox.errors import ValidationFailed

HEADER = "Idempotency-Key"
TTL_SECONDS = 24 * 3600
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, no spaces


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not KEY_PATTERN.match(key):
        raise ValidationFailed("Idempotency-Key must be 1-255 visible ASCII characters",
                               fields={HEADER: ["1-255 visible ASCII characters"]})
    return key


class IdempotencyStore:
    def __init__(self, db: Database, clock, keyed_hash: Callable[[str, str], str]):
        self.db = db
        self.clock = clock
        self.keyed_hash = keyed_hash

    def fingerprint(self, method: str, path: str, body) -> str:
        canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
        return self.keyed_hash(canonical, "idempotency")

    def replay(self, issuer_id: str, key: str, fingerprint: str) -> tuple[int, dict] | None:
        """The stored answer for this key, None if the key is new (or expired). Call inside the
        transaction that will do the work, so two racing requests cannot both act."""
        row = self.db.get("card_idempotency", issuer_id=issuer_id, idempotency_key=key)
        if row is None or row["expires_at"] <= self.clock.now():
            return None
        if row["fingerprint"] != fingerprint:
            raise ValidationFailed("this Idempotency-Key was already used for a different request",
                                   error="idempotency_key_reused",
                                   fields={HEADER: ["already used for a different request"]})
        return row["status"], loads(row["response"], {})

    def remember(self, issuer_id: str, key: str, fingerprint: str, status: int, response: dict) -> None:
        now = self.clock.now()
        self.db.insert("card_idempotency", {
            "issuer_id": issuer_id, "idempotency_key": key, "fingerprint": fingerprint, "status": status,
            "response": response, "created_at": now, "expires_at": now + TTL_SECONDS,
        }, replace=True)

"""The 3DS operation history of a card (read side of `threeds_operations`, which the ACS writes).

Newest first, keyset-paged: the cursor names the last row a page showed, so rows the ACS adds while
an issuer pages through never shift or repeat entries."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from d1sandbox.db import Database
from d1sandbox.errors import NotFound, ValidationFailed

MAX_PAGE = 100


def encode_cursor(created_at: float, operation_id: str) -> str:
    raw = json.dumps([created_at, operation_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, operation_id = json.loads(raw)
        return float(created_at), str(operation_id)
    except (ValueError, TypeError):
        raise ValidationFailed("cursor: not a cursor this API returned", fields={"cursor": ["invalid cursor"]}) \
            from None


def operation_view(row: dict, iso) -> dict:
    return {
        "operationId": row["operation_id"], "cardId": row["card_id"], "consumerId": row["consumer_id"],
        "threeDSServerTransID": row["threeds_server_trans_id"], "dsTransID": row["ds_trans_id"],
        "acsTransID": row["acs_trans_id"], "sdkTransID": row["sdk_trans_id"],
        "messageVersion": row["message_version"], "messageCategory": row["message_category"],
        "deviceChannel": row["device_channel"], "transStatus": row["trans_status"],
        "transStatusReason": row["trans_status_reason"], "challengeMethod": row["challenge_method"],
        "eci": row["eci"], "purchaseAmount": row["purchase_amount"], "purchaseCurrency": row["purchase_currency"],
        "merchantName": row["merchant_name"], "status": row["status"],
        "createdAt": iso(row["created_at"]), "updatedAt": iso(row["updated_at"]),
    }


class ThreeDSHistory:
    def __init__(self, db: Database, clock):
        self.db = db
        self.clock = clock

    def _card(self, issuer_id: str, card_id: str) -> None:
        # History stays readable after a card is replaced or deleted: the issuer's records need it.
        if self.db.scalar("SELECT 1 FROM cards WHERE card_id = ? AND issuer_id = ?", (card_id, issuer_id)) is None:
            raise NotFound(f"card {card_id} is not registered for issuer {issuer_id}", error="card_not_found",
                           fields={"cardId": ["unknown card"]})

    def list(self, issuer_id: str, card_id: str, *, since: datetime | None = None, until: datetime | None = None,
             status: str | None = None, trans_status: str | None = None, limit: int = 20,
             cursor: str | None = None) -> dict:
        self._card(issuer_id, card_id)
        if since and until and since > until:
            raise ValidationFailed("from must not be after to", fields={"from": ["after 'to'"]})
        where = ["card_id = ?", "issuer_id = ?"]
        params: list = [card_id, issuer_id]
        if since:
            where.append("created_at >= ?")
            params.append(since.timestamp())
        if until:
            # Timestamps go out with millisecond precision: `to` set to an operation's createdAt must
            # still include that operation, so the bound covers its whole millisecond.
            where.append("created_at < ?")
            params.append(until.timestamp() + 0.001)
        if status:
            where.append("status = ?")
            params.append(status)
        if trans_status:
            where.append("trans_status = ?")
            params.append(trans_status)
        if cursor:
            at, last_id = decode_cursor(cursor)
            where.append("(created_at < ? OR (created_at = ? AND operation_id < ?))")
            params += [at, at, last_id]
        limit = max(1, min(limit, MAX_PAGE))
        rows = self.db.all(
            f"SELECT * FROM threeds_operations WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, operation_id DESC LIMIT ?", params + [limit + 1])
        page, more = rows[:limit], len(rows) > limit
        return {
            "operations": [operation_view(row, self.clock.isoformat) for row in page],
            "nextCursor": encode_cursor(page[-1]["created_at"], page[-1]["operation_id"]) if more else None,
        }

    def get(self, issuer_id: str, card_id: str, operation_id: str) -> dict:
        self._card(issuer_id, card_id)
        row = self.db.one("SELECT * FROM threeds_operations WHERE operation_id = ? AND card_id = ? AND issuer_id = ?",
                          (operation_id, card_id, issuer_id))
        if row is None:
            raise NotFound(f"no 3DS operation {operation_id} for card {card_id}", error="operation_not_found",
                           fields={"operationId": ["unknown operation"]})
        return operation_view(row, self.clock.isoformat)

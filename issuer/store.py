"""The issuer backend's schema: the bank's own records, in one place."""

from __future__ import annotations

from d1sandbox.db import Database
from d1sandbox.journal import Journal


def create_schema(db: Database) -> None:
    Journal.create_schema(db)
    s = db.schema()
    s["consumers"].create({
        "consumer_id": str, "name": str, "phone": str, "email": str, "locale": str,
        "app_instance_id": str, "app_reachable": int, "created_at": float, "updated_at": float,
    }, pk="consumer_id", if_not_exists=True)
    s["cards"].create({
        "card_id": str, "consumer_id": str, "pan_last4": str, "expiry": str, "state": str,
        "d1_status": str, "created_at": float, "updated_at": float,
    }, pk="card_id", if_not_exists=True)
    # Step-up requests D1 asked the issuer app to approve (OOB).
    s["authentications"].create({
        "authentication_id": str, "consumer_id": str, "status": str, "request": str,
        "created_at": float, "decided_at": float,
    }, pk="authentication_id", if_not_exists=True)
    s["authentications"].create_index(["consumer_id", "status"], if_not_exists=True)
    # Everything D1 told the bank (3DS outcomes, consumer operations, token events).
    s["notifications"].create({
        "id": int, "kind": str, "consumer_id": str, "card_id": str, "body": str, "received_at": float,
    }, pk="id", if_not_exists=True)
    # Redelivery check of 3DS notifications (issuer/receivers.py `_store_3ds`): by card and operationId,
    # an index look-up however many notifications a card has had (it used to scan them all).
    s.execute("CREATE INDEX IF NOT EXISTS notifications_3ds_operation "
              "ON notifications(card_id, json_extract(body, '$.operationId'))")
    # Access tokens this backend issued to D1 (hashed).
    s["access_tokens"].create({
        "token_hash": str, "client_id": str, "scope": str, "expires_at": float,
    }, pk="token_hash", if_not_exists=True)
    # Card lifecycle (issuer/admin.py): links between a replaced card and its replacement.
    for column in ("replaces", "replaced_by"):
        if column not in s["cards"].columns_dict:
            s["cards"].add_column(column, str)

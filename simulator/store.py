"""The simulator's schema: every table, index and migration in one place.

Each domain has its section. Runtime reads/writes go through `d1sandbox.db.Database`; schema changes
go through sqlite-utils (`create_table`, `create_index`, `add_column`) so they are idempotent."""

from __future__ import annotations

from d1sandbox.db import Database
from d1sandbox.faults import Faults
from d1sandbox.journal import Journal
from d1sandbox.outbox import Outbox


def create_schema(db: Database) -> None:
    Journal.create_schema(db)
    Outbox.create_schema(db)
    Faults.create_schema(db)
    s = db.schema()

    # -- issuers (onboarding, credentials, configuration) -------------------------------------
    s["issuers"].create({
        "issuer_id": str, "name": str, "client_id": str, "client_secret": str, "config": str,
        "version": int, "updated_at": float,
    }, pk="issuer_id", if_not_exists=True)
    s["issuers"].create_index(["client_id"], unique=True, if_not_exists=True)

    # -- consumers and cards (D1's registry) --------------------------------------------------
    s["consumers"].create({
        "issuer_id": str, "consumer_id": str, "phone": str, "email": str, "locale": str, "name": str,
        "created_at": float, "updated_at": float,
    }, pk=("issuer_id", "consumer_id"), if_not_exists=True)
    s["cards"].create({
        "card_id": str, "issuer_id": str, "consumer_id": str,
        "pan_ref": str,  # HMAC of the PAN: lookup without storing the PAN
        "pan_last4": str, "pan_bin": str, "pan_length": int, "expiry": str, "scheme": str,
        "state": str,  # ACTIVE | REPLACED | DELETED
        "behavior": str, "replaced_by": str, "replaces": str, "created_at": float, "updated_at": float,
    }, pk="card_id", if_not_exists=True)
    s["cards"].create_index(["pan_ref"], if_not_exists=True)
    s["cards"].create_index(["issuer_id", "consumer_id"], if_not_exists=True)
    s["card_audit"].create({
        "id": int, "card_id": str, "issuer_id": str, "operation": str, "request_id": str, "detail": str,
        "at": float,
    }, pk="id", if_not_exists=True)
    s["card_audit"].create_index(["card_id", "id"], if_not_exists=True)

    # -- 3DS operations (written by the ACS, read by the 3DS history API) ----------------------
    s["threeds_operations"].create({
        "operation_id": str, "issuer_id": str, "card_id": str, "consumer_id": str,
        "threeds_server_trans_id": str, "ds_trans_id": str, "acs_trans_id": str, "sdk_trans_id": str,
        "message_version": str, "message_category": str, "device_channel": str,
        "trans_status": str, "trans_status_reason": str,
        "challenge_method": str,  # FRICTIONLESS | OOB | SMS_OTP | null while undecided
        "eci": str, "purchase_amount": str, "purchase_currency": str, "merchant_name": str,
        "status": str,  # IN_PROGRESS | COMPLETED
        "created_at": float, "updated_at": float,
    }, pk="operation_id", if_not_exists=True)
    s["threeds_operations"].create_index(["card_id", "created_at"], if_not_exists=True)
    s["threeds_operations"].create_index(["acs_trans_id"], if_not_exists=True)

    # -- OOB authenticators (issuer app instances enrolled with D1) ---------------------------
    s["app_instances"].create({
        "app_instance_id": str, "issuer_id": str, "consumer_id": str, "state": str,
        "created_at": float, "updated_at": float,
    }, pk="app_instance_id", if_not_exists=True)
    s["app_instances"].create_index(["issuer_id", "consumer_id"], if_not_exists=True)

    # -- messaging: the sandbox phone network and mailboxes -----------------------------------
    s["messages"].create({
        "id": str, "channel": str, "to_addr": str, "from_addr": str, "sent_by": str, "body": str,
        "subject": str, "status": str, "status_history": str, "issuer_id": str, "correlation": str,
        "created_at": float, "updated_at": float,
    }, pk="id", if_not_exists=True)
    s["messages"].create_index(["to_addr", "created_at"], if_not_exists=True)

    # -- one-time login apps ------------------------------------------------------------------
    s["apps"].create({
        "client_id": str, "client_secret": str, "name": str, "redirect_uris": str, "public_signups": int,
        "otp_policy": str, "updated_at": float,
    }, pk="client_id", if_not_exists=True)

    # -- sandbox settings (clock offset, …) ---------------------------------------------------
    s["settings"].create({"key": str, "value": str}, pk="key", if_not_exists=True)


# Tables that `POST /sandbox/reset` empties (everything but the schema itself).
def data_tables(db: Database) -> list[str]:
    rows = db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return [row["name"] for row in rows]

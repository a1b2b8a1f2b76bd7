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

    # -- D1 inbound API (simulator/auth, simulator/cards): issuer access tokens, idempotency ---
    # Access tokens D1 issued to issuers: only a keyed hash of the token is stored, so a leaked
    # database yields no usable token; `revoked_at` makes revocation (RFC 7009) effective at once.
    s["issuer_access_tokens"].create({
        "token_hash": str, "issuer_id": str, "client_id": str, "scope": str, "issued_at": float,
        "expires_at": float, "revoked_at": float,
    }, pk="token_hash", if_not_exists=True)
    s["issuer_access_tokens"].create_index(["issuer_id", "expires_at"], if_not_exists=True)
    # Idempotency-Key replays of card requests: the first answer, stored with a fingerprint of the
    # request it answered (a reused key with another body is refused).
    s["card_idempotency"].create({
        "issuer_id": str, "idempotency_key": str, "fingerprint": str, "status": int, "response": str,
        "created_at": float, "expires_at": float,
    }, pk=("issuer_id", "idempotency_key"), if_not_exists=True)
    # App instance enrollment details (device name, who enrolled) kept beside app_instances.
    s["app_instance_events"].create({
        "id": int, "app_instance_id": str, "issuer_id": str, "consumer_id": str, "event": str, "at": float,
    }, pk="id", if_not_exists=True)
    s["app_instance_events"].create_index(["app_instance_id", "id"], if_not_exists=True)

    # -- messaging: the sandbox phone network and mailboxes -----------------------------------
    s["messages"].create({
        "id": str, "channel": str, "to_addr": str, "from_addr": str, "sent_by": str, "body": str,
        "subject": str, "status": str, "status_history": str, "issuer_id": str, "correlation": str,
        "created_at": float, "updated_at": float,
    }, pk="id", if_not_exists=True)
    s["messages"].create_index(["to_addr", "created_at"], if_not_exists=True)
    s["messages"].create_index(["correlation"], if_not_exists=True)
    # Email on the issuer's behalf (simulator/messaging/dns.py): the records D1 generated for the
    # issuer's sending subdomain and what the (simulated) issuer DNS zone publishes.
    s["email_domains"].create({
        "issuer_id": str, "subdomain": str, "selector": str, "records": str, "published": str,
        "created_at": float, "updated_at": float,
    }, pk="issuer_id", if_not_exists=True)

    # -- OTP engine (simulator/otp/engine.py): challenges, rate-limit events, lockouts ---------
    # Codes only as HMAC (keyed + salted by challenge id); targets only as keyed hash + masked form.
    s["otp_challenges"].create({
        "challenge_id": str, "purpose": str, "subject": str, "subject_ref": str, "target_ref": str,
        "target_masked": str, "code_hash": str, "policy": str,
        "status": str,  # ACTIVE | VERIFIED | LOCKED | EXPIRED | CANCELLED
        "attempts": int, "resends": int, "correlation": str, "created_at": float, "expires_at": float,
        "updated_at": float, "closed_at": float,
    }, pk="challenge_id", if_not_exists=True)
    s["otp_challenges"].create_index(["purpose", "subject_ref", "status"], if_not_exists=True)
    s["otp_challenges"].create_index(["correlation"], if_not_exists=True)
    s["otp_events"].create({
        "id": int, "kind": str, "purpose": str, "subject_ref": str, "target_ref": str, "at": float,
    }, pk="id", if_not_exists=True)
    s["otp_events"].create_index(["target_ref", "at"], if_not_exists=True)
    s["otp_events"].create_index(["subject_ref", "at"], if_not_exists=True)
    s["otp_lockouts"].create({
        "purpose": str, "subject_ref": str, "failures": int, "locked_until": float, "updated_at": float,
    }, pk=("purpose", "subject_ref"), if_not_exists=True)

    # -- EMV 3DS transactions (simulator/threeds): the DS/ACS state of every AReq answered ------
    # One row per AReq that got an ARes (frictionless ones too: a reused threeDSServerTransID is
    # refused with Erro 301). Challenge rows walk the state machine of threeds/transactions.py;
    # deadlines are sandbox-clock epochs; counters are the next expected/sent values. No PAN, no
    # OTP: the OTP engine holds the code hash, the card registry the PAN reference.
    s["threeds_transactions"].create({
        "acs_trans_id": str, "threeds_server_trans_id": str, "ds_trans_id": str, "sdk_trans_id": str,
        "operation_id": str, "issuer_id": str, "card_id": str, "consumer_id": str, "scheme": str, "pan_last4": str,
        "message_version": str, "message_category": str, "device_channel": str,
        # FRICTIONLESS | CHALLENGE_PENDING | OOB_PENDING | OTP_PENDING | COMPLETED | CANCELLED | TIMED_OUT
        "state": str,
        "trans_status": str, "trans_status_reason": str, "eci": str,
        "challenge_method": str,  # OOB | SMS_OTP (null when frictionless)
        "challenge_mandated": str, "otp_delivery": str,  # D1 | ISSUER
        "fallback_reason": str,  # why SMS OTP replaced OOB (no app, OOB disabled, issuer API failure …)
        "app_instance_id": str, "oob_authentication_id": str, "oob_status": str, "otp_challenge_id": str,
        "sdk_counter": int, "acs_counter": int, "interaction_counter": int, "challenge_cancel": str,
        "locale": str, "window_size": str, "notification_url": str, "threeds_server_url": str,
        "session_data": str, "browser_token_hash": str,
        "purchase": str,  # JSON: amount, currency, exponent, merchantName (what the challenge UI shows)
        "first_creq_deadline": float, "challenge_deadline": float,
        "rreq_status": str,  # NONE | PENDING | DELIVERED | FAILED | REJECTED
        "results_status": str, "version": int, "created_at": float, "updated_at": float, "completed_at": float,
    }, pk="acs_trans_id", if_not_exists=True)
    # Few indexes on purpose: every frictionless AReq inserts a row, and each index is pages to
    # write at commit. The unique one also refuses a reused threeDSServerTransID (Erro 301); the
    # partial one covers only open challenges, for the deadline sweep.
    s["threeds_transactions"].create_index(["threeds_server_trans_id"], unique=True, if_not_exists=True)
    db.conn.execute("CREATE INDEX IF NOT EXISTS threeds_transactions_open ON threeds_transactions"
                    "(challenge_deadline) WHERE state IN ('CHALLENGE_PENDING', 'OOB_PENDING', 'OTP_PENDING')")

    # -- TSP tokens (simulator/tsp/): tokenization decisions, step-up, lifecycle ---------------
    # The token number is stored only as a keyed hash + last four, like a PAN.
    s["tokens"].create({
        "token_ref_id": str, "issuer_id": str, "card_id": str, "consumer_id": str, "token_requestor_id": str,
        "wallet": str, "token_ref": str, "token_last4": str, "token_expiry": str, "pan_last4": str,
        "status": str,  # INACTIVE | ACTIVE | SUSPENDED | DELETED | DECLINED
        "decision": str, "reasons": str, "step_up_methods": str, "challenge_id": str, "otp_method_id": str,
        "device": str, "risk": str, "locale": str, "created_at": float, "updated_at": float,
        "activated_at": float,
    }, pk="token_ref_id", if_not_exists=True)
    s["tokens"].create_index(["issuer_id", "card_id"], if_not_exists=True)
    s["token_events"].create({
        "id": int, "token_ref_id": str, "event": str, "actor": str, "status": str, "reason": str, "at": float,
    }, pk="id", if_not_exists=True)
    s["token_events"].create_index(["token_ref_id", "id"], if_not_exists=True)

    # -- one-time login apps ------------------------------------------------------------------
    s["apps"].create({
        "client_id": str, "client_secret": str, "name": str, "redirect_uris": str, "public_signups": int,
        "otp_policy": str, "updated_at": float,
    }, pk="client_id", if_not_exists=True)

    # -- one-time login users, flow state and the OIDC provider (simulator/login/) ------------
    if "sender_id" not in s["apps"].columns_dict:  # added after the first release: migrate in place
        s["apps"].add_column("sender_id", str)
    s["login_users"].create({
        "user_id": str, "phone": str, "phone_verified": int, "created_by_client": str,
        "created_at": float, "updated_at": float, "last_login_at": float,
    }, pk="user_id", if_not_exists=True)
    s["login_users"].create_index(["phone"], unique=True, if_not_exists=True)
    # One send request; its code lives in the OTP engine (challenge_id).
    s["login_attempts"].create({
        "attempt_id": str, "client_id": str, "phone": str, "user_id": str, "create_new_user": int,
        "redirect_uri": str, "challenge_id": str,
        "status": str,  # PENDING | VERIFIED | SUPERSEDED
        "created_at": float, "updated_at": float, "expires_at": float,
    }, pk="attempt_id", if_not_exists=True)
    s["login_attempts"].create_index(["client_id", "phone", "status"], if_not_exists=True)
    # Result URIs, codes and tokens are bearer secrets: only their keyed hash is stored.
    s["login_results"].create({
        "ticket_hash": str, "attempt_id": str, "client_id": str, "redirect_uri": str, "phone": str,
        "user_id": str, "create_new_user": int, "auth_time": float, "created_at": float,
        "expires_at": float, "used_at": float,
    }, pk="ticket_hash", if_not_exists=True)
    s["oidc_codes"].create({
        "code_hash": str, "client_id": str, "redirect_uri": str, "phone": str, "user_id": str,
        "create_new_user": int, "auth_time": float, "correlation": str, "created_at": float,
        "expires_at": float, "used_at": float,
    }, pk="code_hash", if_not_exists=True)
    s["oidc_tokens"].create({
        "token_hash": str, "token_id": str, "kind": str, "client_id": str, "user_id": str,
        "code_hash": str,  # the code it was issued from: a replayed code revokes it
        "scope": str, "created_at": float, "expires_at": float, "revoked_at": float,
    }, pk="token_hash", if_not_exists=True)
    s["oidc_tokens"].create_index(["code_hash"], if_not_exists=True)

    # -- certification rehearsals (simulator/rehearsal/): one report per run ------------------
    s["rehearsals"].create({
        "id": str, "issuer_id": str, "issuer_url": str, "passed": int, "report": str, "created_at": float,
    }, pk="id", if_not_exists=True)
    s["rehearsals"].create_index(["created_at"], if_not_exists=True)

    # -- sandbox settings (clock offset, …) ---------------------------------------------------
    s["settings"].create({"key": str, "value": str}, pk="key", if_not_exists=True)


# Tables that `POST /sandbox/reset` empties (everything but the schema itself).
def data_tables(db: Database) -> list[str]:
    rows = db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return [row["name"] for row in rows]

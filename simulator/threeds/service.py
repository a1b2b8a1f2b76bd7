"""The DS and the ACS at work: an AReq in, an ARes (or Erro) out, everything recorded at once.

`ThreeDS.handle_areq(raw)` runs the Directory Server's checks (validation.py, a reused
threeDSServerTransID → Erro 301, card-range routing → Erro 305), hands the AReq to the ACS, which
looks the card up and decides (acs.py), and writes — in ONE database transaction — the journal
(AReq in, AReq DS→ACS, ARes ACS→DS, ARes out), the transaction row, the issuer's 3DS operation and,
for a final outcome, the 3DS notification to the issuer (through the outbox). Reads happen before
that transaction and the issuer configuration and card ranges come from caches, so the frictionless
hot path costs a handful of indexed reads and one short write.

`ThreeDS.finish()` ends a challenge (used by challenge.py and the timeout sweep): terminal state,
operation closed, RReq and notification queued — again in one transaction."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from d1sandbox.journal import Extended
from d1sandbox.redact import MASK

from . import acs, i18n
from . import messages as m
from .ds import RangeCache
from .keys import AcsKeys
from .transactions import (
    CHALLENGE_PENDING,
    FIRST_CREQ_SECONDS,
    FRICTIONLESS,
    TERMINAL,
    TIMER_KIND,
    Transaction,
    Transactions,
)
from .validation import Erro, Valid, check_areq, parse_json

# Journal actors (the sequence diagrams' participants).
THREEDS_SERVER, DS, ACS = "3DS Server", "DS", "ACS"
D1, ISSUER, CARDHOLDER, PHONE = "D1", "Issuer backend", "Cardholder", "Phone"

ACS_REFERENCE = "3DS_LOA_ACS_D1SB_020300_00001"
ACS_OPERATOR = "D1-SANDBOX-ACS"
DS_REFERENCE = "3DS_LOA_DIS_D1SB_020300_00001"
SERVICE = "threeds"


def service(rt) -> "ThreeDS":
    svc = rt.services.get(SERVICE)
    if svc is None:
        svc = rt.services.setdefault(SERVICE, ThreeDS(rt))
    return svc


def journal_copy(msg: dict) -> dict:
    """The message as the journal may keep it: the card security code (2.3.1) has no key the
    redactor knows, so it is masked here."""
    if "cardSecurityCode" in msg:
        msg = {**msg, "cardSecurityCode": MASK}
    return msg


class ThreeDS:
    def __init__(self, rt):
        self.rt = rt
        self.transactions = Transactions(rt.db, rt.clock)
        self.ranges = RangeCache(rt.issuers)
        self.keys = AcsKeys(f"{rt.config['DATA_DIR']}/threeds")

    # -- URLs ----------------------------------------------------------------------------------
    @property
    def browser_acs_url(self) -> str:
        return f"{self.rt.public_url}/acs/browser/creq"

    @property
    def app_acs_url(self) -> str:
        return f"{self.rt.public_url}/acs/app/creq"

    @property
    def ds_url(self) -> str:
        return f"{self.rt.public_url}/ds/areq"

    def forget_cache(self) -> None:
        self.ranges.forget_cache()

    # -- AReq → ARes ---------------------------------------------------------------------------
    def handle_areq(self, raw: bytes, *, oversized: bool = False) -> dict:
        ds_trans_id = str(uuid.uuid4())
        if oversized:
            return self._erro(Erro("101", "message", m.DS, explanation="the message is larger than any AReq can be"),
                              ds_trans_id, raw[:300])
        result = check_areq(raw)
        if isinstance(result, Erro):
            return self._erro(result, ds_trans_id, raw)
        msg = result.msg
        ids = {**result.ids, "dsTransID": ds_trans_id}
        server_id = msg["threeDSServerTransID"]
        route = self.ranges.table().route(msg["acctNumber"])
        if route is None:
            return self._erro(Erro("305", "acctNumber", m.DS, "AReq", result.version, ids,
                                   "the Cardholder Account Number is not in a range belonging to any "
                                   "participating issuer"), ds_trans_id, raw, correlation=server_id)
        try:
            return self._authenticate(result, route, ds_trans_id)
        except sqlite3.IntegrityError:
            # The unique index on threeDSServerTransID caught a reused ID (checked by the insert
            # itself rather than a read beforehand: the hot path saves a query). Nothing was kept.
            return self._erro(Erro("301", "threeDSServerTransID", m.DS, "AReq", result.version, ids,
                                   "this threeDSServerTransID was already used by another AReq"), ds_trans_id, raw,
                              correlation=server_id)

    def _erro(self, erro: Erro, ds_trans_id: str, raw: bytes, correlation: str | None = None) -> dict:
        erro.ids = {**erro.ids, "dsTransID": ds_trans_id}
        body = erro.body()
        value, _, problem = parse_json(raw)
        incoming = journal_copy(value) if isinstance(value, dict) else {
            "invalidBody": raw[:300].decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)[:300]}
        server_id = erro.ids.get("threeDSServerTransID")
        correlation = correlation or server_id or ds_trans_id
        journal = self.rt.journal
        with self.rt.db.transaction():
            journal.record(correlation, THREEDS_SERVER, DS, "AReq", incoming, kind="request", method="POST",
                           path="/ds/areq", aliases=(ds_trans_id,) if correlation != ds_trans_id else ())
            journal.record(correlation, DS, THREEDS_SERVER, "Erro", body, kind="response", method="POST",
                           path="/ds/areq", status=200)
        return body

    def _authenticate(self, valid: Valid, route, ds_trans_id: str) -> dict:
        rt = self.rt
        msg, version = valid.msg, valid.version
        channel, category = msg["deviceChannel"], msg["messageCategory"]
        server_id = msg["threeDSServerTransID"]
        acs_trans_id = str(uuid.uuid4())
        ids = {"threeDSServerTransID": server_id, "dsTransID": ds_trans_id, "acsTransID": acs_trans_id}
        if channel == m.APP:
            ids["sdkTransID"] = msg["sdkTransID"]

        # -- ACS: reads (outside the write transaction) -------------------------------------------
        card = self._card(route.issuer_id, msg["acctNumber"])
        issuer_config = self.ranges.config(route.issuer_id)
        today = rt.clock.utcnow().strftime("%y%m")
        decision = acs.decide(msg, card, issuer_config.get("acs"), version=version, today_yymm=today,
                              scheme=route.scheme)
        scheme = card.scheme if card else route.scheme
        now = rt.clock.now()

        method = None
        app_instance = None
        locale = None
        cardholder_info = None
        signed_content = None
        if decision.challenge and card is not None:
            app_instance = self._app_instance(card)
            method = acs.choose_method(card, issuer_config, has_app=app_instance is not None)
            locale = self._locale(msg, card, issuer_config)
            if method.fallback_reason:
                key = "fallback_oob_disabled" if method.fallback_reason == acs.OOB_DISABLED else "fallback_no_app"
                cardholder_info = i18n.text(locale, key)
            if channel == m.APP:
                signed_content = self.keys.sign({
                    "acsTransID": acs_trans_id, "acsRefNumber": ACS_REFERENCE, "acsURL": self.app_acs_url,
                    "acsEphemPubKey": self.keys.ephemeral_public_jwk(), "sdkEphemPubKey": msg["sdkEphemPubKey"],
                })
        ares = acs.build_ares(msg, ids, decision, version=version, scheme=scheme, secret=rt.secret,
                              acs_reference=ACS_REFERENCE, acs_operator=ACS_OPERATOR, ds_reference=DS_REFERENCE,
                              method=method, acs_url=self.browser_acs_url, signed_content=signed_content,
                              cardholder_info=cardholder_info)

        # -- one write transaction: journal, transaction, operation, notification -----------------
        incoming = journal_copy(msg)
        # The AReq the DS forwards is the one it received plus its own elements: journaled as such,
        # so the journal redacts the message once for both legs.
        forwarded = Extended(incoming, {"dsTransID": ds_trans_id, "dsReferenceNumber": DS_REFERENCE,
                                        "dsURL": self.ds_url})
        operation_id = "op-" + uuid.uuid4().hex if card else None
        purchase = {"amount": msg.get("purchaseAmount"), "currency": msg.get("purchaseCurrency"),
                    "exponent": msg.get("purchaseExponent"), "merchantName": msg.get("merchantName")}
        row: dict[str, Any] = {
            "acs_trans_id": acs_trans_id, "threeds_server_trans_id": server_id, "ds_trans_id": ds_trans_id,
            "sdk_trans_id": msg.get("sdkTransID"), "operation_id": operation_id, "issuer_id": route.issuer_id,
            "card_id": card.card_id if card else None, "consumer_id": card.consumer_id if card else None,
            "scheme": scheme, "pan_last4": msg["acctNumber"][-4:], "message_version": version,
            "message_category": category, "device_channel": channel, "trans_status": decision.status,
            "trans_status_reason": decision.reason, "eci": ares.get("eci"), "purchase": purchase,
            "threeds_server_url": msg["threeDSServerURL"],
        }
        if decision.challenge:
            window = int((issuer_config.get("acs") or {}).get("challenge_window_seconds") or 600)
            row.update({
                "state": CHALLENGE_PENDING, "challenge_method": method.method, "challenge_mandated": decision.mandated,
                "otp_delivery": method.otp_delivery, "fallback_reason": method.fallback_reason,
                "app_instance_id": app_instance, "locale": locale, "notification_url": msg.get("notificationURL"),
                "first_creq_deadline": now + FIRST_CREQ_SECONDS, "challenge_deadline": now + window,
            })
        else:
            row.update({"state": FRICTIONLESS, "completed_at": now})
        aliases = [ds_trans_id, acs_trans_id] + ([msg["sdkTransID"]] if channel == m.APP else [])
        entries = [
            {"source": THREEDS_SERVER, "target": DS, "label": "AReq", "body": incoming, "kind": "request",
             "method": "POST", "path": "/ds/areq"},
            {"source": DS, "target": ACS, "label": "AReq", "body": forwarded, "kind": "request"},
        ]
        if decision.why != acs.PLAIN_FRICTIONLESS:  # the default needs no explaining
            entries.append({"source": ACS, "target": ACS, "label": "ACS decision", "kind": "note",
                            "body": {"transStatus": decision.status, "rule": decision.why}})
        entries += [
            {"source": ACS, "target": DS, "label": "ARes", "body": ares, "kind": "response"},
            {"source": DS, "target": THREEDS_SERVER, "label": "ARes", "body": ares, "kind": "response",
             "method": "POST", "path": "/ds/areq", "status": 200},
        ]
        def write() -> None:
            self.transactions.insert(row)  # first: a reused threeDSServerTransID fails before anything else
            rt.journal.record_many(server_id, entries, aliases)
            if card is not None:
                self._insert_operation(row, final=not decision.challenge)
                if not decision.challenge:
                    self._notify(Transaction(row), acs.FRICTIONLESS)
            if decision.challenge:
                rt.outbox.enqueue(TIMER_KIND, {"acsTransID": acs_trans_id}, correlation=server_id,
                                  delay=FIRST_CREQ_SECONDS)

        # Writes only, all computed above: concurrent AReqs share one COMMIT (group commit); each
        # AReq's rows are still all-or-nothing and durable before its ARes leaves.
        rt.db.group_commit(write)
        return ares

    # -- lookups -------------------------------------------------------------------------------
    def _card(self, issuer_id: str, pan: str) -> acs.Card | None:
        row = self.rt.db.one(
            "SELECT card_id, issuer_id, consumer_id, scheme, state, behavior, expiry, pan_last4 FROM cards "
            "WHERE pan_ref = ? AND issuer_id = ? ORDER BY state = 'ACTIVE' DESC, updated_at DESC LIMIT 1",
            (self.rt.pan_ref(pan), issuer_id))
        return acs.Card(**row) if row else None

    def _app_instance(self, card: acs.Card) -> str | None:
        if not card.consumer_id:
            return None
        return self.rt.db.scalar(
            "SELECT app_instance_id FROM app_instances WHERE issuer_id = ? AND consumer_id = ? AND state = 'ACTIVE' "
            "ORDER BY updated_at DESC LIMIT 1", (card.issuer_id, card.consumer_id))

    def _locale(self, msg: dict, card: acs.Card, issuer_config: dict) -> str:
        consumer_locale = None
        if card.consumer_id:
            consumer_locale = self.rt.db.scalar("SELECT locale FROM consumers WHERE issuer_id = ? AND consumer_id = ?",
                                                (card.issuer_id, card.consumer_id))
        fallback = consumer_locale or issuer_config.get("default_locale")
        if msg.get("deviceChannel") == m.BRW:
            return i18n.negotiate(msg.get("acceptLanguage") or msg.get("browserLanguage"), fallback)
        return i18n.negotiate(consumer_locale or issuer_config.get("default_locale"))

    # -- the issuer's view -----------------------------------------------------------------------
    def _insert_operation(self, row: dict, *, final: bool) -> None:
        purchase = row["purchase"] if isinstance(row["purchase"], dict) else json.loads(row["purchase"] or "{}")
        now = self.rt.clock.now()
        self.rt.db.insert("threeds_operations", {
            "operation_id": row["operation_id"], "issuer_id": row["issuer_id"], "card_id": row["card_id"],
            "consumer_id": row["consumer_id"], "threeds_server_trans_id": row["threeds_server_trans_id"],
            "ds_trans_id": row["ds_trans_id"], "acs_trans_id": row["acs_trans_id"],
            "sdk_trans_id": row["sdk_trans_id"], "message_version": row["message_version"],
            "message_category": row["message_category"], "device_channel": row["device_channel"],
            "trans_status": row["trans_status"], "trans_status_reason": row["trans_status_reason"],
            "challenge_method": acs.FRICTIONLESS if final else None, "eci": row.get("eci"),
            "purchase_amount": purchase.get("amount"), "purchase_currency": purchase.get("currency"),
            "merchant_name": purchase.get("merchantName"), "status": "COMPLETED" if final else "IN_PROGRESS",
            "created_at": now, "updated_at": now,
        })

    def notification_body(self, tx: Transaction, challenge_method: str) -> dict:
        """The 3DS notification of docs/wire-contract.md."""
        row, purchase = tx.row, tx.purchase_info
        return {
            "operationId": row["operation_id"], "threeDSServerTransID": row["threeds_server_trans_id"],
            "dsTransID": row["ds_trans_id"], "acsTransID": row["acs_trans_id"],
            "messageVersion": row["message_version"], "messageCategory": row["message_category"],
            "deviceChannel": row["device_channel"], "transStatus": row["trans_status"],
            "transStatusReason": row.get("trans_status_reason"), "challengeMethod": challenge_method,
            "eci": row.get("eci"), "purchaseAmount": purchase.get("amount"),
            "purchaseCurrency": purchase.get("currency"), "merchantName": purchase.get("merchantName"),
            "timestamp": self.rt.clock.isoformat(),
        }

    def _notify(self, tx: Transaction, challenge_method: str) -> None:
        from ..notify import enqueue_3ds_notification

        enqueue_3ds_notification(self.rt, tx.row["issuer_id"], tx.row["card_id"],
                                 self.notification_body(tx, challenge_method),
                                 correlation=tx.row["threeds_server_trans_id"])

    # -- the end of a challenge ------------------------------------------------------------------
    def finish(self, tx: Transaction, state: str, status: str, reason: str | None = None, *,
               cancel: str | None = None, note: str | None = None, extra: dict | None = None) -> Transaction:
        """Move an open challenge to a terminal `state` with final transStatus `status`; close the
        operation; queue the RReq and the issuer notification. Call inside `db.transaction()`."""
        assert state in TERMINAL and state != FRICTIONLESS
        rt = self.rt
        now = rt.clock.now()
        eci = acs.eci(tx.row["scheme"], status) if tx.row["message_category"] == m.PA else None
        values = {"trans_status": status, "trans_status_reason": reason, "eci": eci, "challenge_cancel": cancel,
                  "completed_at": now, "rreq_status": "PENDING", **(extra or {})}
        from .rreq import enqueue_rreq

        tx = self.transactions.update(tx, values, state=state)
        if note:
            rt.journal.record(tx.row["threeds_server_trans_id"], ACS, ACS, "challenge result",
                              {"transStatus": status, "transStatusReason": reason, "challengeCancel": cancel,
                               "why": note}, kind="note")
        enqueue_rreq(rt, tx)  # queued first: the outbox delivers in order, the RReq before the notification
        if tx.row.get("operation_id"):
            rt.db.update("threeds_operations", {"operation_id": tx.row["operation_id"]}, {
                "trans_status": status, "trans_status_reason": reason, "eci": eci,
                "challenge_method": tx.row["challenge_method"], "status": "COMPLETED", "updated_at": now})
            self._notify(tx, tx.row["challenge_method"])
        return tx

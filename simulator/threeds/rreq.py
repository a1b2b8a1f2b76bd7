"""Results Request: after every challenge the ACS reports the outcome, through the DS, to the 3DS
Server (`threeDSServerURL` of the AReq) and the 3DS Server acknowledges with an RRes.

The RReq is queued in the durable outbox by `ThreeDS.finish()` in the transaction that ends the
challenge, so it survives a crash and never slows the cardholder's final CRes. Delivery goes
through the one outbound client (target `threeds-server`, operation `rreq`: journaled, subject to
`/sandbox/faults`); a transport failure or 5xx is retried with the outbox's backoff. The RRes is
validated like any message (messageType, version, IDs matching the transaction, `resultsStatus`)
and recorded on the transaction: `rreq_status` DELIVERED (with `results_status`), REJECTED (an
RRes that is not one, or names another transaction) or FAILED (every attempt failed)."""

from __future__ import annotations

import logging

from d1sandbox.outbound import OutboundClient
from d1sandbox.outbox import RetryLater

from . import acs
from . import messages as m
from .transactions import Transaction
from .validation import Erro, check_parsed

log = logging.getLogger("d1sandbox.threeds")

KIND = "threeds.rreq"
TARGET, OPERATION = "threeds-server", "rreq"
MAX_ATTEMPTS = 6


def build_rreq(rt, tx: Transaction) -> dict:
    row = tx.row
    version, status = row["message_version"], row["trans_status"]
    rreq = {"messageType": "RReq", "messageVersion": version, **tx.ids(), "messageCategory": row["message_category"],
            "transStatus": status}
    if row.get("trans_status_reason"):
        rreq["transStatusReason"] = row["trans_status_reason"]
    if status in ("Y", "A") and row["message_category"] == m.PA:
        rreq["authenticationValue"] = acs.authentication_value(rt.secret, row["acs_trans_id"], status)
    if row.get("eci"):
        rreq["eci"] = row["eci"]
    method = row.get("challenge_method")
    if method in acs.AUTHENTICATION_TYPE:
        rreq["authenticationType"] = acs.AUTHENTICATION_TYPE[method]
        if version == m.V231:
            rreq["authenticationMethod"] = [acs.AUTHENTICATION_METHOD[method]]
        if row["device_channel"] == m.APP and version != m.V210:
            rreq["acsRenderingType"] = acs.rendering_type(method)
    rreq["interactionCounter"] = f"{min(int(row.get('interaction_counter') or 0), 99):02d}"
    if row.get("challenge_cancel"):
        rreq["challengeCancel"] = row["challenge_cancel"]
    return rreq


def enqueue_rreq(rt, tx: Transaction) -> int:
    """Call inside the transaction that ends the challenge."""
    return rt.outbox.enqueue(KIND, {"acsTransID": tx.row["acs_trans_id"]},
                             correlation=tx.row["threeds_server_trans_id"], max_attempts=MAX_ATTEMPTS)


def _client(rt) -> OutboundClient:
    client = rt.services.get("threeds.rreq-client")
    if client is None:
        from .service import DS, THREEDS_SERVER

        kwargs = {"sleep": rt.config["SLEEP"]} if rt.config.get("SLEEP") else {}
        client = OutboundClient("", source=DS, target=THREEDS_SERVER, clock=rt.clock, session=rt.http,
                                journal=lambda *a, **kw: rt.journal.record(*a, **kw),
                                fault_hook=rt.faults.hook(TARGET), timeout=rt.config["OUTBOUND_TIMEOUT"],
                                retries=0, **kwargs)
        rt.services["threeds.rreq-client"] = client
    return client


def register(rt) -> None:
    rt.outbox.register(KIND, lambda payload, row: deliver(rt, payload, row))


def deliver(rt, payload: dict, row: dict) -> None:
    from .service import ACS, DS, service

    svc = service(rt)
    tx = svc.transactions.get(payload.get("acsTransID", ""))
    if tx is None:
        return  # the sandbox was reset since: nothing left to report
    correlation = tx.row["threeds_server_trans_id"]
    rreq = build_rreq(rt, tx)
    if row.get("attempts", 0) == 0:
        rt.journal.record(correlation, ACS, DS, "RReq", rreq, kind="request")
    result = _client(rt).call("POST", tx.row["threeds_server_url"], operation=OPERATION, json=rreq,
                              correlation=correlation, label="RReq")
    last = row.get("attempts", 0) + 1 >= row.get("max_attempts", MAX_ATTEMPTS)
    key = {"acs_trans_id": tx.row["acs_trans_id"]}
    # rreq_* columns are the DS's bookkeeping on a transaction that is already final: no version bump.
    if not result.ok:
        with rt.db.transaction():
            rt.db.update("threeds_transactions", key, {"rreq_status": "FAILED" if last else "PENDING",
                                                       "updated_at": rt.clock.now()})
        raise RetryLater(f"RReq to the 3DS Server: {result.describe()}")
    verdict = check_rres(tx, result.body)
    with rt.db.transaction():
        if isinstance(verdict, Erro):
            rt.db.update("threeds_transactions", key, {"rreq_status": "REJECTED", "updated_at": rt.clock.now()})
            rt.journal.record(correlation, DS, ACS, "RRes rejected", {"errorCode": verdict.code,
                                                                      "errorDetail": verdict.detail,
                                                                      "why": verdict.explanation}, kind="note")
        else:
            rt.db.update("threeds_transactions", key, {"rreq_status": "DELIVERED", "updated_at": rt.clock.now(),
                                                       "results_status": verdict["resultsStatus"]})
            rt.journal.record(correlation, DS, ACS, "RRes", verdict, kind="response")


def check_rres(tx: Transaction, body) -> dict | Erro:
    """The RRes, or why it is not acceptable (an Erro the DS would send)."""
    version, channel = tx.row["message_version"], tx.row["device_channel"]
    result = check_parsed(body, [], "RRes", versions=m.VERSIONS, channel=channel)
    if isinstance(result, Erro):
        return result
    if result.version != version:
        return Erro("203", "messageVersion", m.DS, "RRes", version, result.ids,
                    f"the transaction runs {version}")
    expected = tx.ids()
    wrong = [key for key, value in expected.items() if result.msg.get(key) != value]
    if wrong:
        return Erro("301", ", ".join(wrong), m.DS, "RRes", version, result.ids,
                    "the RRes names another transaction")
    return result.msg

"""CReq/CRes at the acsURL: the protocol around a challenge, per channel.

* App channel (`POST /acs/app/creq`, JSON): the SDK's CReq is checked like any message (Erro 101,
  102, 201, 203, 204), then against the transaction: unknown `acsTransID` or IDs of another
  transaction → Erro 301; `sdkCounterStoA` not exactly the next value (a replay, a skip) → Erro 302;
  a timed-out challenge → Erro 402. A refused CReq changes nothing. An accepted one advances both
  counters (`acsCounterAtoS` starts at 000 too) in the same transaction as its effect.
* Browser channel (`POST /acs/browser/creq`, form with `creq` = base64url JSON, `threeDSSessionData`):
  opens the HTML challenge in the cardholder's language, sized by `challengeWindowSize`. The page's
  own form posts (`POST /acs/browser/{acsTransID}`) carry a per-challenge secret that only that
  browser holds. The final page auto-submits `cres` (base64url CRes, no padding) and the
  `threeDSSessionData` it received, unchanged, to the AReq's `notificationURL`. A creq that cannot be
  accepted (malformed, unknown, already opened) gets an error page with the Erro and changes nothing."""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from . import i18n
from . import messages as m
from .challenge import CANCEL, CONTINUE, POLL, RESEND, SHOW, SUBMIT, Step, app_cres, challenges, cres_ui
from .service import ACS, CARDHOLDER, service
from .timers import expire_if_due
from .transactions import TIMED_OUT, StaleTransaction, Transaction
from .validation import Erro, Valid, check_parsed, parse_json

# challengeWindowSize → (width, height) in CSS pixels; 05 is the full window.
WINDOW_SIZES = {"01": (250, 400), "02": (390, 400), "03": (500, 600), "04": (600, 400), "05": (None, None)}
BROWSER_ACTIONS = {"submit": SUBMIT, "resend": RESEND, "cancel": CANCEL, "continue": CONTINUE}


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# -- app channel -------------------------------------------------------------------------------
def handle_app_creq(rt, raw: bytes) -> dict:
    svc = service(rt)
    value, dupes, problem = parse_json(raw)
    if problem:
        return _app_erro(rt, None, value, Erro("101", "message", m.ACS, explanation=problem))
    tx = _find(svc, value)
    versions = (tx.row["message_version"],) if tx else m.VERSIONS
    checked = check_parsed(value, dupes, "CReq", component=m.ACS, versions=m.VERSIONS, channel=m.APP)
    if isinstance(checked, Erro):
        return _app_erro(rt, tx, value, checked)
    msg = checked.msg
    erro = _against_transaction(tx, checked, m.APP, versions)
    if erro is None:
        counter = int(msg["sdkCounterStoA"])
        if counter != int(tx.row["sdk_counter"] or 0):
            erro = Erro("302", "sdkCounterStoA", m.ACS, "CReq", tx.row["message_version"], checked.ids,
                        f"expected {int(tx.row['sdk_counter'] or 0):03d}: a replayed or out-of-order CReq")
    if erro is None:
        if tx.is_open:
            tx = expire_if_due(rt, tx) or tx
        if tx.row["state"] == TIMED_OUT:
            erro = Erro("402", "acsTransID", m.ACS, "CReq", tx.row["message_version"], checked.ids,
                        "the challenge timed out")
        elif not tx.is_open:
            erro = Erro("301", "acsTransID", m.ACS, "CReq", tx.row["message_version"], checked.ids,
                        "the challenge of this transaction is over")
    if erro is not None:
        return _app_erro(rt, tx, value, erro)

    action, code, cancel = SHOW, None, None
    if msg.get("challengeCancel"):
        action, cancel = CANCEL, msg["challengeCancel"]
    elif msg.get("resendChallenge") == "Y":
        action = RESEND
    elif msg.get("challengeDataEntry"):
        action, code = SUBMIT, msg["challengeDataEntry"]
    elif msg.get("oobContinue") is True:
        action = CONTINUE
    acs_counter = int(tx.row["acs_counter"] or 0)
    extra = {"sdk_counter": counter + 1, "acs_counter": acs_counter + 1}
    _journal_in(rt, tx, "CReq", msg, code)
    try:
        step = challenges(rt).act(tx, action, code=code, cancel=cancel, extra=extra)
    except StaleTransaction:
        # Another CReq with the same counter won the race: this one is the replay.
        return _app_erro(rt, tx, value, Erro("302", "sdkCounterStoA", m.ACS, "CReq", tx.row["message_version"],
                                             checked.ids, "a concurrent CReq carried the same counter"))
    if step.final and int(step.tx.row["acs_counter"] or 0) == acs_counter:
        # The challenge ended by itself (timeout) before this CReq could act: still answer in sequence.
        with rt.db.transaction():
            step = Step(svc.transactions.update(step.tx, extra))
    cres = app_cres(rt, step, acs_counter)
    rt.journal.record(tx.row["threeds_server_trans_id"], ACS, CARDHOLDER, "CRes", cres, kind="response",
                      method="POST", path="/acs/app/creq", status=200)
    return cres


def _app_erro(rt, tx: Transaction | None, value: Any, erro: Erro) -> dict:
    body = erro.body()
    correlation = tx.row["threeds_server_trans_id"] if tx else (erro.ids.get("threeDSServerTransID") or
                                                                 erro.ids.get("acsTransID"))
    if correlation:
        incoming = value if isinstance(value, dict) else {"invalidBody": "(not JSON)"}
        rt.journal.record(correlation, CARDHOLDER, ACS, "CReq", incoming, kind="request", method="POST",
                          path="/acs/app/creq")
        rt.journal.record(correlation, ACS, CARDHOLDER, "Erro", body, kind="response", method="POST",
                          path="/acs/app/creq", status=200)
    return body


def _find(svc, value: Any) -> Transaction | None:
    if not isinstance(value, dict) or not m.is_uuid(value.get("acsTransID")):
        return None
    return svc.transactions.get(value["acsTransID"])


def _against_transaction(tx: Transaction | None, checked: Valid, channel: str, versions) -> Erro | None:
    msg, ids = checked.msg, checked.ids
    if tx is None or tx.row["device_channel"] != channel or tx.row["state"] == "FRICTIONLESS":
        why = "no challenge of this channel has this acsTransID"
        return Erro("301", "acsTransID", m.ACS, "CReq", checked.version, ids, why)
    version = tx.row["message_version"]
    if msg["threeDSServerTransID"] != tx.row["threeds_server_trans_id"]:
        return Erro("301", "threeDSServerTransID", m.ACS, "CReq", version, ids, "it belongs to another transaction")
    if channel == m.APP and msg["sdkTransID"] != tx.row["sdk_trans_id"]:
        return Erro("301", "sdkTransID", m.ACS, "CReq", version, ids, "it belongs to another transaction")
    if checked.version not in versions:
        return Erro("203", "messageVersion", m.ACS, "CReq", version, ids, f"the transaction runs {version}")
    return None


def _journal_in(rt, tx: Transaction, label: str, msg: dict, code: str | None, path: str = "/acs/app/creq") -> None:
    rt.journal.record(tx.row["threeds_server_trans_id"], CARDHOLDER, ACS, label, msg, kind="request",
                      method="POST", path=path, secrets=(code,) if code else ())


# -- browser channel ---------------------------------------------------------------------------
@dataclass
class Page:
    """What the browser gets: a template and its values (routes.py renders it)."""

    template: str
    context: dict = field(default_factory=dict)
    status: int = 200


def open_browser(rt, creq: str | None, session_data: str | None) -> Page:
    svc = service(rt)
    try:
        raw = unb64url(creq or "")
    except (ValueError, TypeError):
        raw = b""
    value, dupes, problem = parse_json(raw) if raw else (None, [], "the creq field is missing or not base64url")
    if problem:
        return _error_page(rt, None, Erro("101", "creq", m.ACS, explanation=problem))
    tx = _find(svc, value)
    checked = check_parsed(value, dupes, "CReq", component=m.ACS, versions=m.VERSIONS, channel=m.BRW)
    if isinstance(checked, Erro):
        return _error_page(rt, tx, checked)
    versions = (tx.row["message_version"],) if tx else m.VERSIONS
    erro = _against_transaction(tx, checked, m.BRW, versions)
    if erro is not None:
        return _error_page(rt, tx, erro)
    tx = expire_if_due(rt, tx) or tx
    if tx.row["state"] == TIMED_OUT and not tx.row.get("session_data") and not tx.row.get("browser_token_hash"):
        # The first CReq came too late: the merchant still learns the (failed) outcome.
        with rt.db.transaction():
            tx = svc.transactions.update(tx, {"session_data": session_data,
                                              "window_size": checked.msg["challengeWindowSize"]})
        _journal_in(rt, tx, "CReq", {**checked.msg, "threeDSSessionData": _opaque(session_data)}, None,
                    "/acs/browser/creq")
        return final_page(rt, Step(tx, notice="timed_out"))
    if tx.row["state"] != "CHALLENGE_PENDING" or tx.row.get("browser_token_hash"):
        # (a page secret already issued: another post of this creq won the claim and is starting it)
        return _error_page(rt, tx, Erro("301", "acsTransID", m.ACS, "CReq", tx.row["message_version"], checked.ids,
                                        "this challenge was already opened: a browser challenge takes one CReq"))
    token = secrets.token_urlsafe(24)
    extra = {"session_data": session_data, "window_size": checked.msg["challengeWindowSize"],
             "browser_token_hash": rt.keyed_hash(token, "acs-browser-session")}
    _journal_in(rt, tx, "CReq", {**checked.msg, "threeDSSessionData": _opaque(session_data)}, None,
                "/acs/browser/creq")
    try:
        step = challenges(rt).act(tx, SHOW, extra=extra)
    except StaleTransaction:  # the same creq posted twice at once: the other one opened the challenge
        return _error_page(rt, tx, Erro("301", "acsTransID", m.ACS, "CReq", tx.row["message_version"],
                                        checked.ids, "this challenge was already opened"))
    return _page_for(rt, step, token)


def browser_action(rt, acs_trans_id: str, form: dict) -> Page:
    tx, token, refusal = _browser_session(rt, acs_trans_id, form.get("token"))
    if refusal is not None:
        return refusal
    action = BROWSER_ACTIONS.get(form.get("action") or "", SHOW)
    code = (form.get("otp") or "").strip() or None
    label = {SUBMIT: "one-time code entered", RESEND: "new code requested", CANCEL: "cancel pressed",
             CONTINUE: "continue pressed"}.get(action, "page reloaded")
    _journal_in(rt, tx, label, {"action": form.get("action"), "otp": code}, code, f"/acs/browser/{acs_trans_id}")
    if not tx.is_open:
        return final_page(rt, Step(tx))
    try:
        step = challenges(rt).act(tx, action, code=code, cancel="01" if action == CANCEL else None)
    except StaleTransaction:  # a double click: show the current state
        step = Step(service(rt).transactions.get(acs_trans_id), ui=None)
        if step.tx.is_open:
            step.ui = "OOB" if step.tx.row["state"] == "OOB_PENDING" else "OTP"
    return _page_for(rt, step, token)


def browser_status(rt, acs_trans_id: str, token: str | None) -> tuple[dict, int]:
    """For the OOB page's polling: has the challenge reached its end (approved, declined, expired)?"""
    tx, _, refusal = _browser_session(rt, acs_trans_id, token)
    if refusal is not None:
        return {"error": "forbidden", "message": "not this browser's challenge"}, 403
    step = challenges(rt).act(tx, POLL) if tx.is_open else Step(tx)
    return {"final": step.final, "state": step.tx.row["state"]}, 200


def _browser_session(rt, acs_trans_id: str, token: str | None):
    tx = service(rt).transactions.get(acs_trans_id) if m.is_uuid(acs_trans_id) else None
    expected = tx.row.get("browser_token_hash") if tx else None
    if not tx or tx.row["device_channel"] != m.BRW or not expected or not token or \
            not hmac.compare_digest(expected, rt.keyed_hash(token, "acs-browser-session")):
        locale = (tx.row.get("locale") if tx else None) or i18n.DEFAULT
        page = Page("threeds/error.html", {"locale": locale, "title": i18n.text(locale, "error_title"),
                                           "text": i18n.text(locale, "error_text"), "erro": None}, 403)
        return tx, token, page
    return tx, token, None


def _page_for(rt, step: Step, token: str) -> Page:
    if step.final:
        return final_page(rt, step)
    tx = step.tx
    ui = cres_ui(rt, step)
    width, height = WINDOW_SIZES.get(tx.row.get("window_size") or "05", (None, None))
    template = "threeds/oob.html" if step.ui == "OOB" else "threeds/otp.html"
    acs_id = tx.row["acs_trans_id"]
    rt.journal.record(tx.row["threeds_server_trans_id"], ACS, CARDHOLDER,
                      "challenge page (OOB)" if step.ui == "OOB" else "challenge page (SMS OTP)",
                      {"notice": step.notice, "locale": ui["locale"], "challengeWindowSize": tx.row.get("window_size")},
                      kind="response", status=200)
    return Page(template, {
        "ui": ui, "locale": ui["locale"], "width": width, "height": height, "warning": step.warning,
        "action_url": f"/acs/browser/{acs_id}", "status_url": f"/acs/browser/{acs_id}/status", "token": token,
        "window_size": tx.row.get("window_size"), "acs_trans_id": acs_id,
    })


def final_cres(tx: Transaction) -> dict:
    return {"messageType": "CRes", "messageVersion": tx.row["message_version"],
            "threeDSServerTransID": tx.row["threeds_server_trans_id"], "acsTransID": tx.row["acs_trans_id"],
            "challengeCompletionInd": "Y", "transStatus": "Y" if tx.row["trans_status"] == "Y" else "N"}


def final_page(rt, step: Step) -> Page:
    tx = step.tx
    cres = final_cres(tx)
    locale = tx.row.get("locale") or i18n.DEFAULT
    rt.journal.record(tx.row["threeds_server_trans_id"], ACS, CARDHOLDER, "CRes", cres, kind="response", status=200)
    rt.journal.record(tx.row["threeds_server_trans_id"], CARDHOLDER, "3DS Server", "CRes (to notificationURL)",
                      {"cres": "(base64url of the CRes above)",
                       "threeDSSessionData": _opaque(tx.row.get("session_data")),
                       "notificationURL": tx.row.get("notification_url")}, kind="message")
    width, height = WINDOW_SIZES.get(tx.row.get("window_size") or "05", (None, None))
    return Page("threeds/final.html", {
        "locale": locale, "notification_url": tx.row.get("notification_url"), "cres": b64url(cres),
        "session_data": tx.row.get("session_data"), "width": width, "height": height,
        "message": i18n.text(locale, "done_Y" if cres["transStatus"] == "Y" else "done_N"),
        "button": i18n.text(locale, "continue_to_merchant"), "noscript": i18n.text(locale, "noscript"),
        "title": i18n.text(locale, "title"), "trans_status": cres["transStatus"],
    })


def _error_page(rt, tx: Transaction | None, erro: Erro) -> Page:
    body = erro.body()
    locale = (tx.row.get("locale") if tx else None) or i18n.DEFAULT
    correlation = tx.row["threeds_server_trans_id"] if tx else erro.ids.get("threeDSServerTransID")
    if correlation:
        rt.journal.record(correlation, ACS, CARDHOLDER, "Erro", body, kind="response", status=400,
                          path="/acs/browser/creq")
    return Page("threeds/error.html", {"locale": locale, "title": i18n.text(locale, "error_title"),
                                       "text": i18n.text(locale, "error_text"), "erro": body}, 400)


def _opaque(session_data: str | None) -> str | None:
    """threeDSSessionData is the merchant's own (opaque) data: the journal notes its size only."""
    return None if session_data is None else f"({len(session_data)} characters, passed back unchanged)"

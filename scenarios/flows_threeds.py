"""Named EMV 3DS scenarios (flow B: frictionless; flows C and D: challenges), each replaying one
sequence diagram through the actor drivers."""

from __future__ import annotations

import base64

from .client import Sandbox, ScenarioFailed
from .registry import scenario
from .threeds_server import ThreeDSServerDriver

OPERATOR = "Operator"


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)


def deliver_outbox(sb: Sandbox) -> None:
    """Have D1 deliver what its outbox owes now (the background worker does it anyway when the
    services run; in-process worlds have no worker)."""
    sb.sim(OPERATOR, "POST", "/sandbox/outbox/drain", expect=200)


def issuer_notifications(sb: Sandbox, acs_trans_id: str) -> list[dict]:
    found = sb.issuer(OPERATOR, "GET", "/admin/notifications", expect=200).json()
    return [n for n in found if (n.get("body") or {}).get("acsTransID") == acs_trans_id]


def journal_steps(sb: Sandbox, transaction: str) -> list[tuple[str, str, str]]:
    entries = sb.sim(OPERATOR, "GET", f"/sandbox/journal?transaction={transaction}", expect=200).json()
    return [(e["from"], e["to"], e["label"]) for e in entries if e["kind"] != "note"]


@scenario("frictionless", "EMV 3DS frictionless: AReq → DS → ACS → ARes Y with ECI and CAVV (Visa browser 2.2.0, "
                          "Mastercard app 2.3.1), 3DS notification to the issuer, the whole exchange in the journal")
def frictionless(sb: Sandbox) -> dict:
    server = ThreeDSServerDriver(sb)
    results = {}
    for scheme, channel, version, eci in (("visa", "02", "2.2.0", "05"), ("mastercard", "01", "2.3.1", "02")):
        card = server.test_card("frictionless", scheme)
        areq, ares = server.authenticate(card, channel=channel, version=version)
        expect(ares.get("messageType") == "ARes", f"{scheme}: expected an ARes, got {ares}")
        expect(ares.get("transStatus") == "Y", f"{scheme}: transStatus {ares.get('transStatus')!r}, expected Y")
        expect(ares.get("eci") == eci, f"{scheme}: ECI {ares.get('eci')!r}, expected {eci}")
        value = ares.get("authenticationValue") or ""
        expect(len(value) == 28 and len(base64.b64decode(value)) == 20,
               f"{scheme}: authenticationValue is not a 28-character base64 cryptogram")
        expect(ares.get("threeDSServerTransID") == areq["threeDSServerTransID"], "the ARes names another transaction")
        results[scheme] = (areq, ares)
    deliver_outbox(sb)
    areq, ares = results["visa"]
    notes = issuer_notifications(sb, ares["acsTransID"])
    expect(len(notes) == 1, f"the issuer received {len(notes)} 3DS notifications for the transaction, expected 1")
    body = notes[0]["body"]
    expect((body.get("transStatus"), body.get("challengeMethod")) == ("Y", "FRICTIONLESS"),
           f"the notification says {body.get('transStatus')}/{body.get('challengeMethod')}")
    steps = journal_steps(sb, ares["dsTransID"])
    for step in (("3DS Server", "DS", "AReq"), ("DS", "ACS", "AReq"), ("ACS", "DS", "ARes"),
                 ("DS", "3DS Server", "ARes"), ("D1", "Issuer backend", "3ds-notification")):
        expect(step in steps, f"the journal lacks {step[0]} → {step[1]}: {step[2]}")
    return {"transaction": areq["threeDSServerTransID"], "acsTransID": ares["acsTransID"],
            "dsTransID": ares["dsTransID"], "transStatus": "Y", "eci": {"visa": "05", "mastercard": "02"}}


@scenario("frictionless-outcomes", "Every frictionless outcome card: N (01), R (11), U (08), A (ECI 06), "
                                   "and a PAN in range without a card (not enrolled, U 13)")
def frictionless_outcomes(sb: Sandbox) -> dict:
    server = ThreeDSServerDriver(sb)
    seen = {}
    for behavior, status, reason in (("not-authenticated", "N", "01"), ("rejected", "R", "11"),
                                     ("unavailable", "U", "08"), ("attempted", "A", None)):
        _, ares = server.authenticate(server.test_card(behavior))
        expect((ares.get("transStatus"), ares.get("transStatusReason")) == (status, reason),
               f"{behavior}: got {ares.get('transStatus')}/{ares.get('transStatusReason')}, expected {status}/{reason}")
        seen[behavior] = status
    _, ares = server.authenticate("4000000097000006")
    expect((ares.get("transStatus"), ares.get("transStatusReason")) == ("U", "13"),
           f"not enrolled: got {ares.get('transStatus')}/{ares.get('transStatusReason')}, expected U/13")
    seen["not-enrolled"] = "U"
    return {"outcomes": seen, "transaction": ares["threeDSServerTransID"]}


@scenario("areq-errors", "The DS's Erro answers: missing element 201, bad format 203, unsupported version 102, "
                         "duplicate element 204, PAN outside every card range 305")
def areq_errors(sb: Sandbox) -> dict:
    server = ThreeDSServerDriver(sb)
    card = server.test_card("frictionless")
    checks = [
        ("201", "browserAcceptHeader", server.areq(card, browserAcceptHeader=None)),
        ("203", "purchaseAmount", server.areq(card, purchaseAmount="49.99")),
        ("102", "messageVersion", server.areq(card, messageVersion="2.0.1")),
        ("305", "acctNumber", server.areq("4111111111111111")),
    ]
    duplicated = server.areq(card)
    text = __import__("json").dumps(duplicated)[:-1] + ', "merchantName": "Other Shop"}'
    codes = {}
    for code, detail, areq in checks:
        erro = server.send(areq)
        expect((erro.get("messageType"), erro.get("errorCode"), erro.get("errorDetail")) == ("Erro", code, detail),
               f"expected Erro {code} naming {detail}, got {erro}")
        codes[code] = detail
    erro = server.send(text)
    expect((erro.get("errorCode"), erro.get("errorDetail")) == ("204", "merchantName"), f"duplicate: got {erro}")
    codes["204"] = "merchantName"
    return {"errors": codes, "transaction": duplicated["threeDSServerTransID"]}


# -- challenges (flows C and D) ------------------------------------------------------------------
def _challenge(sb: Sandbox, behavior: str, **kw) -> tuple[ThreeDSServerDriver, dict, dict, dict]:
    server = ThreeDSServerDriver(sb)
    card = server.test_card(behavior)
    areq, ares = server.authenticate(card, **kw)
    expect(ares.get("transStatus") == "C", f"{behavior}: expected a challenge (C), got {ares}")
    return server, card, areq, ares


def _outcome(sb: Sandbox, server: ThreeDSServerDriver, areq: dict, ares: dict, status: str, method: str,
             **rreq_expect) -> dict:
    """After the final CRes: the RReq reached the 3DS Server, the issuer heard the outcome."""
    deliver_outbox(sb)
    rreqs = server.rreqs(areq["threeDSServerTransID"])
    expect(len(rreqs) == 1, f"the 3DS Server received {len(rreqs)} RReqs, expected 1")
    rreq = rreqs[0]
    expect(rreq.get("transStatus") == status, f"RReq transStatus {rreq.get('transStatus')!r}, expected {status}")
    for key, value in rreq_expect.items():
        expect(rreq.get(key) == value, f"RReq {key} {rreq.get(key)!r}, expected {value!r}")
    notes = issuer_notifications(sb, ares["acsTransID"])
    expect(len(notes) == 1 and notes[0]["body"]["transStatus"] == status
           and notes[0]["body"]["challengeMethod"] == method,
           f"the issuer's 3DS notification: {[n['body'] for n in notes]}")
    return {"transaction": areq["threeDSServerTransID"], "acsTransID": ares["acsTransID"], "transStatus": status,
            "challengeMethod": method, "rreq": {k: rreq.get(k) for k in ("transStatus", "transStatusReason", "eci",
                                                                         "authenticationType", "challengeCancel")}}


@scenario("challenge-oob-approve", "App challenge by OOB: ARes C, CReq/CRes (acsUiType 04), D1 asks the issuer to "
                                   "push an approval, the cardholder approves in the banking app, oobContinue → "
                                   "final CRes Y, RReq/RRes, 3DS notification")
def challenge_oob_approve(sb: Sandbox) -> dict:
    from .cardholder import AppSdkDriver, IssuerAppUser

    server, card, areq, ares = _challenge(sb, "challenge-oob", channel="01", version="2.2.0")
    expect(ares.get("authenticationType") == "03", "the ARes does not announce an OOB challenge")
    sdk = AppSdkDriver(sb, areq, ares)
    first = sdk.start()
    expect(first.get("acsUiType") == "04", f"first CRes: expected acsUiType 04 (OOB), got {first}")
    IssuerAppUser(sb, card["consumerId"]).decide(ares["acsTransID"], "approve")
    final = sdk.oob_continue()
    expect((final.get("challengeCompletionInd"), final.get("transStatus")) == ("Y", "Y"), f"final CRes: {final}")
    return _outcome(sb, server, areq, ares, "Y", "OOB", authenticationType="03", eci="05")


@scenario("challenge-oob-decline", "Browser challenge by OOB: the page waits for the banking app, the cardholder "
                                   "declines, continue → final CRes N posted to the notificationURL, RReq N (01)")
def challenge_oob_decline(sb: Sandbox) -> dict:
    from .cardholder import BrowserDriver, IssuerAppUser

    server, card, areq, ares = _challenge(sb, "challenge-oob")
    browser = BrowserDriver(sb)
    page = browser.open(ares)
    expect(page.kind == "oob", f"expected the OOB page, got the {page.kind} page")
    IssuerAppUser(sb, card["consumerId"]).decide(ares["acsTransID"], "decline")
    page = browser.press("continue")
    expect(page.kind == "final", f"expected the final page, got the {page.kind} page")
    cres = browser.follow_final()
    expect(cres.get("transStatus") == "N", f"final CRes: {cres}")
    return _outcome(sb, server, areq, ares, "N", "OOB", transStatusReason="01", eci="07")


@scenario("oob-unavailable-sms", "OOB unavailable (the issuer app cannot be reached: 503) → fallback to SMS OTP sent "
                                 "by D1, the CRes says why; the code from the phone → final CRes Y")
def oob_unavailable_sms(sb: Sandbox) -> dict:
    from .cardholder import AppSdkDriver, newest_sms_id, read_sms_code

    server, card, areq, ares = _challenge(sb, "oob-unavailable", channel="01", version="2.3.1")
    before = newest_sms_id(sb, card["phone"])
    sdk = AppSdkDriver(sb, areq, ares)
    first = sdk.start()
    expect(first.get("acsUiType") == "01", f"expected the OTP screen after the fallback, got {first}")
    expect("SMS" in (first.get("challengeAddInfo") or ""), "the CRes does not tell the cardholder about the fallback")
    code, message = read_sms_code(sb, card["phone"], after_id=before)
    expect(message.get("sent_by") == "d1", f"the SMS was sent by {message.get('sent_by')!r}, expected D1")
    final = sdk.submit(code)
    expect(final.get("transStatus") == "Y", f"final CRes: {final}")
    facts = _outcome(sb, server, areq, ares, "Y", "SMS_OTP", authenticationType="02")
    entries = sb.sim(OPERATOR, "GET", f"/sandbox/journal?transaction={ares['acsTransID']}", expect=200).json()
    expect(any(e["label"] == "OOB unavailable, falling back to SMS OTP" for e in entries),
           "the fallback is not in the journal")
    return facts


@scenario("challenge-sms-d1", "Browser challenge by SMS OTP sent by D1 (issuer template and sender ID): a wrong "
                              "code first (attempts left), then the right one → final CRes Y, RReq, notification")
def challenge_sms_d1(sb: Sandbox) -> dict:
    from .cardholder import BrowserDriver, newest_sms_id, read_sms_code

    server, card, areq, ares = _challenge(sb, "challenge-sms-d1")
    before = newest_sms_id(sb, card["phone"])
    browser = BrowserDriver(sb)
    page = browser.open(ares)
    expect(page.kind == "otp", f"expected the OTP page, got the {page.kind} page")
    code, message = read_sms_code(sb, card["phone"], after_id=before)
    expect(message.get("sent_by") == "d1", f"the SMS was sent by {message.get('sent_by')!r}, expected D1")
    page = browser.submit_code("000000" if code != "000000" else "111111")
    expect(page.kind == "otp" and "2" in page.text("notice"), "a wrong code does not say how many attempts are left")
    page = browser.submit_code(code)
    expect(page.kind == "final", f"expected the final page, got the {page.kind} page")
    expect(browser.follow_final().get("transStatus") == "Y", "the final CRes is not Y")
    return _outcome(sb, server, areq, ares, "Y", "SMS_OTP", authenticationType="02", interactionCounter="02")


@scenario("challenge-sms-issuer", "App challenge by SMS OTP through the issuer: D1 calls DeliverOTP, the bank's own "
                                  "gateway sends the SMS (sent_by issuer) → final CRes Y")
def challenge_sms_issuer(sb: Sandbox) -> dict:
    from .cardholder import AppSdkDriver, newest_sms_id, read_sms_code

    server, card, areq, ares = _challenge(sb, "challenge-sms-issuer", channel="01", version="2.1.0")
    before = newest_sms_id(sb, card["phone"])
    sdk = AppSdkDriver(sb, areq, ares)
    expect(sdk.start().get("acsUiType") == "01", "expected the OTP screen")
    code, message = read_sms_code(sb, card["phone"], after_id=before)
    expect(message.get("sent_by") == "issuer", f"the SMS was sent by {message.get('sent_by')!r}, expected the issuer")
    expect(sdk.submit(code).get("transStatus") == "Y", "the final CRes is not Y")
    steps = journal_steps(sb, ares["acsTransID"])
    expect(("D1", "Issuer backend", "DeliverOTP") in steps, "D1 did not call the issuer's DeliverOTP")
    return _outcome(sb, server, areq, ares, "Y", "SMS_OTP")


@scenario("challenge-browser", "Browser challenge in Japanese, window 02: the OOB page polls the ACS while the "
                               "cardholder approves in the banking app, then posts cres with threeDSSessionData "
                               "unchanged to the notificationURL")
def challenge_browser(sb: Sandbox) -> dict:
    from .cardholder import BrowserDriver, IssuerAppUser

    server, card, areq, ares = _challenge(sb, "challenge-oob", version="2.3.1", language="ja-JP")
    browser = BrowserDriver(sb)
    page = browser.open(ares, window="02", session_data="cart=42&step=3ds")
    expect(page.kind == "oob" and page.lang == "ja", f"expected the Japanese OOB page, got {page.kind}/{page.lang}")
    expect("width: 390px; height: 400px;" in page.html, "the page is not sized for challengeWindowSize 02")
    expect(browser.status().get("final") is False, "the challenge ended before the cardholder decided")
    IssuerAppUser(sb, card["consumerId"]).decide(ares["acsTransID"], "approve")
    page = browser.press("continue")
    expect(page.kind == "final", f"expected the final page, got the {page.kind} page")
    cres = browser.follow_final()
    expect(cres.get("transStatus") == "Y", f"final CRes: {cres}")
    expect(browser.posted.get("threeDSSessionData") == "cart=42&step=3ds", "threeDSSessionData came back changed")
    return _outcome(sb, server, areq, ares, "Y", "OOB", authenticationMethod=["11"])


@scenario("challenge-cancel", "App challenge cancelled by the cardholder: challengeCancel 01 → final CRes N, "
                              "RReq N with challengeCancel 01")
def challenge_cancel(sb: Sandbox) -> dict:
    from .cardholder import AppSdkDriver

    server, card, areq, ares = _challenge(sb, "challenge-sms-d1", channel="01")
    sdk = AppSdkDriver(sb, areq, ares)
    sdk.start()
    final = sdk.cancel("01")
    expect((final.get("challengeCompletionInd"), final.get("transStatus")) == ("Y", "N"), f"final CRes: {final}")
    return _outcome(sb, server, areq, ares, "N", "SMS_OTP", challengeCancel="01")


@scenario("challenge-timeout", "A browser challenge nobody finishes: the sandbox clock moves past the challenge "
                               "window, the ACS ends it (N, reason 14, challengeCancel 04) and sends the RReq")
def challenge_timeout(sb: Sandbox) -> dict:
    from .cardholder import BrowserDriver

    server, card, areq, ares = _challenge(sb, "challenge-sms-d1")
    BrowserDriver(sb).open(ares)
    sb.sim(OPERATOR, "POST", "/sandbox/clock", json_body={"advance_seconds": 601}, expect=200)
    return _outcome(sb, server, areq, ares, "N", "SMS_OTP", transStatusReason="14", challengeCancel="04")

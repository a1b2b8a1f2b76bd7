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

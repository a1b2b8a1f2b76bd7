"""What follows an ARes: the 3DS notification to the issuer (through the outbox), the operation in
the issuer's 3DS history, the journal of the whole exchange, and — after a challenge — the RReq to
the 3DS Server with its RRes validated and recorded."""

from __future__ import annotations

import pytest
import threeds_support

from d1sandbox import demo
from scenarios.threeds_server import build_areq
from simulator.threeds import messages as m
from simulator.threeds.rreq import build_rreq
from simulator.threeds.service import service

# One world per module, reset before each test (tests/threeds_support.py).
shared_world, world, sim, issuer = (threeds_support.shared_world, threeds_support.world, threeds_support.sim,
                                    threeds_support.issuer)

CARDS = {(c["behavior"], c["scheme"]): c for c in demo.test_cards()}
VISA = CARDS[("frictionless", "visa")]


def post(sim, areq):
    return sim.post("/ds/areq", json=areq).get_json()


def double(world) -> dict:
    return world.extra["threeds_server"].extensions["threeds_server"]


issuer_token = threeds_support.issuer_token


def tx_row(world, acs_trans_id):
    return world.sim.db.get("threeds_transactions", acs_trans_id=acs_trans_id)


# -- frictionless: notification, history, journal ----------------------------------------------
@pytest.mark.parametrize("behavior,scheme,status", [("frictionless", "visa", "Y"), ("frictionless", "mastercard", "Y"),
                                                    ("not-authenticated", "visa", "N"), ("rejected", "visa", "R"),
                                                    ("unavailable", "visa", "U"), ("attempted", "visa", "A")])
def test_every_frictionless_outcome_is_notified_to_the_issuer(sim, issuer, world, behavior, scheme, status):
    card = CARDS[(behavior, scheme)]
    areq = build_areq(card)
    ares = post(sim, areq)
    assert ares["transStatus"] == status
    assert world.drain() >= 1
    received = issuer.get("/admin/notifications").get_json()
    assert len(received) == 1
    body = received[0]["body"]
    assert received[0]["cardId"] == card["cardId"]
    assert body["threeDSServerTransID"] == areq["threeDSServerTransID"]
    assert body["dsTransID"] == ares["dsTransID"] and body["acsTransID"] == ares["acsTransID"]
    assert (body["transStatus"], body["challengeMethod"], body["eci"]) == (status, "FRICTIONLESS", ares.get("eci"))
    assert body["transStatusReason"] == ares.get("transStatusReason")
    assert (body["purchaseAmount"], body["purchaseCurrency"], body["merchantName"]) == ("4999", "978", "Demo Shop")
    assert body["operationId"].startswith("op-")


def test_the_operation_shows_up_in_the_3ds_history_api(sim, world):
    ares = post(sim, build_areq(VISA, version="2.3.1", channel="01"))
    token = issuer_token(sim)
    resp = sim.get(f"/issuers/demo-issuer/cards/{VISA['cardId']}/3ds/operations",
                   headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_json()
    page = resp.get_json()
    items = page.get("operations") or page.get("items") or page.get("data")
    assert items and items[0]["acsTransID"] == ares["acsTransID"]
    op = items[0]
    assert (op["transStatus"], op["challengeMethod"], op["status"], op["eci"]) == \
        ("Y", "FRICTIONLESS", "COMPLETED", "05")
    assert (op["messageVersion"], op["deviceChannel"], op["sdkTransID"]) == ("2.3.1", "01", ares["sdkTransID"])
    one = sim.get(f"/issuers/demo-issuer/cards/{VISA['cardId']}/3ds/operations/{op['operationId']}",
                  headers={"Authorization": f"Bearer {token}"})
    assert one.status_code == 200 and one.get_json()["threeDSServerTransID"] == ares["threeDSServerTransID"]


def test_the_journal_tells_the_whole_exchange_under_any_id(sim, world):
    areq = build_areq(VISA, channel="01")
    ares = post(sim, areq)
    world.drain()
    by_server = world.sim.journal.for_transaction(areq["threeDSServerTransID"])
    for other in (ares["dsTransID"], ares["acsTransID"], ares["sdkTransID"]):
        assert world.sim.journal.for_transaction(other) == by_server
    steps = [(e["from"], e["to"], e["label"]) for e in by_server if e["kind"] != "note"]
    assert steps == [("3DS Server", "DS", "AReq"), ("DS", "ACS", "AReq"), ("ACS", "DS", "ARes"),
                     ("DS", "3DS Server", "ARes"), ("D1", "Issuer backend", "3ds-notification"),
                     ("Issuer backend", "D1", "3ds-notification")]
    forwarded = by_server[1]["body"]
    assert forwarded["dsTransID"] == ares["dsTransID"] and forwarded["dsReferenceNumber"]
    assert forwarded["acctNumber"] == "****0001"
    assert by_server[3]["body"]["authenticationValue"] == "***"  # the cryptogram is a secret too
    diagram = sim.get(f"/sandbox/journal/{ares['acsTransID']}/diagram").get_data(as_text=True)
    for actor in ("3DS Server", "DS", "ACS", "D1", "Issuer backend"):
        assert f"as {actor}" in diagram
    assert "4000000001000001" not in diagram


def test_a_card_security_code_never_reaches_the_journal(sim, world):
    areq = build_areq(VISA, version="2.3.1", cardSecurityCode="737")
    post(sim, areq)
    entries = world.sim.journal.for_transaction(areq["threeDSServerTransID"])
    assert entries[0]["body"]["cardSecurityCode"] == "***"
    assert all("737" not in str(e["body"].get("cardSecurityCode")) for e in entries if e["body"])


def test_a_notification_the_issuer_refuses_is_retried(sim, issuer, world):
    sim.post("/sandbox/faults", json={"target": "issuer", "operation": "3ds-notification", "status": 503, "count": 1})
    post(sim, build_areq(VISA))
    world.drain()
    assert issuer.get("/admin/notifications").get_json() == []
    world.clock.advance(5)
    world.drain()
    assert len(issuer.get("/admin/notifications").get_json()) == 1


def test_an_erro_leaves_no_operation_and_no_notification(sim, world):
    post(sim, build_areq(VISA, merchantName=None))
    assert world.drain() == 0
    assert world.sim.db.scalar("SELECT COUNT(*) FROM threeds_operations") == 0


# -- a challenge: operation in progress, RReq at its end ------------------------------------------
def challenge(sim, world, behavior="challenge-sms-d1", **kw):
    areq = build_areq(CARDS[(behavior, "visa")], **kw)
    ares = post(sim, areq)
    assert ares["transStatus"] == "C"
    return areq, ares


def test_a_challenge_is_in_progress_until_it_ends(sim, world):
    areq, ares = challenge(sim, world)
    op = world.sim.db.get("threeds_operations", acs_trans_id=ares["acsTransID"])
    assert (op["status"], op["trans_status"], op["challenge_method"]) == ("IN_PROGRESS", "C", None)
    assert world.drain() == 0  # nothing is owed yet: no notification before the outcome
    assert tx_row(world, ares["acsTransID"])["state"] == "CHALLENGE_PENDING"


@pytest.mark.parametrize("version", ["2.1.0", "2.2.0", "2.3.1"])
@pytest.mark.parametrize("channel", ["01", "02"])
def test_no_first_creq_in_30_seconds_ends_with_rreq_and_notification(sim, issuer, world, version, channel):
    areq, ares = challenge(sim, world, version=version, channel=channel)
    world.clock.advance(29)
    world.drain()
    assert tx_row(world, ares["acsTransID"])["state"] == "CHALLENGE_PENDING"
    world.clock.advance(2)
    world.drain()
    row = tx_row(world, ares["acsTransID"])
    assert (row["state"], row["trans_status"], row["trans_status_reason"], row["challenge_cancel"]) == \
        ("TIMED_OUT", "N", "14", "05")
    rreqs = [r for r in double(world)["rreqs"] if r["threeDSServerTransID"] == areq["threeDSServerTransID"]]
    assert len(rreqs) == 1
    rreq = rreqs[0]
    assert (rreq["messageType"], rreq["messageVersion"], rreq["transStatus"], rreq["transStatusReason"],
            rreq["challengeCancel"], rreq["eci"]) == ("RReq", version, "N", "14", "05", "07")
    assert rreq["dsTransID"] == ares["dsTransID"] and rreq["acsTransID"] == ares["acsTransID"]
    assert rreq["authenticationType"] == "02" and rreq["interactionCounter"] == "00"
    assert (rreq.get("sdkTransID") == areq.get("sdkTransID")) if channel == "01" else "sdkTransID" not in rreq
    assert m.missing("RReq", version, channel, rreq) == [] and m.format_errors("RReq", version, rreq) == {}
    assert (row["rreq_status"], row["results_status"]) == ("DELIVERED", "01")
    notified = issuer.get("/admin/notifications").get_json()
    assert [(n["body"]["transStatus"], n["body"]["challengeMethod"]) for n in notified] == [("N", "SMS_OTP")]
    op = world.sim.db.get("threeds_operations", acs_trans_id=ares["acsTransID"])
    assert (op["status"], op["trans_status"], op["trans_status_reason"]) == ("COMPLETED", "N", "14")
    labels = [(e["from"], e["to"], e["label"]) for e in world.sim.journal.for_transaction(ares["acsTransID"])]
    for step in [("ACS", "DS", "RReq"), ("DS", "3DS Server", "RReq"), ("3DS Server", "DS", "RReq"),
                 ("DS", "ACS", "RRes")]:
        assert step in labels


def test_the_challenge_window_ends_a_started_challenge(sim, world):
    _, ares = challenge(sim, world)
    svc = service(world.sim)
    with world.sim.db.transaction():
        svc.transactions.update(svc.transactions.get(ares["acsTransID"]), {}, state="OTP_PENDING")
    world.clock.advance(31)
    world.drain()
    assert tx_row(world, ares["acsTransID"])["state"] == "OTP_PENDING"  # the first CReq came: no 05
    world.clock.advance(600)
    world.drain()
    row = tx_row(world, ares["acsTransID"])
    assert (row["state"], row["challenge_cancel"], row["trans_status_reason"]) == ("TIMED_OUT", "04", "14")


def test_a_challenge_that_ends_y_reports_the_cryptogram(sim, world):
    areq, ares = challenge(sim, world, version="2.3.1")
    svc = service(world.sim)
    with world.sim.db.transaction():
        tx = svc.transactions.update(svc.transactions.get(ares["acsTransID"]), {"interaction_counter": 1},
                                     state="OTP_PENDING")
        svc.finish(tx, "COMPLETED", "Y")
    world.drain()
    rreq = double(world)["rreqs"][-1]
    assert (rreq["transStatus"], rreq["eci"], rreq["authenticationMethod"], rreq["interactionCounter"]) == \
        ("Y", "05", ["02"], "01")
    assert len(rreq["authenticationValue"]) == 28
    assert m.missing("RReq", "2.3.1", "02", rreq) == []


@pytest.mark.parametrize("mode,status", [("wrong-ids", "REJECTED"), ("not-json", "REJECTED")])
def test_an_rres_that_is_not_right_is_recorded_as_rejected(sim, world, mode, status):
    double(world)["mode"] = mode
    _, ares = challenge(sim, world)
    world.clock.advance(31)
    world.drain()
    row = tx_row(world, ares["acsTransID"])
    assert row["rreq_status"] == status and row["results_status"] is None
    notes = [e for e in world.sim.journal.for_transaction(ares["acsTransID"]) if e["label"] == "RRes rejected"]
    assert notes and notes[0]["body"]["errorCode"] in ("101", "301")


def test_an_unreachable_3ds_server_gets_the_rreq_retried_with_backoff(sim, world):
    sim.post("/sandbox/faults", json={"target": "threeds-server", "operation": "rreq", "status": 503, "count": 2})
    areq, ares = challenge(sim, world)
    world.clock.advance(31)
    world.drain()
    assert tx_row(world, ares["acsTransID"])["rreq_status"] == "PENDING"
    for _ in range(3):
        world.clock.advance(10)
        world.drain()
    row = tx_row(world, ares["acsTransID"])
    assert (row["rreq_status"], row["results_status"]) == ("DELIVERED", "01")
    assert len([r for r in double(world)["rreqs"] if r["threeDSServerTransID"] == areq["threeDSServerTransID"]]) == 1


def test_a_3ds_server_that_never_answers_ends_failed(sim, world):
    double(world)["mode"] = "http-500"
    _, ares = challenge(sim, world)
    world.clock.advance(31)
    for _ in range(8):
        world.drain()
        world.clock.advance(120)
    row = tx_row(world, ares["acsTransID"])
    assert row["rreq_status"] == "FAILED"
    assert world.sim.outbox.stats().get("dead") == 1


def test_build_rreq_for_an_app_challenge_has_the_rendering_type(sim, world):
    _, ares = challenge(sim, world, behavior="challenge-oob", channel="01", version="2.2.0")
    svc = service(world.sim)
    with world.sim.db.transaction():
        tx = svc.finish(svc.transactions.get(ares["acsTransID"]), "CANCELLED", "N", "26", cancel="01")
    rreq = build_rreq(world.sim, tx)
    assert rreq["acsRenderingType"] == {"acsInterface": "01", "acsUiTemplate": "04"}
    assert rreq["authenticationType"] == "03" and rreq["challengeCancel"] == "01"

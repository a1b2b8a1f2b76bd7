"""App-channel challenges end to end (CReq/CRes JSON at the acsURL): OOB approve and decline, the
fallback to SMS OTP, SMS OTP by D1 and by the issuer, resend, attempts, expiry, cancel, counters,
timeouts — and every refused CReq answered with the right Erro, the transaction left as it was."""

from __future__ import annotations

import json
import re

import pytest
import threeds_support

from d1sandbox import demo
from scenarios.cardholder import AppSdkDriver, IssuerAppUser
from scenarios.threeds_server import build_areq
from simulator.threeds import messages as m

# One world per module, reset before each test (tests/threeds_support.py).
shared_world, world, sim, issuer = (threeds_support.shared_world, threeds_support.world, threeds_support.sim,
                                    threeds_support.issuer)

CARDS = {(c["behavior"], c["scheme"]): c for c in demo.test_cards()}
VERSIONS = ["2.1.0", "2.2.0", "2.3.1"]


def card(behavior):
    return CARDS[(behavior, "visa")]


def start(world, behavior, version="2.2.0", **kw):
    areq = build_areq(card(behavior), channel="01", version=version, **kw)
    ares = world.sandbox.sim("3DS Server", "POST", "/ds/areq", json_body=areq, expect=200).json()
    assert ares["transStatus"] == "C", ares
    return areq, ares, AppSdkDriver(world.sandbox, areq, ares)


def sms_code(world, phone) -> tuple[str, dict]:
    query = {"to": phone, "channel": "sms"}
    messages = world.sim_app.test_client().get("/sandbox/messages", query_string=query).get_json()
    body = messages[0]["body"]
    return re.findall(r"(?<!\d)\d{6}(?!\d)", body)[0], messages[0]


def row(world, acs_trans_id):
    return world.sim.db.get("threeds_transactions", acs_trans_id=acs_trans_id)


def rreq_for(world, server_id):
    found = [r for r in world.extra["threeds_server"].extensions["threeds_server"]["rreqs"]
             if r.get("threeDSServerTransID") == server_id]
    assert len(found) == 1, found
    return found[0]


def notified(issuer, acs_trans_id):
    return [n["body"] for n in issuer.get("/admin/notifications").get_json()
            if n["body"].get("acsTransID") == acs_trans_id]


def assert_cres(cres, version, final):
    assert cres["messageType"] == "CRes", cres
    assert m.format_errors("CRes", version, cres) == {}
    assert m.missing("CRes", version, "01", cres) == []
    assert cres["challengeCompletionInd"] == ("Y" if final else "N")


# -- OOB ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_oob_approved_in_the_issuer_app(world, issuer, version):
    areq, ares, sdk = start(world, "challenge-oob", version)
    first = sdk.start()
    assert_cres(first, version, final=False)
    assert first["acsUiType"] == "04" and first["acsCounterAtoS"] == "000"
    assert "€49.99" in first["challengeInfoText"] and "Demo Shop" in first["challengeInfoText"]
    assert first["oobContinueLabel"] and first["whyInfoText"] and first["expandInfoText"]
    assert ("oobAppLabel" in first) == (version != "2.1.0")
    # The issuer was asked to push the approval (with the wire contract's body).
    pending = IssuerAppUser(world.sandbox, card("challenge-oob")["consumerId"]).pending()
    assert [p["transactionId"] for p in pending] == [ares["acsTransID"]]
    assert (pending[0]["panLast4"], pending[0]["amount"], pending[0]["currency"]) == ("0000", "49.99", "EUR")
    waiting = sdk.oob_continue()
    assert waiting["acsUiType"] == "04" and waiting["challengeCompletionInd"] == "N"
    IssuerAppUser(world.sandbox, card("challenge-oob")["consumerId"]).decide(ares["acsTransID"], "approve")
    final = sdk.oob_continue()
    assert_cres(final, version, final=True)
    assert final["transStatus"] == "Y" and final["acsCounterAtoS"] == "002"
    world.drain()
    rreq = rreq_for(world, areq["threeDSServerTransID"])
    assert (rreq["transStatus"], rreq["eci"], rreq["authenticationType"]) == ("Y", "05", "03")
    assert len(rreq["authenticationValue"]) == 28 and rreq["sdkTransID"] == areq["sdkTransID"]
    if version == "2.3.1":
        assert rreq["authenticationMethod"] == ["11"]
    if version != "2.1.0":
        assert rreq["acsRenderingType"] == {"acsInterface": "01", "acsUiTemplate": "04"}
    assert m.missing("RReq", version, "01", rreq) == []
    assert [(n["transStatus"], n["challengeMethod"]) for n in notified(issuer, ares["acsTransID"])] == [("Y", "OOB")]
    op = world.sim.db.get("threeds_operations", acs_trans_id=ares["acsTransID"])
    assert (op["status"], op["trans_status"], op["challenge_method"]) == ("COMPLETED", "Y", "OOB")


def test_oob_declined_in_the_issuer_app(world, issuer):
    areq, ares, sdk = start(world, "challenge-oob")
    sdk.start()
    IssuerAppUser(world.sandbox, card("challenge-oob")["consumerId"]).decide(ares["acsTransID"], "decline")
    final = sdk.oob_continue()
    assert (final["challengeCompletionInd"], final["transStatus"]) == ("Y", "N")
    world.drain()
    rreq = rreq_for(world, areq["threeDSServerTransID"])
    assert (rreq["transStatus"], rreq["transStatusReason"], rreq["eci"]) == ("N", "01", "07")
    assert "authenticationValue" not in rreq
    assert [(n["transStatus"], n["transStatusReason"]) for n in notified(issuer, ares["acsTransID"])] == [("N", "01")]


@pytest.mark.parametrize("fault", [{"status": 503, "count": 5}, {"timeout": True, "count": 5},
                                   {"status": 500, "count": 5}])
def test_oob_falls_back_to_sms_when_the_issuer_authentication_api_fails(world, issuer, fault):
    world.sandbox.sim("Operator", "POST", "/sandbox/faults", json_body={
        "target": "issuer", "operation": "authentication", **fault}, expect=201)
    areq, ares, sdk = start(world, "challenge-oob")
    assert ares["authenticationType"] == "03"  # OOB was the plan
    first = sdk.start()
    assert first["acsUiType"] == "01"
    assert "could not reach your banking app" in first["challengeAddInfo"]
    code, message = sms_code(world, card("challenge-oob")["phone"])
    assert message["sent_by"] == "d1"
    assert sdk.submit(code)["transStatus"] == "Y"
    assert row(world, ares["acsTransID"])["fallback_reason"] == "ISSUER_AUTHENTICATION_FAILED"
    world.drain()
    assert rreq_for(world, areq["threeDSServerTransID"])["authenticationType"] == "02"
    assert [n["challengeMethod"] for n in notified(issuer, ares["acsTransID"])] == ["SMS_OTP"]
    labels = [e["label"] for e in world.sim.journal.for_transaction(ares["acsTransID"])]
    assert "OOB unavailable, falling back to SMS OTP" in labels


@pytest.mark.parametrize("version", VERSIONS)
def test_oob_unavailable_card_falls_back_to_sms(world, version):
    # consumer-0005 has app-0005, but the reference issuer answers 503 app_unreachable.
    areq, ares, sdk = start(world, "oob-unavailable", version)
    first = sdk.start()
    assert first["acsUiType"] == "01"
    if version != "2.1.0":
        assert "SMS" in first["challengeAddInfo"]
    code, _ = sms_code(world, card("oob-unavailable")["phone"])
    assert sdk.submit(code)["transStatus"] == "Y"


def test_no_app_instance_or_oob_disabled_means_sms_from_the_ares(world, sim):
    sim.put("/sandbox/issuers/demo-issuer", json={"oob_enabled": False})
    areq, ares, sdk = start(world, "challenge-oob", "2.2.0")
    assert ares["authenticationType"] == "02" and ares["acsRenderingType"]["acsUiTemplate"] == "01"
    assert "SMS" in ares["cardholderInfo"]
    assert sdk.start()["acsUiType"] == "01"
    assert row(world, ares["acsTransID"])["fallback_reason"] == "OOB_DISABLED"


def test_deleted_credentials_mean_no_oob_and_enrollment_brings_it_back(world, sim, issuer):
    token = threeds_support.issuer_token(sim)
    resp = sim.post("/issuers/demo-issuer/appInstances/app-0002/authnCredentials/operations/delete",
                    headers={"Authorization": f"Bearer {token}"}, json={})
    assert resp.status_code in (200, 204), resp.get_json()
    _, ares, _ = start(world, "challenge-oob")
    assert ares["authenticationType"] == "02"
    # The issuer app enrolls again: D1 tells the bank, and the next challenge is OOB.
    enrolled = issuer.post("/app/consumers/consumer-0002/appInstances", json={"appInstanceId": "app-0002b"})
    assert enrolled.status_code in (200, 201), enrolled.get_json()
    world.drain()
    events = [n["body"].get("eventType") for n in issuer.get("/admin/notifications").get_json()]
    assert "AUTHENTICATOR_ENROLLED" in events
    _, ares, _ = start(world, "challenge-oob")
    assert ares["authenticationType"] == "03"


def test_a_frictionless_card_with_an_enrolled_app_is_challenged_by_oob(world, issuer):
    issuer.post("/app/consumers/consumer-0001/appInstances", json={"appInstanceId": "app-0001"})
    areq = build_areq(CARDS[("frictionless", "visa")], channel="01", challenge_ind="04")
    ares = world.sandbox.sim("3DS Server", "POST", "/ds/areq", json_body=areq, expect=200).json()
    assert (ares["transStatus"], ares["authenticationType"], ares["acsChallengeMandated"]) == ("C", "03", "N")


# -- SMS OTP -----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("behavior,sent_by", [("challenge-sms-d1", "d1"), ("challenge-sms-issuer", "issuer")])
def test_sms_otp_with_one_wrong_code(world, issuer, version, behavior, sent_by):
    areq, ares, sdk = start(world, behavior, version)
    first = sdk.start()
    assert_cres(first, version, final=False)
    assert first["acsUiType"] == "01" and first["challengeInfoLabel"] and first["submitAuthenticationLabel"]
    code, message = sms_code(world, card(behavior)["phone"])
    assert message["sent_by"] == sent_by
    wrong = sdk.submit("000000" if code != "000000" else "111111")
    assert wrong["challengeCompletionInd"] == "N" and wrong["challengeInfoTextIndicator"] == "Y"
    assert "Attempts left: 2" in wrong["challengeInfoText"]
    final = sdk.submit(code)
    assert_cres(final, version, final=True)
    assert final["transStatus"] == "Y" and final["acsCounterAtoS"] == "002"
    world.drain()
    rreq = rreq_for(world, areq["threeDSServerTransID"])
    assert (rreq["transStatus"], rreq["authenticationType"], rreq["interactionCounter"]) == ("Y", "02", "02")
    assert [n["challengeMethod"] for n in notified(issuer, ares["acsTransID"])] == ["SMS_OTP"]
    # The code is nowhere but in the handset's inbox: not in any journal entry of either service.
    for journal in (world.sim.journal, world.issuer.journal):
        for entry in journal.for_transaction(ares["acsTransID"]):
            assert code not in json.dumps(entry["body"]), entry


def test_deliver_otp_goes_to_the_issuer_for_the_issuer_card_even_when_d1_is_the_default(world):
    _, ares, sdk = start(world, "challenge-sms-issuer")
    sdk.start()
    steps = [(e["from"], e["to"], e["label"]) for e in world.sim.journal.for_transaction(ares["acsTransID"])]
    assert ("D1", "Issuer backend", "DeliverOTP") in steps
    assert row(world, ares["acsTransID"])["otp_delivery"] == "ISSUER"


def test_resend_kills_the_old_code(world):
    _, ares, sdk = start(world, "challenge-sms-d1")
    sdk.start()
    old, _ = sms_code(world, card("challenge-sms-d1")["phone"])
    again = sdk.resend()
    assert again["acsUiType"] == "01" and "new code" in again["challengeAddInfo"]
    new, _ = sms_code(world, card("challenge-sms-d1")["phone"])
    if old != new:
        assert sdk.submit(old)["challengeCompletionInd"] == "N"
    assert sdk.submit(new)["transStatus"] == "Y"


def test_resends_are_limited_by_the_issuer_policy(world, sim):
    sim.put("/sandbox/issuers/demo-issuer", json={"otp_policy": {"max_resends": 1}})
    _, _, sdk = start(world, "challenge-sms-d1")
    sdk.start()
    assert "new code" in sdk.resend()["challengeAddInfo"]
    refused = sdk.resend()
    assert refused["challengeInfoTextIndicator"] == "Y" and "No more codes" in refused["challengeInfoText"]


def test_every_attempt_used_fails_the_challenge(world, issuer):
    areq, ares, sdk = start(world, "challenge-sms-d1")
    sdk.start()
    code, _ = sms_code(world, card("challenge-sms-d1")["phone"])
    wrong = "000000" if code != "000000" else "111111"
    assert sdk.submit(wrong)["challengeCompletionInd"] == "N"
    assert sdk.submit(wrong)["challengeCompletionInd"] == "N"
    final = sdk.submit(wrong)
    assert (final["challengeCompletionInd"], final["transStatus"]) == ("Y", "N")
    world.drain()
    rreq = rreq_for(world, areq["threeDSServerTransID"])
    assert (rreq["transStatus"], rreq["transStatusReason"], rreq["interactionCounter"]) == ("N", "19", "03")


def test_an_expired_code_asks_for_a_new_one(world):
    _, _, sdk = start(world, "challenge-sms-d1")
    sdk.start()
    code, _ = sms_code(world, card("challenge-sms-d1")["phone"])
    world.clock.advance(301)
    expired = sdk.submit(code)
    assert expired["challengeCompletionInd"] == "N" and "expired" in expired["challengeInfoText"]
    sdk.resend()
    fresh, _ = sms_code(world, card("challenge-sms-d1")["phone"])
    assert sdk.submit(fresh)["transStatus"] == "Y"


def test_japanese_cardholder_reads_japanese(world, sim):
    with world.sim.db.transaction():
        world.sim.db.update("consumers", {"issuer_id": "demo-issuer", "consumer_id": "consumer-0003"}, {"locale": "ja"})
    _, _, sdk = start(world, "challenge-sms-d1")
    first = sdk.start()
    assert "ワンタイムコード" in first["challengeInfoText"] and first["challengeInfoHeader"] == "本人認証"


# -- cancel, timeouts --------------------------------------------------------------------------
@pytest.mark.parametrize("version,cancel,reason", [("2.1.0", "01", "01"), ("2.2.0", "01", "26"),
                                                   ("2.3.1", "01", "26"), ("2.2.0", "08", "14")])
def test_cancel_ends_with_n_and_the_cancel_indicator(world, issuer, version, cancel, reason):
    areq, ares, sdk = start(world, "challenge-sms-d1", version)
    sdk.start()
    final = sdk.cancel(cancel)
    assert (final["challengeCompletionInd"], final["transStatus"]) == ("Y", "N")
    world.drain()
    rreq = rreq_for(world, areq["threeDSServerTransID"])
    assert (rreq["transStatus"], rreq["transStatusReason"], rreq["challengeCancel"]) == ("N", reason, cancel)
    assert row(world, ares["acsTransID"])["state"] == "CANCELLED"
    assert [n["transStatus"] for n in notified(issuer, ares["acsTransID"])] == ["N"]


def test_cancel_before_the_challenge_even_starts(world):
    areq, _, sdk = start(world, "challenge-oob")
    assert sdk.cancel()["transStatus"] == "N"
    world.drain()
    assert rreq_for(world, areq["threeDSServerTransID"])["challengeCancel"] == "01"


def test_the_challenge_window_closing_ends_an_open_challenge(world, issuer):
    areq, ares, sdk = start(world, "challenge-oob")
    sdk.start()
    world.clock.advance(601)
    world.drain()
    r = row(world, ares["acsTransID"])
    assert (r["state"], r["trans_status"], r["trans_status_reason"], r["challenge_cancel"]) == \
        ("TIMED_OUT", "N", "14", "04")
    rreq = rreq_for(world, areq["threeDSServerTransID"])
    assert (rreq["transStatus"], rreq["challengeCancel"], rreq["authenticationType"]) == ("N", "04", "03")
    late = sdk.oob_continue()
    assert (late["messageType"], late["errorCode"]) == ("Erro", "402")


# -- refused CReqs: the right Erro, nothing changed -------------------------------------------------
def refused(world, sdk, ares, creq, code, detail=None, raw=None):
    before = row(world, ares["acsTransID"])
    client = world.sim_app.test_client()
    resp = client.post("/acs/app/creq", data=raw if raw is not None else json.dumps(creq),
                       content_type="application/json")
    assert resp.status_code == 200
    erro = resp.get_json()
    assert (erro["messageType"], erro["errorCode"], erro["errorComponent"]) == ("Erro", code, "A"), erro
    if detail:
        assert erro["errorDetail"] == detail, erro
    assert row(world, ares["acsTransID"]) == before  # the transaction's state is unchanged
    return erro


def test_replayed_and_skipped_counters_are_erro_302(world):
    _, ares, sdk = start(world, "challenge-sms-d1")
    first = sdk.creq()
    sdk.send(first)
    erro = refused(world, sdk, ares, first, "302", "sdkCounterStoA")
    assert erro["acsTransID"] == ares["acsTransID"] and erro["errorMessageType"] == "CReq"
    refused(world, sdk, ares, {**sdk.creq(), "sdkCounterStoA": "005"}, "302", "sdkCounterStoA")
    code, _ = sms_code(world, card("challenge-sms-d1")["phone"])
    assert sdk.submit(code)["transStatus"] == "Y"  # the real next CReq still works


@pytest.mark.parametrize("change,code,detail", [
    ({"acsTransID": "0b6a3a53-49a2-4f6f-a5a5-7d3f1d7f0e11"}, "301", "acsTransID"),
    ({"sdkTransID": "0b6a3a53-49a2-4f6f-a5a5-7d3f1d7f0e11"}, "301", "sdkTransID"),
    ({"threeDSServerTransID": "0b6a3a53-49a2-4f6f-a5a5-7d3f1d7f0e11"}, "301", "threeDSServerTransID"),
    ({"sdkCounterStoA": None}, "201", "sdkCounterStoA"),
    ({"sdkCounterStoA": "1"}, "203", "sdkCounterStoA"),
    ({"messageVersion": "2.3.1"}, "203", "messageVersion"),
    ({"messageVersion": "3.0.0"}, "102", "messageVersion"),
    ({"messageType": "AReq"}, "101", "messageType"),
    ({"challengeCancel": "99"}, "203", "challengeCancel"),
    ({"oobContinue": "true"}, "203", "oobContinue"),
])
def test_bad_creqs_get_the_right_erro(world, change, code, detail):
    _, ares, sdk = start(world, "challenge-oob")
    creq = sdk.creq()
    for key, value in change.items():
        if value is None:
            creq.pop(key)
        else:
            creq[key] = value
    refused(world, sdk, ares, creq, code, detail)


def test_not_json_and_duplicates_are_refused(world):
    _, ares, sdk = start(world, "challenge-oob")
    refused(world, sdk, ares, None, "101", raw=b"{nope")
    text = json.dumps(sdk.creq())[:-1] + ', "sdkCounterStoA": "000"}'
    refused(world, sdk, ares, None, "204", "sdkCounterStoA", raw=text)


def test_a_browser_transaction_is_not_reachable_as_an_app_one(world):
    areq = build_areq(card("challenge-oob"), channel="02")
    ares = world.sandbox.sim("3DS Server", "POST", "/ds/areq", json_body=areq, expect=200).json()
    creq = {"messageType": "CReq", "messageVersion": "2.2.0", "threeDSServerTransID": ares["threeDSServerTransID"],
            "acsTransID": ares["acsTransID"], "sdkTransID": "0b6a3a53-49a2-4f6f-a5a5-7d3f1d7f0e11",
            "sdkCounterStoA": "000"}
    resp = world.sim_app.test_client().post("/acs/app/creq", json=creq).get_json()
    assert (resp["errorCode"], resp["errorDetail"]) == ("301", "acsTransID")


def test_a_creq_after_the_end_is_erro_301(world):
    _, ares, sdk = start(world, "challenge-oob")
    sdk.start()
    sdk.cancel()
    erro = sdk.send(sdk.creq(), advance=False)
    assert (erro["errorCode"], erro["errorDetail"]) == ("301", "acsTransID")


def test_the_signed_content_names_the_acs_url_the_sdk_uses(world):
    _, _, sdk = start(world, "challenge-sms-d1")
    assert sdk.acs_url == "http://sim.test/acs/app/creq"


def test_concurrent_copies_of_one_creq_send_one_sms(world):
    import threading

    _, ares, sdk = start(world, "challenge-sms-d1")
    creq = json.dumps(sdk.creq())
    answers = []

    def post():
        resp = world.sim_app.test_client().post("/acs/app/creq", data=creq, content_type="application/json")
        answers.append(resp.get_json())

    threads = [threading.Thread(target=post) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = sorted((a["messageType"], a.get("errorCode")) for a in answers)
    assert kinds == [("CRes", None)] + [("Erro", "302")] * 4, kinds
    query = {"to": card("challenge-sms-d1")["phone"], "channel": "sms"}
    assert len(world.sim_app.test_client().get("/sandbox/messages", query_string=query).get_json()) == 1


def test_a_crash_while_finishing_leaves_the_code_and_the_challenge_as_they_were(world, monkeypatch):
    from simulator.otp.engine import OtpEngine

    _, ares, sdk = start(world, "challenge-sms-d1")
    sdk.start()
    code, _ = sms_code(world, card("challenge-sms-d1")["phone"])
    before = row(world, ares["acsTransID"])

    def crash(self, challenge_id):
        raise RuntimeError("power cut between the final CRes and closing the code")

    monkeypatch.setattr(OtpEngine, "cancel", crash)
    with pytest.raises(Exception) as failed:  # noqa: B017  (whatever the driver makes of the crash)
        sdk.submit(code)
    assert "power cut" not in str(failed.value)  # the client never sees the internal error
    after = row(world, ares["acsTransID"])
    assert (after["state"], after["trans_status"]) == (before["state"], before["trans_status"])
    assert world.sim.db.scalar("SELECT status FROM otp_challenges WHERE challenge_id = ?",
                               (before["otp_challenge_id"],)) == "ACTIVE"
    assert world.sim.outbox.stats().get("pending", 0) == world.sim.db.scalar(
        "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND kind NOT LIKE '%rreq%'")  # no RReq queued


def test_the_oob_poll_throttle_does_not_grow_without_bound(world):
    from types import SimpleNamespace

    from simulator.threeds.challenge import POLL_INTERVAL, Challenges

    flow = Challenges(world.sim)
    for i in range(1000):  # challenges that each polled once and then timed out (never reaching _end)
        assert flow._may_poll(SimpleNamespace(row={"acs_trans_id": f"acs-{i}"}))
        world.clock.advance(POLL_INTERVAL)
    assert len(flow._last_poll) <= 257
    same = SimpleNamespace(row={"acs_trans_id": "acs-999"})
    assert flow._may_poll(same)  # the interval has passed for the newest one too
    assert not flow._may_poll(same)  # but not twice within the interval

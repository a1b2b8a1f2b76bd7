"""Browser-channel challenges over plain HTTP: the creq form post, the HTML pages (language, window
size, OTP entry, resend, cancel, the OOB page and its polling), the final auto-submit of `cres` with
`threeDSSessionData` unchanged — and the refusals (malformed, unknown, replayed creq; a page post
without the page's secret). The same flows run in a real browser in test_threeds_browser_playwright.py."""

from __future__ import annotations

import base64
import json
import re

import pytest
import threeds_support

from d1sandbox import demo
from scenarios.cardholder import BrowserDriver, IssuerAppUser
from scenarios.threeds_server import build_areq

# One world per module, reset before each test (tests/threeds_support.py).
shared_world, world, sim, issuer = (threeds_support.shared_world, threeds_support.world, threeds_support.sim,
                                    threeds_support.issuer)

CARDS = {(c["behavior"], c["scheme"]): c for c in demo.test_cards()}


def card(behavior):
    return CARDS[(behavior, "visa")]


def challenge(world, behavior, **kw):
    areq = build_areq(card(behavior), **kw)
    ares = world.sandbox.sim("3DS Server", "POST", "/ds/areq", json_body=areq, expect=200).json()
    assert ares["transStatus"] == "C" and ares["acsURL"].endswith("/acs/browser/creq"), ares
    return areq, ares


def sms_code(world, phone) -> str:
    messages = world.sim_app.test_client().get("/sandbox/messages", query_string={"to": phone}).get_json()
    return re.findall(r"(?<!\d)\d{6}(?!\d)", messages[0]["body"])[0]


def row(world, acs_trans_id):
    return world.sim.db.get("threeds_transactions", acs_trans_id=acs_trans_id)


def rreqs(world, server_id):
    return [r for r in world.extra["threeds_server"].extensions["threeds_server"]["rreqs"]
            if r.get("threeDSServerTransID") == server_id]


@pytest.mark.parametrize("version", ["2.1.0", "2.2.0", "2.3.1"])
def test_sms_otp_in_the_browser_ends_at_the_notification_url(world, version):
    areq, ares = challenge(world, "challenge-sms-d1", version=version)
    browser = BrowserDriver(world.sandbox)
    page = browser.open(ares, window="03", session_data="opaque+/=session data ✓")
    assert page.status == 200 and page.kind == "otp" and page.lang == "en"
    assert "+1******0103" in page.text("info") and "€49.99" in page.text("info")
    page = browser.submit_code("000000" if sms_code(world, card("challenge-sms-d1")["phone"]) != "000000" else "1")
    assert page.kind == "otp" and "Attempts left: 2" in page.text("notice")
    page = browser.submit_code(sms_code(world, card("challenge-sms-d1")["phone"]))
    assert page.kind == "final"
    form = page.forms["cres-form"]
    assert form.action == areq["notificationURL"] and form.method == "post"
    assert "=" not in form.fields["cres"]  # base64url without padding
    assert form.fields["threeDSSessionData"] == "opaque+/=session data ✓"  # unchanged
    cres = browser.follow_final()
    assert cres == {"messageType": "CRes", "messageVersion": version,
                    "threeDSServerTransID": areq["threeDSServerTransID"], "acsTransID": ares["acsTransID"],
                    "challengeCompletionInd": "Y", "transStatus": "Y"}
    posted = world.extra["threeds_server"].extensions["threeds_server"]["notifications"][-1]
    assert posted["decoded"]["transStatus"] == "Y" and posted["threeDSSessionData"] == "opaque+/=session data ✓"
    world.drain()
    assert rreqs(world, areq["threeDSServerTransID"])[0]["transStatus"] == "Y"


def test_without_session_data_none_is_posted_back(world):
    _, ares = challenge(world, "challenge-sms-d1")
    browser = BrowserDriver(world.sandbox)
    browser.open(ares, session_data=None)
    page = browser.submit_code(sms_code(world, card("challenge-sms-d1")["phone"]))
    assert "threeDSSessionData" not in page.forms["cres-form"].fields


@pytest.mark.parametrize("window,width,height", [("01", 250, 400), ("02", 390, 400), ("03", 500, 600),
                                                 ("04", 600, 400), ("05", None, None)])
def test_the_page_is_sized_by_the_challenge_window_size(world, window, width, height):
    _, ares = challenge(world, "challenge-sms-d1")
    page = BrowserDriver(world.sandbox).open(ares, window=window)
    if width:
        assert f"width: {width}px; height: {height}px;" in page.html
    else:
        assert "min-height: 100vh" in page.html
    assert f'data-window-size="{window}"' in page.html


def test_the_page_speaks_the_browser_language(world):
    _, ares = challenge(world, "challenge-sms-issuer", language="ja-JP", version="2.3.1")
    page = BrowserDriver(world.sandbox).open(ares)
    assert page.lang == "ja" and "ワンタイムコード" in page.text("info") and "確認する" in page.html


def test_resend_and_cancel_buttons(world):
    areq, ares = challenge(world, "challenge-sms-d1")
    browser = BrowserDriver(world.sandbox)
    browser.open(ares)
    page = browser.press("resend")
    assert page.kind == "otp" and "new code" in page.text("notice")
    page = browser.press("cancel")
    assert page.kind == "final" and browser.follow_final()["transStatus"] == "N"
    world.drain()
    assert rreqs(world, areq["threeDSServerTransID"])[0]["challengeCancel"] == "01"


def test_oob_page_polls_until_the_app_approves(world, issuer):
    areq, ares = challenge(world, "challenge-oob")
    browser = BrowserDriver(world.sandbox)
    page = browser.open(ares)
    assert page.kind == "oob" and "Demo Bank app" in page.text("info")
    assert browser.status() == {"final": False, "state": "OOB_PENDING"}
    IssuerAppUser(world.sandbox, card("challenge-oob")["consumerId"]).decide(ares["acsTransID"], "approve")
    world.clock.advance(3)  # polls read the issuer at most every 2 s
    assert browser.status()["final"] is True
    page = browser.press("continue")
    assert page.kind == "final" and browser.follow_final()["transStatus"] == "Y"


def test_oob_continue_before_a_decision_keeps_waiting(world):
    _, ares = challenge(world, "challenge-oob")
    browser = BrowserDriver(world.sandbox)
    browser.open(ares)
    page = browser.press("continue")
    assert page.kind == "oob" and "still waiting" in page.text("notice")


def test_oob_unavailable_falls_back_to_an_otp_page_that_says_why(world):
    _, ares = challenge(world, "oob-unavailable")
    page = BrowserDriver(world.sandbox).open(ares)
    assert page.kind == "otp" and "could not reach your banking app" in page.text("notice")


# -- refusals ------------------------------------------------------------------------------------
BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def post_creq(world, creq_value: str, session_data="s", headers=BROWSER_ACCEPT):
    return world.sim_app.test_client().post("/acs/browser/creq", headers=headers,
                                            data={"creq": creq_value, "threeDSSessionData": session_data})


def encoded(creq: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(creq).encode()).decode().rstrip("=")


def erro_of(resp) -> dict:
    match = re.search(r'<script type="application/json" id="erro">(.*?)</script>', resp.get_data(as_text=True), re.S)
    return json.loads(match.group(1))


def test_a_replayed_creq_is_refused_and_changes_nothing(world):
    _, ares = challenge(world, "challenge-sms-d1")
    creq = {"messageType": "CReq", "messageVersion": "2.2.0", "threeDSServerTransID": ares["threeDSServerTransID"],
            "acsTransID": ares["acsTransID"], "challengeWindowSize": "02"}
    assert post_creq(world, encoded(creq)).status_code == 200
    before = row(world, ares["acsTransID"])
    again = post_creq(world, encoded(creq))
    assert again.status_code == 400
    assert (erro_of(again)["errorCode"], erro_of(again)["errorDetail"]) == ("301", "acsTransID")
    assert row(world, ares["acsTransID"]) == before


@pytest.mark.parametrize("mutate,code,detail", [
    (lambda c: "%%%not-base64", "101", "creq"),
    (lambda c: encoded({**c, "acsTransID": "0b6a3a53-49a2-4f6f-a5a5-7d3f1d7f0e11"}), "301", "acsTransID"),
    (lambda c: encoded({k: v for k, v in c.items() if k != "challengeWindowSize"}), "201", "challengeWindowSize"),
    (lambda c: encoded({**c, "challengeWindowSize": "09"}), "203", "challengeWindowSize"),
    (lambda c: encoded({**c, "messageVersion": "2.1.0"}), "203", "messageVersion"),
    (lambda c: encoded({**c, "threeDSServerTransID": "0b6a3a53-49a2-4f6f-a5a5-7d3f1d7f0e11"}), "301",
     "threeDSServerTransID"),
])
def test_bad_creqs_get_an_error_page_with_the_erro(world, mutate, code, detail):
    _, ares = challenge(world, "challenge-sms-d1")
    creq = {"messageType": "CReq", "messageVersion": "2.2.0", "threeDSServerTransID": ares["threeDSServerTransID"],
            "acsTransID": ares["acsTransID"], "challengeWindowSize": "02"}
    before = row(world, ares["acsTransID"])
    resp = post_creq(world, mutate(creq))
    assert resp.status_code == 400
    erro = erro_of(resp)
    assert (erro["errorCode"], erro["errorDetail"], erro["errorComponent"]) == (code, detail, "A")
    assert row(world, ares["acsTransID"]) == before
    assert world.sim.db.scalar("SELECT COUNT(*) FROM otp_challenges") == 0  # no code was sent either


def test_clients_that_do_not_ask_for_html_get_the_error_as_json(world):
    _, ares = challenge(world, "challenge-sms-d1")
    resp = post_creq(world, "%%%", headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.is_json
    body = resp.get_json()
    assert (body["error"], body["erro"]["errorCode"], body["erro"]["errorDetail"]) == ("invalid_creq", "101", "creq")
    denied = world.sim_app.test_client().post(f"/acs/browser/{ares['acsTransID']}", data={"action": "cancel"})
    assert denied.status_code == 403 and denied.get_json()["error"] == "forbidden"


def test_page_posts_need_the_pages_secret(world):
    _, ares = challenge(world, "challenge-sms-d1")
    BrowserDriver(world.sandbox).open(ares)
    client = world.sim_app.test_client()
    before = row(world, ares["acsTransID"])
    for token in (None, "guess", ""):
        data = {"action": "cancel"} if token is None else {"action": "cancel", "token": token}
        assert client.post(f"/acs/browser/{ares['acsTransID']}", data=data).status_code == 403
    assert client.get(f"/acs/browser/{ares['acsTransID']}/status?token=guess").status_code == 403
    assert row(world, ares["acsTransID"]) == before


def test_a_first_creq_after_30_seconds_gets_the_timed_out_result(world):
    areq, ares = challenge(world, "challenge-sms-d1")
    world.clock.advance(31)
    browser = BrowserDriver(world.sandbox)
    page = browser.open(ares)
    assert page.kind == "final" and browser.follow_final()["transStatus"] == "N"
    world.drain()
    rreq = rreqs(world, areq["threeDSServerTransID"])[0]
    assert (rreq["challengeCancel"], rreq["transStatusReason"]) == ("05", "14")


def test_an_open_page_after_the_window_closed_returns_to_the_merchant(world):
    _, ares = challenge(world, "challenge-sms-d1")
    browser = BrowserDriver(world.sandbox)
    browser.open(ares)
    world.clock.advance(601)
    page = browser.submit_code("123456")
    assert page.kind == "final" and browser.follow_final()["transStatus"] == "N"
    assert row(world, ares["acsTransID"])["challenge_cancel"] == "04"


def test_concurrent_posts_of_one_creq_open_one_challenge(world):
    import threading

    _, ares = challenge(world, "challenge-sms-d1")
    creq = encoded({"messageType": "CReq", "messageVersion": "2.2.0",
                    "threeDSServerTransID": ares["threeDSServerTransID"], "acsTransID": ares["acsTransID"],
                    "challengeWindowSize": "02"})
    codes = []
    threads = [threading.Thread(target=lambda: codes.append(post_creq(world, creq).status_code)) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 400, 400, 400, 400]
    messages = world.sim_app.test_client().get("/sandbox/messages",
                                               query_string={"to": card("challenge-sms-d1")["phone"]}).get_json()
    assert len(messages) == 1

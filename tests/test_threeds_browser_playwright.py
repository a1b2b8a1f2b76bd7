"""Browser challenges in a real browser: Debian's chromium driven by playwright, against the
simulator, the reference issuer backend and a 3DS Server double, each served by waitress on an
ephemeral port (with the outbox worker on, as in `d1sandbox up`). The merchant page form-posts the
creq; the cardholder types the SMS code or approves in the banking app; the ACS page's own script
polls, then auto-submits the CRes to the merchant. Screenshots of every step are kept under
test-artifacts/screenshots/."""

from __future__ import annotations

import html
import re
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from d1sandbox.services import free_port
from scenarios.cardholder import IssuerAppUser
from scenarios.client import Sandbox
from scenarios.threeds_server import ThreeDSServerDriver, build_areq
from scenarios.threeds_server import create_app as create_threeds_server

SHOTS = Path("test-artifacts/screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def services():
    from waitress.server import create_server

    from issuer import create_app as create_issuer
    from simulator import create_app as create_sim

    data = Path(tempfile.mkdtemp(prefix="d1playwright-"))
    ports = {name: free_port() for name in ("sim", "issuer", "merchant")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    apps = {
        "sim": create_sim({"DATA_DIR": str(data / "simulator"), "PUBLIC_URL": urls["sim"],
                           "ISSUER_URL": urls["issuer"], "OUTBOX_WORKER": True}),
        "issuer": create_issuer({"DATA_DIR": str(data / "issuer"), "PUBLIC_URL": urls["issuer"],
                                 "D1_URL": urls["sim"]}),
        "merchant": create_threeds_server(),
    }
    servers = []
    for name, app in apps.items():
        server = create_server(app, host="127.0.0.1", port=ports[name], threads=6)
        threading.Thread(target=server.run, name=f"waitress-{name}", daemon=True).start()
        servers.append(server)
    for url in urls.values():
        for _ in range(100):
            try:
                if requests.get(url + "/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
    yield urls, apps
    from d1sandbox.serve import stop_threaded

    for server in servers:
        stop_threaded(server)
    from simulator.runtime import EXTENSION

    apps["sim"].extensions[EXTENSION].outbox.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def merchant_page(ares: dict, window: str, session_data: str) -> str:
    """The merchant's page that opens the challenge: form-posts the creq to the acsURL."""
    import base64
    import json

    creq = {"messageType": "CReq", "messageVersion": ares["messageVersion"],
            "threeDSServerTransID": ares["threeDSServerTransID"], "acsTransID": ares["acsTransID"],
            "challengeWindowSize": window}
    encoded = base64.urlsafe_b64encode(json.dumps(creq).encode()).decode().rstrip("=")
    return (f"<html><body><form id='m' method='post' action='{html.escape(ares['acsURL'])}'>"
            f"<input type='hidden' name='creq' value='{encoded}'>"
            f"<input type='hidden' name='threeDSSessionData' value='{html.escape(session_data)}'>"
            f"</form><script>document.getElementById('m').submit()</script></body></html>")


def sms_code(sb: Sandbox, phone: str, after: int = 0) -> str:
    for _ in range(100):
        messages = sb.sim("Phone", "GET", "/sandbox/messages", expect=200).json()
        mine = [m for m in messages if m["to"] == phone and m["channel"] == "sms"]
        if len(mine) > after:
            return re.findall(r"(?<!\d)\d{6}(?!\d)", mine[0]["body"])[0]
        time.sleep(0.05)
    raise AssertionError(f"no SMS for {phone}")


def wait_for_rreq(merchant_app, server_id: str, timeout: float = 10.0) -> dict:
    state = merchant_app.extensions["threeds_server"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with state["lock"]:
            found = [r for r in state["rreqs"] if r.get("threeDSServerTransID") == server_id]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError("the DS never sent the RReq")


def test_sms_otp_challenge_in_chromium(services, browser):
    urls, apps = services
    sb = Sandbox(sim_url=urls["sim"], issuer_url=urls["issuer"])
    server = ThreeDSServerDriver(sb, urls["merchant"])
    card = server.test_card("challenge-sms-d1")
    areq = build_areq(card, server_url=urls["merchant"], version="2.2.0")
    ares = server.send(areq)
    assert ares["transStatus"] == "C"
    page = browser.new_page(viewport={"width": 800, "height": 700})
    page.set_content(merchant_page(ares, "05", "merchant-session=abc+/="))
    page.wait_for_selector("#otp")
    page.screenshot(path=str(SHOTS / "threeds-sms-1-otp-page.png"))
    code = sms_code(sb, card["phone"])
    page.fill("#otp", "000000" if code != "000000" else "111111")
    page.click("#submit")
    page.wait_for_selector("#notice")
    assert "Attempts left: 2" in page.inner_text("#notice")
    page.screenshot(path=str(SHOTS / "threeds-sms-2-wrong-code.png"))
    page.fill("#otp", code)
    page.click("#submit")
    page.wait_for_url(urls["merchant"] + "/notify")  # the final page auto-submitted the CRes
    assert "Authentication finished: Y" in page.inner_text("#result")
    page.screenshot(path=str(SHOTS / "threeds-sms-3-back-at-merchant.png"))
    posted = apps["merchant"].extensions["threeds_server"]["notifications"][-1]
    assert posted["threeDSSessionData"] == "merchant-session=abc+/="
    assert posted["decoded"]["acsTransID"] == ares["acsTransID"] and "=" not in posted["cres"]
    rreq = wait_for_rreq(apps["merchant"], areq["threeDSServerTransID"])
    assert (rreq["transStatus"], rreq["authenticationType"]) == ("Y", "02")
    page.close()


def test_oob_challenge_in_chromium_in_japanese(services, browser):
    urls, apps = services
    sb = Sandbox(sim_url=urls["sim"], issuer_url=urls["issuer"])
    server = ThreeDSServerDriver(sb, urls["merchant"])
    card = server.test_card("challenge-oob")
    areq = build_areq(card, server_url=urls["merchant"], version="2.3.1", language="ja-JP")
    ares = server.send(areq)
    page = browser.new_page(viewport={"width": 800, "height": 700}, locale="ja-JP")
    page.set_content(merchant_page(ares, "02", "jp-session"))
    page.wait_for_selector("#continue")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert "アプリ" in page.inner_text("#info")
    box = page.locator(".frame").bounding_box()
    assert (round(box["width"]), round(box["height"])) == (390, 400)  # challengeWindowSize 02
    page.screenshot(path=str(SHOTS / "threeds-oob-1-approve-in-app-ja.png"))
    IssuerAppUser(sb, card["consumerId"]).decide(ares["acsTransID"], "approve")
    # Nobody clicks: the page polls the ACS and continues by itself once the app approved.
    page.wait_for_url(urls["merchant"] + "/notify", timeout=15000)
    assert "Authentication finished: Y" in page.inner_text("#result")
    page.screenshot(path=str(SHOTS / "threeds-oob-2-back-at-merchant.png"))
    rreq = wait_for_rreq(apps["merchant"], areq["threeDSServerTransID"])
    assert (rreq["transStatus"], rreq["authenticationMethod"]) == ("Y", ["11"])
    page.close()


def test_oob_unavailable_fallback_and_cancel_in_chromium(services, browser):
    urls, apps = services
    sb = Sandbox(sim_url=urls["sim"], issuer_url=urls["issuer"])
    server = ThreeDSServerDriver(sb, urls["merchant"])
    areq = build_areq(server.test_card("oob-unavailable"), server_url=urls["merchant"])
    ares = server.send(areq)
    page = browser.new_page(viewport={"width": 600, "height": 500})
    page.set_content(merchant_page(ares, "01", "s"))
    page.wait_for_selector("#otp")
    assert "could not reach your banking app" in page.inner_text("#notice")
    page.screenshot(path=str(SHOTS / "threeds-fallback-1-sms-instead-of-app.png"))
    page.click("#cancel")
    page.wait_for_url(urls["merchant"] + "/notify")
    assert "Authentication finished: N" in page.inner_text("#result")
    rreq = wait_for_rreq(apps["merchant"], areq["threeDSServerTransID"])
    assert (rreq["transStatus"], rreq["challengeCancel"]) == ("N", "01")
    page.close()

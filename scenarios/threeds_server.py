"""The merchant's side of EMV 3DS: a 3DS Server double and the driver that speaks for it.

* `create_app()` — a small Flask app playing an integration team's 3DS Server: it receives the DS's
  RReqs (`POST /rreq`) and answers RRes, receives the browser's final CRes posts (`POST /notify`,
  the AReq's notificationURL), and lets tests read both back (`GET /rreqs`, `GET /notifications`).
  `POST /_control {"rres": "ok" | "wrong-ids" | "not-json" | "http-500"}` makes it misbehave.
  In-process worlds mount it at http://3ds-server.test; against running services
  `serve_in_thread()` starts it on an ephemeral port.
* `build_areq()` — a valid AReq for any test card, channel (01 app, 02 browser, 03 3RI), category
  and version (2.1.0, 2.2.0, 2.3.1).
* `ThreeDSServerDriver` — sends AReqs to the DS through the traced `Sandbox` session and reads the
  ARes, RReqs and final CRes posts."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import Flask, jsonify, request

from .client import Sandbox, ScenarioFailed

DEFAULT_URL = "http://3ds-server.test"
ACTOR = "3DS Server"


# -- the 3DS Server double ------------------------------------------------------------------------
def create_app() -> Flask:
    app = Flask("threeds_server_double")
    state = {"rreqs": [], "notifications": [], "mode": "ok", "lock": threading.Lock()}
    app.extensions["threeds_server"] = state

    @app.post("/rreq")
    def rreq():
        body = request.get_json(silent=True)
        with state["lock"]:
            state["rreqs"].append(body)
            mode = state["mode"]
        if mode == "http-500":
            return jsonify({"error": "3DS Server down"}), 500
        if mode == "not-json":
            return "thanks", 200
        if not isinstance(body, dict):
            return jsonify({"messageType": "Erro", "errorCode": "101"}), 200
        rres = {"messageType": "RRes", "messageVersion": body.get("messageVersion"),
                "threeDSServerTransID": body.get("threeDSServerTransID"), "dsTransID": body.get("dsTransID"),
                "acsTransID": body.get("acsTransID"), "resultsStatus": "01"}
        if body.get("sdkTransID"):
            rres["sdkTransID"] = body["sdkTransID"]
        if mode == "wrong-ids":
            rres["acsTransID"] = str(uuid.uuid4())
        return jsonify(rres)

    @app.post("/notify")
    def notify():
        cres = request.form.get("cres", "")
        with state["lock"]:
            state["notifications"].append({"cres": cres, "threeDSSessionData": request.form.get("threeDSSessionData"),
                                           "decoded": decode_cres(cres)})
        decoded = decode_cres(cres) or {}
        status = decoded.get("transStatus") or decoded.get("errorCode") or "?"
        return (f"<!doctype html><html><head><title>Merchant</title></head><body><h1 id='result'>"
                f"Authentication finished: {status}</h1></body></html>")

    @app.get("/rreqs")
    def rreqs():
        wanted = request.args.get("threeDSServerTransID")
        with state["lock"]:
            found = [r for r in state["rreqs"] if not wanted or (isinstance(r, dict)
                                                                 and r.get("threeDSServerTransID") == wanted)]
        return jsonify(found)

    @app.get("/notifications")
    def notifications():
        with state["lock"]:
            return jsonify(list(state["notifications"]))

    @app.post("/_control")
    def control():
        mode = (request.get_json(silent=True) or {}).get("rres", "ok")
        with state["lock"]:
            state["mode"] = mode
        return jsonify({"rres": mode})

    @app.get("/health")
    def health():
        return jsonify({"status": "ok"})

    return app


def decode_cres(value: str) -> dict | None:
    """base64url (padding optional) JSON → dict."""
    if not value:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError):
        return None


def serve_in_thread(app: Flask | None = None, host: str = "127.0.0.1") -> tuple[str, Any]:
    """Serve the double with waitress on an ephemeral port (for flows against running services)."""
    from waitress.server import create_server

    server = create_server(app or create_app(), host=host, port=0, threads=4)
    thread = threading.Thread(target=server.run, name="threeds-server-double", daemon=True)
    thread.start()
    return f"http://{host}:{server.effective_port}", server


# -- AReq builder --------------------------------------------------------------------------------
def _now14() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")


def build_areq(card: dict | str, *, channel: str = "02", version: str = "2.2.0", category: str = "01",
               server_url: str = DEFAULT_URL, amount: str = "4999", currency: str = "978", exponent: str = "2",
               challenge_ind: str | None = None, language: str = "en-US", three_ri_ind: str = "03",
               **overrides: Any) -> dict:
    """A complete, valid AReq. `card`: a test-card dict (from /sandbox/test-cards) or a PAN.
    `overrides` replace or add elements; pass `name=None` to drop one."""
    pan = card["pan"] if isinstance(card, dict) else card
    expiry = card.get("expiry", "3012") if isinstance(card, dict) else "3012"
    areq: dict[str, Any] = {
        "messageType": "AReq", "messageVersion": version, "threeDSServerTransID": str(uuid.uuid4()),
        "threeDSServerRefNumber": "3DS_LOA_SER_DEMO_020200_00001", "threeDSServerOperatorID": "demo-3ds-server",
        "threeDSServerURL": server_url.rstrip("/") + "/rreq",
        "threeDSRequestorID": "demo-merchant-0001", "threeDSRequestorName": "Demo Shop",
        "threeDSRequestorURL": "https://shop.example", "deviceChannel": channel, "messageCategory": category,
        "acctNumber": pan, "cardExpiryDate": expiry, "cardholderName": "Sandbox Cardholder",
        "email": "cardholder@mail.example",
    }
    if channel in ("01", "02"):
        areq["threeDSRequestorAuthenticationInd"] = "01" if category == "01" else "04"
    if challenge_ind:
        areq["threeDSRequestorChallengeInd"] = [challenge_ind] if version == "2.3.1" else challenge_ind
    if channel == "03":
        areq["threeRIInd"] = three_ri_ind
    if category == "01":
        areq.update({"acquirerBIN": "412345", "acquirerMerchantID": "MERCHANT-0001", "mcc": "5411",
                     "merchantCountryCode": "276", "merchantName": "Demo Shop", "purchaseAmount": amount,
                     "purchaseCurrency": currency, "purchaseExponent": exponent, "purchaseDate": _now14(),
                     "transType": "01"})
    if channel == "02":
        areq.update({"threeDSCompInd": "Y", "browserAcceptHeader": "text/html,application/xhtml+xml",
                     "browserIP": "192.0.2.10", "browserJavaEnabled": False, "browserLanguage": language,
                     "browserColorDepth": "24", "browserScreenHeight": "900", "browserScreenWidth": "1440",
                     "browserTZ": "-60", "browserUserAgent": "Mozilla/5.0 (X11; Linux x86_64) D1SandboxDriver",
                     "notificationURL": server_url.rstrip("/") + "/notify"})
        if version != "2.1.0":
            areq["browserJavascriptEnabled"] = True
        if version == "2.3.1":
            areq["acceptLanguage"] = [language]
    if channel == "01":
        areq.update({"sdkAppID": str(uuid.uuid4()), "sdkTransID": str(uuid.uuid4()),
                     "sdkEncData": base64.urlsafe_b64encode(b'{"DV":"1.0","DD":{"C001":"Android"}}').decode(),
                     "sdkEphemPubKey": {"kty": "EC", "crv": "P-256",
                                        "x": "C1PL42i6kmNkM61aupEAgLJ4gF1ZRzcV7lqo1TG0mL4",
                                        "y": "cNToWLSdcFQKG--PGVEUQrIHP8w6TcRyj0pyFx4-ZMc"},
                     "sdkMaxTimeout": "05", "sdkReferenceNumber": "3DS_LOA_SDK_DEMO_020200_00001",
                     "deviceRenderOptions": {"sdkInterface": "03", "sdkUiType": ["01", "02", "03", "04", "05"]}})
        if version == "2.3.1":
            areq.update({"sdkType": "01", "defaultSdkType": {"sdkVariant": "01", "wrappedInd": "N"}})
    for key, value in overrides.items():
        if value is None:
            areq.pop(key, None)
        else:
            areq[key] = value
    return areq


# -- the driver ----------------------------------------------------------------------------------
class ThreeDSServerDriver:
    """Speaks for the merchant's 3DS Server through the traced sandbox session."""

    def __init__(self, sb: Sandbox, url: str | None = None):
        self.sb = sb
        self.url = (url or server_url(sb)).rstrip("/")

    def test_card(self, behavior: str, scheme: str | None = None) -> dict:
        cards = self.sb.sim(ACTOR, "GET", "/sandbox/test-cards", expect=200).json()
        for card in cards:
            if card["behavior"] == behavior and (scheme is None or card.get("scheme") == scheme):
                return card
        raise ScenarioFailed(f"no test card with behavior {behavior!r}")

    def areq(self, card: dict | str, **kw) -> dict:
        return build_areq(card, server_url=self.url, **kw)

    def send(self, areq: dict | bytes | str) -> dict:
        if isinstance(areq, dict):
            resp = self.sb.sim(ACTOR, "POST", "/ds/areq", json_body=areq, expect=200)
        else:
            resp = self.sb.sim(ACTOR, "POST", "/ds/areq", data=areq,
                               headers={"Content-Type": "application/json"}, expect=200)
        return resp.json()

    def authenticate(self, card: dict | str, **kw) -> tuple[dict, dict]:
        areq = self.areq(card, **kw)
        return areq, self.send(areq)

    def rreqs(self, threeds_server_trans_id: str) -> list[dict]:
        resp = self.sb.call(ACTOR, ACTOR, "GET", f"{self.url}/rreqs",
                            headers={"Accept": "application/json"}, expect=200)
        return [r for r in resp.json()
                if isinstance(r, dict) and r.get("threeDSServerTransID") == threeds_server_trans_id]

    def notifications(self) -> list[dict]:
        return self.sb.call(ACTOR, ACTOR, "GET", f"{self.url}/notifications", expect=200).json()

    def misbehave(self, rres: str) -> None:
        self.sb.call(ACTOR, ACTOR, "POST", f"{self.url}/_control", json_body={"rres": rres}, expect=200)


_served: dict[int, str] = {}
_served_lock = threading.Lock()


def server_url(sb: Sandbox) -> str:
    """Where this sandbox's 3DS Server double lives: the in-process mount when the session has one,
    else a double served on an ephemeral local port (started once per sandbox)."""
    from d1sandbox.wsgi_transport import WSGITransport

    if isinstance(sb.session.get_adapter(DEFAULT_URL + "/"), WSGITransport):
        return DEFAULT_URL
    with _served_lock:
        url = _served.get(id(sb))
        if url is None:
            url, _ = serve_in_thread()
            _served[id(sb)] = url
        return url

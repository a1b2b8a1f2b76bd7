"""The cardholder's side of a 3DS challenge: the 3DS SDK in the merchant's app, the browser, the
phone that receives the SMS, and the issuer's banking app that approves or declines.

* `AppSdkDriver` — sends CReqs as the SDK does (`sdkCounterStoA` 000, 001, …) and checks the
  CRes counters it gets back.
* `BrowserDriver` — form-posts the `creq` to the acsURL, then works the HTML pages (reads the
  forms, presses buttons) and finally performs the page's auto-submit of `cres` to the
  merchant's `notificationURL`, exactly as a browser without JavaScript would by pressing the button.
* `read_sms_code()` — reads the newest one-time code off a handset in the sandbox inbox.
* `IssuerAppUser` — the bank's app: lists pending approvals, approves or declines.

All traffic goes through the traced `Sandbox` session (in-process or against running services)."""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urljoin

from .client import Sandbox, ScenarioFailed

SDK, BROWSER, PHONE, APP_USER = "3DS SDK", "Cardholder browser", "Phone", "Issuer app user"


# -- app channel ---------------------------------------------------------------------------------
class AppSdkDriver:
    def __init__(self, sb: Sandbox, areq: dict, ares: dict):
        if ares.get("transStatus") != "C":
            raise ScenarioFailed(f"no challenge to run: transStatus {ares.get('transStatus')!r}")
        self.sb = sb
        self.ids = {"threeDSServerTransID": ares["threeDSServerTransID"], "acsTransID": ares["acsTransID"],
                    "sdkTransID": areq["sdkTransID"]}
        self.version = ares["messageVersion"]
        self.acs_url = self._acs_url(ares)
        self.counter = 0  # the next sdkCounterStoA
        self.acs_counter = 0  # the next acsCounterAtoS expected
        self.last: dict = {}

    @staticmethod
    def _acs_url(ares: dict) -> str:
        """The acsURL travels inside acsSignedContent (JWS payload) in the app channel."""
        payload = ares["acsSignedContent"].split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["acsURL"]

    def creq(self, **fields) -> dict:
        return {"messageType": "CReq", "messageVersion": self.version, **self.ids,
                "sdkCounterStoA": f"{self.counter:03d}", **fields}

    def send(self, creq: dict, *, advance: bool = True) -> dict:
        resp = self.sb.call(SDK, "ACS", "POST", self.acs_url, json_body=creq, expect=200)
        answer = resp.json()
        if answer.get("messageType") == "CRes":
            if answer.get("acsCounterAtoS") != f"{self.acs_counter:03d}":
                raise ScenarioFailed(f"acsCounterAtoS {answer.get('acsCounterAtoS')}, expected {self.acs_counter:03d}")
            if advance:
                self.counter += 1
                self.acs_counter += 1
        self.last = answer
        return answer

    def start(self) -> dict:
        return self.send(self.creq())

    def submit(self, code: str) -> dict:
        return self.send(self.creq(challengeDataEntry=code))

    def resend(self) -> dict:
        return self.send(self.creq(resendChallenge="Y"))

    def oob_continue(self) -> dict:
        return self.send(self.creq(oobContinue=True))

    def cancel(self, code: str = "01") -> dict:
        return self.send(self.creq(challengeCancel=code))


# -- browser channel -----------------------------------------------------------------------------
@dataclass
class _Form:
    action: str
    method: str
    fields: dict = field(default_factory=dict)
    buttons: dict = field(default_factory=dict)  # button id → (name, value)


class _PageParser(HTMLParser):
    VOID = {"input", "br", "meta", "img", "hr", "link", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.forms: dict[str, _Form] = {}
        self._form: _Form | None = None
        self.ids: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of the elements the parser is inside
        self.lang = None
        self.data_attrs: dict[str, dict] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if a.get("id"):
            self.ids.setdefault(a["id"], "")
            self.data_attrs[a["id"]] = {k: v for k, v in a.items() if k.startswith("data-")}
        if tag not in self.VOID:
            self._open.append((tag, a.get("id")))
        if tag == "form":
            self._form = _Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms[a.get("id") or f"form{len(self.forms)}"] = self._form
        elif tag == "input" and self._form is not None and a.get("name"):
            self._form.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self._form is not None:
            self._form.buttons[a.get("id") or a.get("value", "")] = (a.get("name"), a.get("value"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id:
                self.ids[element_id] += data


@dataclass
class Page:
    status: int
    url: str
    html: str
    forms: dict
    ids: dict
    lang: str | None
    data: dict

    def text(self, element_id: str) -> str:
        return " ".join(self.ids.get(element_id, "").split())

    @property
    def kind(self) -> str:
        if "cres-form" in self.forms:
            return "final"
        if "otp" in self.html and "challenge-form" in self.forms and "resend" in self.forms["challenge-form"].buttons:
            return "otp"
        if "challenge-form" in self.forms:
            return "oob"
        return "error"


class BrowserDriver:
    def __init__(self, sb: Sandbox):
        self.sb = sb
        self.page: Page | None = None
        self.posted: dict | None = None  # what the final page sent to the notificationURL

    def _load(self, method: str, url: str, data: dict | None = None) -> Page:
        resp = self.sb.call(BROWSER, "ACS", method, url, data=data, headers={"Accept": "text/html"})
        parser = _PageParser()
        parser.feed(resp.text)
        self.page = Page(resp.status_code, url, resp.text, parser.forms, parser.ids, parser.lang, parser.data_attrs)
        return self.page

    def open(self, ares: dict, *, window: str = "02", session_data: str | None = "merchant-session-42",
             creq: dict | None = None) -> Page:
        creq = creq or {"messageType": "CReq", "messageVersion": ares["messageVersion"],
                        "threeDSServerTransID": ares["threeDSServerTransID"], "acsTransID": ares["acsTransID"],
                        "challengeWindowSize": window}
        encoded = base64.urlsafe_b64encode(json.dumps(creq).encode()).decode().rstrip("=")
        form = {"creq": encoded}
        if session_data is not None:
            form["threeDSSessionData"] = session_data
        return self._load("POST", ares["acsURL"], form)

    def press(self, button: str, **inputs) -> Page:
        form = self.page.forms.get("challenge-form")
        if form is None:
            raise ScenarioFailed(f"the page has no challenge form (it is {self.page.kind})")
        name, value = form.buttons[button]
        data = {**form.fields, **inputs, name: value}
        return self._load("POST", urljoin(self.page.url, form.action), data)

    def submit_code(self, code: str) -> Page:
        return self.press("submit", otp=code)

    def status(self) -> dict:
        form = self.page.forms["challenge-form"]
        url = urljoin(self.page.url, form.action) + "/status?token=" + quote(form.fields["token"])
        return self.sb.call(BROWSER, "ACS", "GET", url, expect=200).json()

    def follow_final(self) -> dict:
        """Do what the final page's script does: post `cres` and `threeDSSessionData` to the
        notificationURL. Returns the decoded CRes."""
        form = self.page.forms.get("cres-form")
        if form is None:
            raise ScenarioFailed(f"not on the final page (on the {self.page.kind} page)")
        self.posted = dict(form.fields)
        self.sb.call(BROWSER, "3DS Server", "POST", form.action, data=form.fields, expect=200)
        cres = form.fields["cres"]
        return json.loads(base64.urlsafe_b64decode(cres + "=" * (-len(cres) % 4)))


# -- the phone and the banking app ----------------------------------------------------------------
_CODE = re.compile(r"(?<![0-9A-Z])([0-9A-Z]{4,10})(?![0-9A-Z])")


def read_sms_code(sb: Sandbox, phone: str, *, after_id: str | None = None, wait: float = 2.0) -> tuple[str, dict]:
    """The one-time code in the newest SMS on `phone` (newer than `after_id` if given)."""
    deadline = time.monotonic() + wait
    while True:
        messages = sb.sim(PHONE, "GET", f"/sandbox/messages?to={quote(phone)}&channel=sms", expect=200).json()
        if messages and messages[0]["id"] != after_id:
            message = messages[0]
            digits = re.findall(r"(?<!\d)(\d{4,10})(?!\d)", message["body"])
            codes = [d for d in digits if len(d) != 4] or digits  # skip the card's last four digits
            if codes:
                return codes[0], message
        if time.monotonic() >= deadline:
            raise ScenarioFailed(f"no new SMS with a code on {phone}")
        time.sleep(0.1)


def newest_sms_id(sb: Sandbox, phone: str) -> str | None:
    messages = sb.sim(PHONE, "GET", f"/sandbox/messages?to={quote(phone)}&channel=sms", expect=200).json()
    return messages[0]["id"] if messages else None


class IssuerAppUser:
    def __init__(self, sb: Sandbox, consumer_id: str):
        self.sb = sb
        self.consumer_id = consumer_id

    def pending(self) -> list[dict]:
        path = f"/app/consumers/{quote(self.consumer_id)}/authentications?status=PENDING"
        return self.sb.issuer(APP_USER, "GET", path, expect=200).json()

    def decide(self, transaction_id: str, decision: str = "approve", *, wait: float = 2.0) -> dict:
        deadline = time.monotonic() + wait
        while True:
            for auth in self.pending():
                if auth.get("transactionId") == transaction_id:
                    return self.sb.issuer(APP_USER, "POST",
                                          f"/app/authentications/{quote(auth['authenticationId'])}/{decision}",
                                          expect=200).json()
            if time.monotonic() >= deadline:
                raise ScenarioFailed(f"no pending approval for {transaction_id} in the banking app")
            time.sleep(0.1)

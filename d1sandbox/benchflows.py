"""The multi-step flow `d1sandbox bench` times: a whole SMS OTP challenge in the app channel.

It speaks through the scenario drivers (scenarios/), like `d1sandbox scenario run`: the bank's
operator creates the cardholders (scenarios/issuer_admin.py), the 3DS Server sends the AReq
(scenarios/threeds_server.py), the 3DS SDK sends the CReqs, the cardholder reads the SMS off the
sandbox handset. The clock stops when the RReq reaches the 3DS Server double (`RReqWatch`)."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

from scenarios.client import Sandbox, ScenarioFailed

from .outbound import pooled_session

SDK = "3DS SDK"
BEHAVIOR = "challenge-sms-d1"
# The OTP engine allows a handful of codes per phone and per consumer an hour (rate limit): the bench
# makes a fresh cardholder (consumer, phone, card) every few challenges instead of loosening policy.
CHALLENGES_PER_CARDHOLDER = 8


def jws_payload(compact: str) -> dict:
    """The payload of a compact JWS (the ARes' acsSignedContent), unverified: the SDK's view of acsURL."""
    part = compact.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class SmsChallenge:
    def __init__(self, sim_url: str, issuer_url: str, double_url: str, watch, *, timeout: float = 10.0):
        from scenarios.threeds_server import ThreeDSServerDriver

        self.sb = Sandbox(sim_url=sim_url, issuer_url=issuer_url, session=pooled_session(2))
        self.server = ThreeDSServerDriver(self.sb, double_url)
        self.watch = watch
        self.timeout = timeout
        self.cardholders = 0
        self._card: dict | None = None
        self._uses = 0
        self._phones: list[str] = []
        self.created: list[tuple[str, str]] = []

    def _cardholder(self) -> dict:
        """A fresh consumer with its own phone and a `challenge-sms-d1` card, made through the
        issuer backend's back office (which registers the card in D1)."""
        if self._card is not None and self._uses < CHALLENGES_PER_CARDHOLDER:
            self._uses += 1
            return self._card
        from scenarios.issuer_admin import IssuerAdmin, fresh_id, fresh_pan

        from .bench import fictional_phones

        if not self._phones:
            self._phones = fictional_phones()
        admin = IssuerAdmin(self.sb)
        consumer_id, card_id, pan, phone = fresh_id("bench"), fresh_id("bench-card"), fresh_pan(), self._phones.pop()
        admin.create_consumer(consumer_id, name="Bench Cardholder", phone=phone, email="bench@mail.example")
        admin.issue_card(card_id, consumer_id, pan, "3012", behavior=BEHAVIOR)
        self._card = {"pan": pan, "expiry": "3012", "phone": phone, "cardId": card_id}
        self._uses = 1
        self.cardholders += 1
        return self._card

    def run_once(self) -> tuple[float, dict[str, float]]:
        """One challenge; (total ms, per-step ms). Raises ScenarioFailed on a wrong answer."""
        card = self._cardholder()
        self.sb.trace.clear()
        marks: list[tuple[str, float]] = []
        began = time.perf_counter()
        areq, ares = self.server.authenticate(card, channel="01")
        marks.append(("areq", time.perf_counter()))
        if ares.get("transStatus") != "C":
            raise ScenarioFailed(f"ARes transStatus {ares.get('transStatus')!r}, expected C")
        acs_url = jws_payload(ares["acsSignedContent"])["acsURL"]
        ids = {k: ares[k] for k in ("threeDSServerTransID", "acsTransID", "dsTransID", "sdkTransID") if k in ares}
        self.created.append((ares["threeDSServerTransID"], ares["acsTransID"]))
        first = self._creq(acs_url, areq, ids, "000")
        marks.append(("first_creq", time.perf_counter()))
        if first.get("messageType") != "CRes" or first.get("transStatus"):
            raise ScenarioFailed(f"first CRes unexpected: {_short(first)}")
        code = self._read_otp(card["phone"], ids["acsTransID"])
        marks.append(("sms_read", time.perf_counter()))
        final = self._creq(acs_url, areq, ids, "001", challengeDataEntry=code)
        marks.append(("final_creq", time.perf_counter()))
        if final.get("transStatus") != "Y":
            raise ScenarioFailed(f"final CRes unexpected: {_short(final)}")
        arrived = self.watch.wait(ids["threeDSServerTransID"], self.timeout)
        if arrived is None:
            raise ScenarioFailed(f"no RReq within {self.timeout:.0f} s")
        marks.append(("rreq_received", arrived))
        steps, previous = {}, began
        for name, at in marks:
            steps[name] = round((at - previous) * 1000, 3)
            previous = at
        return (arrived - began) * 1000, steps

    def _creq(self, acs_url: str, areq: dict, ids: dict, counter: str, **fields: Any) -> dict:
        creq = {"messageType": "CReq", "messageVersion": areq["messageVersion"], **ids,
                "sdkCounterStoA": counter, **fields}
        creq.pop("dsTransID", None)
        resp = self.sb.call(SDK, "ACS", "POST", acs_url, json_body=creq, expect=200)
        return resp.json()

    def _read_otp(self, phone: str, correlation: str) -> str:
        path = f"/sandbox/messages?to={phone.replace('+', '%2B')}&channel=sms"
        messages = self.sb.sim("Cardholder", "GET", path, expect=200).json()
        if not messages:
            raise ScenarioFailed(f"no SMS reached {phone}")
        match = re.search(r"(?<!\d)\d{4,10}(?!\d)", messages[0]["body"])
        if not match:
            raise ScenarioFailed("the newest SMS carries no code")
        return match.group(0)


def _short(body: Any) -> str:
    return json.dumps(body)[:300]

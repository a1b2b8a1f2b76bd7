"""The multi-step flow `d1sandbox bench` times: a whole SMS OTP challenge in the app channel.

It speaks through the scenario drivers (scenarios/), like `d1sandbox scenario run`: the bank's
operator creates the cardholders (scenarios/issuer_admin.py), the 3DS Server sends the AReq
(scenarios/threeds_server.py), the 3DS SDK sends the CReqs and the cardholder reads the SMS off the
sandbox handset (scenarios/cardholder.py). The clock stops when the RReq reaches the 3DS Server
double (`d1sandbox.bench.RReqWatch`)."""

from __future__ import annotations

import json
import time
from typing import Any

from scenarios.client import Sandbox, ScenarioFailed

from .outbound import pooled_session

BEHAVIOR = "challenge-sms-d1"
# The OTP engine allows a handful of codes per phone and per consumer an hour (rate limit): the bench
# makes a fresh cardholder (consumer, phone, card) every few challenges instead of loosening policy.
CHALLENGES_PER_CARDHOLDER = 8


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
        from scenarios.cardholder import AppSdkDriver, read_sms_code

        card = self._cardholder()
        self.sb.trace.clear()
        marks: list[tuple[str, float]] = []
        began = time.perf_counter()
        areq, ares = self.server.authenticate(card, channel="01")
        marks.append(("areq", time.perf_counter()))
        sdk = AppSdkDriver(self.sb, areq, ares)  # raises unless transStatus is C
        server_id = ares["threeDSServerTransID"]
        self.created.append((server_id, ares["acsTransID"]))
        first = sdk.start()
        marks.append(("first_creq", time.perf_counter()))
        if first.get("messageType") != "CRes" or first.get("transStatus"):
            raise ScenarioFailed(f"first CRes unexpected: {_short(first)}")
        code, message = read_sms_code(self.sb, card["phone"], after_id=card.get("last_sms"))
        card["last_sms"] = message["id"]
        marks.append(("sms_read", time.perf_counter()))
        final = sdk.submit(code)
        marks.append(("final_creq", time.perf_counter()))
        if final.get("transStatus") != "Y":
            raise ScenarioFailed(f"final CRes unexpected: {_short(final)}")
        arrived = self.watch.wait(server_id, self.timeout)
        if arrived is None:
            raise ScenarioFailed(f"no RReq within {self.timeout:.0f} s")
        marks.append(("rreq_received", arrived))
        steps, previous = {}, began
        for name, at in marks:
            steps[name] = round((at - previous) * 1000, 3)
            previous = at
        return (arrived - began) * 1000, steps


def _short(body: Any) -> str:
    return json.dumps(body)[:300]

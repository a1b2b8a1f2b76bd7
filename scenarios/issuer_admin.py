"""The bank's operator, driving the reference issuer backend's back office (Flow A, card lifecycle):
create a consumer and a card (the backend registers it in D1), renew, replace and delete it, and look
at what D1 holds — the card's state, its 3DS history, and whether the Directory Server still
authenticates a PAN.

Every call goes through the traced `Sandbox` session, so the same code serves behave steps and
`d1sandbox scenario run card-lifecycle`, in-process or against running services."""

from __future__ import annotations

import secrets
import uuid

from d1sandbox import demo

from .client import Sandbox, ScenarioFailed

ACTOR = "Bank operator"


def fresh_pan(prefix: str = "40000088") -> str:
    """A Luhn-valid PAN in the demo Visa range that no test card uses (random, so runs against
    long-lived services never collide)."""
    body = prefix + "".join(secrets.choice("0123456789") for _ in range(15 - len(prefix)))
    return demo.with_check_digit(body)


def fresh_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class IssuerAdmin:
    def __init__(self, sb: Sandbox):
        self.sb = sb

    # -- the bank's back office -------------------------------------------------------------------
    def create_consumer(self, consumer_id: str, name: str = "Lifecycle Tester", phone: str = "+16175550190",
                        email: str = "lifecycle@mail.example", locale: str = "en") -> dict:
        return self.sb.issuer(ACTOR, "POST", "/admin/consumers", expect=201, json_body={
            "consumerId": consumer_id, "name": name, "phoneNumber": phone, "email": email, "locale": locale}).json()

    def issue_card(self, card_id: str, consumer_id: str, pan: str, expiry: str, *,
                   behavior: str = "frictionless", registration: str = "register") -> dict:
        return self.sb.issuer(ACTOR, "POST", "/admin/cards", expect=(200, 201), json_body={
            "cardId": card_id, "consumerId": consumer_id, "pan": pan, "expiry": expiry, "behavior": behavior,
            "registration": registration}).json()

    def renew(self, card_id: str, expiry: str) -> dict:
        return self.sb.issuer(ACTOR, "POST", f"/admin/cards/{card_id}/renew", json_body={"expiry": expiry},
                              expect=200).json()

    def replace(self, card_id: str, pan: str, expiry: str, new_card_id: str, reason: str = "LOST") -> dict:
        return self.sb.issuer(ACTOR, "POST", f"/admin/cards/{card_id}/replace", expect=201, json_body={
            "pan": pan, "expiry": expiry, "newCardId": new_card_id, "reason": reason}).json()

    def delete(self, card_id: str, reason: str = "CLOSED") -> dict:
        return self.sb.issuer(ACTOR, "POST", f"/admin/cards/{card_id}/delete", json_body={"reason": reason},
                              expect=200).json()

    def try_renew(self, card_id: str, expiry: str):
        """A renew whose refusal is the point: returns the raw response."""
        return self.sb.issuer(ACTOR, "POST", f"/admin/cards/{card_id}/renew", json_body={"expiry": expiry})

    # -- what D1 holds ----------------------------------------------------------------------------
    def card_in_d1(self, card_id: str) -> dict:
        """D1's view of the card, read live by the bank's backend with its D1 token."""
        view = self.sb.issuer(ACTOR, "GET", f"/admin/cards/{card_id}", expect=200).json()
        if not view.get("d1"):
            raise ScenarioFailed(f"D1 does not know card {card_id}")
        return view["d1"]

    def threeds_operations(self, card_id: str, **query) -> dict:
        suffix = "&".join(f"{k}={v}" for k, v in query.items())
        return self.sb.issuer(ACTOR, "GET", f"/admin/cards/{card_id}/3ds/operations" + (f"?{suffix}" if suffix else ""),
                              expect=200).json()

    def expect_state(self, card_id: str, state: str) -> dict:
        card = self.card_in_d1(card_id)
        if card["state"] != state:
            raise ScenarioFailed(f"D1 holds card {card_id} as {card['state']}, expected {state}")
        return card


class DirectoryServerProbe:
    """Asks the DS to authenticate a PAN, as a merchant's 3DS Server would (frictionless browser AReq),
    to see whether the card is still known to 3DS."""

    def __init__(self, sb: Sandbox):
        from .threeds_server import ThreeDSServerDriver

        self.driver = ThreeDSServerDriver(sb)

    def authenticate(self, pan: str, expiry: str) -> dict:
        areq = self.driver.areq({"pan": pan, "expiry": expiry})
        ares = self.driver.send(areq)
        ares["_threeDSServerTransID"] = areq["threeDSServerTransID"]
        return ares

    def expect_authenticated(self, pan: str, expiry: str) -> dict:
        ares = self.authenticate(pan, expiry)
        if ares.get("messageType") != "ARes" or ares.get("transStatus") != "Y":
            raise ScenarioFailed(f"expected ARes transStatus Y for a live card, got "
                                 f"{ares.get('messageType')} {ares.get('transStatus') or ares.get('errorCode')}")
        return ares

    def expect_unknown(self, pan: str, expiry: str) -> dict:
        """A PAN the DS/ACS no longer knows: ARes 'not enrolled' (transStatusReason 13), never Y/A/C."""
        ares = self.authenticate(pan, expiry)
        if ares.get("messageType") != "ARes" or ares.get("transStatus") in ("Y", "A", "C", "D"):
            raise ScenarioFailed(f"the DS still authenticates the PAN: {ares.get('messageType')} "
                                 f"{ares.get('transStatus') or ares.get('errorCode')}")
        if ares.get("transStatusReason") != "13":
            raise ScenarioFailed(f"expected transStatusReason 13 (not enrolled), got {ares.get('transStatusReason')}")
        return ares


def directory_server_available(sb: Sandbox) -> bool:
    """The DS is part of the simulator; checked rather than assumed, so the lifecycle flow also runs
    against a simulator build without it (then only D1's card state is checked)."""
    spec = sb.session.get(f"{sb.sim_url}/openapi.json", timeout=sb.timeout)
    return spec.ok and "/ds/areq" in spec.json().get("paths", {})


class D1Inbound:
    """The bank's D1 API credentials used directly (what the back office does under the hood): for
    reading what only D1 shows, such as a card's audit trail."""

    def __init__(self, sb: Sandbox, issuer_id: str = demo.DEMO_ISSUER_ID):
        self.sb = sb
        self.issuer_id = issuer_id
        creds = next(i for i in sb.sim(ACTOR, "GET", "/sandbox/issuers", expect=200).json()
                     if i["issuerId"] == issuer_id)
        token = sb.sim(ACTOR, "POST", "/oauth2/token", data={"grant_type": "client_credentials"},
                       auth=(creds["client_id"], creds["client_secret"]), expect=200).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def card(self, card_id: str):
        return self.sb.sim(ACTOR, "GET", f"/v2/issuers/{self.issuer_id}/cards/{card_id}", headers=self.headers)

    def audit(self, card_id: str) -> list[dict]:
        return self.sb.sim(ACTOR, "GET", f"/v2/issuers/{self.issuer_id}/cards/{card_id}/audit", headers=self.headers,
                           expect=200).json()

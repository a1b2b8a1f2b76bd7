"""Driver for the outside actor of flow F: an app's backend using the one-time login (Mosaic-style)
— client credentials, send SMS OTP, validate, follow the result URI, exchange the code, verify the ID
token against the provider's JWKS — plus the user's handset that reads the code.

Speaks HTTP through a `Sandbox`, so it runs against running services or in-process apps alike."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet

from .client import Sandbox, ScenarioFailed

APP = "Login app"
USER = "User's phone"


@dataclass
class LoginAppDriver:
    sb: Sandbox
    client_id: str
    client_secret: str
    redirect_uri: str
    actor: str = APP
    _token: str | None = field(default=None, repr=False)
    last_redirect: str | None = field(default=None, repr=False)  # Location of the last followed result URI

    # -- setup --------------------------------------------------------------------------------
    @classmethod
    def register(cls, sb: Sandbox, client_id: str, *, client_secret: str = "scenario-login-secret",
                 name: str = "Scenario App", redirect_uri: str = "https://app.example/callback",
                 public_signups: bool = True, otp: dict | None = None, sender_id: str | None = None,
                 extra_redirect_uris: tuple[str, ...] = ()) -> "LoginAppDriver":
        """Configure the app through the sandbox controls (`PUT /sandbox/apps/{clientId}`)."""
        body = {"client_secret": client_secret, "name": name, "public_signups": public_signups,
                "redirect_uris": [redirect_uri, *extra_redirect_uris]}
        if otp:
            body["otp"] = otp
        if sender_id:
            body["sender_id"] = sender_id
        sb.sim("Operator", "PUT", f"/sandbox/apps/{client_id}", json_body=body, expect=200)
        return cls(sb, client_id, client_secret, redirect_uri)

    # -- the app's backend ----------------------------------------------------------------------
    def client_token(self, *, refresh: bool = False) -> str:
        if self._token is None or refresh:
            resp = self.sb.sim(self.actor, "POST", "/oidc/token", data={
                "grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret}, expect=200)
            self._token = resp.json()["access_token"]
        return self._token

    def _bearer(self) -> dict:
        return {"Authorization": f"Bearer {self.client_token()}"}

    def send_otp(self, phone: str, *, create_new_user: bool = False, custom_message: str | None = None,
                 sender_id: str | None = None, redirect_uri: str | None = None, expect=200):
        body = {"phone_number": phone, "create_new_user": create_new_user,
                "redirect_uri": redirect_uri or self.redirect_uri}
        if custom_message is not None:
            body["custom_message"] = custom_message
        if sender_id is not None:
            body["sender_id"] = sender_id
        return self.sb.sim(self.actor, "POST", "/cis/v1/auth/otp/sms", json_body=body, headers=self._bearer(),
                           expect=expect)

    def validate(self, phone: str, passcode: str, *, expect=200):
        return self.sb.sim(self.actor, "POST", "/cis/v1/auth/otp/sms/validation",
                           json_body={"phone_number": phone, "passcode": passcode}, headers=self._bearer(),
                           expect=expect)

    def follow(self, result_uri: str) -> str:
        """GET the result URI as the browser would; returns the `code` of the redirect."""
        resp = self.sb.call(self.actor, "D1 simulator", "GET", result_uri, allow_redirects=False, expect=302)
        location = self.last_redirect = resp.headers["Location"]
        if not location.startswith(self.redirect_uri.split("?")[0]):
            raise ScenarioFailed(f"redirected to {location.split('?')[0]}, not to the app's redirect URI")
        codes = parse_qs(urlsplit(location).query).get("code")
        if not codes:
            raise ScenarioFailed("the redirect carries no code")
        return codes[0]

    def exchange(self, code: str, *, redirect_uri: str | None = None, expect=200):
        return self.sb.sim(self.actor, "POST", "/oidc/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri or self.redirect_uri,
            "client_id": self.client_id, "client_secret": self.client_secret}, expect=expect)

    def userinfo(self, access_token: str, *, expect=200):
        return self.sb.sim(self.actor, "GET", "/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"},
                           expect=expect)

    # -- the provider, as a relying party sees it ---------------------------------------------------
    def discovery(self) -> dict:
        return self.sb.sim(self.actor, "GET", "/.well-known/openid-configuration", expect=200).json()

    def verify_id_token(self, id_token: str) -> dict:
        """Verify as a relying party does: keys from the discovery's `jwks_uri`, RS256 only, `iss` equal
        to the discovery `issuer`, `aud` our client id, not expired. Returns the claims."""
        meta = self.discovery()
        keys = self.sb.call(self.actor, "D1 simulator", "GET", meta["jwks_uri"], expect=200).json()
        # The sandbox clock may have been moved forward: judge expiry on its time, not the wall clock.
        now = datetime.fromisoformat(self.sb.sim(self.actor, "GET", "/sandbox/clock", expect=200).json()["now"]
                                     .replace("Z", "+00:00")).timestamp()
        try:
            token = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=["RS256"])
            jwt.JWTClaimsRegistry(now=int(now), leeway=5, iss={"essential": True, "value": meta["issuer"]},
                                  aud={"essential": True, "value": self.client_id},
                                  sub={"essential": True}, exp={"essential": True},
                                  iat={"essential": True}).validate(token.claims)
        except Exception as exc:  # joserfc raises several error types; all mean "not a valid ID token"
            raise ScenarioFailed(f"the ID token does not verify: {type(exc).__name__}: {exc}") from None
        if "kid" not in token.header:
            raise ScenarioFailed("the ID token's JWS header has no kid")
        return dict(token.claims)

    # -- the whole login --------------------------------------------------------------------------
    def login(self, phone: str, *, create_new_user: bool = False, **send) -> dict:
        sent = self.send_otp(phone, create_new_user=create_new_user, **send).json()
        passcode = read_otp(self.sb, phone)
        result = self.validate(phone, passcode).json()["result"]
        code = self.follow(result)
        tokens = self.exchange(code).json()
        claims = self.verify_id_token(tokens["id_token"])
        return {"tokens": tokens, "claims": claims, "code": code, "result": result, "login_id": sent.get("login_id")}


def latest_sms(sb: Sandbox, phone: str) -> dict:
    messages = sb.sim(USER, "GET", f"/sandbox/messages?to={phone.replace('+', '%2B')}&channel=sms", expect=200).json()
    if not messages:
        raise ScenarioFailed(f"no SMS reached {phone}")
    return messages[0]


def read_otp(sb: Sandbox, phone: str) -> str:
    """The user reads the code off the newest SMS on the handset."""
    body = latest_sms(sb, phone)["body"]
    match = re.search(r"(?<!\d)\d{4,10}(?!\d)", body)
    if not match:
        raise ScenarioFailed("the newest SMS carries no code")
    return match.group(0)

"""Schema-driven fuzzing of both services, in-process (no sockets), with schemathesis.

Every documented operation of the simulator and of the reference issuer backend is called with cases
generated from its own OpenAPI description — valid ones and deliberately invalid ones. Whatever comes
in, the answer must never be a 5xx, and every 4xx must be the JSON error shape of the contract
(`{"error", "message", …}`).

The apps are built once per module (schemathesis parametrizes at collection time) in a throw-away
directory, and a few flows are left half-way (challenges waiting for a code or an approval, a token
waiting for its OTP, a login code) so that every other case can be steered onto IDs that exist: random
path parameters alone only ever meet 403/404. The apps' outbound sessions refuse every host that is not
an in-process peer, so a fuzzed URL (an issuer's backend URL, an AReq's threeDSServerURL) can never
reach the network. Excluded: `POST /sandbox/rehearsals` (calls whatever issuer URL it is given) and
`POST /sandbox/reset` (re-seeds everything: slow, and it would undo the state the fuzzer builds up)."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import requests
import schemathesis
from hypothesis import HealthCheck, settings
from requests.adapters import BaseAdapter

from d1sandbox import demo
from scenarios.cardholder import AppSdkDriver, BrowserDriver, IssuerAppUser
from scenarios.inprocess import build_world
from scenarios.login_app import LoginAppDriver
from scenarios.threeds_server import ThreeDSServerDriver
from scenarios.wallet import Wallet

# Small and derandomized for CI; for an exploratory run raise the count and let hypothesis pick new
# inputs each time: D1SANDBOX_FUZZ_EXAMPLES=200 D1SANDBOX_FUZZ_RANDOM=1.
MAX_EXAMPLES = int(os.environ.get("D1SANDBOX_FUZZ_EXAMPLES", "12"))
DERANDOMIZE = not os.environ.get("D1SANDBOX_FUZZ_RANDOM")


class _Unreachable(BaseAdapter):
    """Any host that is not an in-process peer: fail at once, as an unresolvable name would."""

    def send(self, request, **kwargs):
        raise requests.ConnectionError(f"fuzz world: {request.url} is not reachable")

    def close(self):
        pass


def _seed_state(world) -> dict[str, list[str]]:
    """Leave flows half-way and collect their IDs, by the path parameter names the APIs use."""
    sb = world.sandbox
    server = ThreeDSServerDriver(sb)
    known: dict[str, list[str]] = {"issuer_id": [demo.DEMO_ISSUER_ID], "client_id": [demo.DEMO_LOGIN_CLIENT_ID]}

    def add(name, value):
        if value:
            known.setdefault(name, []).append(str(value))

    for behavior in ("challenge-sms-d1", "challenge-oob"):  # app channel, waiting for the cardholder
        card = server.test_card(behavior)
        areq, ares = server.authenticate(card, channel="01")
        sdk = AppSdkDriver(sb, areq, ares)
        sdk.start()
        known.setdefault("_ids", []).append({**sdk.ids, "messageVersion": sdk.version})
        add("acs_trans_id", ares["acsTransID"])
        add("transaction_id", ares["threeDSServerTransID"])
        add("card_id", card["cardId"])
        add("consumer_id", card["consumerId"])
        for auth in IssuerAppUser(sb, card["consumerId"]).pending():
            add("authentication_id", auth["authenticationId"])
    card = server.test_card("challenge-sms-d1")
    _, ares = server.authenticate(card, channel="02")
    BrowserDriver(sb).open(ares)
    add("acs_trans_id", ares["acsTransID"])
    _, ares = server.authenticate(server.test_card("frictionless"))
    add("transaction_id", ares["dsTransID"])
    world.drain()

    wallet = Wallet(sb)
    tokenized = wallet.tokenize(wallet.test_card("stepup-sms"))
    wallet.request_otp(tokenized["tokenRefId"], tokenized["stepUpMethods"][0]["id"])
    add("token_ref_id", tokenized["tokenRefId"])
    known["_ids"].append({"tokenRefId": tokenized["tokenRefId"], "cardId": "card-0010",
                          "issuerId": demo.DEMO_ISSUER_ID, "consumerId": "consumer-0007",
                          "phone_number": demo.DEMO_LOGIN_USER_PHONE, "redirect_uri": "https://app.example/cb"})
    add("operation", "suspend")

    app = LoginAppDriver.register(sb, "fuzz-login-app", redirect_uri="https://app.example/cb")
    login = app.login(demo.DEMO_LOGIN_USER_PHONE, create_new_user=True)
    add("client_id", app.client_id)
    add("ticket", urlsplit(login["result"]).path.rsplit("/", 1)[-1])
    app.send_otp(demo.DEMO_LOGIN_USER_PHONE)  # a live code for /validation to meet
    known["_login_token"] = [app.client_token()]
    known["_user_token"] = [login["tokens"]["access_token"]]

    messages = sb.sim("fuzz", "GET", "/sandbox/messages", expect=200).json()
    for message in messages[:3]:
        add("message_id", message["id"])
    d1 = sb.sim("fuzz", "POST", "/oauth2/token", data={"grant_type": "client_credentials"},
                auth=(demo.DEMO_D1_CLIENT_ID, demo.DEMO_D1_CLIENT_SECRET), expect=200).json()["access_token"]
    ops = sb.sim("fuzz", "GET", f"/issuers/{demo.DEMO_ISSUER_ID}/cards/card-0001/3ds/operations",
                 headers={"Authorization": f"Bearer {d1}"}, expect=200).json()
    for op in (ops.get("operations") or ops.get("items") or []) if isinstance(ops, dict) else ops:
        add("operation_id", op.get("operationId"))
    add("card_id", "card-0001")
    add("consumer_id", "consumer-0001")
    return known


def _build_world():
    data_dir = Path(tempfile.mkdtemp(prefix="d1-fuzz-"))
    world = build_world(data_dir)
    for session in (world.sim.http, world.issuer.http):
        # Mounted prefixes are matched longest first, so the in-process peers still win.
        session.mount("http://", _Unreachable())
        session.mount("https://", _Unreachable())

    def cleanup():
        world.close()
        shutil.rmtree(data_dir, ignore_errors=True)

    atexit.register(cleanup)
    return world, _seed_state(world)


WORLD, KNOWN = _build_world()
_turn = itertools.count()


def _configured(schema):
    schema.config.generation.update(
        modes=["positive", "negative"], max_examples=MAX_EXAMPLES, deterministic=DERANDOMIZE, database="none",
    )
    return schema


sim_schema = _configured(
    schemathesis.openapi.from_wsgi("/openapi.json", WORLD.sim_app)
    .exclude(path="/sandbox/rehearsals", method="POST")
    .exclude(path="/sandbox/reset")
)
issuer_schema = _configured(schemathesis.openapi.from_wsgi("/openapi.json", WORLD.issuer_app))


def _token(app, credentials) -> str:
    """A fresh token each case: a fuzzed POST /sandbox/clock may have expired the last one."""
    resp = app.test_client().post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=credentials)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["access_token"]


# Reconfiguring the demo issuer or login app (new secret, backend URL, …) is legitimate, but it would
# lock every later case out: those two operations are steered onto objects of their own.
_OWN_OBJECTS = {("PUT", "/sandbox/issuers/{issuer_id}"): {"issuer_id": ["fuzz-issuer"]},
                ("PUT", "/sandbox/apps/{client_id}"): {"client_id": ["fuzz-app"]}}


def _steer(case) -> None:
    """Every other case: path parameters that name things which exist (whatever their schema says)."""
    turn = next(_turn)
    if turn % 2:
        return
    known = {**KNOWN, **_OWN_OBJECTS.get((case.operation.method.upper(), case.operation.path), {})}
    for name in list(case.path_parameters or ()):
        values = known.get(name)
        if values:
            case.path_parameters[name] = values[turn // 2 % len(values)]
    if isinstance(case.body, dict):
        # IDs in bodies too (a CReq's transaction IDs, a card to tokenize…): one consistent set.
        ids = KNOWN["_ids"][turn // 2 % len(KNOWN["_ids"])]
        for key in case.body.keys() & ids.keys():
            case.body[key] = ids[key]


def _auth_headers(case, secured_by: str) -> dict | None:
    path = case.operation.path
    if case.operation.definition.raw.get("security"):
        return {"Authorization": f"Bearer {secured_by}"}
    if path.startswith("/cis/"):
        return {"Authorization": f"Bearer {KNOWN['_login_token'][0]}"}
    if path == "/oidc/userinfo":
        return {"Authorization": f"Bearer {KNOWN['_user_token'][0]}"}
    return None


def _assert_well_formed(case, response) -> None:
    label = f"{case.operation.label}: {case.as_curl_command()}"
    assert response.status_code < 500, f"{label}\n→ HTTP {response.status_code}: {response.text[:500]}"
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("Content-Type", [""])
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        if "html" in content_type:
            # The browser challenge (acsURL) answers people, not programs: an HTML error page.
            return
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(
            body.get("message"), str), f"{label}\n→ HTTP {response.status_code} without error/message: {body}"


_SETTINGS = settings(deadline=None, derandomize=DERANDOMIZE, database=None, max_examples=MAX_EXAMPLES,
                     suppress_health_check=list(HealthCheck))


@sim_schema.parametrize()
@_SETTINGS
def test_simulator_never_fails_on_fuzzed_input(case):
    _steer(case)
    token = _token(WORLD.sim_app, (demo.DEMO_D1_CLIENT_ID, demo.DEMO_D1_CLIENT_SECRET))
    _assert_well_formed(case, case.call(headers=_auth_headers(case, token)))


@issuer_schema.parametrize()
@_SETTINGS
def test_issuer_backend_never_fails_on_fuzzed_input(case):
    _steer(case)
    token = _token(WORLD.issuer_app, (demo.DEMO_OUTBOUND_CLIENT_ID, demo.DEMO_OUTBOUND_CLIENT_SECRET))
    _assert_well_formed(case, case.call(headers=_auth_headers(case, token)))


def test_outbox_handlers_survive_what_the_fuzzers_left():
    """Whatever the fuzzed requests enqueued (notifications, RReqs to made-up URLs), delivering it ends
    in a delivery or a retry, never in a handler crash."""
    WORLD.drain()
    crashed = WORLD.sim.db.all("SELECT kind, last_error FROM outbox WHERE last_error LIKE '%Error' "
                               "OR last_error LIKE '%Exception'")
    assert crashed == []

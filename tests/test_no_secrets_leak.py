"""No OTP, PAN, client secret, access token or authorization code ever reaches a log, a journal, an
error answer or a sequence diagram — checked on real traffic, not on the redaction function alone.

One in-process world runs every named scenario (3DS challenges with SMS OTP by D1 and by the issuer,
OOB, browser and app channels, TSP step-up by SMS and email, one-time login with OIDC, the card
lifecycle through the bank's admin API, the certification rehearsal) plus the wrong inputs that make
services answer 4xx (a bad PAN, a wrong OTP, a reused code, a wrong client secret), with logging at
DEBUG. Every secret actually used is harvested from the traffic itself (request and response bodies,
form fields, Authorization headers, redirect locations) and from the sandbox inbox, then looked for in:
both journals' raw rows, the captured log, every 4xx body, the `/sandbox/journal` answers and the
Mermaid diagrams of every transaction, and (beyond that) anywhere in either database where it has no
business being."""

from __future__ import annotations

import base64
import json
import logging
import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from d1sandbox import demo
from scenarios import registry
from scenarios.client import Sandbox
from scenarios.inprocess import ISSUER_URL, SIM_URL, build_world

# Keys whose values are secrets wherever they travel (compared lower-case).
OTP_KEYS = {"otp", "otpvalue", "passcode", "challengedataentry"}
PAN_KEYS = {"pan", "acctnumber", "newpan", "cardnumber"}
SECRET_KEYS = {"client_secret", "clientsecret", "access_token", "id_token", "refresh_token"}
# A code in an SMS/email: a run of digits (4 digits alone is a card's last four in every template).
_INBOX_CODE = re.compile(r"(?<![0-9])[0-9]{6,10}(?![0-9])")


class Harvest:
    """Secrets seen on the wire, by kind, and every 4xx answer body as it left the service."""

    def __init__(self):
        self.secrets: dict[str, set[str]] = {"otp": set(), "pan": set(), "secret": set(), "token": set(),
                                             "code": set()}
        self.error_bodies: list[tuple[str, int, str]] = []

    def add(self, kind: str, value) -> None:
        if not isinstance(value, str) or len(value) < 6 or "***" in value:  # too short to tell, or masked
            return
        if len(set(value)) == 1:  # "000000": a probe, and too common a string to search for
            return
        if kind == "pan" and not (value.isdigit() and 13 <= len(value) <= 19):
            return
        self.secrets[kind].add(value)

    def walk(self, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                lowered = str(key).lower()
                if lowered in OTP_KEYS:
                    self.add("otp", item)
                elif lowered in PAN_KEYS:
                    self.add("pan", item)
                elif lowered in SECRET_KEYS:
                    self.add("token" if lowered.endswith("token") else "secret", item)
                else:
                    self.walk(item)
        elif isinstance(value, list):
            for item in value:
                self.walk(item)

    def on_response(self, resp, *args, **kwargs):
        request = resp.request
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        content_type = request.headers.get("Content-Type", "")
        if "json" in content_type and body:
            try:
                self.walk(json.loads(body))
            except ValueError:
                pass
        elif "form-urlencoded" in content_type:
            form = dict(parse_qsl(body))
            self.walk(form)
            if urlsplit(request.url).path == "/oidc/token":
                self.add("code", form.get("code"))
        auth = request.headers.get("Authorization", "")
        scheme, _, credentials = auth.partition(" ")
        if scheme.lower() == "bearer":
            self.add("token", credentials)
        elif scheme.lower() == "basic":
            self.add("secret", base64.b64decode(credentials).decode().partition(":")[2])
        location = resp.headers.get("Location", "")
        for key, value in parse_qsl(urlsplit(location).query):
            if key == "code":
                self.add("code", value)
        path = urlsplit(request.url).path
        if "/auth/otp/sms/result/" in path:
            self.add("code", path.rsplit("/", 1)[-1])  # the result URI's ticket is a bearer secret
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if answer is not None and not path.startswith("/sandbox/issuers"):
            self.walk(answer)
        if path == "/sandbox/login/callback" and isinstance(answer, dict):
            self.add("code", answer.get("code"))
        # EMV answers errors with HTTP 200 and an Erro message: those count as error answers too.
        if 400 <= resp.status_code < 500 or (isinstance(answer, dict) and answer.get("messageType") == "Erro"):
            self.error_bodies.append((f"{request.method} {path}", resp.status_code, resp.text))
        return resp


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


def _bad_inputs(sb: Sandbox, harvest: Harvest) -> None:
    """The 4xx answers most likely to echo what they were given."""
    cards = sb.sim("Operator", "GET", "/sandbox/test-cards", expect=200).json()
    for card in cards:
        harvest.add("pan", card["pan"])
    token = sb.sim("Issuer", "POST", "/oauth2/token", data={"grant_type": "client_credentials"},
                   auth=(demo.DEMO_D1_CLIENT_ID, demo.DEMO_D1_CLIENT_SECRET), expect=200).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    # Luhn fails, PAN of another card, PAN already in use — through D1's API and the bank's admin.
    sb.sim("Issuer", "POST", f"/v2/issuers/{demo.DEMO_ISSUER_ID}/cards", headers=bearer,
           json_body={"cardId": "card-leak-1", "consumerId": "consumer-0001", "pan": "4000000099000005",
                      "expiry": "3112"}, expect=422)
    sb.sim("Issuer", "POST", f"/v2/issuers/{demo.DEMO_ISSUER_ID}/cards", headers=bearer,
           json_body={"cardId": "card-leak-2", "consumerId": "consumer-0001", "pan": cards[0]["pan"],
                      "expiry": "3112"}, expect=(409, 422))
    sb.sim("Issuer", "POST", f"/v2/issuers/{demo.DEMO_ISSUER_ID}/cards", headers=bearer,
           json_body={"cardId": "card-leak-3", "consumerId": "consumer-0001", "pan": "5999999999999999999999",
                      "expiry": "3112"}, expect=422)
    sb.issuer("Bank", "POST", "/admin/cards", json_body={"cardId": "card-leak-4", "consumerId": "consumer-0001",
                                                         "pan": "4000000099000005", "expiry": "3112"},
              expect=(400, 409, 422))
    # PANs the DS and the TSP refuse: out of every card range, malformed, unknown to the TSP.
    from scenarios.threeds_server import ThreeDSServerDriver, build_areq

    server = ThreeDSServerDriver(sb)
    for pan in ("4111111111111111", "40000000030000090001", "4000000003000008"):
        server.send(build_areq({**cards[2], "pan": pan}, server_url=server.url))
    sb.sim("Wallet", "POST", "/tsp/v1/tokenize", json_body={
        "tokenRequestorId": "40010030273", "pan": "4000000099000013", "expiry": "3112"}, expect=(400, 404, 422))
    sb.sim("Wallet", "POST", "/tsp/v1/tokenize", json_body={
        "tokenRequestorId": "40010030273", "pan": cards[9]["pan"], "expiry": "0101"}, expect=200)  # DECLINED
    # A wrong client secret, at D1 and at the bank.
    sb.sim("Issuer", "POST", "/oauth2/token", data={"grant_type": "client_credentials"},
           auth=(demo.DEMO_D1_CLIENT_ID, "not-the-secret-at-all"), expect=401)
    sb.issuer("D1", "POST", "/oauth2/token", data={"grant_type": "client_credentials", "client_id": "d1-outbound",
                                                   "client_secret": "also-not-the-secret"}, expect=401)
    # A forged bearer token.
    sb.sim("Issuer", "GET", f"/v2/issuers/{demo.DEMO_ISSUER_ID}/cards/card-0001",
           headers={"Authorization": "Bearer forged-token-value-123456"}, expect=401)
    # A wrong OTP at the TSP, and a reused authorization code at the OIDC token endpoint.
    card = next(c for c in cards if c["behavior"] == "stepup-sms")
    tokenized = sb.sim("Wallet", "POST", "/tsp/v1/tokenize", json_body={
        "tokenRequestorId": "40010030273", "cardId": card["cardId"]}, expect=200).json()
    sb.sim("Wallet", "POST", f"/tsp/v1/tokens/{tokenized['tokenRefId']}/otp",
           json_body={"methodId": tokenized["stepUpMethods"][0]["id"]}, expect=200)
    sb.sim("Wallet", "POST", f"/tsp/v1/tokens/{tokenized['tokenRefId']}/activate",
           json_body={"otp": "98765432"}, expect=(400, 409, 422))
    from scenarios.login_app import LoginAppDriver

    app = LoginAppDriver.register(sb, "leak-check-app", client_secret="leak-check-app-secret-value")
    login = app.login("+16175550177", create_new_user=True)
    app.exchange(login["code"], expect=400)
    app.validate("+16175550177", "00000000", expect=(400, 401, 403, 422, 429))


@pytest.fixture(scope="module")
def traffic(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("leaks"))
    harvest = Harvest()
    for session in (world.sandbox.session, world.sim.http, world.issuer.http):
        session.hooks["response"].append(harvest.on_response)
    records = _Records()
    records.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root, ours = logging.getLogger(), logging.getLogger("d1sandbox")
    saved = root.level, ours.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    ours.setLevel(logging.DEBUG)
    try:
        outcomes = {}
        for name in registry.all_scenarios():
            sb = Sandbox(sim_url=SIM_URL, issuer_url=ISSUER_URL, session=world.sandbox.session)
            outcomes[name] = registry.run(name, sb)
        _bad_inputs(world.sandbox, harvest)
        world.drain()
    finally:
        root.removeHandler(records)
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
    for row in world.sim.db.all("SELECT body, subject FROM messages"):
        for text in (row["body"] or "", row["subject"] or ""):
            for code in _INBOX_CODE.findall(text):
                harvest.add("otp", code)
    harvest.add("secret", demo.DEMO_D1_CLIENT_SECRET)
    harvest.add("secret", demo.DEMO_OUTBOUND_CLIENT_SECRET)
    harvest.add("secret", demo.DEMO_LOGIN_CLIENT_SECRET)
    yield world, harvest, records.lines, outcomes
    world.close()


def _found(harvest: Harvest, text: str, kinds=("otp", "pan", "secret", "token", "code")) -> list[str]:
    """Which harvested secrets occur in `text` as a whole value (a 6-digit OTP inside a longer number,
    e.g. a timestamp's fraction, is not one)."""
    hits = []
    for kind in kinds:
        for secret in harvest.secrets[kind]:
            if re.search(rf"(?<![0-9A-Za-z.]){re.escape(secret)}(?![0-9A-Za-z])", text):
                hits.append(f"{kind}:{secret}")
    return hits


def _rows(db, table: str) -> list[str]:
    return [json.dumps(row, default=str, ensure_ascii=False) for row in db.all(f"SELECT * FROM [{table}]")]


def test_every_flow_ran_and_used_real_secrets(traffic):
    _, harvest, _, outcomes = traffic
    failed = {name: o.error for name, o in outcomes.items() if not o.passed}
    assert failed == {}
    # The harvest saw each kind, or the checks below would prove nothing.
    assert len(harvest.secrets["otp"]) >= 8, harvest.secrets["otp"]
    assert len(harvest.secrets["pan"]) >= 12
    assert {demo.DEMO_D1_CLIENT_SECRET, demo.DEMO_OUTBOUND_CLIENT_SECRET} <= harvest.secrets["secret"]
    assert len(harvest.secrets["token"]) >= 4 and len(harvest.secrets["code"]) >= 2
    assert len(harvest.error_bodies) >= 8


@pytest.mark.parametrize("service", ["sim", "issuer"])
def test_no_secret_in_either_journal(traffic, service):
    world, harvest, _, _ = traffic
    db = getattr(world, service).db
    leaks = {}
    for row in _rows(db, "journal") + _rows(db, "journal_alias"):
        hits = _found(harvest, row)
        if hits:
            leaks[row[:300]] = hits
    assert leaks == {}


def test_no_secret_in_the_logs(traffic):
    _, harvest, lines, _ = traffic
    assert lines, "nothing was logged: the capture is not wired"
    leaks = {line[:300]: _found(harvest, line) for line in lines if _found(harvest, line)}
    assert leaks == {}


def test_no_secret_in_any_error_answer(traffic):
    _, harvest, _, _ = traffic
    leaks = [(where, status, body[:300], _found(harvest, body)) for where, status, body in harvest.error_bodies
             if _found(harvest, body)]
    assert leaks == []


def test_no_secret_in_journal_answers_or_diagrams(traffic):
    world, harvest, _, _ = traffic
    sim, issuer = world.sim_app.test_client(), world.issuer_app.test_client()
    correlations = {row["correlation"] for row in world.sim.db.all("SELECT DISTINCT correlation FROM journal")}
    issuer_side = {row["correlation"] for row in world.issuer.db.all("SELECT DISTINCT correlation FROM journal")}
    assert len(correlations) > 20
    leaks = {}
    for correlation in sorted(correlations):
        for url in (f"/sandbox/journal?transaction={correlation}", f"/sandbox/journal?transaction={correlation}"
                    "&issuer=true", f"/sandbox/journal/{correlation}/diagram"):
            text = sim.get(url).get_data(as_text=True)
            if _found(harvest, text):
                leaks[url] = _found(harvest, text)
    for correlation in sorted(issuer_side):
        for url in (f"/sandbox/journal?transaction={correlation}", f"/sandbox/journal/{correlation}/diagram"):
            text = issuer.get(url).get_data(as_text=True)
            if _found(harvest, text):
                leaks["issuer " + url] = _found(harvest, text)
    assert leaks == {}


# Where each kind of secret may rest: the handset inbox shows the OTP (the only place it is shown),
# the sandbox dashboard tables keep the credentials they hand out. Everything else holds hashes.
ALLOWED_AT_REST = {("sim", "messages"): {"otp"}, ("sim", "issuers"): {"secret"}, ("sim", "apps"): {"secret"}}


@pytest.mark.parametrize("service", ["sim", "issuer"])
def test_secrets_rest_only_where_they_must(traffic, service):
    world, harvest, _, _ = traffic
    db = getattr(world, service).db
    tables = [r["name"] for r in db.all("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%'")]
    leaks = {}
    for table in tables:
        allowed = ALLOWED_AT_REST.get((service, table), set())
        kinds = [k for k in ("otp", "pan", "secret", "token", "code") if k not in allowed]
        for row in _rows(db, table):
            hits = _found(harvest, row, kinds)
            if hits:
                leaks.setdefault(table, []).append((row[:200], hits))
    assert leaks == {}


def test_no_secret_in_the_scenario_reports(traffic):
    """`d1sandbox scenario run --json/--verbose/--junit` print the drivers' trace, which includes the
    handset inbox they read and the login result ticket: the codes in it must come out masked."""
    from scenarios.reporting import step_detail, step_line, to_junit

    _, harvest, _, outcomes = traffic
    reports = []
    for outcome in outcomes.values():
        reports.append(json.dumps(outcome.as_dict(), default=str, ensure_ascii=False))
        for i, step in enumerate(outcome.steps, 1):
            reports.append("\n".join([step_line(i, step), *step_detail(step)]))
    reports.append(to_junit(list(outcomes.values())))
    text = "\n".join(reports)
    assert "/sandbox/messages" in text and "/result/***" in text  # the inbox reads and the ticket are there …
    assert _found(harvest, text) == []  # … without a code, PAN, secret or token

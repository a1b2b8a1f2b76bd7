"""Certification rehearsal: the pure checks, the plan against a breakable backend (each defect fails
exactly the cases it breaks), the API, and the reference issuer backend passing in-process."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.journal import Journal
from d1sandbox.outbound import pooled_session
from d1sandbox.wsgi_transport import mount
from scenarios import broken_issuer
from simulator.rehearsal import checks
from simulator.rehearsal.checks import Exchange
from simulator.rehearsal.plan import PLAN, case_ids
from simulator.rehearsal.report import to_junit, to_text
from simulator.rehearsal.runner import Target, resolve_target, run_plan

BROKEN = "http://broken.test"
ALL = set(case_ids())


def ex(status=200, body=None, content_type="application/json", **kw) -> Exchange:
    return Exchange(step="s", operation="op", method="GET", path="/p", auth="token", status=status, body=body,
                    content_type=content_type, **kw)


# -- pure checks -----------------------------------------------------------------------------------

GOOD_CONSUMER = {"consumerId": "c-1", "name": "A", "phoneNumber": "+16175550102", "email": "a@mail.example",
                 "locale": "en"}


def test_consumer_info_accepts_the_documented_shape():
    assert checks.consumer_info(ex(body=GOOD_CONSUMER), "c-1") == []
    assert checks.consumer_info(ex(body={**GOOD_CONSUMER, "email": None}), "c-1") == []


@pytest.mark.parametrize("change, fragment", [
    ({"phoneNumber": "(617) 555-0102"}, "not E.164"),
    ({"phoneNumber": "+1 617 555 0102"}, "not E.164"),
    ({"phoneNumber": "+999123"}, "not E.164"),
    ({"phoneNumber": 16175550102}, "must be a string"),
    ({"email": "not-an-address"}, "not an email address"),
    ({"consumerId": "someone-else"}, "asked for 'c-1'"),
    ({"consumerId": None}, "`consumerId` is null"),
    ({"phoneNumber": None, "email": None}, "neither `phoneNumber` nor `email`"),
    ({"locale": "english please"}, "not a language tag"),
    ({"name": 7}, "`name` must be a string"),
])
def test_consumer_info_names_what_is_wrong(change, fragment):
    problems = checks.consumer_info(ex(body={**GOOD_CONSUMER, **change}), "c-1")
    assert any(fragment in p for p in problems), problems


def test_non_json_and_wrong_status_are_problems():
    assert "not JSON" in checks.consumer_info(ex(body={"_text": "hello"}, content_type="text/plain"), "c")[0]
    assert "not JSON" in checks.consumer_info(ex(body=GOOD_CONSUMER, content_type="text/html"), "c")[0]
    assert "expected HTTP 200, got 500" in checks.consumer_info(ex(status=500, body={}), "c")[0]
    assert "no answer (timeout)" in checks.consumer_info(ex(status=None, error="timeout"), "c")[0]


def test_token_checks_follow_rfc_6749():
    good = {"access_token": "t", "token_type": "bearer", "expires_in": 300}
    assert checks.token_issued(ex(body=good, content_type=None)) == []
    assert checks.token_issued(ex(body={**good, "token_type": "mac"}))
    assert checks.token_issued(ex(body={**good, "expires_in": "300"}))
    assert checks.token_refused(ex(status=401, body={"error": "invalid_client"})) == []
    assert "invalid_client" in checks.token_refused(ex(status=401, body={"error": "unauthorized"}))[0]
    assert "expected HTTP 401, got 200" in checks.token_refused(ex(status=200, body=good))[0]


def test_rejections_must_be_4xx_and_errors_json():
    assert checks.rejected_4xx(ex(status=422), "x") == []
    assert "accepted with HTTP 204" in checks.rejected_4xx(ex(status=204), "x")[0]
    assert "expected a 4xx rejection, got 500" in checks.rejected_4xx(ex(status=500), "x")[0]
    assert checks.error_answer(ex(status=404, body={"error": "consumer_not_found", "message": "m"}), (404,), "x") == []
    assert "not JSON" in checks.error_answer(ex(status=404, body={"_text": "<html>"}, content_type="text/html"),
                                             (404,), "x")[0]
    assert checks.unauthenticated_refused(ex(status=401)) == []
    assert "ACCEPTED" in checks.unauthenticated_refused(ex(status=200))[0]


def test_authentication_result_must_be_the_same_pending_authentication():
    good = {"authenticationId": "a-1", "status": "PENDING", "decidedAt": None}
    assert checks.authentication_result(ex(body=good), "a-1") == []
    assert checks.authentication_result(ex(body={**good, "authenticationId": "a-2"}), "a-1")
    assert checks.authentication_result(ex(body={**good, "status": "APPROVED"}), "a-1")
    assert checks.authentication_result(ex(body={**good, "status": "MAYBE"}), "a-1")
    assert checks.authentication_result(ex(body={**good, "decidedAt": "2026-01-01T00:00:00Z"}), "a-1")


def test_latency_budget_flags_slow_and_timed_out_calls_and_needs_one_answer():
    fast, slow = ex(elapsed_ms=20), ex(elapsed_ms=4000)
    assert checks.within_budget([fast], 3000) == []
    assert "over the 3000 ms budget" in checks.within_budget([fast, slow], 3000)[0]
    assert "timeout" in checks.within_budget([fast, ex(status=None, error="timeout")], 3000)[0]
    assert "no call was answered" in checks.within_budget([ex(status=None, error="connection: refused")], 3000)[0]


def test_every_case_says_why_a_real_d1_cares():
    assert len(ALL) == len(PLAN) == 21
    assert all(case.why and case.title for case in PLAN)


def test_target_defaults_come_from_onboarding_then_the_demo_issuer():
    config = {"backend": {"url": "http://bank.example/", "auth": {"type": "oauth2", "client_id": "cid",
                                                                    "client_secret": "sec"}}}
    target = resolve_target({}, config)
    assert (target.issuer_url, target.client_id, target.client_secret, target.oauth2) == \
        ("http://bank.example", "cid", "sec", True)
    assert resolve_target({}, {"backend": {"url": "http://x", "auth": {"type": "none"}}}).oauth2 is False
    explicit = resolve_target({"issuer_url": "http://y", "client_id": "me", "oauth2": True}, None)
    assert (explicit.issuer_url, explicit.client_id, explicit.consumer_id) == ("http://y", "me", "consumer-0002")
    assert "client_secret" not in json.dumps(explicit.public())
    with pytest.raises(ValueError):
        resolve_target({}, None)


# -- the plan against the breakable backend -------------------------------------------------------

# Generous against a loaded CI machine (in-process answers take ~2 ms); the slow defect is well over it.
BUDGET_MS, SLOW_SECONDS = 400, 0.6


def rehearse(tmp_path, defects=(), **target_kw):
    app = broken_issuer.create_app(defects, slow_seconds=SLOW_SECONDS)
    db = Database(tmp_path / "journal.db")
    Journal.create_schema(db)
    journal = Journal(db, Clock())
    session = mount(pooled_session(), {BROKEN: app})
    report = run_plan(Target(BROKEN, **target_kw), session=session, clock=Clock(), journal=journal)
    return report, app, journal


def failed(report) -> set[str]:
    return {case["id"] for case in report["cases"] if case["status"] == "failed"}


def test_a_correct_backend_written_from_the_contract_passes_every_case(tmp_path):
    report, app, _ = rehearse(tmp_path)
    assert failed(report) == set(), to_text(report)
    assert report["passed"] and report["summary"] == {"total": 21, "passed": 21, "failed": 0, "skipped": 0}
    # the positive calls really reached the backend
    kinds = [kind for kind, _, _ in app.config["received"]]
    assert "notification" in kinds and "3ds" in kinds


# defect -> exactly the cases it must fail
DEFECT_BREAKS = {
    "token_accepts_wrong_secret": {"AUTH-02"},
    "no_auth_check": {"AUTH-03", "AUTH-04"},
    "otp_unprotected": {"AUTH-03", "AUTH-04"},
    "accepts_any_token": {"AUTH-04"},
    "consumer_bad_phone": {"CONS-01"},
    "consumer_wrong_types": {"CONS-01"},
    "consumer_non_json": {"CONS-01"},
    "unknown_consumer_200": {"CONS-02"},
    "html_404": {"CONS-02", "OTP-03", "AUTHN-03"},
    "otp_500": {"OTP-01"},
    "otp_accepts_malformed": {"OTP-02"},
    "otp_no_delivery_id": {"OTP-01"},
    "authentication_not_pending": {"AUTHN-01", "AUTHN-02"},
    "authentication_result_unknown_200": {"AUTHN-03"},
    "authentication_not_idempotent": {"AUTHN-05"},
    "notifications_accept_malformed": {"NOTIF-02"},
    "notifications_reject_duplicates": {"NOTIF-03"},
    "threeds_notification_500": {"TDS-01", "TDS-03"},
    "threeds_notification_accept_malformed": {"TDS-02"},
    "threeds_notification_reject_duplicates": {"TDS-03"},
    "slow_consumer": {"PERF-01"},
}


def test_every_defect_of_the_double_is_covered():
    assert set(DEFECT_BREAKS) == set(broken_issuer.DEFECTS)


@pytest.mark.parametrize("defect", sorted(DEFECT_BREAKS))
def test_each_defect_fails_exactly_the_cases_it_breaks(tmp_path, defect):
    report, _, _ = rehearse(tmp_path, [defect], budget_ms=BUDGET_MS)
    assert failed(report) == DEFECT_BREAKS[defect], to_text(report)
    assert report["passed"] is False
    for case in report["cases"]:
        if case["status"] == "failed":
            assert case["problems"], case
            assert case["exchanges"], f"{case['id']} failed without evidence"


def test_a_token_endpoint_with_a_textual_expires_in_is_reported_not_a_crash(tmp_path):
    """`"expires_in": "5 minutes"` used to raise ValueError inside D1's token cache and take the whole
    rehearsal down with a 500; it is the backend's mistake, so AUTH-01 names it."""
    import flask

    backend = flask.Flask("bad-expires-in")

    @backend.post("/oauth2/token")
    def token():
        return {"access_token": "a-perfectly-fine-token", "token_type": "Bearer", "expires_in": "5 minutes"}

    db = Database(tmp_path / "journal.db")
    Journal.create_schema(db)
    report = run_plan(Target(BROKEN), session=mount(pooled_session(), {BROKEN: backend}), clock=Clock(),
                      journal=Journal(db, Clock()))
    auth = next(c for c in report["cases"] if c["id"] == "AUTH-01")
    assert auth["status"] == "failed" and any("expires_in" in p for p in auth["problems"]), auth


def test_evidence_points_at_the_unprotected_receiver(tmp_path):
    report, _, _ = rehearse(tmp_path, ["otp_unprotected"])
    case = next(c for c in report["cases"] if c["id"] == "AUTH-03")
    assert len(case["problems"]) == 1 and "/otp with no token: ACCEPTED" in case["problems"][0]
    flagged = [e for e in case["exchanges"] if not e["ok"]]
    assert [e["path"].rsplit("/", 1)[-1] for e in flagged] == ["otp"]
    assert flagged[0]["status"] == 202 and flagged[0]["auth"] == "none"


def test_the_latency_case_names_the_slow_call_and_its_time(tmp_path):
    report, _, _ = rehearse(tmp_path, ["slow_consumer"], budget_ms=BUDGET_MS)
    case = next(c for c in report["cases"] if c["id"] == "PERF-01")
    assert len(case["problems"]) == 2  # the known and the unknown consumer
    assert all("/consumers/consumer-" in p and f"over the {BUDGET_MS} ms budget" in p for p in case["problems"])
    assert case["exchanges"][0]["elapsedMs"] >= SLOW_SECONDS * 1000


def test_several_defects_add_up(tmp_path):
    defects = ["no_auth_check", "consumer_bad_phone", "otp_500", "threeds_notification_accept_malformed"]
    report, _, _ = rehearse(tmp_path, defects)
    assert failed(report) == {"AUTH-03", "AUTH-04", "CONS-01", "OTP-01", "TDS-02"}


def test_without_oauth2_the_auth_cases_are_skipped_not_passed(tmp_path):
    report, _, _ = rehearse(tmp_path, ["no_auth_check"], oauth2=False)
    skipped = {c["id"] for c in report["cases"] if c["status"] == "skipped"}
    assert skipped == {"AUTH-01", "AUTH-02", "AUTH-03", "AUTH-04"}
    assert failed(report) == set() and report["passed"] is True
    assert report["summary"]["skipped"] == 4


def test_reports_and_journal_carry_no_secret(tmp_path):
    report, app, journal = rehearse(tmp_path, ["no_auth_check", "consumer_non_json"])
    otps = [body["otp"] for kind, _, body in app.config["received"] if kind == "otp"]
    assert len(otps) >= 2, "DeliverOTP was called with a token and without one"
    sent = journal.for_transaction(report["transaction"])
    assert sent, "the rehearsal journals every call"
    raw = json.dumps(report) + to_text(report, verbose=True) + to_junit(report)
    stored = " ".join(row["body"] or "" for row in journal.db.all("SELECT body FROM journal"))
    for secret in [broken_issuer.CLIENT_SECRET, *otps]:
        assert secret not in raw and secret not in stored
    requests_with_otp = [e for c in report["cases"] for e in c["exchanges"]
                         if isinstance(e["request"], dict) and "otp" in e["request"]]
    assert requests_with_otp and all(e["request"]["otp"] == "***" for e in requests_with_otp)


def test_junit_xml_has_one_testcase_per_case_with_failures_and_evidence(tmp_path):
    report, _, _ = rehearse(tmp_path, ["otp_500"])
    root = ET.fromstring(to_junit(report))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 21 and root.get("failures") == "1" and suite.get("failures") == "1"
    failure = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name").split()[0] for c in failure] == ["OTP-01"]
    assert "expected HTTP 200 or 202, got 500" in failure[0].find("failure").get("message")
    assert "POST /banking/d1/v1/issuers/demo-issuer/consumers/consumer-0002/otp" in failure[0].find("failure").text


def test_text_report_shows_failures_with_evidence(tmp_path):
    report, _, _ = rehearse(tmp_path, ["consumer_bad_phone"])
    text = to_text(report)
    assert "FAIL  CONS-01" in text and "PASS  CONS-02" in text
    assert "'(617) 555-0102' is not E.164" in text
    assert "response (application/json):" in text
    assert "FAILED: 20 of 21 cases passed, 1 failed" in text


# -- the API ---------------------------------------------------------------------------------------

@pytest.fixture
def broken_world(tmp_path):
    from scenarios.inprocess import build_world

    app = broken_issuer.create_app(["consumer_bad_phone"])
    world = build_world(tmp_path, peers={BROKEN: app})
    yield world
    world.close()


def test_api_runs_a_rehearsal_and_keeps_the_report(broken_world):
    sim = broken_world.sim_app.test_client()
    resp = sim.post("/sandbox/rehearsals", json={"issuerUrl": BROKEN, "clientSecret": broken_issuer.CLIENT_SECRET})
    assert resp.status_code == 201, resp.json
    report = resp.json
    assert failed(report) == {"CONS-01"} and report["passed"] is False
    assert broken_issuer.CLIENT_SECRET not in resp.get_data(as_text=True)
    again = sim.get(f"/sandbox/rehearsals/{report['id']}").json
    assert again["cases"] == report["cases"]
    listed = sim.get("/sandbox/rehearsals").json
    assert listed[0]["id"] == report["id"] and listed[0]["passed"] is False
    junit = sim.get(f"/sandbox/rehearsals/{report['id']}?format=junit")
    assert junit.mimetype == "application/xml" and ET.fromstring(junit.data).get("failures") == "1"
    text = sim.get(f"/sandbox/rehearsals/{report['id']}?format=text")
    assert text.mimetype == "text/plain" and "FAIL  CONS-01" in text.get_data(as_text=True)
    # every call of the rehearsal is in D1's journal and draws as a diagram
    diagram = sim.get(f"/sandbox/journal/{report['transaction']}/diagram").get_data(as_text=True)
    assert "D1->>Issuer_backend: CONS-01 known consumer" in diagram


def test_api_rejects_bad_requests_with_422(broken_world):
    sim = broken_world.sim_app.test_client()
    assert sim.post("/sandbox/rehearsals", json={"issuerUrl": "not a url"}).status_code == 422
    assert sim.post("/sandbox/rehearsals", json={"issuerUrl": BROKEN, "latencyBudgetMs": 0}).status_code == 422
    assert sim.post("/sandbox/rehearsals?format=pdf", json={"issuerUrl": BROKEN}).status_code == 422
    assert sim.get("/sandbox/rehearsals/rh-nope").status_code == 404


def test_api_defaults_to_the_onboarded_backend_of_the_issuer(broken_world):
    sim = broken_world.sim_app.test_client()
    sim.put("/sandbox/issuers/acme", json={"name": "Acme", "backend": {"url": BROKEN, "auth": {
        "type": "oauth2", "client_id": broken_issuer.CLIENT_ID, "client_secret": broken_issuer.CLIENT_SECRET}}})
    report = sim.post("/sandbox/rehearsals", json={"issuerId": "acme"}).json
    assert report["target"]["issuerUrl"] == BROKEN and report["target"]["issuerId"] == "acme"
    # the double only knows demo-issuer, so acme's consumer is unknown to it: CONS-01 and friends fail
    assert "CONS-01" in failed(report)


# -- the reference issuer backend ------------------------------------------------------------------

def test_the_reference_issuer_backend_passes_every_case_in_process(world, sim):
    report = sim.post("/sandbox/rehearsals", json={"issuerUrl": "http://issuer.test"}).json
    assert report["passed"], to_text(report)
    assert report["summary"]["passed"] == 21
    # its DeliverOTP really sent the SMS through its own gateway, like a handset would see it
    inbox = sim.get("/sandbox/messages?to=%2B16175550102&channel=sms").json
    assert any(m["sent_by"] == "issuer" for m in inbox)

"""`d1sandbox rehearse` over real sockets: the reference issuer backend (started by `Services`, as
`make run` does) passes every case; a breakable backend served by waitress fails exactly what it
breaks, including answers slower than the timeout."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import requests
from click.testing import CliRunner
from requests.adapters import BaseAdapter

from d1sandbox.cli import main
from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.journal import Journal
from d1sandbox.services import Services, free_port
from scenarios import broken_issuer
from simulator.rehearsal.runner import GIVE_UP_AFTER_TIMEOUTS, Target, run_plan


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    svc = Services(tmp_path_factory.mktemp("live") / "var", free_port(), free_port(), threads=4)
    svc.start(quiet=True)
    yield svc
    svc.stop()


@pytest.fixture
def serve_broken():
    stops = []

    def start(defects, **kw):
        url, stop = broken_issuer.serve_in_thread(defects, **kw)
        stops.append(stop)
        return url

    yield start
    for stop in stops:
        stop()


def test_reference_issuer_passes_over_real_sockets_with_junit_and_diagram(services, tmp_path):
    junit, diagram = tmp_path / "rehearsal.xml", tmp_path / "rehearsal.mmd"
    result = CliRunner().invoke(main, ["rehearse", "--issuer-url", services.issuer_url, "--junit", str(junit),
                                       "--diagram", str(diagram)])
    assert result.exit_code == 0, result.output
    assert "PASSED: 21 of 21 cases passed, 0 failed" in result.output
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("21", "0", "0")
    text = diagram.read_text()
    assert text.startswith("sequenceDiagram") and "D1->>Issuer_backend: OTP-01 valid delivery" in text
    assert "sandbox-d1-outbound-secret" not in result.output + text + junit.read_text()
    # the reference backend's DeliverOTP went through its own gateway to the handset, for real
    inbox = requests.get(f"{services.sim_url}/sandbox/messages", params={"to": "+16175550102"}, timeout=5).json()
    assert any(m["sent_by"] == "issuer" for m in inbox)


def test_rehearsal_inside_the_running_simulator_keeps_its_messages(services):
    result = CliRunner().invoke(main, ["rehearse", "--issuer-url", services.issuer_url, "--sim-url",
                                       services.sim_url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] and report["summary"]["passed"] == 21
    stored = requests.get(f"{services.sim_url}/sandbox/rehearsals/{report['id']}", timeout=5).json()
    assert stored["id"] == report["id"]
    journal = requests.get(f"{services.sim_url}/sandbox/journal", params={"transaction": report["transaction"]},
                           timeout=5).json()
    assert len(journal) > 40 and {e["from"] for e in journal} == {"D1", "Issuer backend"}


def test_broken_backend_over_real_sockets_fails_exactly_its_defects(serve_broken, tmp_path):
    url = serve_broken(["no_auth_check", "otp_500"])
    junit = tmp_path / "broken.xml"
    result = CliRunner().invoke(main, ["rehearse", "--issuer-url", url, "--junit", str(junit)])
    assert result.exit_code == 1, result.output
    failed = {tc.get("name").split()[0] for tc in ET.parse(junit).getroot().iter("testcase")
              if tc.find("failure") is not None}
    assert failed == {"AUTH-03", "AUTH-04", "OTP-01"}
    assert "FAIL  OTP-01" in result.output and "expected HTTP 200 or 202, got 500" in result.output


def test_answers_slower_than_the_timeout_fail_the_calls_and_the_latency_case(serve_broken):
    url = serve_broken(["slow_consumer"], slow_seconds=2.5)
    result = CliRunner().invoke(main, ["rehearse", "--issuer-url", url, "--timeout", "1", "--budget-ms", "1000",
                                       "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    failed = {c["id"] for c in report["cases"] if c["status"] == "failed"}
    assert failed == {"CONS-01", "CONS-02", "PERF-01"}
    perf = next(c for c in report["cases"] if c["id"] == "PERF-01")
    assert any("no answer before the timeout" in p for p in perf["problems"])


def test_unreachable_backend_fails_every_case_with_the_reason(tmp_path):
    result = CliRunner().invoke(main, ["rehearse", "--issuer-url", f"http://127.0.0.1:{free_port()}", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["summary"]["failed"] == 21
    assert "ConnectionError" in report["cases"][0]["exchanges"][0]["error"]


def test_unreachable_simulator_is_exit_2():
    port = free_port()
    result = CliRunner().invoke(main, ["rehearse", "--issuer-url", "http://127.0.0.1:1", "--sim-url",
                                       f"http://127.0.0.1:{port}"])
    assert result.exit_code == 2 and "could not run" in result.output


class Hanging(BaseAdapter):
    """A peer that never answers: every request times out, instantly."""

    def __init__(self):
        super().__init__()
        self.sent = 0

    def send(self, request, **kw):
        self.sent += 1
        raise requests.ReadTimeout("hung")

    def close(self):
        pass


def test_a_hanging_backend_is_given_up_on_instead_of_costing_minutes(tmp_path):
    session, hanging = requests.Session(), Hanging()
    session.mount("http://hung.test/", hanging)
    db = Database(tmp_path / "j.db")
    Journal.create_schema(db)
    report = run_plan(Target("http://hung.test"), session=session, clock=Clock(), journal=Journal(db, Clock()))
    assert hanging.sent == GIVE_UP_AFTER_TIMEOUTS
    assert report["summary"]["failed"] == 21
    later = report["cases"][5]["exchanges"][0]
    assert later["error"].startswith("not sent: the backend stopped answering")

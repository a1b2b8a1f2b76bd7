"""`d1sandbox scenario list|run` against real running services (Services on free ports, as `make run`):
the step-by-step trace, the transaction's messages across both services, --diagram, --junit, --all,
--json and the exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from d1sandbox.cli import main
from d1sandbox.services import Services, free_port
from scenarios import registry
from scenarios.client import ScenarioFailed


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    svc = Services(tmp_path_factory.mktemp("scenarios") / "var", free_port(), free_port(), threads=4)
    svc.start(quiet=True)
    yield svc
    svc.stop()


def cli(services, *args):
    return CliRunner().invoke(main, ["scenario", "run", *args, "--sim-url", services.sim_url,
                                     "--issuer-url", services.issuer_url])


@pytest.fixture
def failing_scenario():
    @registry.scenario("test-always-fails", "A scenario that checks something the sandbox does not do")
    def always_fails(sb):
        sb.sim("Operator", "GET", "/health", expect=200)
        raise ScenarioFailed("the sandbox did not turn lead into gold")
    yield "test-always-fails"
    registry._SCENARIOS.pop("test-always-fails", None)


def test_list_shows_every_scenario_as_text_and_json():
    text = CliRunner().invoke(main, ["scenario", "list"])
    listed = json.loads(CliRunner().invoke(main, ["scenario", "list", "--json"]).output)
    names = {item["name"] for item in listed}
    assert {"smoke", "rehearsal"} <= names
    assert all(name in text.output for name in names)


def test_run_prints_each_step_then_the_messages_inside_the_platform(services, tmp_path):
    diagram = tmp_path / "rehearsal.mmd"
    result = cli(services, "rehearsal", "--diagram", str(diagram))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "   1. Operator → D1 simulator  POST /sandbox/rehearsals → 201" in out
    assert "messages of transaction rehearsal-rh-" in out
    assert "D1 -> Issuer backend: OTP-01 valid delivery" in out
    assert "Issuer SMS gateway -> Phone network: sms" in out  # the issuer backend's own journal, merged
    assert "PASSED rehearsal" in out and f"diagram: {diagram}" in out
    text = diagram.read_text()
    assert text.startswith("sequenceDiagram") and "participant Phone_network as Phone network" in text
    assert "sandbox-d1-outbound-secret" not in out + text


def test_verbose_shows_the_redacted_bodies(services):
    result = cli(services, "smoke", "--verbose")
    assert result.exit_code == 0
    assert "        response: " in result.output and '"status": "ok"' in result.output


def test_a_failing_scenario_exits_1_with_the_reason_and_junit_failure(services, tmp_path, failing_scenario):
    junit = tmp_path / "out.xml"
    result = cli(services, failing_scenario, "--junit", str(junit))
    assert result.exit_code == 1
    assert "FAILED test-always-fails" in result.output and "lead into gold" in result.output
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case.get("name") == "test-always-fails"
    assert "lead into gold" in case.find("failure").get("message")
    assert "GET /health → 200" in case.find("failure").text


def test_several_scenarios_in_one_run_with_json_junit_and_a_diagram_directory(services, tmp_path, failing_scenario):
    junit, diagrams = tmp_path / "all.xml", tmp_path / "diagrams"
    result = cli(services, "smoke", "rehearsal", failing_scenario, "--json", "--junit", str(junit),
                 "--diagram", str(diagrams))
    assert result.exit_code == 1  # one of them failed
    doc = json.loads(result.output)
    assert doc["passed"] is False
    assert [(s["name"], s["passed"]) for s in doc["scenarios"]] == [
        ("smoke", True), ("rehearsal", True), ("test-always-fails", False)]
    rehearsal = doc["scenarios"][1]
    assert rehearsal["messages"] and (diagrams / "rehearsal.mmd").exists()
    assert doc["scenarios"][0]["diagram_error"].startswith("the scenario names no transaction")
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures")) == ("3", "1")


def test_all_runs_every_registered_scenario_and_the_exit_code_matches(services, tmp_path):
    junit = tmp_path / "all.xml"
    result = cli(services, "--all", "--json", "--junit", str(junit))
    doc = json.loads(result.output)
    assert [s["name"] for s in doc["scenarios"]] == list(registry.all_scenarios())
    failed = [s["name"] for s in doc["scenarios"] if not s["passed"]]
    assert result.exit_code == (1 if failed else 0)
    assert ET.parse(junit).getroot().get("failures") == str(len(failed))


def test_usage_errors_exit_2():
    assert CliRunner().invoke(main, ["scenario", "run"]).exit_code == 2
    assert CliRunner().invoke(main, ["scenario", "run", "no-such-scenario"]).exit_code == 2

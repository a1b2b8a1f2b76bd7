"""`d1sandbox bench`: the judging of targets, the JSON document, the CLI's exit codes, the pieces it
measures with — and one real run with tiny settings that must produce every figure. No assertion
here is about speed: the bench measures, CI decides with `--check`."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from d1sandbox import bench as b
from d1sandbox.cli import main
from d1sandbox.loadgen import HttpClient, closed_loop, percentile, pid_listening_on, rss_mb, summary


def synthetic(**values) -> dict:
    """A results document with every figure, values given by key (others None)."""
    report = b.Report({"seconds": 1}, {"cpus": 2})
    for key, value in values.items():
        report.set(key, value)
    return report.finish()


ALL_MET = {"areq_health_ratio": 0.6, "challenge_p50_ms": 20, "challenge_p99_ms": 60, "journal_query_growth": 1.1,
           "simulator_rss_mb": 90, "issuer_rss_mb": 50, "startup_cold_s": 1.5, "startup_warm_s": 1.2}


# -- targets ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("op, limit, value, met", [
    (">=", 0.5, 0.5, True), (">=", 0.5, 0.49, False),
    ("<=", 40, 40, True), ("<=", 40, 40.01, False),
    ("<", 150, 149.9, True), ("<", 150, 150, False),
])
def test_target_comparisons(op, limit, value, met):
    assert b.Target(op, limit).met(value) is met


def test_every_target_of_the_issue_is_declared():
    targets = {key: (spec.target.op, spec.target.value) for key, spec in b.SPECS.items() if spec.target}
    assert targets == {"areq_health_ratio": (">=", 0.5), "challenge_p50_ms": ("<=", 40),
                       "challenge_p99_ms": ("<=", 150), "journal_query_growth": ("<=", 2.0),
                       "simulator_rss_mb": ("<", 150), "issuer_rss_mb": ("<", 150),
                       "startup_cold_s": ("<=", 5), "startup_warm_s": ("<=", 5)}


def test_all_targets_met_passes():
    doc = synthetic(**ALL_MET, health_rps=1000, token_p50_ms=1.0)
    assert doc["passed"] is True and doc["missed"] == []
    assert doc["figures"]["areq_health_ratio"]["ok"] is True
    assert doc["figures"]["health_rps"]["ok"] is None  # no target: reported, not judged


def test_a_missed_target_is_named():
    doc = synthetic(**{**ALL_MET, "challenge_p99_ms": 151})
    assert doc["passed"] is False and doc["missed"] == ["challenge_p99_ms"]
    assert doc["figures"]["challenge_p99_ms"]["ok"] is False


def test_a_figure_that_could_not_be_measured_misses_its_target_unless_skipped():
    failed = synthetic(**{k: v for k, v in ALL_MET.items() if k != "simulator_rss_mb"})
    assert failed["missed"] == ["simulator_rss_mb"]
    report = b.Report({}, {"cpus": 2})
    for key, value in ALL_MET.items():
        if not key.startswith("startup"):
            report.set(key, value)
    report.skip(("startup_cold_s", "startup_warm_s"), "running services")
    skipped = report.finish()
    assert skipped["passed"] is True and skipped["figures"]["startup_cold_s"]["ok"] is None


def test_exit_code_is_non_zero_only_with_check_and_a_miss():
    missed = synthetic(**{**ALL_MET, "areq_health_ratio": 0.2})
    met = synthetic(**ALL_MET)
    assert b.exit_code(missed, check=False) == 0
    assert b.exit_code(missed, check=True) == 1
    assert b.exit_code(met, check=True) == 0


def test_evaluate_rejudges_edited_values():
    doc = synthetic(**ALL_MET)
    doc["figures"]["issuer_rss_mb"]["value"] = 400.0
    assert b.evaluate(doc)["missed"] == ["issuer_rss_mb"]


def test_table_lists_every_figure_with_its_verdict():
    doc = synthetic(**{**ALL_MET, "areq_health_ratio": 0.2})
    doc["duration_s"] = 12.0
    text = b.table(doc)
    for fig in doc["figures"].values():
        assert fig["name"][:62] in text
    ratio_line = next(line for line in text.splitlines() if line.startswith("AReq→ARes ÷ GET /health"))
    assert ratio_line.rstrip().endswith("NO") and ">= 0.5" in ratio_line
    assert "missed: areq_health_ratio" in text


# -- the CLI -----------------------------------------------------------------------------------------
@pytest.fixture
def fake_run(monkeypatch):
    def install(doc):
        seen = {}

        def run_bench(**kwargs):
            seen.update(kwargs)
            return doc
        monkeypatch.setattr(b, "run_bench", run_bench)
        return seen
    return install


def test_cli_check_exit_codes(fake_run, tmp_path):
    missed = synthetic(**{**ALL_MET, "challenge_p50_ms": 90})
    missed["duration_s"] = 1.0
    fake_run(missed)
    assert CliRunner().invoke(main, ["bench"]).exit_code == 0
    result = CliRunner().invoke(main, ["bench", "--check"])
    assert result.exit_code == 1 and "missed: challenge_p50_ms" in result.output
    met = synthetic(**ALL_MET)
    met["duration_s"] = 1.0
    fake_run(met)
    assert CliRunner().invoke(main, ["bench", "--check"]).exit_code == 0


def test_cli_json_and_output_file(fake_run, tmp_path):
    doc = synthetic(**ALL_MET)
    doc["duration_s"] = 1.0
    seen = fake_run(doc)
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "--json", "--seconds", "0.5", "--concurrency", "2",
                                       "--transactions", "50", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schema"] == b.SCHEMA
    assert json.loads(out.read_text()) == json.loads(result.stdout)
    assert seen["seconds"] == 0.5 and seen["concurrency"] == 2 and seen["transactions"] == 50
    assert seen["sim_url"] is None  # starts its own services


def test_cli_passes_running_service_urls(fake_run):
    doc = synthetic(**ALL_MET)
    doc["duration_s"] = 1.0
    seen = fake_run(doc)
    CliRunner().invoke(main, ["bench", "--sim-url", "http://127.0.0.1:1", "--issuer-url", "http://127.0.0.1:2"])
    assert seen["sim_url"] == "http://127.0.0.1:1" and seen["issuer_url"] == "http://127.0.0.1:2"


# -- measuring tools ---------------------------------------------------------------------------------
@pytest.fixture
def double_url():
    """The 3DS Server double on a real socket (as the bench serves it), stopped afterwards."""
    from scenarios.threeds_server import create_app

    bench = b.Bench(seconds=0.1, concurrency=1, transactions=0, sim_url="", issuer_url="", data_dir=None, pids={},
                    progress=b.Progress(None, 1), report=b.Report({}, {}))
    from scenarios.threeds_server import serve_in_thread

    bench.double_url, bench._double_server = serve_in_thread(create_app())
    yield bench.double_url
    bench.close()


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([], 50) is None
    stats = summary([3.0, 1.0, 2.0])
    assert stats["count"] == 3 and stats["p50_ms"] == 2.0 and stats["max_ms"] == 3.0 and stats["mean_ms"] == 2.0


def test_rss_and_cpu_of_a_process_come_from_proc():
    usage = rss_mb(os.getpid())
    assert usage["rss_mb"] > 1 and usage["peak_rss_mb"] >= usage["rss_mb"]
    assert b.cpu_seconds(os.getpid()) > 0
    assert rss_mb(2 ** 22 + 12345) is None  # no such process


def test_the_listening_process_is_found_by_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert pid_listening_on(sock.getsockname()[1]) == os.getpid()


def test_rreq_watch_notes_when_each_rreq_arrived():
    from scenarios.threeds_server import create_app

    watch = b.RReqWatch(create_app())
    client = Client(watch)
    rreq = {"messageType": "RReq", "messageVersion": "2.2.0", "threeDSServerTransID": "tx-1",
            "dsTransID": "d", "acsTransID": "a", "transStatus": "Y"}
    waiter = []
    thread = threading.Thread(target=lambda: waiter.append(watch.wait("tx-1", 5)))
    thread.start()
    assert client.post("/rreq", json=rreq).json["resultsStatus"] == "01"
    thread.join(5)
    assert waiter and waiter[0] is not None
    assert watch.wait("never-sent", 0.01) is None


def test_closed_loop_counts_right_and_wrong_answers(double_url):
    from d1sandbox.bench import free_port

    url = double_url  # any small HTTP app will do: the 3DS Server double
    if True:
        answers = iter([True, False] * 50)
        result = closed_loop(url, lambda client, i: client.request("GET", "/health")[0] == 200 and next(answers),
                             total=20, concurrency=2)
        assert result.ok + result.errors == 20 and result.errors == 10
        assert len(result.latencies_ms) == 20
        refused = closed_loop(f"http://127.0.0.1:{free_port()}",
                              lambda client, i: client.request("GET", "/")[0] == 200, total=3, concurrency=1)
        assert refused.errors == 3 and "ConnectionRefusedError" in refused.first_error


def test_http_client_reuses_its_connection(double_url):
    client = HttpClient(double_url)
    assert client.request("GET", "/health")[0] == 200
    conn = client._conn
    assert client.request("GET", "/health")[0] == 200 and client._conn is conn
    client.close()


# -- one real run ------------------------------------------------------------------------------------
def test_a_tiny_real_run_produces_every_figure(tmp_path):
    """Starts real services (waitress processes) and runs every phase with tiny settings."""
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "--json", "--seconds", "0.2", "--concurrency", "2",
                                       "--transactions", "60", "--output", str(out), "--check"])
    doc = json.loads(out.read_text())
    assert json.loads(result.stdout) == doc
    assert doc["schema"] == b.SCHEMA and doc["settings"]["transactions"] == 60
    assert list(doc["figures"]) == [spec.key for spec in b.FIGURES]
    for key, fig in doc["figures"].items():
        assert set(fig) >= {"name", "value", "unit", "target", "ok", "detail"}, key
        assert fig.get("error") is None, (key, fig.get("error"))
        assert isinstance(fig["value"], (int, float)), key
    figures = doc["figures"]
    assert figures["challenge_p50_ms"]["detail"]["count"] >= 20
    assert figures["challenge_p50_ms"]["detail"]["channel"].startswith("app")
    assert figures["journal_query_full_ms"]["detail"]["transactions"] >= 60
    assert "journal_correlation" in " ".join(figures["journal_query_full_ms"]["detail"]["sql"]["plans"]["entries"])
    assert figures["areq_rps"]["detail"]["cpu_ms_per_request"]["simulator"] > 0
    # --check: the exit code says whether a target was missed, nothing else.
    assert result.exit_code == (1 if doc["missed"] else 0)

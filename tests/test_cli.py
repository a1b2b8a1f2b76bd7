"""The CLI, including `d1sandbox up` for real: two waitress servers, wired, stopped by Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time

import requests
from click.testing import CliRunner

from d1sandbox.cli import main
from d1sandbox.services import free_port


def test_help_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("up", "scenario", "bench"):
        assert command in result.output


def test_scenario_list_names_smoke():
    result = CliRunner().invoke(main, ["scenario", "list"])
    assert result.exit_code == 0 and "smoke" in result.output


def test_unknown_scenario_is_a_usage_error():
    result = CliRunner().invoke(main, ["scenario", "run", "no-such-thing"])
    assert result.exit_code == 2


def test_scenario_against_nothing_fails_cleanly():
    port = free_port()
    result = CliRunner().invoke(main, ["scenario", "run", "smoke", "--json", "--sim-url", f"http://127.0.0.1:{port}",
                                       "--issuer-url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert json.loads(result.output)["passed"] is False


def test_up_serves_both_services_and_stops_on_ctrl_c(tmp_path):
    sim_port, issuer_port = free_port(), free_port()
    env = {**os.environ, "D1SANDBOX_DATA_DIR": str(tmp_path / "var")}
    proc = subprocess.Popen([sys.executable, "-m", "d1sandbox.cli", "up", "--sim-port", str(sim_port),
                             "--issuer-port", str(issuer_port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                sim = requests.get(f"http://127.0.0.1:{sim_port}/health", timeout=1)
                iss = requests.get(f"http://127.0.0.1:{issuer_port}/health", timeout=1)
                if sim.ok and iss.ok:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "services did not become healthy"
            time.sleep(0.1)
        assert sim.headers["Server"] == "d1sandbox"  # waitress, not the Werkzeug dev server
        cards = requests.get(f"http://127.0.0.1:{sim_port}/sandbox/test-cards", timeout=2).json()
        assert len(cards) >= 11
        assert (tmp_path / "var" / "simulator" / "simulator.db").exists()
        assert (tmp_path / "var" / "issuer" / "issuer.db").exists()
        result = CliRunner().invoke(main, ["scenario", "run", "smoke", "--sim-url", f"http://127.0.0.1:{sim_port}",
                                           "--issuer-url", f"http://127.0.0.1:{issuer_port}"])
        assert result.exit_code == 0, result.output
        assert "PASSED" in result.output
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert time.monotonic() - started < 6
        for port in (sim_port, issuer_port):
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
                raise AssertionError(f"port {port} still serving after Ctrl-C")
            except requests.ConnectionError:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ctrl_c_while_starting_leaves_no_server_behind(tmp_path):
    sim_port, issuer_port = free_port(), free_port()
    env = {**os.environ, "D1SANDBOX_DATA_DIR": str(tmp_path / "var")}
    proc = subprocess.Popen([sys.executable, "-m", "d1sandbox.cli", "up", "--sim-port", str(sim_port),
                             "--issuer-port", str(issuer_port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "var" / "simulator").exists():  # children have started creating their data
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        time.sleep(0.3)
        for port in (sim_port, issuer_port):
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
                raise AssertionError(f"port {port} still serving after Ctrl-C during start-up")
            except requests.ConnectionError:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()

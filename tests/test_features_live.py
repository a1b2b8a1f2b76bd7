"""The behave features also run against real running services (D1SANDBOX_SIM_URL/ISSUER_URL), not
only in-process: `make features-live` / `python -m scenarios.live_features`. Proven here for the smoke
feature and a whole flow feature, with the artifacts each scenario leaves (messages and diagram)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_and_a_flow_feature_pass_against_live_services(tmp_path):
    env = {**os.environ, "D1SANDBOX_ARTIFACTS": str(tmp_path)}
    env.pop("D1SANDBOX_SIM_URL", None)
    env.pop("D1SANDBOX_ISSUER_URL", None)
    proc = subprocess.run([sys.executable, "-m", "scenarios.live_features", "--no-capture", "--format", "plain",
                           "features/smoke.feature", "features/login_sms_otp.feature"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "features against live services: simulator http://127.0.0.1:" in proc.stdout
    assert "0 failed" in proc.stdout
    artifacts = tmp_path / "features"
    records = {p.stem: json.loads(p.read_text()) for p in artifacts.glob("*.json")}
    assert records and all(r["mode"] == "live" and r["status"] == "passed" for r in records.values())
    smoke = records["smoke--both-services-are-healthy-with-the-demo-issuer-seeded"]
    assert any(step["url"].startswith("http://127.0.0.1:") for step in smoke["steps"])  # real sockets
    flow = records["login-sms-otp--the-named-login-scenario-replays-the-whole-flow"]
    assert flow["transaction"] and len(flow["messages"]) >= 4
    diagram = Path(flow["diagram"]).read_text()
    assert diagram.startswith("sequenceDiagram") and "->>" in diagram

"""Named scenario: the certification rehearsal of the wired issuer backend, as a scenario."""

from __future__ import annotations

from .client import Sandbox, ScenarioFailed
from .registry import scenario


@scenario("rehearsal", "Certification rehearsal of the wired issuer backend: every case of docs/rehearsal.md "
                       "(OAuth2, consumer info, DeliverOTP, authentication, notifications, latency) must pass")
def rehearsal(sb: Sandbox) -> dict:
    report = sb.sim("Operator", "POST", "/sandbox/rehearsals", json_body={"issuerUrl": sb.issuer_url},
                    expect=201).json()
    failed = [case for case in report["cases"] if case["status"] == "failed"]
    if failed:
        raise ScenarioFailed("; ".join(f"{c['id']}: {c['problems'][0]}" for c in failed))
    return {"transaction": report["transaction"], "rehearsal": report["id"],
            "cases": f"{report['summary']['passed']} of {report['summary']['total']} passed"}

"""The rehearsal report as text (for a terminal), JSON (the report dict itself) and JUnit XML (for CI).

All three render the same dict `runner.run_plan` returns, so a report fetched from a running
simulator's API renders exactly like one produced locally."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

MARKS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)


def to_text(report: dict, *, verbose: bool = False, messages_hint: str | None = None) -> str:
    target = report["target"]
    lines = [f"Certification rehearsal of {target['issuerUrl']}",
             f"  issuer {target['issuerId']}, consumer {target['consumerId']}, card {target['cardId']}, "
             f"OAuth2 {'on (client ' + str(target['clientId']) + ')' if target['oauth2'] else 'off'}, "
             f"latency budget {target['latencyBudgetMs']:.0f} ms",
             ""]
    for case in report["cases"]:
        lines.append(f"  {MARKS[case['status']]}  {case['id']:<9} {case['title']}")
        if case["status"] == "failed" or (verbose and case["status"] != "skipped"):
            for problem in case["problems"]:
                lines.append(f"          ✗ {problem}")
            for ex in case["exchanges"]:
                if verbose or not ex.get("ok", False):
                    lines.extend("          " + line for line in exchange_lines(ex))
        elif case["status"] == "skipped":
            lines.extend(f"          ({problem})" for problem in case["problems"])
    s = report["summary"]
    verdict = "PASSED" if report["passed"] else "FAILED"
    lines += ["", f"{verdict}: {s['passed']} of {s['total']} cases passed, {s['failed']} failed"
                  f"{', ' + str(s['skipped']) + ' skipped' if s['skipped'] else ''} in {report['seconds']:.2f} s"]
    if messages_hint:
        lines.append(f"  every message: {messages_hint}")
    return "\n".join(lines) + "\n"


def exchange_lines(ex: dict) -> list[str]:
    outcome = ex["error"] or f"HTTP {ex['status']}"
    lines = [f"→ {ex['method']} {ex['path']}  [{ex['step']}; auth: {ex['auth']}]  → {outcome} "
             f"in {ex['elapsedMs']:.0f} ms"]
    if ex.get("request") is not None:
        lines.append(f"    request:  {_compact(ex['request'])}")
    if ex.get("response") is not None:
        kind = f" ({ex['contentType']})" if ex.get("contentType") else ""
        lines.append(f"    response{kind}: {_compact(ex['response'])}")
    return lines


def to_junit(report: dict) -> str:
    """JUnit XML: one testsuite per rehearsal, one testcase per case, evidence in the failure text."""
    s = report["summary"]
    suites = ET.Element("testsuites", name="d1sandbox rehearsal", tests=str(s["total"]), failures=str(s["failed"]),
                        skipped=str(s["skipped"]), errors="0", time=f"{report['seconds']:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=f"rehearsal {report['target']['issuerUrl']}",
                          tests=str(s["total"]), failures=str(s["failed"]), skipped=str(s["skipped"]), errors="0",
                          time=f"{report['seconds']:.3f}", timestamp=report["startedAt"])
    props = ET.SubElement(suite, "properties")
    for key, value in report["target"].items():
        ET.SubElement(props, "property", name=key, value=str(value))
    ET.SubElement(props, "property", name="transaction", value=report["transaction"])
    for case in report["cases"]:
        tc = ET.SubElement(suite, "testcase", classname=f"rehearsal.{case['group']}",
                           name=f"{case['id']} {case['title']}", time=f"{case['seconds']:.3f}")
        evidence = "\n".join(line for ex in case["exchanges"] for line in exchange_lines(ex))
        if case["status"] == "failed":
            failure = ET.SubElement(tc, "failure", message="; ".join(case["problems"])[:1000], type="RehearsalFailure")
            failure.text = "\n".join(case["problems"]) + "\n\n" + evidence
        elif case["status"] == "skipped":
            ET.SubElement(tc, "skipped", message="; ".join(case["problems"]))
        if evidence:
            ET.SubElement(tc, "system-out").text = f"why: {case['why']}\n{evidence}"
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def render(report: dict, fmt: str) -> tuple[str, str]:
    """(body, mimetype) for `json`, `text` or `junit`."""
    if fmt == "text":
        hint = f"GET /sandbox/journal/{report['transaction']}/diagram"
        return to_text(report, verbose=True, messages_hint=hint), "text/plain"
    if fmt == "junit":
        return to_junit(report), "application/xml"
    return to_json(report), "application/json"


def _compact(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"

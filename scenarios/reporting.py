"""How a scenario run is shown: the step-by-step trace, the transaction's messages inside the
platform (both services' journals, merged by the simulator), its Mermaid diagram, and JUnit XML.

Used by `d1sandbox scenario run` and by behave's environment (artifacts per scenario)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, urlsplit

from .client import Sandbox, Step
from .registry import Outcome


def step_line(number: int, step: Step) -> str:
    """`   3. 3DS Server → D1 simulator  POST /ds/areq → 200 (4.1 ms)`"""
    parts = urlsplit(step.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{number:>4}. {step.actor} → {step.peer}  {step.method} {target} → {step.status} ({step.elapsed_ms:.1f} ms)"


def step_detail(step: Step) -> list[str]:
    """The (redacted) bodies of one step, for --verbose."""
    lines = []
    if step.request is not None:
        lines.append(f"        request:  {_compact(step.request)}")
    if step.response is not None:
        lines.append(f"        response: {_compact(step.response)}")
    return lines


def transaction_of(outcome: Outcome) -> str | None:
    value = outcome.facts.get("transaction") if outcome.facts else None
    return str(value) if value else None


def fetch_messages(sandbox: Sandbox, transaction: str) -> list[dict]:
    """Every message of the transaction across both services (D1's journal merged with the issuer
    backend's by the simulator). Read without tracing: it is not part of the scenario."""
    resp = sandbox.session.get(f"{sandbox.sim_url}/sandbox/journal",
                               params={"transaction": transaction, "issuer": "true"}, timeout=sandbox.timeout)
    resp.raise_for_status()
    return resp.json()


def fetch_diagram(sandbox: Sandbox, transaction: str) -> str:
    resp = sandbox.session.get(f"{sandbox.sim_url}/sandbox/journal/{quote(transaction, safe='')}/diagram",
                               timeout=sandbox.timeout)
    resp.raise_for_status()
    return resp.text


def message_line(number: int, entry: dict) -> str:
    arrow = "-->" if entry.get("kind") == "response" else "->"
    status = f" [{entry['status']}]" if entry.get("status") is not None else ""
    summary = _summary(entry.get("body"))
    return f"{number:>4}. {entry['from']} {arrow} {entry['to']}: {entry['label']}{status}{summary}"


def to_junit(outcomes: list[Outcome], *, suite: str = "d1sandbox scenarios") -> str:
    failures = sum(1 for o in outcomes if not o.passed)
    seconds = sum(o.seconds for o in outcomes)
    root = ET.Element("testsuites", name=suite, tests=str(len(outcomes)), failures=str(failures), errors="0",
                      time=f"{seconds:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(outcomes)), failures=str(failures), errors="0",
                       skipped="0", time=f"{seconds:.3f}")
    for outcome in outcomes:
        tc = ET.SubElement(ts, "testcase", classname="scenarios", name=outcome.name, time=f"{outcome.seconds:.3f}")
        trace = "\n".join(step_line(i, s) for i, s in enumerate(outcome.steps, 1))
        if not outcome.passed:
            failure = ET.SubElement(tc, "failure", message=(outcome.error or "failed")[:1000], type="ScenarioFailed")
            failure.text = f"{outcome.error}\n\n{trace}"
        facts = "\n".join(f"{k}: {v}" for k, v in (outcome.facts or {}).items())
        ET.SubElement(tc, "system-out").text = f"{trace}\n{facts}".strip()
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


_SUMMARY_KEYS = ("transStatus", "transStatusReason", "challengeCompletionInd", "resultsStatus", "errorCode",
                 "decision", "status", "error")


def _summary(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    parts = [f"{k}={body[k]}" for k in _SUMMARY_KEYS if isinstance(body.get(k), (str, int))]
    return f"  ({', '.join(parts)})" if parts else ""


def _compact(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"

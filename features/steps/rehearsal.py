"""Steps of the certification-rehearsal feature. Thin: the simulator runs the rehearsal
(`POST /sandbox/rehearsals`); scenarios/broken_issuer.py plays the team's backend."""

from behave import given, then, when

from d1sandbox.wsgi_transport import WSGITransport
from scenarios import broken_issuer

IN_PROCESS_BROKEN_URL = "http://broken-issuer.test"


def _rehearse(context, issuer_url):
    report = context.sandbox.sim("Operator", "POST", "/sandbox/rehearsals", json_body={"issuerUrl": issuer_url},
                                 expect=201).json()
    context.report = report
    context.facts.update({"transaction": report["transaction"], "rehearsal": report["id"]})


@when("the operator rehearses certification against the reference issuer backend")
def step_rehearse_reference(context):
    _rehearse(context, context.sandbox.issuer_url)


@given('an issuer backend that makes the mistake "{mistake}"')
def step_broken_backend(context, mistake):
    if context.world is not None:  # in-process: D1 reaches the double through a WSGI transport
        context.world.sim.http.mount(IN_PROCESS_BROKEN_URL + "/", WSGITransport(broken_issuer.create_app([mistake])))
        context.broken_url = IN_PROCESS_BROKEN_URL
    else:  # live: a real server D1 calls over the network
        context.broken_url, stop = broken_issuer.serve_in_thread([mistake])
        context.add_cleanup(stop)


@when("the operator rehearses certification against that backend")
def step_rehearse_broken(context):
    _rehearse(context, context.broken_url)


@then("every rehearsal case passes")
def step_all_pass(context):
    bad = [f"{c['id']}: {c['problems']}" for c in context.report["cases"] if c["status"] != "passed"]
    assert not bad and context.report["passed"], bad


@then('exactly the rehearsal cases "{failing}" fail')
def step_exactly_failing(context, failing):
    expected = {name.strip() for name in failing.split(",")}
    actual = {c["id"] for c in context.report["cases"] if c["status"] == "failed"}
    assert actual == expected, f"failed {sorted(actual)}, expected {sorted(expected)}"


@then("each failed rehearsal case shows the request and the answer as evidence")
def step_evidence(context):
    for case in context.report["cases"]:
        if case["status"] == "failed":
            flagged = [e for e in case["exchanges"] if not e["ok"]]
            assert case["problems"] and flagged, case
            assert all(e["method"] and e["path"] and (e["status"] or e["error"]) for e in flagged), flagged


@then("the rehearsal's messages include the issuer's own SMS gateway sending the OTP")
def step_gateway_in_messages(context):
    transaction = context.report["transaction"]
    entries = context.sandbox.sim("Operator", "GET", f"/sandbox/journal?transaction={transaction}&issuer=true",
                                  expect=200).json()
    assert any(e["from"] == "Issuer SMS gateway" and e["to"] == "Phone network" for e in entries), \
        sorted({(e["from"], e["to"]) for e in entries})

"""Steps of the EMV 3DS features. Thin: the work is in scenarios/threeds_server.py (the 3DS Server
driver) and scenarios/flows_threeds.py."""

from __future__ import annotations

import re

from behave import then, when

from scenarios.flows_threeds import deliver_outbox, issuer_notifications, journal_steps
from scenarios.threeds_server import ThreeDSServerDriver

CHANNELS = {"app": "01", "browser": "02", "3RI": "03"}


def _driver(context) -> ThreeDSServerDriver:
    if getattr(context, "threeds_server", None) is None:
        context.threeds_server = ThreeDSServerDriver(context.sandbox)
    return context.threeds_server


def _send(context, card, version, channel, **changes):
    server = _driver(context)
    channel = CHANNELS[channel]
    category = "02" if (channel == "03" and version == "2.1.0") else "01"
    context.areq = server.areq(card, version=version, channel=channel, category=category, **changes)
    context.answer = server.send(context.areq)
    context.facts["transaction"] = context.areq.get("threeDSServerTransID")
    if context.answer.get("acsTransID"):
        context.facts["acsTransID"] = context.answer["acsTransID"]


@when('the 3DS Server sends a {version} {channel} AReq for the "{behavior}" {scheme} test card')
def step_send_areq(context, version, channel, behavior, scheme):
    _send(context, _driver(context).test_card(behavior, scheme), version, channel)


@when('the 3DS Server sends a {version} {channel} AReq for the card number "{pan}"')
def step_send_areq_pan(context, version, channel, pan):
    _send(context, pan, version, channel)


@when('the 3DS Server sends a {version} {channel} AReq for the "{behavior}" {scheme} test card with {change}')
def step_send_bad_areq(context, version, channel, behavior, scheme, change):
    removed = re.fullmatch(r"no (\w+)", change)
    replaced = re.fullmatch(r'(\w+) "(.*)"', change)
    changes = {removed.group(1): None} if removed else {replaced.group(1): replaced.group(2)}
    card = _driver(context).test_card(behavior, scheme)
    _send(context, card, version, channel, **changes)


@then('the DS answers an ARes with transStatus "{status}", reason "{reason}" and ECI "{eci}"')
def step_ares(context, status, reason, eci):
    answer = context.answer
    assert answer.get("messageType") == "ARes", answer
    assert answer.get("transStatus") == status, answer
    assert answer.get("transStatusReason", "-") == reason, answer
    assert answer.get("eci", "-") == eci, answer
    if status in ("Y", "A") and context.areq.get("messageCategory") == "01":
        assert len(answer["authenticationValue"]) == 28, answer


@then('the DS answers an Erro {code} naming "{detail}"')
def step_erro(context, code, detail):
    answer = context.answer
    assert (answer.get("messageType"), answer.get("errorCode"), answer.get("errorDetail")) == ("Erro", code, detail), \
        answer
    assert answer.get("errorComponent") == "D" and answer.get("dsTransID")


@when("D1 delivers what its outbox owes")
def step_drain(context):
    deliver_outbox(context.sandbox)


@then('the issuer backend received a 3DS notification with transStatus "{status}" and challenge method "{method}"')
def step_notified(context, status, method):
    notes = issuer_notifications(context.sandbox, context.answer["acsTransID"])
    assert len(notes) == 1, notes
    body = notes[0]["body"]
    assert (body["transStatus"], body["challengeMethod"]) == (status, method), body


@then("the transaction's journal shows these messages in order")
@then("the transaction's journal shows these messages in order:")
def step_journal(context):
    steps = journal_steps(context.sandbox, context.facts["transaction"])
    wanted = [(row["from"], row["to"], row["message"]) for row in context.table]
    positions = []
    for item in wanted:
        assert item in steps, f"{item} not in {steps}"
        positions.append(steps.index(item))
    assert positions == sorted(positions), steps

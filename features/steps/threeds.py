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
    context.card = _driver(context).test_card(behavior, scheme)
    _send(context, context.card, version, channel)


@when('the 3DS Server sends a {version} browser AReq for the "{behavior}" {scheme} test card from a "{language}" '
      'browser')
def step_send_areq_language(context, version, behavior, scheme, language):
    context.card = _driver(context).test_card(behavior, scheme)
    _send(context, context.card, version, "browser", language=language)


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


# -- challenges ------------------------------------------------------------------------------------
@then('the DS answers a challenge ARes announcing authentication type "{auth_type}"')
def step_challenge_ares(context, auth_type):
    answer = context.answer
    assert (answer.get("messageType"), answer.get("transStatus")) == ("ARes", "C"), answer
    assert answer.get("authenticationType") == auth_type, answer
    assert answer.get("acsChallengeMandated") in ("Y", "N")


@when("the 3DS SDK starts the challenge")
def step_sdk_start(context):
    from scenarios.cardholder import AppSdkDriver

    context.sdk = AppSdkDriver(context.sandbox, context.areq, context.answer)
    context.before_sms = _newest_sms(context)
    context.cres = context.sdk.start()


@when('the cardholder\'s browser opens the challenge in window "{window}" with threeDSSessionData "{data}"')
def step_browser_open(context, window, data):
    from scenarios.cardholder import BrowserDriver

    context.browser = BrowserDriver(context.sandbox)
    context.before_sms = _newest_sms(context)
    context.page = context.browser.open(context.answer, window=window, session_data=data)


@then('the challenge shows the {screen} screen')
def step_screen(context, screen):
    if getattr(context, "browser", None) is not None:
        assert context.page.kind == {"OOB": "oob", "one-time code": "otp"}[screen], context.page.kind
    else:
        assert context.cres.get("acsUiType") == {"OOB": "04", "one-time code": "01"}[screen], context.cres


@then('the challenge tells the cardholder "{words}"')
def step_tells(context, words):
    if getattr(context, "browser", None) is not None:
        shown = " ".join([context.page.text("notice"), context.page.text("info")])
    else:
        shown = " ".join(str(context.cres.get(k) or "") for k in ("challengeAddInfo", "challengeInfoText"))
    assert words in shown, shown


@then('the challenge page is in "{lang}" and sized {width:d}x{height:d}')
def step_page_lang_size(context, lang, width, height):
    assert context.page.lang == lang, context.page.lang
    assert f"width: {width}px; height: {height}px;" in context.page.html


@when("the cardholder {decision} the payment in the banking app")
def step_bank_app(context, decision):
    from scenarios.cardholder import IssuerAppUser

    verb = {"approves": "approve", "declines": "decline"}[decision]
    IssuerAppUser(context.sandbox, context.card["consumerId"]).decide(context.answer["acsTransID"], verb)


@when("the 3DS SDK sends oobContinue")
def step_oob_continue(context):
    context.cres = context.sdk.oob_continue()


@when('the cardholder presses "{button}" on the challenge page')
def step_press(context, button):
    context.page = context.browser.press(button)


@when("the challenge page polls the ACS")
def step_poll(context):
    context.poll = context.browser.status()


@then("the poll says the challenge is over")
def step_poll_over(context):
    assert context.poll.get("final") is True, context.poll


@when("the cardholder types {which} one-time code from the SMS on the card's phone")
def step_type_code(context, which):
    from scenarios.cardholder import read_sms_code

    code, context.sms = read_sms_code(context.sandbox, context.card["phone"], after_id=context.before_sms)
    if which == "a wrong":
        code = "000000" if code != "000000" else "111111"
    if getattr(context, "browser", None) is not None:
        context.page = context.browser.submit_code(code)
    else:
        context.cres = context.sdk.submit(code)


@then('the SMS on the card\'s phone was sent by "{sender}"')
def step_sms_sender(context, sender):
    assert context.sms.get("sent_by") == sender, context.sms


@then('the challenge ends with a final CRes "{status}"')
def step_final(context, status):
    if getattr(context, "browser", None) is not None:
        assert context.page.kind == "final", context.page.kind
        context.final_cres = context.browser.follow_final()
    else:
        context.final_cres = context.cres
        assert context.cres.get("challengeCompletionInd") == "Y", context.cres
    assert context.final_cres.get("transStatus") == status, context.final_cres


@then('the merchant\'s notification URL received threeDSSessionData "{data}" unchanged')
def step_session_data(context, data):
    assert context.browser.posted.get("threeDSSessionData") == data, context.browser.posted


@then('the 3DS Server received an RReq with transStatus "{status}" and authenticationType "{auth_type}"')
def step_rreq(context, status, auth_type):
    deliver_outbox(context.sandbox)
    rreqs = _driver(context).rreqs(context.areq["threeDSServerTransID"])
    assert len(rreqs) == 1, rreqs
    assert (rreqs[0].get("transStatus"), rreqs[0].get("authenticationType")) == (status, auth_type), rreqs[0]


def _newest_sms(context):
    from scenarios.cardholder import newest_sms_id

    return newest_sms_id(context.sandbox, context.card["phone"])

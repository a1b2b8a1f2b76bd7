"""Steps for tokenization step-up (flow E). Thin: the work happens in scenarios/wallet.py."""

from behave import given, then, when

from d1sandbox import demo
from scenarios.wallet import Wallet, issuer_token_events, issuer_token_view, latest_message, otp_in

OPERATOR = "Operator"


def _wallet(context) -> Wallet:
    if not hasattr(context, "wallet"):
        context.wallet = Wallet(context.sandbox)
    return context.wallet


def _to(context, channel: str) -> str:
    return context.card["phone"] if channel == "sms" else context.card["email"]


# -- setup ---------------------------------------------------------------------------------------
@given("the demo issuer delivers step-up OTPs itself")
def step_issuer_mode(context):
    context.sandbox.sim(OPERATOR, "PUT", f"/sandbox/issuers/{demo.DEMO_ISSUER_ID}",
                        json_body={"otp_delivery": "ISSUER"}, expect=200)


@given('the demo issuer\'s "{record}" DNS record is withdrawn from its zone')
def step_withdraw_dns(context, record):
    context.sandbox.sim(OPERATOR, "DELETE", f"/sandbox/issuers/{demo.DEMO_ISSUER_ID}/dns?only={record}", expect=200)


@when("the demo issuer publishes the DNS records D1 generated")
def step_publish_dns(context):
    view = context.sandbox.sim(OPERATOR, "POST", f"/sandbox/issuers/{demo.DEMO_ISSUER_ID}/dns/publish",
                               json_body={}, expect=200).json()
    assert view["canSendEmail"], view


@given("the primary SMS provider fails with HTTP {status:d}")
def step_sms_primary_down(context, status):
    context.sandbox.sim(OPERATOR, "POST", "/sandbox/faults",
                        json_body={"target": "sms", "operation": "sms-primary", "status": status}, expect=201)


@when("the OTP lifetime of {minutes:d} minutes passes on the sandbox clock")
def step_otp_lifetime_passes(context, minutes):
    context.sandbox.sim(OPERATOR, "POST", "/sandbox/clock", json_body={"advance_seconds": minutes * 60 + 1},
                        expect=200)


# -- the wallet ----------------------------------------------------------------------------------
@when('the wallet tokenizes the "{behavior}" test card')
def step_tokenize(context, behavior):
    wallet = _wallet(context)
    context.card = wallet.test_card(behavior)
    context.answer = wallet.tokenize(context.card)
    context.token_ref = context.answer["tokenRefId"]
    context.facts["tokenRefId"] = context.token_ref


@then('the TSP decides "{decision}" offering only a masked {kind} step-up method')
def step_decision_with_method(context, decision, kind):
    assert context.answer["decision"] == decision, context.answer
    methods = context.answer["stepUpMethods"]
    assert [m["type"] for m in methods] == [kind], methods
    target = methods[0]["target"]
    assert "*" in target and target not in (context.card["phone"], context.card["email"]), target


@then('the TSP decides "{decision}" and the token is "{status}"')
def step_decision_status(context, decision, status):
    assert (context.answer["decision"], context.answer["status"]) == (decision, status), context.answer


@when("the wallet asks for the activation OTP by {channel}")
def step_request_otp(context, channel):
    kind = "SMS" if channel.lower() == "sms" else "EMAIL"
    method = next(m for m in context.answer["stepUpMethods"] if m["type"] == kind)
    resp = context.sandbox.sim("Wallet", "POST", f"/tsp/v1/tokens/{context.token_ref}/otp",
                               json_body={"methodId": method["id"]})
    context.otp_response = resp
    context.channel = "sms" if kind == "SMS" else "email"


@when("the wallet activates the token with the OTP the cardholder received")
def step_activate_with_received(context):
    message = latest_message(context.sandbox, _to(context, context.channel), context.channel)
    code = otp_in(message, context.card["pan"][-4:])
    context.activation = context.sandbox.sim("Wallet", "POST", f"/tsp/v1/tokens/{context.token_ref}/activate",
                                             json_body={"otp": code})


@when("the wallet activates the token with a wrong OTP {times:d} times")
def step_activate_wrong(context, times):
    message = latest_message(context.sandbox, _to(context, context.channel), context.channel)
    code = otp_in(message, context.card["pan"][-4:])
    wrong = code[:-1] + ("1" if code[-1] != "1" else "2")
    for _ in range(times):
        context.activation = context.sandbox.sim("Wallet", "POST", f"/tsp/v1/tokens/{context.token_ref}/activate",
                                                 json_body={"otp": wrong})


@then('the last activation is refused with {status:d} "{error}"')
def step_activation_refused(context, status, error):
    resp = context.activation
    assert resp.status_code == status and resp.json()["error"] == error, (resp.status_code, resp.text)


@then('the OTP request is refused with {status:d} "{error}" naming the "{record}" record')
def step_otp_refused(context, status, error, record):
    resp = context.otp_response
    body = resp.json()
    assert resp.status_code == status and body["error"] == error, (resp.status_code, body)
    assert record in body["missing"] and record in body["message"], body


# -- the cardholder --------------------------------------------------------------------------------
@then('the cardholder receives an SMS sent by "{sent_by}" from "{sender}" naming the card\'s last four digits')
def step_sms_received(context, sent_by, sender):
    assert context.otp_response.status_code == 200, context.otp_response.text
    message = latest_message(context.sandbox, context.card["phone"], "sms")
    assert (message["sent_by"], message["from"]) == (sent_by, sender), message
    assert context.card["pan"][-4:] in message["body"], message["body"]


@then('the cardholder receives an email from "{sender}" with the subject "{subject}"')
def step_email_received(context, sender, subject):
    assert context.otp_response.status_code == 200, context.otp_response.text
    context.message = latest_message(context.sandbox, context.card["email"], "email")
    assert (context.message["from"], context.message["subject"]) == (sender, subject), context.message


@then("the email is in Japanese and names the card's last four digits")
def step_email_japanese(context):
    body = context.message["body"]
    assert "確認コード" in body and f"末尾{context.card['pan'][-4:]}" in body, body


@then("the cardholder receives an email sent by the issuer")
def step_email_by_issuer(context):
    assert context.otp_response.status_code == 200, context.otp_response.text
    message = latest_message(context.sandbox, context.card["email"], "email")
    assert message["sent_by"] == "issuer", message


@then("the cardholder's mailbox shows the email as blocked")
def step_email_blocked(context):
    messages = context.sandbox.sim("Cardholder", "GET", f"/sandbox/messages?to={context.card['email']}",
                                   expect=200).json()
    assert messages and messages[0]["status"] == "blocked" and messages[0]["reason"], messages


@then('the cardholder\'s SMS was delivered by "{provider}"')
def step_sms_provider(context, provider):
    assert context.otp_response.status_code == 200, context.otp_response.text
    message = latest_message(context.sandbox, context.card["phone"], "sms")
    sent = [h for h in message["status_history"] if h["status"] == "sent"]
    assert sent and sent[-1]["provider"] == provider, message["status_history"]


# -- the token, seen by both sides -----------------------------------------------------------------
@then('the token is "{status}" for the wallet and for the issuer')
def step_token_status(context, status):
    wallet_view = _wallet(context).token(context.token_ref)
    assert wallet_view["status"] == status, wallet_view
    issuer = next(i for i in context.sandbox.sim(OPERATOR, "GET", "/sandbox/issuers", expect=200).json()
                  if i["issuerId"] == demo.DEMO_ISSUER_ID)
    view = issuer_token_view(context.sandbox, issuer["issuerId"], issuer["client_id"], issuer["client_secret"],
                             context.token_ref)
    assert view["status"] == status, view


@then('the issuer backend was told "{events}" about the token')
def step_issuer_told(context, events):
    wanted = [e.strip() for e in events.split(",")]
    got = issuer_token_events(context.sandbox, context.card["consumerId"], context.token_ref, want=set(wanted))
    assert got == wanted, got

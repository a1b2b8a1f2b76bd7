"""Steps of the one-time login feature. Thin: the work is in scenarios/login_app.py."""

from behave import given, then, when

from d1sandbox import demo
from scenarios.login_app import LoginAppDriver, latest_sms, read_otp


@given('a login app "{client_id}" with public sign-ups and the redirect URI "{redirect_uri}"')
def step_login_app(context, client_id, redirect_uri):
    context.login_app = LoginAppDriver.register(context.sandbox, client_id, redirect_uri=redirect_uri)


@given('a login app "{client_id}" that locks a phone out for {minutes:d} minutes after {attempts:d} wrong codes')
def step_strict_login_app(context, client_id, minutes, attempts):
    context.login_app = LoginAppDriver.register(context.sandbox, client_id, otp={
        "length": 6, "expiration_minutes": 5, "lockout_attempts": attempts, "lockout_minutes": minutes})


@when('the login app sends an SMS login code to "{phone}" creating a new user')
def step_send_new_user(context, phone):
    context.facts["login_id"] = context.login_app.send_otp(phone, create_new_user=True).json()["login_id"]


@when("the login app sends an SMS login code to the demo login user")
def step_send_demo_user(context):
    context.login_app.send_otp(demo.DEMO_LOGIN_USER_PHONE)


@when('the login app sends an SMS login code to the demo login user with the message "{message}" from "{sender}"')
def step_send_custom(context, message, sender):
    context.login_app.send_otp(demo.DEMO_LOGIN_USER_PHONE, custom_message=message, sender_id=sender)


@when('the login app sends an SMS login code to the demo login user for the redirect URI "{redirect_uri}"')
def step_send_other_redirect(context, redirect_uri):
    context.response = context.login_app.send_otp(demo.DEMO_LOGIN_USER_PHONE, redirect_uri=redirect_uri,
                                                   expect=None)


@when('the user reads the login code in the SMS received on "{phone}"')
def step_read_code(context, phone):
    context.passcode = read_otp(context.sandbox, phone)


@when('the login app validates that login code for "{phone}"')
def step_validate(context, phone):
    context.result_uri = context.login_app.validate(phone, context.passcode).json()["result"]


@when("the login app validates a wrong login code for the demo login user {times:d} times")
def step_validate_wrong(context, times):
    code = read_otp(context.sandbox, demo.DEMO_LOGIN_USER_PHONE)
    wrong = "".join("1" if ch != "1" else "2" for ch in code)
    for _ in range(times):
        context.response = context.login_app.validate(demo.DEMO_LOGIN_USER_PHONE, wrong, expect=(400, 429))


@when("the login app follows the validation result URI")
def step_follow(context):
    context.code = context.login_app.follow(context.result_uri)


@then('the browser is sent to "{redirect_uri}" with an authorization code')
def step_redirected(context, redirect_uri):
    location = context.login_app.last_redirect
    assert location.startswith(redirect_uri + "?code="), location.split("?")[0]
    assert location.endswith(context.code)


@when("the login app exchanges the authorization code at the token endpoint")
def step_exchange(context):
    context.tokens = context.login_app.exchange(context.code).json()


@then("the ID token verifies against the provider's JWKS and names the phone \"{phone}\"")
def step_id_token(context, phone):
    claims = context.login_app.verify_id_token(context.tokens["id_token"])
    assert claims["phone_number"] == phone and claims["phone_number_verified"] is True, claims
    assert claims["aud"] == context.login_app.client_id, claims
    context.facts["sub"] = claims["sub"]


@then('exchanging the same authorization code again is refused with "{error}"')
def step_replay(context, error):
    assert context.login_app.exchange(context.code, expect=400).json()["error"] == error


@then('the SMS on the demo login user\'s phone comes from "{sender}" and reads "{text}"')
def step_sms_text(context, sender, text):
    sms = latest_sms(context.sandbox, demo.DEMO_LOGIN_USER_PHONE)
    code = read_otp(context.sandbox, demo.DEMO_LOGIN_USER_PHONE)
    assert sms["from"] == sender, sms["from"]
    assert sms["body"] == text.replace("<otp>", code), sms["body"]


@then('the last validation answers {status:d} "{error}"')
def step_last_validation(context, status, error):
    assert context.response.status_code == status, context.response.text
    assert context.response.json()["error"] == error


@then('a new SMS login code for the demo login user is refused with {status:d} "{error}"')
def step_send_refused(context, status, error):
    assert context.login_app.send_otp(demo.DEMO_LOGIN_USER_PHONE, expect=status).json()["error"] == error


@when("the {minutes:d} minute login lockout passes on the sandbox clock")
def step_lockout_passes(context, minutes):
    context.sandbox.sim("Operator", "POST", "/sandbox/clock", json_body={"advance_seconds": minutes * 60},
                        expect=200)


@then("the demo login user logs in to the login app")
def step_logs_in(context):
    out = context.login_app.login(demo.DEMO_LOGIN_USER_PHONE)
    assert out["claims"]["sub"] == "usr-demo-0001", out["claims"]


@then('the send request is refused with {status:d} "{error}"')
def step_send_refused_status(context, status, error):
    assert context.response.status_code == status, context.response.text
    assert context.response.json()["error"] == error

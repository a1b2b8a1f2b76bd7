from hypothesis import given
from hypothesis import strategies as st

from d1sandbox.demo import with_check_digit
from d1sandbox.redact import luhn_ok, mask_pan, redact, redact_headers, redact_text


def test_mask_pan_keeps_last_four():
    assert mask_pan("4000000000001000") == "****1000"
    assert mask_pan("12") == "***"


def test_redact_masks_secrets_and_pans_deeply():
    body = {"acctNumber": "4000000003000009", "nested": [{"otp": "123456", "client_secret": "s3cr3t"}],
            "challengeDataEntry": "654321", "note": "card 4000000003000009 used", "amount": 100}
    out = redact(body)
    assert out["acctNumber"] == "****0009"
    assert out["nested"][0] == {"otp": "***", "client_secret": "***"}
    assert out["challengeDataEntry"] == "***"
    assert "4000000003000009" not in str(out)
    assert out["amount"] == 100
    assert body["otp" if "otp" in body else "challengeDataEntry"] == "654321"  # input untouched


def test_redact_text_masks_given_secrets():
    assert redact_text("your code is 987654", ["987654"]) == "your code is ***"


def test_non_luhn_digit_runs_are_kept():
    assert redact_text("order 1234567890123") == "order 1234567890123"


def test_authorization_headers_are_masked():
    assert redact_headers({"Authorization": "Bearer abc.def", "Accept": "x"}) == {
        "Authorization": "Bearer ***", "Accept": "x"}


@given(st.text(alphabet="0123456789", min_size=12, max_size=18))
def test_any_luhn_valid_pan_in_text_is_masked(prefix):
    pan = with_check_digit(prefix)
    assert luhn_ok(pan)
    assert pan not in redact_text(f"pan={pan};")
    assert pan not in str(redact({"free": [pan]}))


def test_contact_details_are_masked_but_recognisable():
    out = redact({"phoneNumber": "+16175550103", "email": "carol@mail.example", "name": "Carol"})
    assert out == {"phoneNumber": "+161******03", "email": "c***@mail.example", "name": "Carol"}

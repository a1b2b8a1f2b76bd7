"""Pure domain rules of the one-time login, without HTTP."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.login.apps import LoginApp
from simulator.login.errors import InvalidRequest
from simulator.login.keys import SigningKeys
from simulator.login.service import add_query, check_custom_message
from simulator.login.users import normalize_phone


def make_app(**kw) -> LoginApp:
    base = dict(client_id="c", client_secret="s" * 16, name="Acme", redirect_uris=("https://a.example/cb",),
                public_signups=False, otp={"length": 8, "expiration_minutes": 3, "lockout_attempts": 4,
                                           "lockout_minutes": 20})
    base.update(kw)
    return LoginApp(**base)


@pytest.mark.parametrize("raw, e164", [("+16175550120", "+16175550120"), (" +1 617-555-0120 ", "+16175550120"),
                                       ("+33 6 12 34 56 78", "+33612345678")])
def test_normalize_phone(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "6175550120", "+1", "+1617555012099", "hello"])
def test_normalize_phone_refuses(raw):
    with pytest.raises(InvalidRequest) as exc:
        normalize_phone(raw)
    assert exc.value.fields == {"phone_number": ["not a valid E.164 phone number"]}


def test_custom_message_rules():
    assert check_custom_message("{otp} for {app}") == "{otp} for {app}"
    for bad in ("{otp} only", "{app} only", "{app} {otp} {x}", "{app} {otp!r}", "{app} {} {otp}"):
        with pytest.raises(InvalidRequest):
            check_custom_message(bad)


def test_redirect_uri_allowlist_is_exact():
    app = make_app()
    assert app.check_redirect_uri("https://a.example/cb") == "https://a.example/cb"
    for near in ("https://a.example/cb/", "https://a.example/cb?x=1", "https://a.example/c", "http://a.example/cb"):
        with pytest.raises(InvalidRequest):
            app.check_redirect_uri(near)


def test_app_otp_policy_comes_from_the_app():
    policy = make_app().otp_policy
    assert (policy.length, policy.ttl_seconds, policy.lockout_attempts, policy.lockout_minutes) == (8, 180, 4, 20)
    assert policy.alphabet == "numeric"


def test_add_query_keeps_existing_parameters():
    assert add_query("https://a.example/cb?t=1", code="x y") == "https://a.example/cb?t=1&code=x+y"
    assert add_query("https://a.example/cb", code="abc") == "https://a.example/cb?code=abc"


def test_signing_key_from_configured_pem_is_not_written_to_disk(tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    keys = SigningKeys(tmp_path / "unused.pem", pem=pem)
    token = keys.sign({"sub": "x"})
    assert keys.verify(token).header["kid"] == keys.kid
    assert not (tmp_path / "unused.pem").exists()


def test_signing_key_must_be_private(tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError):
        SigningKeys(tmp_path / "k.pem", pem=public_pem).load()

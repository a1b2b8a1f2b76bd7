"""The sandbox ACS's signing key and certificates, for `acsSignedContent` (app channel).

A real ACS signs the ARes's signed content with a key certified by the payment network's DS CA,
and the 3DS SDK checks the `x5c` chain against the DS root it ships with. The sandbox makes its
own: a "D1 Sandbox DS root CA" and an ACS certificate it issues, both EC P-256, generated once with
`cryptography` and kept under DATA_DIR/threeds/ (so SDK test set-ups can pin the root:
`GET /ds/ca.pem`). Keys are created lazily: frictionless traffic never pays for them."""

from __future__ import annotations

import base64
import datetime
import json
import os
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from joserfc import jws
from joserfc.jwk import ECKey

ALG = "ES256"  # EMV 3DS allows PS256 or ES256 for acsSignedContent


class AcsKeys:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._loaded: tuple[ECKey, list[str], bytes] | None = None

    # -- material ------------------------------------------------------------------------------
    def _load(self) -> tuple[ECKey, list[str], bytes]:
        with self._lock:
            if self._loaded is None:
                key_path = self.directory / "acs-key.pem"
                if not key_path.exists():
                    self._generate()
                key_pem = key_path.read_bytes()
                acs_cert = x509.load_pem_x509_certificate((self.directory / "acs-cert.pem").read_bytes())
                ca_pem = (self.directory / "ds-ca.pem").read_bytes()
                ca_cert = x509.load_pem_x509_certificate(ca_pem)
                chain = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                         for c in (acs_cert, ca_cert)]
                self._loaded = (ECKey.import_key(key_pem), chain, ca_pem)
            return self._loaded

    def _generate(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "D1 Sandbox"),
                             x509.NameAttribute(NameOID.COMMON_NAME, "D1 Sandbox DS Root CA")])
        ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                  critical=True)
                   .sign(ca_key, hashes.SHA256()))
        acs_key = ec.generate_private_key(ec.SECP256R1())
        acs_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "D1 Sandbox"),
                              x509.NameAttribute(NameOID.COMMON_NAME, "D1 Sandbox ACS signing")])
        acs_cert = (x509.CertificateBuilder().subject_name(acs_name).issuer_name(ca_name)
                    .public_key(acs_key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(days=1))
                    .not_valid_after(now + datetime.timedelta(days=825))
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                   critical=True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                    .sign(ca_key, hashes.SHA256()))
        pem = serialization.Encoding.PEM
        _write_private(self.directory / "acs-key.pem", acs_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        _write_private(self.directory / "ds-ca-key.pem", ca_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (self.directory / "acs-cert.pem").write_bytes(acs_cert.public_bytes(pem))
        (self.directory / "ds-ca.pem").write_bytes(ca_cert.public_bytes(pem))

    # -- use -----------------------------------------------------------------------------------
    def root_pem(self) -> bytes:
        return self._load()[2]

    def sign(self, payload: dict) -> str:
        """A compact JWS over `payload`, header {alg, x5c: [ACS cert, DS root]}."""
        key, chain, _ = self._load()
        body = json.dumps(payload, separators=(",", ":")).encode()
        return jws.serialize_compact({"alg": ALG, "x5c": chain}, body, key)

    def verify(self, token: str) -> dict:
        """Check a signed content against the ACS certificate (what an SDK does); returns the payload."""
        key, _, _ = self._load()
        public = ECKey.import_key(key.as_dict(private=False))
        return json.loads(jws.deserialize_compact(token, public, registry=x5c_registry()).payload)

    @staticmethod
    def ephemeral_public_jwk() -> dict:
        """A fresh EC P-256 public key (acsEphemPubKey). In the sandbox the CReq/CRes are plain JSON
        rather than JWE, so the private half is not kept."""
        return ECKey.generate_key("P-256").as_dict(private=False)


def x5c_registry() -> jws.JWSRegistry:
    """A JWS registry that accepts headers carrying a certificate chain (joserfc caps headers at
    512 bytes by default; an x5c with two P-256 certificates is about 1.5 kB)."""
    registry = jws.JWSRegistry(algorithms=[ALG, "PS256"])
    registry.max_header_length = 8192
    return registry


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)

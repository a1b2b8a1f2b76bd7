"""The OIDC provider's signing key: RS256, generated once with `cryptography`, persisted under the
data directory (PEM, mode 0600) so tokens stay verifiable across restarts, published as a JWKS.

JOSE work (JWK import, thumbprint `kid`, JWS/JWT signing) is done by joserfc; nothing here is
hand-rolled crypto. The key is created lazily, on the first token or JWKS request, so apps that never
use the login domain (most tests) pay nothing for RSA key generation."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

ALGORITHM = "RS256"
KEY_BITS = 2048


class SigningKeys:
    def __init__(self, path: str | Path, pem: str | bytes | None = None):
        """`pem`: an explicit private key (config `OIDC_SIGNING_KEY`); otherwise the file at `path`,
        generated on first use."""
        self.path = Path(path)
        self._pem = pem.encode() if isinstance(pem, str) else pem
        self._key: RSAKey | None = None
        self._lock = threading.Lock()

    # -- the key -----------------------------------------------------------------------------
    @property
    def key(self) -> RSAKey:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = _import(self._pem or self._load_or_create())
        return self._key

    def load(self) -> RSAKey:
        """Load (or generate) the key now, e.g. before taking a database write lock."""
        return self.key

    @property
    def kid(self) -> str:
        return self.key.kid

    def _load_or_create(self) -> bytes:
        if self.path.exists():
            return self.path.read_bytes()
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: use its key, not ours
            return self.path.read_bytes()
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return pem

    # -- publishing and signing ----------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (no private members)."""
        return KeySet([self.key]).as_dict(private=False)

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        """A compact JWS over `claims`, RS256, with `kid` in the header (so verifiers pick the key)."""
        header = {"alg": ALGORITHM, "kid": self.kid, "typ": typ}
        return jwt.encode(header, claims, self.key, algorithms=[ALGORITHM])

    def verify(self, token: str) -> jwt.Token:
        """Signature check only (claims are the caller's business)."""
        return jwt.decode(token, KeySet([self.key]), algorithms=[ALGORITHM])


def _import(pem: bytes) -> RSAKey:
    key = RSAKey.import_key(pem, {"use": "sig", "alg": ALGORITHM})
    if not key.is_private:
        raise ValueError("the OIDC signing key must be an RSA private key")
    # RFC 7638 thumbprint as kid: stable for the key, changes when the key is rotated.
    return RSAKey.import_key(pem, {"use": "sig", "alg": ALGORITHM, "kid": key.thumbprint()})

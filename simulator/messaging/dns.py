"""Email on an issuer's behalf: the sending subdomain and the DNS records that authorise D1.

Like a real ESP (SES, SendGrid, Mailgun), D1 only sends mail as `no-reply@email.bankname.com` once the
issuer has delegated that subdomain to it by publishing the records D1 generated:

| id       | type | name                                   | value                                            |
|----------|------|----------------------------------------|--------------------------------------------------|
| VERIFY   | TXT  | `_d1-verification.<subdomain>`          | `d1-verification=<token>` (ownership proof)      |
| SPF      | TXT  | `<subdomain>`                           | `v=spf1 include:spf.mail.d1-sandbox.example -all` |
| DKIM     | TXT  | `<selector>._domainkey.<subdomain>`     | `v=DKIM1; k=rsa; p=<RSA-2048 public key>`        |
| DMARC    | TXT  | `_dmarc.<subdomain>`                    | `v=DMARC1; p=quarantine; …`                      |
| MX       | MX   | `<subdomain>`                           | `10 feedback-smtp.mail.d1-sandbox.example` (bounces) |

The sandbox simulates the issuer's DNS zone: `POST /sandbox/issuers/{id}/dns/publish` puts (some of)
the records in it, `DELETE /sandbox/issuers/{id}/dns` withdraws them. D1 checks the zone before every
email: a record that is absent or differs from what D1 generated makes the email `blocked`, with the
missing record ids in the reason. Changing `email.subdomain` regenerates everything (unpublished)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from d1sandbox.clock import Clock
from d1sandbox.db import Database, loads

RECORD_IDS = ("VERIFY", "SPF", "DKIM", "DMARC", "MX")
SPF_INCLUDE = "spf.mail.d1-sandbox.example"
BOUNCE_HOST = "feedback-smtp.mail.d1-sandbox.example"
DMARC_REPORTS = "dmarc-reports@mail.d1-sandbox.example"
# The demo issuer's DKIM key is fixed (public data, like the demo credentials): seeding and every
# `/sandbox/reset` then cost no RSA key generation (~50 ms each).
DEMO_DKIM_PUBLIC_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu9axNL7s4FUTx3om1LTKU4YoE4HnoGdF4MeAd6xXVSe7QH/LPtCTRzvjefF/+Q4j"
    "MzT0mKtoa2iD5msounaLxqUt1nGUsD2ZfrIXmga80QSJLgpQZ+RSFXjOEurBMZvNhgG2Gt6FHq9db4lAdmxiGFXQbglGG54r4BKm5s300DWQ"
    "Yw+m+s0o63w3IWVAhlQBBMWHkcYQEApNVxcYU92lIRA+MJs1QxPBcqJMuqbdodza0Ty1Bve35BdADBrnRD/dy5wdlVkexOQa01BbjcEADLcN"
    "AtCiRoscqNprBw6qcZq+LZXpyAzsI3nyLfLPAXDq/rq/V8rXYnikGeZfh3+aKQIDAQAB"
)


@dataclass(frozen=True)
class DomainStatus:
    issuer_id: str
    subdomain: str | None
    records: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return bool(self.subdomain) and not self.missing

    def reason(self) -> str | None:
        if not self.subdomain:
            return "the issuer has no email sending subdomain (email.subdomain)"
        if self.missing:
            return (f"DNS records for {self.subdomain} not published: {', '.join(self.missing)} "
                    f"(see GET /sandbox/issuers/{self.issuer_id}/dns)")
        return None

    def view(self) -> dict:
        return {"issuerId": self.issuer_id, "subdomain": self.subdomain,
                "status": "NOT_CONFIGURED" if not self.subdomain else ("VERIFIED" if self.ready else "PENDING"),
                "canSendEmail": self.ready, "missing": list(self.missing), "reason": self.reason(),
                "records": self.records}


class EmailDomains:
    def __init__(self, db: Database, clock: Clock, secret: bytes):
        self.db = db
        self.clock = clock
        self._secret = secret

    def status(self, issuer_id: str, subdomain: str | None) -> DomainStatus:
        """The state of the issuer's sending domain (records generated on first sight of a subdomain)."""
        if not subdomain:
            return DomainStatus(issuer_id, None)
        row = self._row(issuer_id, subdomain)
        published = loads(row["published"], {})
        records, missing = [], []
        for rec in loads(row["records"], []):
            ok = published.get(rec["id"]) == rec["value"]
            records.append({**rec, "published": ok})
            if not ok:
                missing.append(rec["id"])
        return DomainStatus(issuer_id, subdomain, records, missing)

    def seed_published(self, issuer_id: str, subdomain: str, dkim_key: str) -> DomainStatus:
        """Generate the records with a given DKIM key and publish them all (the demo issuer's seed)."""
        self._row(issuer_id, subdomain, dkim_key)
        return self.publish(issuer_id, subdomain)

    def publish(self, issuer_id: str, subdomain: str | None, only: list[str] | None = None,
                values: dict[str, str] | None = None) -> DomainStatus:
        """Put D1's records (all, or the ids in `only`) into the simulated zone. `values` publishes a
        different value for a record id (to rehearse a typo: it then counts as missing)."""
        if not subdomain:
            return DomainStatus(issuer_id, None)
        with self.db.transaction():
            row = self._row(issuer_id, subdomain)
            published = loads(row["published"], {})
            for rec in loads(row["records"], []):
                if only is None or rec["id"] in only:
                    published[rec["id"]] = (values or {}).get(rec["id"], rec["value"])
            self.db.update("email_domains", {"issuer_id": issuer_id},
                           {"published": published, "updated_at": self.clock.now()})
        return self.status(issuer_id, subdomain)

    def withdraw(self, issuer_id: str, subdomain: str | None, only: list[str] | None = None) -> DomainStatus:
        if not subdomain:
            return DomainStatus(issuer_id, None)
        with self.db.transaction():
            row = self._row(issuer_id, subdomain)
            published = {k: v for k, v in loads(row["published"], {}).items() if only is not None and k not in only}
            self.db.update("email_domains", {"issuer_id": issuer_id},
                           {"published": published, "updated_at": self.clock.now()})
        return self.status(issuer_id, subdomain)

    # -- internals -----------------------------------------------------------------------------
    def _row(self, issuer_id: str, subdomain: str, dkim_key: str | None = None) -> dict:
        row = self.db.get("email_domains", issuer_id=issuer_id)
        if row is not None and row["subdomain"] == subdomain:
            return row
        # New or changed subdomain: fresh records, nothing published yet.
        now = self.clock.now()
        selector = "d1s" + self.clock.utcnow().strftime("%Y%m")
        values = {"issuer_id": issuer_id, "subdomain": subdomain, "selector": selector,
                  "records": generate_records(subdomain, selector, self._token(issuer_id, subdomain),
                                              dkim_key or dkim_public_key()),
                  "published": {}, "created_at": now, "updated_at": now}
        with self.db.transaction():
            self.db.insert("email_domains", values, replace=True)
        return self.db.get("email_domains", issuer_id=issuer_id)

    def _token(self, issuer_id: str, subdomain: str) -> str:
        digest = hmac.new(self._secret, f"dns-verify:{issuer_id}:{subdomain}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest[:20]).decode().lower().rstrip("=")


def dkim_public_key() -> str:
    """A fresh RSA-2048 public key, base64 DER (SubjectPublicKeyInfo) as DKIM's `p=` expects. D1 keeps no
    private key: the sandbox does not sign mail, the record only has to look and verify like a real one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def generate_records(subdomain: str, selector: str, token: str, dkim_key: str) -> list[dict]:
    return [
        {"id": "VERIFY", "type": "TXT", "name": f"_d1-verification.{subdomain}", "value": f"d1-verification={token}",
         "purpose": "proves the issuer controls the subdomain"},
        {"id": "SPF", "type": "TXT", "name": subdomain, "value": f"v=spf1 include:{SPF_INCLUDE} -all",
         "purpose": "authorises D1's mail servers to send for the subdomain"},
        {"id": "DKIM", "type": "TXT", "name": f"{selector}._domainkey.{subdomain}",
         "value": f"v=DKIM1; k=rsa; p={dkim_key}", "purpose": "public key for D1's DKIM signatures"},
        {"id": "DMARC", "type": "TXT", "name": f"_dmarc.{subdomain}",
         "value": f"v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:{DMARC_REPORTS}",
         "purpose": "tells receivers to quarantine mail that fails SPF/DKIM alignment"},
        {"id": "MX", "type": "MX", "name": subdomain, "value": f"10 {BOUNCE_HOST}",
         "purpose": "bounces and complaints come back to D1"},
    ]

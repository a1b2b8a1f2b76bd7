"""The reference issuer backend: what a bank builds to work with D1 — its D1 client, the receivers of
D1's outbound API, its own SMS gateway, and the issuer mobile app's approve/decline."""

from __future__ import annotations

from flask import Flask

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.journal import Journal
from d1sandbox.outbound import ClientCredentialsToken, OutboundClient, pooled_session
from d1sandbox.webapp import init_api
from d1sandbox.wsgi_transport import mount

from . import config as config_mod
from .runtime import EXTENSION, Runtime
from .store import create_schema

DESCRIPTION = (
    "Reference issuer backend: receivers for D1's outbound API (consumer info, DeliverOTP, "
    "authentication, notifications, OAuth2), the issuer app's approve/decline, and an admin API that "
    "creates consumers and cards locally and registers them in D1."
)
ISSUER = "Issuer backend"
D1 = "D1"


def create_app(config: dict | None = None) -> Flask:
    cfg = config_mod.resolve(config)
    app = Flask(__name__)
    app.config.update({k: v for k, v in cfg.items() if k.isupper()})

    db = Database(cfg["DATABASE"])
    create_schema(db)
    clock = cfg.get("CLOCK") or Clock()
    journal = Journal(db, clock)
    session = mount(pooled_session(), cfg.get("TRANSPORTS"))
    d1_url = cfg["D1_URL"].rstrip("/")

    def token_journal(status, body):
        journal.record("oauth2-d1", D1, ISSUER, "POST /oauth2/token", body, kind="response", method="POST",
                       path="/oauth2/token", status=status)

    token = ClientCredentialsToken(d1_url + "/oauth2/token", cfg["D1_CLIENT_ID"], cfg["D1_CLIENT_SECRET"],
                                   session=session, clock=clock, timeout=cfg["OUTBOUND_TIMEOUT"],
                                   journal_hook=token_journal)
    d1 = OutboundClient(d1_url, source=ISSUER, target=D1, clock=clock, session=session,
                        journal=lambda *a, **kw: journal.record(*a, **kw), token=token,
                        timeout=cfg["OUTBOUND_TIMEOUT"], retries=cfg["OUTBOUND_RETRIES"])
    rt = Runtime(config=cfg, db=db, clock=clock, journal=journal, d1=d1, http=session)
    app.extensions[EXTENSION] = rt

    api = init_api(app, "D1 Sandbox reference issuer backend", DESCRIPTION)
    _register_domains(api, rt)
    if cfg.get("SEED_DEMO", True):
        from .seed import seed_demo

        seed_demo(rt)
    return app


def _register_domains(api, rt: Runtime) -> None:
    """Each module exposes `blp` (a flask-smorest Blueprint) and optionally `init(rt)`."""
    from . import admin, app_api, auth, journal_routes, receivers

    modules: list = [auth, receivers, app_api, admin, journal_routes]
    for module in modules:
        init = getattr(module, "init", None)
        if init:
            init(rt)
        api.register_blueprint(module.blp)

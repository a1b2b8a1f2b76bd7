"""The D1 simulator: D1 platform, ACS, Directory Server, TSP, one-time login and the sandbox controls."""

from __future__ import annotations

import logging

from flask import Flask

from d1sandbox.clock import Clock
from d1sandbox.db import Database
from d1sandbox.faults import Faults
from d1sandbox.journal import Journal
from d1sandbox.outbound import pooled_session
from d1sandbox.outbox import Outbox
from d1sandbox.webapp import init_api
from d1sandbox.wsgi_transport import mount

from . import config as config_mod
from .issuer_link import IssuerLink
from .issuers import IssuerRegistry
from .runtime import EXTENSION, Runtime
from .store import create_schema

DESCRIPTION = (
    "Mock D1 platform: inbound D1 API (OAuth2, cards, 3DS history), EMV 3DS Directory Server and ACS, "
    "TSP tokenization step-up, Mosaic-style one-time login with OIDC, and sandbox controls."
)


def create_app(config: dict | None = None) -> Flask:
    cfg = config_mod.resolve(config)
    app = Flask(__name__)
    app.config.update({k: v for k, v in cfg.items() if k.isupper()})
    logging.getLogger("d1sandbox").setLevel(logging.INFO)

    db = Database(cfg["DATABASE"])
    create_schema(db)
    clock = cfg.get("CLOCK") or Clock()
    journal = Journal(db, clock)
    faults = Faults(db, clock)
    outbox = Outbox(db, clock)
    session = mount(pooled_session(), cfg.get("TRANSPORTS"))
    issuers = IssuerRegistry(db, clock)
    link = IssuerLink(issuers, journal, faults, clock, session, timeout=cfg["OUTBOUND_TIMEOUT"],
                      retries=cfg["OUTBOUND_RETRIES"], sleep=cfg.get("SLEEP"))
    rt = Runtime(config=cfg, db=db, clock=clock, journal=journal, outbox=outbox, faults=faults,
                 issuers=issuers, issuer_link=link, http=session, secret=cfg["SERVER_SECRET"].encode())
    app.extensions[EXTENSION] = rt
    # Issuer notifications (consumer events, 3DS outcomes) any domain can enqueue (simulator/notify.py).
    from .notify import register_handlers as register_notification_handlers

    register_notification_handlers(rt)

    api = init_api(app, "D1 Sandbox simulator", DESCRIPTION)
    _register_domains(app, api, rt)

    if cfg.get("SEED_DEMO", True):
        from .seed import seed_demo

        seed_demo(rt)
    if cfg.get("OUTBOX_WORKER"):
        outbox.start()
    return app


def _register_domains(app: Flask, api, rt: Runtime) -> None:
    """Each domain package exposes `blp` (a flask-smorest Blueprint) and optionally `init(rt)`."""
    from .auth import routes as auth_routes
    from .cards import routes as cards_routes
    from .login import oidc_routes as login_oidc_routes
    from .login import routes as login_routes
    from .messaging import routes as messaging_routes
    from .rehearsal import routes as rehearsal_routes
    from .sandbox import routes as sandbox_routes
    from .threeds import routes as threeds_routes
    from .tsp import routes as tsp_routes

    for module in (sandbox_routes, login_routes, login_oidc_routes, auth_routes, cards_routes, messaging_routes,
                   rehearsal_routes, tsp_routes, threeds_routes):
        init = getattr(module, "init", None)
        if init:
            init(rt)
        api.register_blueprint(module.blp)

"""What both services share on the HTTP side: the flask-smorest Api (OpenAPI from the marshmallow
schemas), `/health`, the offline `/docs` page and JSON error handling."""

from __future__ import annotations

from flask import Flask, render_template
from flask_smorest import Api, Blueprint
from jinja2 import ChoiceLoader, PackageLoader
from marshmallow import Schema, fields

from .errors import register_error_handlers


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "machine-readable error code"})
    message = fields.String(required=True, metadata={"description": "what went wrong, for a human"})
    fields_ = fields.Dict(data_key="fields", metadata={"description": "offending field → messages"})


class HealthSchema(Schema):
    status = fields.String()


class SandboxApi(Api):
    ERROR_SCHEMA = ErrorSchema


def init_api(app: Flask, title: str, description: str) -> Api:
    app.config.setdefault("API_TITLE", title)
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {"info": {"description": description}})
    app.json.sort_keys = False
    # Each service's own templates first, then the shared ones (the docs page).
    app.jinja_loader = ChoiceLoader([loader for loader in (app.jinja_loader, PackageLoader("d1sandbox")) if loader])
    api = SandboxApi(app)
    # Registered after the Api so our JSON shape wins over flask-smorest's default handler.
    register_error_handlers(app)

    service = Blueprint("service", __name__, description="Service health and documentation")

    @service.get("/health")
    @service.response(200, HealthSchema)
    def health():
        """Liveness: 200 {"status": "ok"}."""
        return {"status": "ok"}

    api.register_blueprint(service)

    @app.get("/docs")
    def docs():
        spec = api.spec.to_dict()
        return render_template("docs.html", spec=spec, title=title)

    return api

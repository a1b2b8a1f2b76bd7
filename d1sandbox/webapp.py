"""What both services share on the HTTP side: the flask-smorest Api (OpenAPI from the marshmallow
schemas), `/health`, the offline `/docs` page and JSON error handling."""

from __future__ import annotations

import json
import threading

from flask import Flask, render_template
from flask_smorest import Api, Blueprint
from flask_smorest.arguments import ArgumentsMixin
from jinja2 import ChoiceLoader, PackageLoader
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser

from .errors import register_error_handlers


class SchemaReusingParser(FlaskParser):
    """webargs builds a new Schema on every request when `@blp.arguments` names a schema *class*
    (marshmallow deep-copies every declared field to do so). Build each class once and reuse it, as
    `@blp.arguments(SomeSchema())` already does: schemas hold no per-request state."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._instances: dict[type, Schema] = {}

    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = self._instances.get(argmap)
            if schema is None:
                schema = self._instances.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req):
        """webargs turns only JSONDecodeError into its 400: a body nested deeper than the interpreter
        recurses (`[[[[…`) or an integer longer than Python converts (4300 digits) raised out of the
        parser as a 500. Both are invalid JSON to a client."""
        try:
            return super()._raw_load_json(req)
        except (RecursionError, ValueError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            raise json.JSONDecodeError(f"unparseable JSON body ({type(exc).__name__})", "<body>", 0) from None


# flask-smorest's documented parser hook, set for every Blueprint before any route module is imported
# (each package's __init__ imports this module first); `@blp.arguments` binds the parser when it decorates.
ArgumentsMixin.ARGUMENTS_PARSER = SchemaReusingParser()


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "machine-readable error code"})
    message = fields.String(required=True, metadata={"description": "what went wrong, for a human"})
    fields_ = fields.Dict(data_key="fields", metadata={"description": "offending field → messages"})


class HealthSchema(Schema):
    status = fields.String()


class SandboxApi(Api):
    """flask-smorest's Api, with the OpenAPI description of each blueprint built on first use of
    `spec` (/openapi.json, /docs) instead of at start-up: resolving every marshmallow schema into the
    spec was most of an app factory's time — of every `d1sandbox up` and of every test's app."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args, **kwargs):
        self._pending_docs: list[tuple] = []
        self._docs_lock = threading.Lock()
        self._spec = None
        super().__init__(*args, **kwargs)

    @property
    def spec(self):
        if self._pending_docs:
            with self._docs_lock:
                pending, self._pending_docs = self._pending_docs, []
                for blp, name, parameters in pending:  # in registration order, as flask-smorest would
                    blp.register_views_in_doc(self, self._app, self._spec, name=name, parameters=parameters)
                    self._spec.tag({"name": name, "description": blp.description})
        return self._spec

    @spec.setter
    def spec(self, value):
        self._spec = value

    def register_blueprint(self, blp, *, parameters=None, **options):
        """Same as flask-smorest's, except that documenting the views waits for `spec`."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        with self._docs_lock:
            self._pending_docs.append((blp, name, parameters))


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

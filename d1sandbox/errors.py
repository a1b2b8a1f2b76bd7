"""Domain errors and the one place that turns any error into a JSON answer.

A domain module raises an `ApiError` subclass; `register_error_handlers` renders it. Anything
unexpected is logged server-side (without the request body) and answered with a generic JSON 500, so
no stack trace ever reaches a client."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger("d1sandbox")


class ApiError(Exception):
    status = 400
    error = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if error is not None:
            self.error = error
        self.fields = fields or {}
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict:
        body = {"error": self.error, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.extra)
        return body


class ValidationFailed(ApiError):
    status = 422
    error = "validation_error"


class Unauthorized(ApiError):
    status = 401
    error = "unauthorized"

    def __init__(self, message: str = "a valid bearer token is required", *, error: str | None = None, **kw):
        headers = kw.pop("headers", None) or {
            "WWW-Authenticate": f'Bearer realm="d1sandbox", error="{error or "invalid_token"}"'
        }
        super().__init__(message, error=error, headers=headers, **kw)


class Forbidden(ApiError):
    status = 403
    error = "forbidden"


class NotFound(ApiError):
    status = 404
    error = "not_found"


class Conflict(ApiError):
    status = 409
    error = "conflict"


class TooManyRequests(ApiError):
    status = 429
    error = "rate_limited"


def error_response(status: int, error: str, message: str, fields: dict | None = None, headers=None):
    body: dict[str, Any] = {"error": error, "message": message}
    if fields:
        body["fields"] = fields
    resp = jsonify(body)
    resp.status_code = status
    for key, val in (headers or {}).items():
        resp.headers[key] = val
    return resp


def _flatten_messages(messages: Any) -> dict:
    """webargs nests messages by location ({"json": {...}}); clients care about the field names."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "form", "headers", "files", "view_args"}:
        flat: dict = {}
        for loc in messages.values():
            if isinstance(loc, dict):
                flat.update(loc)
            else:
                flat["_body"] = loc
        return flat
    return messages if isinstance(messages, dict) else {"_body": messages}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        resp = jsonify(exc.body())
        resp.status_code = exc.status
        for key, val in exc.headers.items():
            resp.headers[key] = val
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        code = exc.code or 500
        if code == 422 and "messages" in data:
            fields = _flatten_messages(data["messages"])
            names = ", ".join(sorted(str(k) for k in fields))
            return error_response(422, "validation_error", f"invalid fields: {names}", fields)
        if "messages" in data:
            fields = _flatten_messages(data["messages"])
            if code == 400:
                return error_response(400, "invalid_json", "the request body is not valid JSON", fields)
            return error_response(code, "bad_request", "invalid request", fields)
        if code == 400 and exc.description and "JSON" in str(exc.description):
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        name = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
        headers = {}
        valid = getattr(exc, "valid_methods", None)
        if code == 405 and valid:
            headers["Allow"] = ", ".join(valid)
        return error_response(code, name, exc.description or exc.name or "error", headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.error("unhandled %s on %s", type(exc).__name__, _route_name(), exc_info=app.debug)
        return error_response(500, "internal_error", "the sandbox hit an internal error; see the server log")


def _route_name() -> str:
    from flask import request

    return request.url_rule.rule if request.url_rule else request.path

"""A requests transport adapter that calls a WSGI app in-process.

Lets the simulator, the issuer backend and the scenario drivers talk to each other through the same
`requests` code paths they use over the network, without opening sockets: a whole 3DS flow then runs
in a unit test in milliseconds."""

from __future__ import annotations

from io import BytesIO
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import EnvironBuilder, run_wsgi_app


class WSGITransport(BaseAdapter):
    def __init__(self, app):
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, stream=False, timeout=None, verify=True, cert=None,
             proxies=None):
        parts = urlsplit(request.url)
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        headers = dict(request.headers)
        builder = EnvironBuilder(
            path=parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method,
            headers=headers,
            data=body or b"",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, resp_headers = run_wsgi_app(self.app, environ, buffered=True)
        try:
            content = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(dict(resp_headers.items()))
        response.raw = BytesIO(content)
        response._content = content
        response.url = request.url
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def close(self):
        pass


def mount(session: requests.Session, transports: dict | None) -> requests.Session:
    """Mount `{base_url: wsgi_app}` on a session (longest prefix wins in requests)."""
    for prefix, app in (transports or {}).items():
        session.mount(prefix.rstrip("/") + "/", WSGITransport(app))
    return session


class LateApp:
    """A WSGI app whose target is set after construction, to wire two apps that call each other."""

    def __init__(self):
        self.app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)

"""HTTP access to the two services for the actor drivers, with a step-by-step trace.

The same driver code runs against running services (real sockets) or in-process apps (mounted WSGI
transports), so behave features and `d1sandbox scenario run` share it."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from d1sandbox.redact import redact
from d1sandbox.wsgi_transport import mount

DEFAULT_SIM_URL = "http://127.0.0.1:8000"
DEFAULT_ISSUER_URL = "http://127.0.0.1:8001"


@dataclass
class Step:
    actor: str
    peer: str
    method: str
    url: str
    request: Any
    status: int | None
    response: Any
    elapsed_ms: float

    def line(self) -> str:
        return f"{self.actor} -> {self.peer}: {self.method} {self.url} -> {self.status} ({self.elapsed_ms:.1f} ms)"

    def as_dict(self) -> dict:
        return {"actor": self.actor, "peer": self.peer, "method": self.method, "url": self.url,
                "request": self.request, "status": self.status, "response": self.response,
                "elapsed_ms": self.elapsed_ms}


@dataclass
class Sandbox:
    """Where the services are, and a traced session to talk to them."""

    sim_url: str = DEFAULT_SIM_URL
    issuer_url: str = DEFAULT_ISSUER_URL
    session: requests.Session = field(default_factory=requests.Session)
    trace: list[Step] = field(default_factory=list)
    on_step: Any = None  # callback(Step), e.g. to print progress live
    timeout: float = 10.0

    @classmethod
    def from_env(cls, **kw) -> "Sandbox":
        return cls(sim_url=os.environ.get("D1SANDBOX_SIM_URL", DEFAULT_SIM_URL).rstrip("/"),
                   issuer_url=os.environ.get("D1SANDBOX_ISSUER_URL", DEFAULT_ISSUER_URL).rstrip("/"), **kw)

    @classmethod
    def in_process(cls, transports: dict, **kw) -> "Sandbox":
        """Talk to WSGI apps without sockets: `{base_url: app}` must cover sim_url and issuer_url."""
        session = mount(requests.Session(), transports)
        return cls(session=session, **kw)

    def call(self, actor: str, peer: str, method: str, url: str, *, json_body: Any = None, data: Any = None,
             headers: dict | None = None, auth=None, allow_redirects: bool = True,
             expect: int | tuple[int, ...] | None = None) -> requests.Response:
        started = time.perf_counter()
        resp = self.session.request(method, url, json=json_body, data=data, headers=headers, auth=auth,
                                    timeout=self.timeout, allow_redirects=allow_redirects)
        step = Step(actor, peer, method, traced_url(url), redact(json_body if json_body is not None else data),
                    resp.status_code, handset_view(url, redact(_body(resp))),
                    round((time.perf_counter() - started) * 1000, 2))
        self.trace.append(step)
        if self.on_step:
            self.on_step(step)
        if expect is not None:
            wanted = (expect,) if isinstance(expect, int) else expect
            if resp.status_code not in wanted:
                raise ScenarioFailed(f"{method} {url}: expected HTTP {wanted}, got {resp.status_code}: "
                                     f"{json.dumps(redact(_body(resp)))[:400]}")
        return resp

    # Shortcuts for the two services.
    def sim(self, actor: str, method: str, path: str, **kw) -> requests.Response:
        return self.call(actor, "D1 simulator", method, self.sim_url + path, **kw)

    def issuer(self, actor: str, method: str, path: str, **kw) -> requests.Response:
        return self.call(actor, "Issuer backend", method, self.issuer_url + path, **kw)


class ScenarioFailed(AssertionError):
    pass


# The trace is printed (--verbose, --json) and kept by CI; the simulated handset inbox is the only
# place an OTP may be shown. Codes in the SMS/email texts the cardholder read (words of 4–12 letters
# and digits holding a digit: numeric or alphanumeric OTPs, also the card's last four) and one-time
# tickets/codes in URLs are masked here; the scenario itself reads them from the live response.
_CODE_WORD = re.compile(r"(?<![A-Za-z0-9-])(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{4,12}(?![A-Za-z0-9-])")
_URL_SECRET = re.compile(r"(/result/)[^/?#]+|([?&](?:code|ticket|access_token|id_token)=)[^&#]*")


def traced_url(url: str) -> str:
    return _URL_SECRET.sub(lambda m: (m.group(1) or m.group(2)) + "***", url)


def _urls_masked(value: Any) -> Any:
    if isinstance(value, str):
        return traced_url(value) if "://" in value else value
    if isinstance(value, dict):
        return {k: _urls_masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_urls_masked(v) for v in value]
    return value


def handset_view(url: str, body: Any) -> Any:
    body = _urls_masked(body)  # e.g. the login validation's answer: the result ticket's URL
    if urlsplit(url).path.rstrip("/").endswith("/sandbox/messages") and isinstance(body, list):
        return [{**msg, **{k: _CODE_WORD.sub("***", msg[k]) for k in ("body", "subject", "html")
                           if isinstance(msg.get(k), str)}} if isinstance(msg, dict) else msg for msg in body]
    return body


def _body(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        text = resp.text
        return text if len(text) <= 300 else text[:300] + "…"

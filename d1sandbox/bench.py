"""`d1sandbox bench`: every performance figure of the sandbox, measured side by side in one run.

Phases (own services are real waitress processes on ephemeral ports, started the way `d1sandbox up`
starts them; `--sim-url` targets running ones instead):

1. start-up: `d1sandbox up` until both /health answer 200, with a fresh and with an existing data dir
2. journal query latency while the journal is small
3. throughput with C concurrent clients: `GET /health`, then AReq → ARes frictionless (full
   validation, journal, 3DS notification queued in the outbox and delivered to the issuer by the
   simulator's worker meanwhile); their ratio — and the "sustained" ratio, which also counts the time
   until the issuer has received every notification; CPU milliseconds per request of each process
4. OAuth2 token issuance latency; one-time-login OTP latency (send + read the SMS + validate)
5. whole SMS OTP challenges (app channel): AReq, first CReq, the SMS read from /sandbox/messages,
   CReq with the code, until the RReq reaches a 3DS Server double served by this process
6. the journal filled to N transactions (default 10,000): memory (VmRSS) of each service, journal
   query latency again (HTTP and SQL), and the query plans that keep it flat

The result is a JSON document (`SCHEMA`) whose `figures` are keyed by stable names, so CI can track
them over time; `evaluate()` decides which targets were missed."""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .loadgen import HttpClient, closed_loop, pid_listening_on, rss_mb, summary
from .services import free_port

SCHEMA = "d1sandbox-bench/1"
NOTIFICATION_KIND = "issuer.3ds-notification"  # simulator/notify.py KIND_3DS


# -- figures and targets -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    op: str  # ">=", "<=", "<"
    value: float

    def met(self, value: float) -> bool:
        return {">=": value >= self.value, "<=": value <= self.value, "<": value < self.value}[self.op]

    def as_dict(self) -> dict:
        return {"op": self.op, "value": self.value}

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


@dataclass(frozen=True)
class FigureSpec:
    key: str
    name: str
    unit: str
    target: Target | None = None


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("health_rps", "simulator GET /health throughput", "req/s"),
    FigureSpec("areq_rps", "AReq→ARes frictionless throughput (outbox delivering)", "req/s"),
    FigureSpec("areq_health_ratio", "AReq→ARes ÷ GET /health", "x", Target(">=", 0.5)),
    FigureSpec("areq_sustained_ratio", "AReq→ARes until every notification delivered ÷ GET /health", "x"),
    FigureSpec("challenge_p50_ms", "SMS OTP challenge, AReq → RReq received, p50", "ms", Target("<=", 40)),
    FigureSpec("challenge_p99_ms", "SMS OTP challenge, AReq → RReq received, p99", "ms", Target("<=", 150)),
    FigureSpec("token_p50_ms", "OAuth2 token issuance p50", "ms"),
    FigureSpec("token_p99_ms", "OAuth2 token issuance p99", "ms"),
    FigureSpec("login_otp_p50_ms", "login OTP send + validate p50", "ms"),
    FigureSpec("login_otp_p99_ms", "login OTP send + validate p99", "ms"),
    FigureSpec("journal_query_small_ms", "journal by transaction, small journal, p50", "ms"),
    FigureSpec("journal_query_full_ms", "journal by transaction, full journal, p50", "ms"),
    FigureSpec("journal_query_growth", "journal query time, full ÷ small", "x", Target("<=", 2.0)),
    FigureSpec("simulator_rss_mb", "simulator RSS with the full journal", "MB", Target("<", 150)),
    FigureSpec("issuer_rss_mb", "issuer backend RSS with the full journal", "MB", Target("<", 150)),
    FigureSpec("startup_cold_s", "`d1sandbox up` → both /health 200, new data dir", "s", Target("<=", 5)),
    FigureSpec("startup_warm_s", "`d1sandbox up` → both /health 200, existing data dir", "s", Target("<=", 5)),
)
SPECS = {spec.key: spec for spec in FIGURES}


def evaluate(results: dict) -> dict:
    """Judge every figure against its target (in place) and return `results`: `ok` is True/False for
    a figure with a target (False also when it could not be measured), None without a target or when
    it was skipped on purpose; `missed` lists the keys of missed targets; `passed` is True if none."""
    missed = []
    for key, fig in results.get("figures", {}).items():
        target = fig.get("target")
        if not target:
            fig["ok"] = None
            continue
        if fig.get("value") is None:
            fig["ok"] = None if fig.get("skipped") else False
        else:
            fig["ok"] = Target(target["op"], target["value"]).met(fig["value"])
        if fig["ok"] is False:
            missed.append(key)
    results["missed"] = missed
    results["passed"] = not missed
    return results


def exit_code(results: dict, check: bool) -> int:
    """0, or 1 when `check` is on and a target was missed."""
    return 1 if check and evaluate(results)["missed"] else 0


def table(results: dict) -> str:
    """The human-readable table `d1sandbox bench` prints."""
    lines = [f"{'figure':62} {'value':>10} {'unit':6} {'target':>9}  ok"]
    for fig in results["figures"].values():
        value = fig.get("value")
        shown = "-" if value is None else (f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}")
        target = fig.get("target")
        target_text = f"{target['op']} {target['value']:g}" if target else ""
        ok = {True: "yes", False: "NO", None: ""}[fig.get("ok")]
        if fig.get("skipped"):
            ok = "skipped"
        lines.append(f"{fig['name'][:62]:62} {shown:>10} {fig['unit']:6} {target_text:>9}  {ok}")
        if fig.get("error"):
            lines.append(f"    ! {fig['error']}")
    verdict = "all targets met" if results.get("passed") else f"missed: {', '.join(results.get('missed', []))}"
    lines.append(f"\n{verdict} ({results['environment']['cpus']} CPUs, {results['duration_s']:.0f} s)")
    return "\n".join(lines)


class Report:
    def __init__(self, settings: dict, environment: dict):
        self.started = time.perf_counter()
        self.doc: dict[str, Any] = {"schema": SCHEMA, "started_at": datetime.now(timezone.utc).isoformat(
            timespec="seconds"), "environment": environment, "settings": settings, "figures": {}}
        for spec in FIGURES:
            self.doc["figures"][spec.key] = {"name": spec.name, "value": None, "unit": spec.unit,
                                             "target": spec.target.as_dict() if spec.target else None,
                                             "ok": None, "detail": {}}

    def set(self, key: str, value: float | None, detail: dict | None = None, *, digits: int = 2) -> None:
        fig = self.doc["figures"][key]
        fig["value"] = None if value is None else round(float(value), digits)
        if detail:
            fig["detail"].update(detail)

    def fail(self, keys: tuple[str, ...], error: str) -> None:
        for key in keys:
            self.doc["figures"][key]["error"] = error

    def skip(self, keys: tuple[str, ...], why: str) -> None:
        for key in keys:
            self.doc["figures"][key]["skipped"] = why

    def finish(self) -> dict:
        self.doc["duration_s"] = round(time.perf_counter() - self.started, 1)
        return evaluate(self.doc)


# -- progress (stderr) -------------------------------------------------------------------------------
class Progress:
    """`[3/7] title …` per phase; a live percentage on a terminal."""

    def __init__(self, write: Callable[[str], None] | None, phases: int, tty: bool = False):
        self.write = write
        self.phases = phases
        self.tty = tty
        self.index = 0
        self.title = ""

    def phase(self, title: str) -> None:
        self.index += 1
        self.title = title
        if self.write:
            self.write(f"[{self.index}/{self.phases}] {title} …")

    def fraction(self, value: float) -> None:
        if self.write and self.tty:
            sys.stderr.write(f"\r      {value * 100:5.1f}%")
            sys.stderr.flush()
            if value >= 1.0:
                sys.stderr.write("\r")

    def note(self, text: str) -> None:
        if self.write:
            self.write(f"      {text}")


# -- helpers -----------------------------------------------------------------------------------------
def _healthy(url: str) -> bool:
    client = HttpClient(url, timeout=1.0)
    try:
        status, _ = client.request("GET", "/health")
        return status == 200
    except OSError:
        return False
    finally:
        client.close()


def measure_startup(data_dir: Path, timeout: float = 30.0) -> dict:
    """Run `d1sandbox up` (what `make run` runs) on free ports; seconds until both /health are 200,
    then stop it with Ctrl-C (SIGINT) and time that too."""
    sim_port, issuer_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "d1sandbox.cli", "up", "--data-dir", str(data_dir), "--sim-port", str(sim_port),
           "--issuer-port", str(issuer_port)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    pending = {f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{issuer_port}"}
    try:
        while pending:
            if proc.poll() is not None:
                raise RuntimeError(f"`d1sandbox up` exited with code {proc.returncode}")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"not healthy within {timeout:.0f} s")
            pending = {url for url in pending if not _healthy(url)}
            if pending:
                time.sleep(0.01)
        healthy = time.perf_counter() - started
        stop_began = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
        return {"healthy_s": round(healthy, 3), "stop_s": round(time.perf_counter() - stop_began, 3),
                "exit_code": proc.returncode}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class RReqWatch:
    """WSGI wrapper around the 3DS Server double: notes the moment each RReq was received."""

    def __init__(self, app):
        self.app = app
        self.state = app.extensions["threeds_server"]
        self.arrived: dict[str, float] = {}
        self._seen = 0
        self._cond = threading.Condition()

    def __call__(self, environ, start_response):
        result = self.app(environ, start_response)
        if environ.get("PATH_INFO") == "/rreq":
            now = time.perf_counter()
            with self.state["lock"]:
                fresh = self.state["rreqs"][self._seen:]
                self._seen = len(self.state["rreqs"])
            with self._cond:
                for body in fresh:
                    if isinstance(body, dict) and body.get("threeDSServerTransID"):
                        self.arrived.setdefault(body["threeDSServerTransID"], now)
                self._cond.notify_all()
        return result

    def wait(self, server_trans_id: str, timeout: float) -> float | None:
        with self._cond:
            self._cond.wait_for(lambda: server_trans_id in self.arrived, timeout)
            return self.arrived.get(server_trans_id)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time each process spent during a phase, per request: where a request's cost lands."""

    def __init__(self, pids: dict[str, int | None]):
        self.pids = {name: pid for name, pid in {**pids, "bench client": os.getpid()}.items() if pid}
        self.start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def per_request_ms(self, requests: int) -> dict[str, float]:
        out = {}
        for name, pid in self.pids.items():
            now, before = cpu_seconds(pid), self.start.get(name)
            if now is not None and before is not None and requests:
                out[name] = round((now - before) / requests * 1000, 3)
        return out


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


# -- the run -----------------------------------------------------------------------------------------
class Bench:
    def __init__(self, *, seconds: float, concurrency: int, transactions: int, sim_url: str, issuer_url: str,
                 data_dir: Path | None, pids: dict[str, int | None], progress: Progress, report: Report):
        self.seconds = seconds
        self.concurrency = concurrency
        self.transactions = transactions
        self.sim_url = sim_url
        self.issuer_url = issuer_url
        self.data_dir = data_dir
        self.pids = pids
        self.p = progress
        self.report = report
        self.created: list[tuple[str, str]] = []  # (threeDSServerTransID, acsTransID) of every ARes
        self._created_lock = threading.Lock()
        self.double_url = ""
        self.watch: RReqWatch | None = None
        self._double_server = None

    # -- set-up ----------------------------------------------------------------------------------
    def prepare(self) -> None:
        from scenarios.threeds_server import create_app, serve_in_thread

        self.watch = RReqWatch(create_app())
        self.double_url, self._double_server = serve_in_thread(self.watch)
        cards = _json(HttpClient(self.sim_url).request("GET", "/sandbox/test-cards")[1]) or []
        self.card = next(c for c in cards if c["behavior"] == "frictionless" and c.get("scheme", "visa") == "visa")
        from scenarios.threeds_server import build_areq

        template = build_areq(self.card, channel="02", server_url=self.double_url)
        self._placeholder = template["threeDSServerTransID"]
        self._areq_text = json.dumps(template, separators=(",", ":"))

    def close(self) -> None:
        server, self._double_server = self._double_server, None
        if server is None:
            return
        from .serve import stop_threaded

        stop_threaded(server)

    # -- one frictionless AReq -------------------------------------------------------------------
    def areq_call(self, client: HttpClient, _worker: int) -> bool:
        server_id = str(uuid.uuid4())
        body = self._areq_text.replace(self._placeholder, server_id).encode()
        status, data = client.request("POST", "/ds/areq", body, {"Content-Type": "application/json"})
        ares = _json(data) if status == 200 else None
        if not isinstance(ares, dict) or ares.get("messageType") != "ARes" or ares.get("transStatus") != "Y":
            return False
        with self._created_lock:
            self.created.append((server_id, ares["acsTransID"]))
        return True

    @staticmethod
    def health_call(client: HttpClient, _worker: int) -> bool:
        status, data = client.request("GET", "/health")
        return status == 200 and data.startswith(b"{")

    def wait_notifications(self, timeout: float = 300.0) -> float:
        """Seconds until D1's outbox owes the issuer no 3DS notification any more."""
        began = time.perf_counter()
        client = HttpClient(self.sim_url)
        try:
            while time.perf_counter() - began < timeout:
                status, data = client.request("GET", f"/sandbox/outbox?kind={NOTIFICATION_KIND}&limit=0")
                doc = _json(data) if status == 200 else None
                if doc is None:
                    raise RuntimeError(f"GET /sandbox/outbox answered HTTP {status}")
                if not doc["stats"].get("pending"):
                    return time.perf_counter() - began
                time.sleep(0.02)
        finally:
            client.close()
        raise RuntimeError(f"3DS notifications still pending after {timeout:.0f} s")

    # -- phases ----------------------------------------------------------------------------------
    def journal_query(self, label: str, count: int = 200) -> dict:
        """p50 of GET /sandbox/journal?transaction=… over random known transactions (half by
        threeDSServerTransID, half by acsTransID: both the direct and the alias path)."""
        if not self.created:
            raise RuntimeError("no transaction to look up")
        sample = random.choices(self.created, k=count)  # with replacement: `count` queries even when few exist
        client = HttpClient(self.sim_url)
        lat, sizes = [], []
        try:
            for i, (server_id, acs_id) in enumerate(sample):
                wanted = server_id if i % 2 == 0 else acs_id
                began = time.perf_counter()
                status, data = client.request("GET", f"/sandbox/journal?transaction={wanted}")
                lat.append((time.perf_counter() - began) * 1000)
                entries = _json(data) if status == 200 else None
                if not entries:
                    raise RuntimeError(f"journal of {wanted} is empty (HTTP {status})")
                sizes.append(len(entries))
        finally:
            client.close()
        detail = {**summary(lat), "transactions": len(self.created), "entries_per_transaction": max(sizes)}
        detail["sql"] = self.sql_query_timing(sample)
        return detail

    def sql_query_timing(self, sample: list[tuple[str, str]]) -> dict | None:
        """The same look-up straight on the simulator's SQLite file (own services only), with the
        query plans: this is what must stay O(log n)."""
        if self.data_dir is None:
            return None
        from .clock import Clock
        from .db import Database
        from .journal import Journal

        db = Database(self.data_dir / "simulator" / "simulator.db")
        try:
            journal = Journal(db, Clock())
            lat = []
            for server_id, acs_id in sample:
                for wanted in (server_id, acs_id):
                    began = time.perf_counter()
                    journal.for_transaction(wanted)
                    lat.append((time.perf_counter() - began) * 1000)
            plans = {
                "resolve": [r["detail"] for r in db.all(
                    "EXPLAIN QUERY PLAN SELECT correlation FROM journal_alias WHERE alias = ?", ("x",))],
                "entries": [r["detail"] for r in db.all(
                    "EXPLAIN QUERY PLAN SELECT * FROM journal WHERE correlation = ? ORDER BY id", ("x",))],
            }
            rows = db.scalar("SELECT COUNT(*) FROM journal")
            return {"p50_ms": summary(lat)["p50_ms"], "journal_rows": rows, "plans": plans}
        finally:
            db.close()

    def throughput(self) -> None:
        self.p.note("warm-up")
        closed_loop(self.sim_url, self.health_call, seconds=min(0.5, self.seconds), concurrency=self.concurrency)
        closed_loop(self.sim_url, self.areq_call, seconds=min(0.5, self.seconds), concurrency=self.concurrency)
        self.wait_notifications()
        self.p.note(f"GET /health, {self.concurrency} clients, {self.seconds:g} s")
        meter = CpuMeter(self.pids)
        health = closed_loop(self.sim_url, self.health_call, seconds=self.seconds, concurrency=self.concurrency,
                             on_progress=self.p.fraction)
        health_cpu = meter.per_request_ms(health.ok)
        self.p.note(f"AReq → ARes frictionless, {self.concurrency} clients, {self.seconds:g} s")
        meter = CpuMeter(self.pids)
        areq = closed_loop(self.sim_url, self.areq_call, seconds=self.seconds, concurrency=self.concurrency,
                           on_progress=self.p.fraction)
        backlog = self.notification_backlog()
        drain = self.wait_notifications()
        areq_cpu = meter.per_request_ms(areq.ok)  # includes delivering the notifications
        # The ARes rate is measured while D1's outbox delivers the notifications in the same process
        # (it competes for the CPU); `sustained` also waits until the issuer has received every one.
        sustained = areq.ok / (areq.seconds + drain) if areq.ok else 0.0
        self.report.set("health_rps", health.rps, {**health.as_dict(), "cpu_ms_per_request": health_cpu}, digits=1)
        self.report.set("areq_rps", areq.rps, {**areq.as_dict(), "notifications_pending_at_end": backlog,
                                               "notification_drain_s": round(drain, 3),
                                               "sustained_rps": round(sustained, 1),
                                               "cpu_ms_per_request": areq_cpu}, digits=1)
        if health.errors or areq.errors:
            self.report.fail(("areq_health_ratio", "areq_sustained_ratio"),
                             f"errors: health {health.errors}, AReq {areq.errors} "
                             f"({health.first_error or areq.first_error or 'wrong answer'})")
            return
        if health.rps:
            self.report.set("areq_health_ratio", areq.rps / health.rps, digits=3)
            self.report.set("areq_sustained_ratio", sustained / health.rps, digits=3)

    def notification_backlog(self) -> int | None:
        client = HttpClient(self.sim_url)
        try:
            status, data = client.request("GET", f"/sandbox/outbox?kind={NOTIFICATION_KIND}&limit=0")
        finally:
            client.close()
        doc = _json(data) if status == 200 else None
        return (doc or {}).get("stats", {}).get("pending", 0) if doc else None

    def tokens(self) -> None:
        import base64

        from . import demo

        basic = base64.b64encode(f"{demo.DEMO_D1_CLIENT_ID}:{demo.DEMO_D1_CLIENT_SECRET}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
        client = HttpClient(self.sim_url)
        lat = []
        deadline = time.perf_counter() + max(self.seconds / 2, 0.2)
        try:
            while time.perf_counter() < deadline or len(lat) < 20:
                began = time.perf_counter()
                status, data = client.request("POST", "/oauth2/token", b"grant_type=client_credentials", headers)
                lat.append((time.perf_counter() - began) * 1000)
                if status != 200 or "access_token" not in (_json(data) or {}):
                    raise RuntimeError(f"POST /oauth2/token answered HTTP {status}")
                if len(lat) >= 2000:
                    break
        finally:
            client.close()
        stats = summary(lat)
        self.report.set("token_p50_ms", stats["p50_ms"], stats)
        self.report.set("token_p99_ms", stats["p99_ms"], stats)

    def login(self) -> None:
        from scenarios.client import Sandbox
        from scenarios.login_app import LoginAppDriver, read_otp

        from .outbound import pooled_session

        sb = Sandbox(sim_url=self.sim_url, issuer_url=self.issuer_url, session=pooled_session(2))
        app = LoginAppDriver.register(sb, "d1sandbox-bench", client_secret="bench-" + uuid.uuid4().hex,
                                      name="Bench", redirect_uri="https://bench.example/callback",
                                      public_signups=True)
        app.client_token()
        phones = fictional_phones()
        lat, send_lat, validate_lat, exchange_lat = [], [], [], []
        deadline = time.perf_counter() + max(self.seconds / 2, 0.2)
        while (time.perf_counter() < deadline or len(lat) < 10) and phones and len(lat) < 1000:
            phone = phones.pop()
            sb.trace.clear()
            began = time.perf_counter()
            app.send_otp(phone, create_new_user=True)
            sent = time.perf_counter()
            code = read_otp(sb, phone)
            read = time.perf_counter()
            result = app.validate(phone, code).json()["result"]
            done = time.perf_counter()
            lat.append((done - began) * 1000)
            send_lat.append((sent - began) * 1000)
            validate_lat.append((done - read) * 1000)
            began = time.perf_counter()
            app.exchange(app.follow(result))  # result URI → code → tokens (not part of the figure)
            exchange_lat.append((time.perf_counter() - began) * 1000)
        stats = summary(lat)
        detail = {**stats, "send_p50_ms": summary(send_lat)["p50_ms"],
                  "validate_p50_ms": summary(validate_lat)["p50_ms"],
                  "result_and_code_exchange_p50_ms": summary(exchange_lat)["p50_ms"],
                  "measures": "POST /cis/v1/auth/otp/sms + GET /sandbox/messages + POST …/validation"}
        self.report.set("login_otp_p50_ms", stats["p50_ms"], detail)
        self.report.set("login_otp_p99_ms", stats["p99_ms"], detail)

    def challenges(self) -> None:
        from .benchflows import SmsChallenge

        flow = SmsChallenge(self.sim_url, self.issuer_url, self.double_url, self.watch)
        lat: list[float] = []
        steps: dict[str, list[float]] = {}
        deadline = time.perf_counter() + max(self.seconds, 0.5)
        flow.run_once()  # warm-up (creates the bench cardholder)
        while (time.perf_counter() < deadline or len(lat) < 20) and len(lat) < 1000:
            total, parts = flow.run_once()
            lat.append(total)
            for name, value in parts.items():
                steps.setdefault(name, []).append(value)
            if len(lat) % 10 == 0:
                self.p.fraction(min(1.0, 1 - (deadline - time.perf_counter()) / max(self.seconds, 0.5)))
        self.p.fraction(1.0)
        with self._created_lock:
            self.created.extend(flow.created)
        stats = summary(lat)
        detail = {**stats, "channel": "app (CReq/CRes JSON)", "steps_p50_ms": {
            name: summary(values)["p50_ms"] for name, values in steps.items()}, "cardholders": flow.cardholders}
        self.report.set("challenge_p50_ms", stats["p50_ms"], detail)
        self.report.set("challenge_p99_ms", stats["p99_ms"], detail)

    def fill(self) -> dict:
        missing = self.transactions - len(self.created)
        began = time.perf_counter()
        added = 0
        if missing > 0:
            self.p.note(f"{missing:,} more frictionless AReqs ({self.concurrency} clients)")
            result = closed_loop(self.sim_url, self.areq_call, total=missing, concurrency=self.concurrency,
                                 on_progress=self.p.fraction)
            if result.errors:
                raise RuntimeError(f"{result.errors} AReqs failed while filling the journal "
                                   f"({result.first_error or 'wrong answer'})")
            added = result.ok
        answered = time.perf_counter() - began
        drain = self.wait_notifications()
        return {"added_transactions": added, "fill_s": round(answered, 2), "then_drain_s": round(drain, 2)}

    def memory(self) -> None:
        for service, key in (("simulator", "simulator_rss_mb"), ("issuer", "issuer_rss_mb")):
            pid = self.pids.get(service)
            usage = rss_mb(pid) if pid else None
            if usage is None:
                self.report.fail((key,), f"cannot read /proc/<pid>/status of the {service} (pid {pid})")
                continue
            self.report.set(key, usage["rss_mb"], {**usage, "pid": pid, "transactions": len(self.created)},
                            digits=1)


def fictional_phones() -> list[str]:
    """US numbers in the fictional 555-0100…0199 block of many area codes, shuffled (each login
    uses a fresh one: the OTP rate limit is per phone)."""
    import phonenumbers

    areas = (201, 202, 206, 212, 213, 303, 305, 312, 404, 415, 503, 512, 602, 617, 702, 718, 801, 808, 919, 971)
    out = []
    for area in areas:
        for n in range(100, 200):
            number = f"+1{area}5550{n}"
            if phonenumbers.is_valid_number(phonenumbers.parse(number)):
                out.append(number)
    random.shuffle(out)
    return out


def run_bench(*, seconds: float = 3.0, concurrency: int = 4, transactions: int = 10_000,
              sim_url: str | None = None, issuer_url: str | None = None, threads: int = 8,
              progress: Callable[[str], None] | None = None, tty: bool = False) -> dict:
    """Run every phase and return the evaluated results document (see module docstring)."""
    from .services import Services

    own = sim_url is None
    settings = {"seconds": seconds, "concurrency": concurrency, "transactions": transactions,
                "mode": "own services" if own else "running services", "waitress_threads": threads if own else None}
    environment = {"python": platform.python_version(), "platform": platform.platform(terse=True),
                   "cpus": os.cpu_count()}
    report = Report(settings, environment)
    p = Progress(progress, phases=7 if own else 6, tty=tty)
    scratch = Path(tempfile.mkdtemp(prefix="d1bench-"))
    services = None
    bench = None
    try:
        if own:
            p.phase("start-up: `d1sandbox up` until both /health are 200")
            try:
                cold = measure_startup(scratch / "startup")
                warm = measure_startup(scratch / "startup")
                report.set("startup_cold_s", cold["healthy_s"], cold, digits=3)
                report.set("startup_warm_s", warm["healthy_s"], warm, digits=3)
                p.note(f"cold {cold['healthy_s']:.2f} s, warm {warm['healthy_s']:.2f} s")
            except Exception as exc:
                report.fail(("startup_cold_s", "startup_warm_s"), f"{type(exc).__name__}: {exc}")
            services = Services(scratch / "data", free_port(), free_port(), threads=threads)
            services.start(quiet=True)
            sim_url, issuer_url = services.sim_url, services.issuer_url
            pids: dict[str, int | None] = services.pids()
            data_dir: Path | None = services.data_dir
        else:
            report.skip(("startup_cold_s", "startup_warm_s"), "running services: start-up not measured")
            issuer_url = (issuer_url or os.environ.get("D1SANDBOX_ISSUER_URL") or "http://127.0.0.1:8001")
            sim_url, issuer_url = sim_url.rstrip("/"), issuer_url.rstrip("/")
            pids = {name: pid_listening_on(int(url.rsplit(":", 1)[1].split("/")[0]))
                    for name, url in (("simulator", sim_url), ("issuer", issuer_url))}
            data_dir = None
        environment.update({"sim_url": sim_url, "issuer_url": issuer_url})
        bench = Bench(seconds=seconds, concurrency=concurrency, transactions=transactions, sim_url=sim_url,
                      issuer_url=issuer_url, data_dir=data_dir, pids=pids, progress=p, report=report)
        bench.prepare()
        baseline = {name: rss_mb(pid) for name, pid in pids.items() if pid}
        # The client's own full GC pauses must not count as the services' latency (as in serve.py).
        gc.collect()
        gc.freeze()

        def guarded(keys: tuple[str, ...], title: str, fn: Callable[[], None]) -> None:
            p.phase(title)
            try:
                fn()
            except Exception as exc:  # one broken phase must not hide the other figures
                report.fail(keys, f"{type(exc).__name__}: {exc}")
                p.note(f"failed: {type(exc).__name__}: {exc}")

        def small_journal() -> None:
            closed_loop(sim_url, bench.areq_call, total=20, concurrency=1)
            detail = bench.journal_query("small")
            report.set("journal_query_small_ms", detail["p50_ms"], detail)

        guarded(("journal_query_small_ms", "journal_query_growth"), "journal query, small journal", small_journal)
        guarded(("health_rps", "areq_rps", "areq_health_ratio", "areq_sustained_ratio"),
                "throughput: GET /health vs AReq→ARes",
                bench.throughput)
        guarded(("token_p50_ms", "token_p99_ms"), "OAuth2 token issuance", bench.tokens)
        guarded(("login_otp_p50_ms", "login_otp_p99_ms"), "login OTP (send + validate)", bench.login)
        guarded(("challenge_p50_ms", "challenge_p99_ms"), "SMS OTP challenges, AReq → RReq", bench.challenges)

        def full_journal() -> None:
            filled = bench.fill()
            bench.memory()
            detail = {**bench.journal_query("full"), **filled}
            small = report.doc["figures"]["journal_query_small_ms"]["value"]
            report.set("journal_query_full_ms", detail["p50_ms"], detail)
            if small:
                report.set("journal_query_growth", detail["p50_ms"] / small, {"small_ms": small,
                                                                             "full_ms": detail["p50_ms"]}, digits=3)

        guarded(("journal_query_full_ms", "journal_query_growth", "simulator_rss_mb", "issuer_rss_mb"),
                f"journal filled to {transactions:,} transactions: memory and query time", full_journal)
        for name, usage in baseline.items():
            key = f"{name}_rss_mb"
            if usage and key in report.doc["figures"]:
                report.doc["figures"][key]["detail"]["rss_mb_at_start"] = usage["rss_mb"]
    finally:
        if bench is not None:
            bench.close()
        if services is not None:
            services.stop()
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    return report.finish()

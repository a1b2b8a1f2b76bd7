"""`d1sandbox`: run the sandbox, replay scenarios, benchmark. Thin wiring only."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from . import __version__


def _data_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("D1SANDBOX_DATA_DIR") or "var")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="d1sandbox")
def main() -> None:
    """D1 Sandbox: a self-hosted D1-style issuer processing platform (3DS ACS/DS, TSP step-up,
    one-time login) and a reference issuer backend, for integration rehearsal and CI.

    \b
    Start here:
      d1sandbox up                 simulator on :8000, issuer backend on :8001
      d1sandbox scenario list      the end-to-end flows you can replay
      d1sandbox scenario run NAME  replay one against the running services
      d1sandbox rehearse --issuer-url URL   certification rehearsal of your issuer backend
      d1sandbox bench              the performance benchmark
    """


@main.command()
@click.option("--data-dir", default=None, help="Where the SQLite files live (default var/, or $D1SANDBOX_DATA_DIR).")
@click.option("--sim-port", default=8000, show_default=True, type=int, help="Simulator (D1/ACS/DS/TSP) port.")
@click.option("--issuer-port", default=8001, show_default=True, type=int, help="Reference issuer backend port.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--threads", default=8, show_default=True, type=int, help="WSGI worker threads per service.")
def up(data_dir, sim_port, issuer_port, host, threads):
    """Start the simulator and the issuer backend, wired to each other, with the demo issuer seeded.

    Ctrl-C stops both."""
    import signal

    from .services import Services

    # Explicit handlers: a shell may start us with SIGINT ignored (background jobs), and SIGTERM
    # (docker stop, systemd, CI) deserves the same clean stop as Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: signal.default_int_handler(signum, frame))
    services = Services(_data_dir(data_dir), sim_port, issuer_port, host, threads)
    try:
        services.start()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:  # Ctrl-C while the services were still starting
        services.stop()
        sys.exit(130)
    click.echo(f"""
  D1 Sandbox is up.
    simulator       {services.sim_url}   (docs {services.sim_url}/docs)
    issuer backend  {services.issuer_url}   (docs {services.issuer_url}/docs)
    data            {services.data_dir.resolve()}
  Test cards:  curl {services.sim_url}/sandbox/test-cards
  Try:         d1sandbox scenario list
  Ctrl-C to stop.
""")
    code = 0
    try:
        code = services.wait()
        click.echo(f"a service exited (code {code}); stopping", err=True)
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        services.stop()
    sys.exit(code)


@main.group()
def scenario():
    """Replay end-to-end flows against running services."""


@scenario.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the scenarios as JSON.")
def scenario_list(as_json):
    """The scenarios you can run."""
    from scenarios.registry import all_scenarios

    items = all_scenarios().values()
    if as_json:
        click.echo(json.dumps([{"name": i.name, "description": i.description} for i in items], indent=2))
        return
    for item in items:
        click.echo(f"{item.name:28} {item.description}")


@scenario.command("run")
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("--all", "run_all", is_flag=True, help="Run every scenario, in `scenario list` order.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome and trace as JSON.")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False), default=None,
              help="Also write the outcome(s) as JUnit XML to this file.")
@click.option("--diagram", "diagram_path", type=click.Path(), default=None,
              help="Write the Mermaid sequence diagram of the scenario's transaction to this file "
                   "(a directory, one NAME.mmd each, when running several).")
@click.option("-v", "--verbose", is_flag=True, help="Show the (redacted) bodies of every step.")
@click.option("--sim-url", default=None, help="Simulator URL (default $D1SANDBOX_SIM_URL or :8000).")
@click.option("--issuer-url", default=None, help="Issuer backend URL (default $D1SANDBOX_ISSUER_URL or :8001).")
def scenario_run(names, run_all, as_json, junit_file, diagram_path, verbose, sim_url, issuer_url):
    """Run scenario NAME (or several, or --all) against the running services; print each message step,
    then every message of the transaction inside the platform. Exit 0 only if all passed."""
    from scenarios import reporting
    from scenarios.client import Sandbox
    from scenarios.registry import all_scenarios, run

    known = all_scenarios()
    if run_all:
        names = tuple(known)
    if not names:
        raise click.UsageError("name a scenario (see `d1sandbox scenario list`) or pass --all")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.UsageError(f"unknown scenario {unknown[0]!r}; see `d1sandbox scenario list`")
    several = len(names) > 1
    if diagram_path and several:
        Path(diagram_path).mkdir(parents=True, exist_ok=True)

    outcomes, records = [], []
    for name in names:
        sandbox = Sandbox.from_env()
        if sim_url:
            sandbox.sim_url = sim_url.rstrip("/")
        if issuer_url:
            sandbox.issuer_url = issuer_url.rstrip("/")
        if not as_json:
            click.echo(f"scenario {name}: {known[name].description}")

            def show(step, sandbox=sandbox):
                click.echo(reporting.step_line(len(sandbox.trace), step))
                if verbose:
                    for line in reporting.step_detail(step):
                        click.echo(line)
            sandbox.on_step = show
        outcome = run(name, sandbox)
        outcomes.append(outcome)
        record = outcome.as_dict()
        transaction = reporting.transaction_of(outcome)
        if transaction:
            record["transaction"] = transaction
            try:
                record["messages"] = reporting.fetch_messages(sandbox, transaction)
            except Exception as exc:  # the services may be the very thing that failed
                record["messages_error"] = f"{type(exc).__name__}: {exc}"
            if diagram_path:
                target = Path(diagram_path) / f"{name}.mmd" if several else Path(diagram_path)
                try:
                    target.write_text(reporting.fetch_diagram(sandbox, transaction))
                    record["diagram"] = str(target)
                except Exception as exc:
                    record["diagram_error"] = f"{type(exc).__name__}: {exc}"
        elif diagram_path:
            record["diagram_error"] = "the scenario names no transaction (facts['transaction'])"
        records.append(record)
        if not as_json:
            _print_outcome(outcome, record)

    if junit_file:
        Path(junit_file).write_text(reporting.to_junit(outcomes))
    passed = all(o.passed for o in outcomes)
    if as_json:
        doc = records[0] if not several else {"passed": passed, "scenarios": records}
        click.echo(json.dumps(doc, indent=2, default=str))
    elif several:
        failed = [o.name for o in outcomes if not o.passed]
        click.echo(f"{len(outcomes) - len(failed)} of {len(outcomes)} scenarios passed"
                   + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(0 if passed else 1)


def _print_outcome(outcome, record) -> None:
    from scenarios import reporting

    messages = record.get("messages") or []
    if messages:
        click.echo(f"  messages of transaction {record['transaction']} inside the platform (both services):")
        for number, entry in enumerate(messages, 1):
            click.echo(reporting.message_line(number, entry))
    elif record.get("messages_error"):
        click.echo(f"  (messages of transaction {record['transaction']} unavailable: {record['messages_error']})")
    verdict = click.style("PASSED", fg="green") if outcome.passed else click.style("FAILED", fg="red")
    click.echo(f"{verdict} {outcome.name} in {outcome.seconds * 1000:.0f} ms")
    if outcome.error:
        click.echo(f"  reason: {outcome.error}")
    for key, value in outcome.facts.items():
        click.echo(f"  {key}: {value}")
    if record.get("diagram"):
        click.echo(f"  diagram: {record['diagram']}")
    elif record.get("diagram_error"):
        click.echo(f"  diagram not written: {record['diagram_error']}", err=True)
    click.echo("")


@main.command()
@click.option("--issuer-url", required=True, help="Base URL of the issuer backend under test.")
@click.option("--issuer-id", default=None, help="issuerId in the paths D1 calls (default demo-issuer).")
@click.option("--consumer-id", default=None, help="A consumer the backend knows, with an issuer app "
                                                  "(default consumer-0002).")
@click.option("--card-id", default=None, help="A card of that consumer (default card-0002).")
@click.option("--app-instance-id", default=None, help="That consumer's issuer app instance (default app-0002).")
@click.option("--client-id", default=None, help="Client id D1 uses at the backend's token endpoint "
                                                "(default: the demo issuer's, d1-outbound).")
@click.option("--client-secret", default=None, envvar="D1SANDBOX_REHEARSAL_CLIENT_SECRET",
              help="Its secret (or $D1SANDBOX_REHEARSAL_CLIENT_SECRET); never printed.")
@click.option("--token-path", default=None, help="Token endpoint path (default /oauth2/token).")
@click.option("--no-oauth2", is_flag=True, help="The backend does not use OAuth2 for D1's calls: skip AUTH-*.")
@click.option("--budget-ms", default=None, type=click.IntRange(1, 60000),
              help="Latency budget per answer in ms (default 3000).")
@click.option("--timeout", "timeout_s", default=None, type=click.FloatRange(0.1, 60),
              help="Seconds before a call counts as unanswered (default 10).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False), default=None,
              help="Also write the report as JUnit XML to this file.")
@click.option("--diagram", "diagram_file", type=click.Path(dir_okay=False), default=None,
              help="Also write every call the rehearsal made as a Mermaid sequence diagram.")
@click.option("-v", "--verbose", is_flag=True, help="Show the evidence of passing cases too.")
@click.option("--sim-url", default=None, help="Run inside this running simulator (its journal keeps the "
                                              "messages) instead of a private one.")
def rehearse(issuer_url, issuer_id, consumer_id, card_id, app_instance_id, client_id, client_secret, token_path,
             no_oauth2, budget_ms, timeout_s, as_json, junit_file, diagram_file, verbose, sim_url):
    """Certification rehearsal: D1's outbound calls against your issuer backend.

    Runs every case of docs/rehearsal.md (OAuth2, consumer info, DeliverOTP, authenticate and result,
    notifications, latency; positive and negative) and reports each with its evidence. Exit 0 only if
    every case passed; 1 if any failed; 2 if the rehearsal could not run."""
    from simulator.rehearsal.local import (
        RehearsalUnavailable,
        rehearse_in_private_simulator,
        rehearse_in_running_simulator,
    )
    from simulator.rehearsal.report import to_json, to_junit, to_text

    params = {"issuer_url": issuer_url.rstrip("/"), "issuer_id": issuer_id, "consumer_id": consumer_id,
              "card_id": card_id, "app_instance_id": app_instance_id, "client_id": client_id,
              "client_secret": client_secret, "token_path": token_path, "oauth2": False if no_oauth2 else None,
              "budget_ms": budget_ms, "timeout_s": timeout_s}
    try:
        if sim_url:
            report, diagram = rehearse_in_running_simulator(sim_url, params)
        else:
            report, diagram = rehearse_in_private_simulator(params)
    except RehearsalUnavailable as exc:
        click.echo(f"rehearsal could not run: {exc}", err=True)
        sys.exit(2)
    if junit_file:
        Path(junit_file).write_text(to_junit(report))
    if diagram_file:
        Path(diagram_file).write_text(diagram)
    if sim_url:
        hint = f"{sim_url.rstrip('/')}/sandbox/journal/{report['transaction']}/diagram"
    else:
        hint = f"Mermaid diagram in {diagram_file}" if diagram_file else "add --diagram FILE to keep them"
    click.echo(to_json(report) if as_json else to_text(report, verbose=verbose, messages_hint=hint), nl=False)
    sys.exit(0 if report["passed"] else 1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (the table goes away).")
@click.option("--seconds", default=3.0, show_default=True, type=click.FloatRange(0.05, 600),
              help="Duration of each throughput/latency phase.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64), help="Concurrent clients.")
@click.option("--transactions", default=10_000, show_default=True, type=click.IntRange(0, 1_000_000),
              help="Fill the journal to this many 3DS transactions before measuring memory and query time.")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Also write the JSON results here (for trend tracking in CI).")
@click.option("--check", is_flag=True, help="Exit 1 when a target is missed (otherwise the exit code is 0).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Waitress threads per service, when the bench starts its own services.")
@click.option("--sim-url", default=None, help="Benchmark running services instead of starting our own.")
@click.option("--issuer-url", default=None, help="The running issuer backend (default $D1SANDBOX_ISSUER_URL or :8001).")
def bench(as_json, seconds, concurrency, transactions, output, check, threads, sim_url, issuer_url):
    """The performance benchmark: every figure in one run, each against its target.

    Starts its own simulator and issuer backend (real waitress processes on free ports) unless
    --sim-url is given; progress goes to stderr. Figures: GET /health vs AReq→ARes throughput, SMS OTP
    challenge latency (AReq → RReq received), OAuth2 token and login OTP latency, journal query time
    and service memory at --transactions, `d1sandbox up` start-up time."""
    from .bench import exit_code, run_bench, table

    results = run_bench(seconds=seconds, concurrency=concurrency, transactions=transactions, sim_url=sim_url,
                        issuer_url=issuer_url, threads=threads,
                        progress=lambda msg: click.echo(msg, err=True), tty=sys.stderr.isatty())
    text = json.dumps(results, indent=2)
    if output:
        Path(output).write_text(text + "\n")
    click.echo(text if as_json else "\n" + table(results))
    sys.exit(exit_code(results, check))


if __name__ == "__main__":
    main()

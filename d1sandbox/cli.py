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
def scenario_list():
    """The scenarios you can run."""
    from scenarios.registry import all_scenarios

    for item in all_scenarios().values():
        click.echo(f"{item.name:28} {item.description}")


@scenario.command("run")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome and trace as JSON.")
@click.option("--sim-url", default=None, help="Simulator URL (default $D1SANDBOX_SIM_URL or :8000).")
@click.option("--issuer-url", default=None, help="Issuer backend URL (default $D1SANDBOX_ISSUER_URL or :8001).")
def scenario_run(name, as_json, sim_url, issuer_url):
    """Run scenario NAME; prints each message step; exit 0 only if it passed."""
    from scenarios.client import Sandbox
    from scenarios.registry import all_scenarios, run

    if name not in all_scenarios():
        raise click.UsageError(f"unknown scenario {name!r}; see `d1sandbox scenario list`")
    sandbox = Sandbox.from_env()
    if sim_url:
        sandbox.sim_url = sim_url.rstrip("/")
    if issuer_url:
        sandbox.issuer_url = issuer_url.rstrip("/")
    if not as_json:
        sandbox.on_step = lambda step: click.echo(f"  {len(sandbox.trace):>3}. {step.line()}")
        click.echo(f"scenario {name}")
    outcome = run(name, sandbox)
    if as_json:
        click.echo(json.dumps(outcome.as_dict(), indent=2, default=str))
    else:
        verdict = click.style("PASSED", fg="green") if outcome.passed else click.style("FAILED", fg="red")
        click.echo(f"{verdict} in {outcome.seconds * 1000:.0f} ms")
        if outcome.error:
            click.echo(f"  reason: {outcome.error}")
        for key, value in outcome.facts.items():
            click.echo(f"  {key}: {value}")
    sys.exit(0 if outcome.passed else 1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--seconds", default=3.0, show_default=True, type=float, help="Duration of each throughput phase.")
@click.option("--concurrency", default=4, show_default=True, type=int, help="Concurrent clients.")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Also write the JSON here.")
@click.option("--check", is_flag=True, help="Exit non-zero when a target is missed.")
@click.option("--sim-url", default=None, help="Benchmark running services instead of starting our own.")
@click.option("--issuer-url", default=None)
def bench(as_json, seconds, concurrency, output, check, sim_url, issuer_url):
    """The performance benchmark (starts its own services unless --sim-url is given)."""
    from .bench import run_bench

    results = run_bench(seconds=seconds, concurrency=concurrency, sim_url=sim_url, issuer_url=issuer_url,
                        progress=None if as_json else (lambda msg: click.echo(msg, err=True)))
    text = json.dumps(results, indent=2)
    if output:
        Path(output).write_text(text)
    if as_json:
        click.echo(text)
    else:
        click.echo(f"\n{'figure':44} {'value':>12} {'target':>12}  ok")
        for row in results["figures"]:
            ok = "" if row.get("ok") is None else ("yes" if row["ok"] else "NO")
            click.echo(f"{row['name']:44} {row['value']:>12} {row.get('target') or '':>12}  {ok}")
    if check and not all(row.get("ok", True) is not False for row in results["figures"]):
        sys.exit(1)


if __name__ == "__main__":
    main()

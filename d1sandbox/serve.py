"""Serve one service with waitress (a production WSGI server). `d1sandbox up` runs two of these."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from pathlib import Path


def build(service: str, data_dir: Path, sim_url: str, issuer_url: str, port: int):
    if service == "simulator":
        from simulator import create_app

        return create_app({"DATA_DIR": str(data_dir / "simulator"), "PUBLIC_URL": sim_url,
                           "ISSUER_URL": issuer_url, "OUTBOX_WORKER": True})
    from issuer import create_app

    return create_app({"DATA_DIR": str(data_dir / "issuer"), "PUBLIC_URL": issuer_url, "D1_URL": sim_url})


def _keep_alive_channel():
    """waitress' HTTP channel, except that a 204/304 answer keeps an HTTP/1.1 connection open.

    waitress 3.0 closes the connection after any response without Content-Length — including
    204 No Content and 304, which must not carry one and whose end is the end of their headers
    (RFC 9112 §6.3). D1's notifications to the issuer are answered 204, so every one of them paid a new
    TCP connection on both sides (a fifth of the outbox worker's time). Nothing else changes: HTTP/1.0,
    `Connection: close` and responses with a body are handled exactly as waitress does."""
    from waitress.channel import HTTPChannel
    from waitress.task import WSGITask

    class KeepAliveTask(WSGITask):
        _keeping = False

        def build_response_header(self):
            if (self.has_body or self.version != "1.1" or self.close_on_finish
                    or self.request.headers.get("CONNECTION", "").lower() == "close"):
                return super().build_response_header()
            self._keeping = True  # the only close left to decide is "no Content-Length": not for no body
            try:
                return super().build_response_header()
            finally:
                self._keeping = False

        def set_close_on_finish(self) -> None:
            if not self._keeping:
                super().set_close_on_finish()

    class KeepAliveChannel(HTTPChannel):
        task_class = KeepAliveTask

    return KeepAliveChannel


def stop_threaded(server) -> None:
    """Stop a waitress server whose `run()` loop is in another thread (test and bench servers).

    Closing its sockets from here pulls them out from under the loop's select() (EBADF in that
    thread); instead the channels are closed from inside the loop, which then ends with nothing left
    to watch, and the worker threads are shut down."""
    def shutdown():
        for channel in list(server._map.values()):
            try:
                channel.close()
            except OSError:
                pass

    server.trigger.pull_trigger(shutdown)
    server.task_dispatcher.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m d1sandbox.serve")
    parser.add_argument("service", choices=["simulator", "issuer"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--sim-url", required=True)
    parser.add_argument("--issuer-url", required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.service} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    from waitress.server import create_server

    app = build(args.service, args.data_dir, args.sim_url, args.issuer_url, args.port)
    runtime = next(iter(v for k, v in app.extensions.items() if k.startswith("d1sandbox.")), None)
    if runtime is not None:
        runtime.db.start_checkpointer()  # WAL checkpoints (and their fsync) off the request threads
    # Everything built so far (modules, app, schemas: ~78,000 objects) lives as long as the process.
    # Leaving it to the cyclic GC made every full collection walk it: a ~50 ms pause in whichever
    # request triggered it, the p99 of a challenge. Collect start-up garbage once, then freeze the rest.
    gc.collect()
    gc.freeze()
    server = create_server(app, host=args.host, port=args.port, threads=args.threads, ident="d1sandbox",
                           channel_timeout=30, clear_untrusted_proxy_headers=True)
    server.channel_class = _keep_alive_channel()  # before the first connection is accepted

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        ext = next(iter(v for k, v in app.extensions.items() if k.startswith("d1sandbox.")), None)
        if ext is not None:
            outbox = getattr(ext, "outbox", None)
            if outbox is not None:
                outbox.stop()
            ext.db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

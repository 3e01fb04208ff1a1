"""Child-process entry points for the local addok (``python <this file> serve|addok …``).

``serve``: addok's WSGI application behind a pre-forked pool of single-threaded
servers sharing one listening socket. Within one process addok is not safe for
concurrent requests (its temporary Redis keys are named per process), so
parallelism comes from processes, each with its own key prefix. ``addok``: addok's
own command line (``batch``, ``ngrams``, ``reset``…) run with a given configuration.

Kept apart from :mod:`zonage.geocode.addok`, and run as a plain script, so that
loading addok's global configuration only ever happens in these child processes,
which import addok and the standard library only (fast start).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import uuid
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log (one line per address would drown the log)."""


class _StopError(Exception):
    """Raised by the SIGTERM handler to leave the serving loop."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _StopError


def _serve_forever(httpd: WSGIServer) -> None:
    with contextlib.suppress(KeyboardInterrupt, _StopError):
        httpd.serve_forever(poll_interval=0.2)


def serve(config: str, host: str, port: int, workers: int = 1) -> None:
    """Serve addok's HTTP API with ``workers`` processes until SIGTERM/SIGINT."""
    os.environ["ADDOK_CONFIG_MODULE"] = config
    import addok.core
    from addok.http.wsgi import application

    httpd = make_server(host, port, application, handler_class=_QuietHandler)
    httpd.request_queue_size = 128
    signal.signal(signal.SIGTERM, _raise_stop)
    workers = max(1, int(workers)) if hasattr(os, "fork") else 1
    print(f"addok en service sur http://{host}:{port} ({workers} processus)", flush=True)
    if workers == 1:
        _serve_forever(httpd)
        httpd.server_close()
        return
    children: list[int] = []
    try:
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:  # child: own prefix for addok's temporary Redis keys
                addok.core.REDIS_UNIQUE_ID = str(uuid.uuid4())
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    _serve_forever(httpd)
                finally:
                    os._exit(0)
            children.append(pid)
        while children:
            pid, _ = os.wait()  # a child ending on its own: stop everything
            children.remove(pid)
            break
    except (KeyboardInterrupt, _StopError, ChildProcessError):
        pass
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        httpd.server_close()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run ``serve`` or ``addok``."""
    # Run as a script, this folder is first on sys.path, where ``addok.py`` would hide the addok package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["addok"]:
        sys.argv = ["addok", *argv[1:]]
        from addok.bin import main as addok_main

        addok_main()
        return 0
    parser = argparse.ArgumentParser(prog="zonage-addok-server")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="servir l'API HTTP d'addok")
    run.add_argument("--config", required=True)
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=7878)
    run.add_argument("--workers", type=int, default=1, help="nombre de processus serveurs")
    args = parser.parse_args(argv)
    serve(args.config, args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`serve`: gunicorn with threaded workers that slow or hostile clients cannot pin.

- Threads read requests, so a client that trickles its request holds one thread, not a
  worker, and only until `REQUEST_HEAD_TIMEOUT_S`: the whole request line and headers
  must arrive within it (`HeadDeadlineWorker`), after which each read of the body may
  wait at most `BODY_READ_TIMEOUT_S`. gunicorn itself bounds only the wait for a
  request's first byte.
- No keep-alive: a kept connection stays with the worker that accepted it, so a few
  long-lived connections (a proxy's, a load tester's) could load one worker while the
  other idles; closed after each answer, every request goes to whichever worker is
  free (measured: searches under a steady load ran at half speed in some runs, never
  without). A proxy in front keeps its own connections with browsers alive.
- The app is built and its search made ready before the server listens; workers fork
  from it ready (and share the index's memory until they write).
"""

from __future__ import annotations

import socket
import time
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

#: Seconds a request body read may wait for the next bytes.
BODY_READ_TIMEOUT_S = 30.0


class HeadTooSlow(Exception):
    """The request head did not arrive in time (not an OSError, so that gunicorn hands it
    to `handle_error` instead of logging a socket failure)."""


class _HeadDeadline:
    """A client socket whose reads must bring the request head by a deadline; every
    other use goes to the socket itself."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self._deadline: float | None = time.monotonic() + seconds

    def head_read(self) -> None:
        """The head is in: from now on each read may wait `BODY_READ_TIMEOUT_S`."""
        self._deadline = None
        self._sock.settimeout(BODY_READ_TIMEOUT_S)

    def recv(self, size: int, *flags) -> bytes:
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise HeadTooSlow
            self._sock.settimeout(left)
            try:
                return self._sock.recv(size, *flags)
            except TimeoutError:
                raise HeadTooSlow from None
        return self._sock.recv(size, *flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class HeadDeadlineWorker(ThreadWorker):
    """gunicorn's threaded worker with a deadline on each request's head (a connection
    that misses it is closed without an answer)."""

    head_timeout_s = 10.0

    def handle(self, conn):
        if not conn.initialized and not isinstance(conn.sock, _HeadDeadline):
            conn.sock = _HeadDeadline(conn.sock, self.head_timeout_s)
        return super().handle(conn)

    def handle_request(self, req, conn):
        if isinstance(conn.sock, _HeadDeadline):
            conn.sock.head_read()
        return super().handle_request(req, conn)

    def handle_error(self, req, client, addr, exc):
        if isinstance(exc, HeadTooSlow):
            self.log.info("closed a connection whose request head took longer than %s s",
                          self.head_timeout_s)
            return
        super().handle_error(req, client, addr, exc)


def run(host: str, port: int, *, workers: int, threads: int, config: dict | None) -> None:
    """Serve the app made from `config` until stopped."""
    from . import create_app
    from .catalogs import compile_catalogs
    from .search import warm_up, worker_ready

    compile_catalogs()  # the .mo files are built here, never committed

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "service_portal.serving.HeadDeadlineWorker")
            self.cfg.set("threads", threads)
            self.cfg.set("keepalive", 0)
            self.cfg.set("accesslog", "-")
            # Paths only, never query strings: those can carry places or emails.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms')
            self.cfg.set("preload_app", True)
            self.cfg.set("post_worker_init", lambda worker: worker_ready(worker.wsgi))
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn 27's control socket is one path per user ($HOME/.gunicorn):
                # two servers on a host (serve beside demo) would fight over it.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Flask:
            app = create_app(config)
            HeadDeadlineWorker.head_timeout_s = float(app.config["REQUEST_HEAD_TIMEOUT_S"])
            warm_up(app)
            return app

    Server().run()

"""A real HTTP receiver for the alerts' tests: what Apprise's ``json://127.0.0.1:PORT`` posts to.

An ``http.server`` on a thread of its own, on a free loopback port. It can be slow (``held``: each
request waits for ``release()`` before its answer, as long as the test needs) or answer with an
error ``status`` for its first ``fail_first`` requests. ``refused_url()`` names a port nobody
listens on (connection refused).
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, *, held: bool = False, fail_first: int = 0, status: int = 500) -> None:
        self.fail_first, self.status = fail_first, status
        self.received: list[dict] = []  # the JSON bodies taken, in order
        self.requests = 0  # every request, taken or not
        self._released = threading.Event()
        if not held:
            self._released.set()
        self.started = threading.Event()  # a request has come in (it may still be waiting out the delay)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                receiver.started.set()
                receiver._released.wait()
                if receiver.requests <= receiver.fail_first:
                    self.send_response(receiver.status)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"json://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self.server.serve_forever, name="alert-receiver", daemon=True)
        self._thread.start()

    def messages(self) -> list[str]:
        return [r["message"] for r in self.received]

    def release(self) -> None:
        """A held receiver answers from now on (those waiting, then every request)."""
        self._released.set()

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def refused_url() -> str:
    """A json:// URL on a loopback port that was free a moment ago: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"json://127.0.0.1:{port}/"

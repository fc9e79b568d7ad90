"""A real HTTP receiver of webhooks for the notification tests: a server on 127.0.0.1 in a thread of the test,
which keeps every request it gets and answers as the test tells it (fail the first few, hold one open)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


class Receiver:
    def __init__(self, fail_first: int = 0, delay: float = 0.0):
        self.requests: list[dict] = []
        self.fail_first = fail_first
        self.delay = delay
        # While set, a request is held open (until `release` or the client goes away): a delivery in flight.
        self.hold = threading.Event()
        self.arrived = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                    number = len(receiver.requests)
                receiver.arrived.set()
                if receiver.hold.is_set():
                    receiver._released.wait(30)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = 500 if number <= receiver.fail_first else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"no" if status == 500 else b"ok")
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def release(self) -> None:
        self.hold.clear()
        self._released.set()

    def verified(self, secret: str) -> list[dict]:
        """Every request's body, each verified with the destination's secret (raises on a bad signature)."""
        return [Webhook(secret).verify(request["body"], request["headers"]) for request in self.requests]

    def wait(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.requests)} requests arrived, not {count}")
            time.sleep(0.05)

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

"""A tiny HTTP server for the CLI tests' fake APIs (Kubernetes, STS) on a loopback port."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["QuietHandler", "serving"]


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A handler that answers with `reply` and keeps the test's output quiet."""

    def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        """Send `body` with `status` and its length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """No access log on the test's output."""


@contextmanager
def serving(handler: type[QuietHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 in a thread; yields the base URL, stops on exit."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""A webhook receiver on 127.0.0.1 for tests: records every delivery, can be told to fail."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pictograph.webhooks import verify_signature


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes
    at: float
    """time.monotonic() on arrival."""

    def verifies(self, secret: str) -> bool:
        return verify_signature(
            secret,
            self.headers["x-pictograph-timestamp"],
            self.body,
            self.headers["x-pictograph-signature"],
        )

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on 127.0.0.1: records every POST, answers ``fail_status`` to the
    first ``fail_first`` of them (to all of them when ``fail_first`` is None), 200 after."""

    def __init__(self, fail_first: int | None = 0, fail_status: int = 500) -> None:
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._lock:
                    receiver.requests.append(Received(headers, body, time.monotonic()))
                    failing = fail_first is None or len(receiver.requests) <= fail_first
                answer = b"receiver down" if failing else b"ok"
                self.send_response(fail_status if failing else 200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/pictograph"

    def wait_for(self, count: int, timeout: float = 15) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"{count} requests expected, {len(self.requests)} arrived")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

"""Rate limits as the CLI shows them: a long auto-wait is announced, a too-long one is an error with its estimate.

A stub HTTP server stands in for Pictograph here: the real one cannot be made to answer 429
with a chosen Retry-After on demand.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.cli.conftest import Cli


class _RateLimited(BaseHTTPRequestHandler):
    retry_after: ClassVar[list[int]] = []
    """Retry-After of each successive 429; once empty, requests succeed."""

    def do_GET(self) -> None:
        if self.retry_after:
            wait = self.retry_after.pop(0)
            self._send(
                429,
                {"detail": "Rate limit exceeded", "error_code": "rate_limited"},
                {"Retry-After": str(wait)},
            )
        else:
            self._send(200, {"datasets": [], "total": 0})

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def stub_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RateLimited)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    _RateLimited.retry_after = []


def stub_env(url: str) -> dict[str, str]:
    return {"PICTOGRAPH_API_KEY": "pk_live_stub_key_0000000000000000", "PICTOGRAPH_BASE_URL": url}


def test_long_auto_wait_is_announced_then_succeeds(offline_cli: Cli, stub_url: str) -> None:
    _RateLimited.retry_after = [5]
    result = offline_cli.ok("datasets", "list", "--json", env=stub_env(stub_url))
    assert result.json() == []
    assert "rate limited: retrying in 5s" in result.stderr


def test_wait_beyond_the_auto_retry_limit_is_an_error_with_the_estimate(
    offline_cli: Cli, stub_url: str
) -> None:
    _RateLimited.retry_after = [3600]
    result = offline_cli("datasets", "list", env=stub_env(stub_url))
    assert result.returncode == 1, result.describe()
    assert result.stderr.startswith("error: Rate limit exceeded"), result.describe()
    assert "retry in about 3600s" in result.stderr

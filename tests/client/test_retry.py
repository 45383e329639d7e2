"""The transport's retry policy, driven by an httpx.MockTransport and a fake clock.

These are the only SDK tests that do not talk to the real server: backoff timings, 429
waits and network failures cannot be provoked on demand there.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from pictograph import __version__
from pictograph.client._transport import Transport
from pictograph.exceptions import (
    ApiError,
    AuthError,
    ConflictError,
    ForbiddenError,
    NetworkError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    ValidationError,
)

BASE_URL = "http://pictograph.test"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Answers requests from a script of responses (or exceptions) and remembers them."""

    def __init__(self, *script: httpx.Response | Exception) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def make_transport(handler: Handler, *, max_retries: int = 3) -> tuple[Transport, list[float]]:
    sleeps: list[float] = []
    transport = Transport(
        api_key="pk_live_retry_test_key_000000",
        base_url=BASE_URL,
        max_retries=max_retries,
        http_transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
    )
    return transport, sleeps


def error(status: int, headers: dict[str, str] | None = None, **body: object) -> httpx.Response:
    return httpx.Response(
        status, json={"detail": f"status {status}", "error_code": "e", **body}, headers=headers
    )


def ok(**body: object) -> httpx.Response:
    return httpx.Response(200, json=body or {"ok": True})


def test_server_errors_back_off_1_2_4_then_raise() -> None:
    recorder = Recorder(*(error(503) for _ in range(4)))
    transport, sleeps = make_transport(recorder)
    with pytest.raises(ServerError) as caught:
        transport.request("GET", "/api/v1/developer/datasets/")
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(recorder.requests) == 4
    assert caught.value.status_code == 503


def test_server_error_then_success_returns_the_body() -> None:
    recorder = Recorder(error(500), error(502), ok(value=7))
    transport, sleeps = make_transport(recorder)
    assert transport.request("GET", "/x") == {"value": 7}
    assert sleeps == [1.0, 2.0]


def test_max_retries_bounds_the_attempts() -> None:
    recorder = Recorder(*(error(500) for _ in range(6)))
    transport, sleeps = make_transport(recorder, max_retries=5)
    with pytest.raises(ServerError):
        transport.request("GET", "/x")
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]

    recorder = Recorder(error(500))
    transport, sleeps = make_transport(recorder, max_retries=0)
    with pytest.raises(ServerError):
        transport.request("GET", "/x")
    assert sleeps == []


def test_network_errors_are_retried_with_the_same_backoff() -> None:
    recorder = Recorder(httpx.ConnectError("refused"), httpx.ReadError("reset"), ok())
    transport, sleeps = make_transport(recorder)
    assert transport.request("GET", "/x") == {"ok": True}
    assert sleeps == [1.0, 2.0]

    recorder = Recorder(*(httpx.ConnectError("refused") for _ in range(4)))
    transport, sleeps = make_transport(recorder)
    with pytest.raises(NetworkError):
        transport.request("GET", "/x")
    assert sleeps == [1.0, 2.0, 4.0]


def test_timeouts_raise_request_timeout_error_after_retries() -> None:
    recorder = Recorder(*(httpx.ReadTimeout("slow") for _ in range(4)))
    transport, sleeps = make_transport(recorder)
    with pytest.raises(RequestTimeoutError):
        transport.request("GET", "/x")
    assert sleeps == [1.0, 2.0, 4.0]


def test_429_waits_retry_after_then_succeeds() -> None:
    recorder = Recorder(error(429, headers={"Retry-After": "2"}), ok(done=True))
    transport, sleeps = make_transport(recorder)
    assert transport.request("GET", "/x") == {"done": True}
    assert sleeps == [2.0]


def test_429_with_a_long_retry_after_raises_at_once() -> None:
    recorder = Recorder(error(429, headers={"Retry-After": "500"}), ok())
    transport, sleeps = make_transport(recorder)
    with pytest.raises(RateLimitError) as caught:
        transport.request("GET", "/x")
    assert sleeps == []
    assert caught.value.retry_after == 500
    assert len(recorder.requests) == 1


def test_429_at_the_limit_of_120_seconds_is_still_waited() -> None:
    recorder = Recorder(error(429, headers={"Retry-After": "120"}), ok())
    transport, sleeps = make_transport(recorder)
    transport.request("GET", "/x")
    assert sleeps == [120.0]


def test_client_errors_are_not_retried() -> None:
    recorder = Recorder(error(404), ok())
    transport, sleeps = make_transport(recorder)
    with pytest.raises(NotFoundError):
        transport.request("GET", "/x")
    assert sleeps == [] and len(recorder.requests) == 1


def test_idempotency_key_is_the_same_on_every_retry() -> None:
    recorder = Recorder(error(500), httpx.ConnectError("down"), error(503), ok())
    transport, _ = make_transport(recorder)
    transport.request("POST", "/api/v1/developer/projects/", json={"name": "x"})
    keys = {request.headers["Idempotency-Key"] for request in recorder.requests}
    assert len(recorder.requests) == 4 and len(keys) == 1
    (key,) = keys
    assert len(key) == 32 and int(key, 16) >= 0


def test_every_write_gets_its_own_key_and_reads_get_none() -> None:
    recorder = Recorder(ok(), ok(), ok(), ok(), ok())
    transport, _ = make_transport(recorder)
    transport.request("POST", "/a", json={})
    transport.request("POST", "/a", json={})
    transport.request("PATCH", "/a", json={})
    transport.request("GET", "/a")
    transport.request("DELETE", "/a")
    posted = [r.headers.get("Idempotency-Key") for r in recorder.requests]
    assert posted[0] and posted[1] and posted[2]
    assert len(set(posted[:3])) == 3
    assert posted[3] is None and posted[4] is None


def test_an_explicit_idempotency_key_is_sent_as_given() -> None:
    recorder = Recorder(error(502), ok())
    transport, _ = make_transport(recorder)
    transport.request("POST", "/a", json={}, idempotency_key="upload-x-jpg-2026-04-19")
    assert [r.headers["Idempotency-Key"] for r in recorder.requests] == [
        "upload-x-jpg-2026-04-19"
    ] * 2


def test_api_requests_carry_key_and_user_agent() -> None:
    recorder = Recorder(ok())
    transport, _ = make_transport(recorder)
    transport.request("GET", "/a", params={"limit": 5, "offset": None})
    request = recorder.requests[0]
    assert request.headers["X-API-Key"] == "pk_live_retry_test_key_000000"
    assert request.headers["User-Agent"] == f"pictograph-python/{__version__}"
    assert str(request.url) == f"{BASE_URL}/a?limit=5"


def test_signed_url_upload_sends_no_api_key_and_is_retried(tmp_path) -> None:
    source = tmp_path / "photo.png"
    source.write_bytes(b"\x89PNG" + bytes(range(256)) * 10)
    recorder = Recorder(error(503), httpx.Response(200))
    transport, sleeps = make_transport(recorder)
    transport.upload("/blobs/a/b.png?signature=s", source, content_type="image/png")
    assert sleeps == [1.0]
    for request in recorder.requests:
        assert "X-API-Key" not in request.headers
        assert request.content == source.read_bytes()
        assert request.headers["Content-Type"] == "image/png"
        assert str(request.url) == f"{BASE_URL}/blobs/a/b.png?signature=s"


def test_failed_download_leaves_no_file(tmp_path) -> None:
    recorder = Recorder(*(error(500) for _ in range(4)))
    transport, _ = make_transport(recorder)
    target = tmp_path / "out.jpg"
    with pytest.raises(ServerError):
        transport.download("/api/v1/developer/images/x", target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, ValidationError),
        (401, AuthError),
        (402, PaymentRequiredError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, ApiError),
        (415, ValidationError),
        (418, ApiError),
        (422, ValidationError),
        (429, RateLimitError),
    ],
)
def test_status_maps_to_exception(status: int, exception: type[ApiError]) -> None:
    recorder = Recorder(error(status))
    transport, _ = make_transport(recorder, max_retries=0)
    with pytest.raises(exception) as caught:
        transport.request("GET", "/x")
    assert type(caught.value) is exception
    assert caught.value.status_code == status
    assert caught.value.error_code == "e"


def test_envelope_fields_reach_the_exception() -> None:
    body_402 = {
        "required": 30,
        "remaining": 4,
        "credit_cost": 30,
        "credits_remaining": 4,
        "upgrade_url": "http://u",
    }
    errors = [{"loc": ["annotations", 0, "name"], "msg": "Field required", "type": "missing"}]
    recorder = Recorder(
        error(402, **body_402),
        error(422, errors=errors),
        httpx.Response(
            404,
            json={"detail": "Dataset 'x' not found", "error_code": "not_found"},
            headers={"X-Request-Id": "req-1"},
        ),
    )
    transport, _ = make_transport(recorder, max_retries=0)
    with pytest.raises(PaymentRequiredError) as payment:
        transport.request("POST", "/x", json={})
    assert (payment.value.required, payment.value.remaining, payment.value.upgrade_url) == (
        30,
        4,
        "http://u",
    )
    with pytest.raises(ValidationError) as invalid:
        transport.request("POST", "/x", json={})
    assert invalid.value.errors == errors
    with pytest.raises(NotFoundError) as missing:
        transport.request("GET", "/x")
    assert missing.value.message == "Dataset 'x' not found"
    assert missing.value.request_id == "req-1"
    assert missing.value.response == {"detail": "Dataset 'x' not found", "error_code": "not_found"}


def test_min_timeout_raises_only_the_read_timeout_of_that_request() -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={})

    transport, _ = make_transport(handler)
    transport.request("POST", "/slow", json={}, min_timeout=300)
    transport.request("POST", "/fast", json={})
    transport.request("POST", "/already-long-enough", json={}, min_timeout=1)
    assert seen[0]["read"] == 300 and seen[0]["connect"] == transport.timeout
    assert seen[1]["read"] == transport.timeout == seen[2]["read"]

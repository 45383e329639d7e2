"""The one HTTP layer: headers, timeouts, retries, Idempotency-Key, error mapping.

Every resource method is a thin call through :class:`Transport`; nothing else in the
SDK retries, sets headers or inspects status codes. Two httpx clients live here: one
for the API (carries the X-API-Key) and one for signed blob URLs (never does: the
signature is the credential, and the key must not leak to a storage host).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from pictograph._version import __version__
from pictograph.exceptions import (
    ApiError,
    NetworkError,
    PictographError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    error_from_response,
)

logger = logging.getLogger("pictograph.client")

IDEMPOTENCY_HEADER = "Idempotency-Key"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 120.0
"""A 429 asking for a longer wait is raised at once: the caller decides whether to wait that long."""
CHUNK_SIZE = 1024 * 1024
BLOB_READ_TIMEOUT = 300.0
USER_AGENT = f"pictograph-python/{__version__}"


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class Transport:
    """Sends requests to one Pictograph server with the retry policy the docs describe.

    ``http_transport`` and ``sleep`` exist so tests can drive the retry logic with an
    ``httpx.MockTransport`` and a fake clock.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float = 30.0,
        max_retries: int = 3,
        http_transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self._sleep = sleep
        self._api = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=http_transport,
            headers={"X-API-Key": api_key, "User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self._blobs = httpx.Client(
            timeout=httpx.Timeout(timeout, read=BLOB_READ_TIMEOUT, write=BLOB_READ_TIMEOUT),
            transport=http_transport,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._api.close()
        self._blobs.close()

    # ---- JSON API ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        min_timeout: float | None = None,
    ) -> Any:
        """Send one API request and return its decoded JSON body (None for an empty body).

        POST / PUT / PATCH carry an Idempotency-Key (``idempotency_key`` or a fresh one),
        the same on every retry so the server can deduplicate. ``min_timeout`` raises the
        read timeout for endpoints known to be slow (a model's first prompt loads it).
        """
        method = method.upper()
        headers: dict[str, str] = {}
        if method in WRITE_METHODS:
            headers[IDEMPOTENCY_HEADER] = idempotency_key or new_idempotency_key()
        query = _without_none(params)
        form = _without_none(data)

        timeout = self._api.timeout
        if min_timeout is not None and min_timeout > self.timeout:
            timeout = httpx.Timeout(self.timeout, read=min_timeout)

        def build() -> httpx.Request:
            return self._api.build_request(
                method, path, params=query, json=json, data=form, headers=headers, timeout=timeout
            )

        response = self._send(self._api, build)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ServerError(
                f"{method} {path} answered {response.status_code} with a body that is not JSON",
                status_code=response.status_code,
                response=response.text,
            ) from error

    # ---- files --------------------------------------------------------------------------

    def download(
        self,
        url: str,
        destination: Path,
        *,
        signed: bool = False,
        md5: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Stream ``url`` into ``destination`` via ``<name>.part``; return the byte count.

        The file appears under its final name only once complete, so a failed or
        interrupted download never leaves a truncated file behind. ``signed=True`` fetches
        a signed blob URL without the API key. With ``md5`` the bytes are checked against it
        (ApiError on a mismatch, nothing left behind); ``progress`` gets (bytes so far, total
        from Content-Length or 0).
        """
        client = self._blobs if signed else self._api
        target = self.absolute_url(url) if signed else url
        destination.parent.mkdir(parents=True, exist_ok=True)
        response = self._send(client, lambda: client.build_request("GET", target), stream=True)
        partial = destination.with_name(destination.name + ".part")
        total = int(response.headers.get("Content-Length") or 0)
        digest = hashlib.md5() if md5 else None
        written = 0
        try:
            with partial.open("wb") as fh:
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    fh.write(chunk)
                    written += len(chunk)
                    if digest is not None:
                        digest.update(chunk)
                    if progress is not None:
                        progress(written, total)
            if digest is not None and digest.hexdigest() != md5:
                raise ApiError(
                    f"Download of {destination.name} is corrupt: MD5 {digest.hexdigest()} "
                    f"does not match the server's {md5}"
                )
        except httpx.TimeoutException as error:
            partial.unlink(missing_ok=True)
            raise RequestTimeoutError(
                f"Download of {destination.name} timed out: {error}"
            ) from error
        except httpx.RequestError as error:
            partial.unlink(missing_ok=True)
            raise NetworkError(f"Download of {destination.name} failed: {error}") from error
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            response.close()
        partial.replace(destination)
        return written

    def upload(self, url: str, file_path: Path, *, content_type: str) -> None:
        """PUT a local file to a signed upload URL, streamed from disk, without the API key."""
        target = self.absolute_url(url)
        size = file_path.stat().st_size
        headers = {"Content-Type": content_type, "Content-Length": str(size)}

        def build() -> httpx.Request:
            return self._blobs.build_request(
                "PUT", target, content=_file_chunks(file_path), headers=headers
            )

        self._send(self._blobs, build)

    def absolute_url(self, url: str) -> str:
        """Signed URLs may come back relative to the server; resolve them against base_url."""
        return str(httpx.URL(self.base_url + "/").join(url))

    # ---- retry policy ------------------------------------------------------------------

    def _send(
        self, client: httpx.Client, build: Callable[[], httpx.Request], *, stream: bool = False
    ) -> httpx.Response:
        """Send until a 2xx, retrying 5xx and network failures with 1 s, 2 s, 4 s … backoff
        and a 429 after its Retry-After when that is at most two minutes."""
        attempt = 0
        while True:
            request = build()
            error: PictographError
            try:
                response = client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                error = RequestTimeoutError(
                    f"{request.method} {request.url.path} timed out after {self.timeout} s"
                )
                error.__cause__ = exc
            except httpx.RequestError as exc:
                error = NetworkError(f"{request.method} {request.url.path} failed: {exc}")
                error.__cause__ = exc
            else:
                if response.is_success:
                    return response
                response.read()
                response.close()
                error = error_from_response(response)
            delay = self._retry_delay(error, attempt)
            if delay is None:
                raise error
            logger.debug(
                "retrying %s %s in %.1f s after %r", request.method, request.url.path, delay, error,
                extra={"retry_delay": delay, "retry_error": error},
            )
            self._sleep(delay)
            attempt += 1

    def _retry_delay(self, error: PictographError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when ``error`` should be raised."""
        if attempt >= self.max_retries:
            return None
        if isinstance(error, RateLimitError):
            if error.retry_after is None or error.retry_after > MAX_RETRY_AFTER_SECONDS:
                return None
            return error.retry_after
        if isinstance(error, (ServerError, NetworkError)):
            return min(BACKOFF_BASE_SECONDS * float(2**attempt), BACKOFF_CAP_SECONDS)
        return None


def _without_none(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {key: value for key, value in values.items() if value is not None}


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            yield chunk


__all__ = ["Transport", "new_idempotency_key"]

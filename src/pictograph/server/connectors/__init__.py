"""HTTP clients for the remote platforms datasets are imported from: V7 Darwin and Roboflow.

Each client speaks its platform's public REST API (see the module docstrings), against a base
URL from the settings (``PICTOGRAPH_V7_BASE_URL``, ``PICTOGRAPH_ROBOFLOW_BASE_URL``) so that
tests and air-gapped mirrors can point them elsewhere. The shared pieces live here: the errors,
the listing type, retries on 429 / 5xx / network failures, and streamed downloads with a size
cap. The remote API key is held only by the client object, never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx

from pictograph._version import __version__

logger = logging.getLogger("pictograph.connectors")

PROVIDERS: tuple[str, ...] = ("v7", "roboflow")
PROVIDER_NAMES = {"v7": "V7 Darwin", "roboflow": "Roboflow"}
USER_AGENT = f"pictograph-server/{__version__}"
RETRIES = 3
MAX_RETRY_AFTER = 60.0
CHUNK = 1024 * 1024
MAX_POLL_SECONDS = 10.0
"""Export polls start at the caller's interval and back off to this."""


class RemoteError(Exception):
    """The remote platform failed or answered something we cannot use."""


class RemoteAuthError(RemoteError):
    """The remote API key was rejected (401 / 403)."""


class RemoteNotFound(RemoteError):
    """The remote dataset, version or export does not exist."""


class RemoteTooLarge(RemoteError):
    """A download is larger than the import limit."""


@dataclass
class RemoteDatasetInfo:
    id: str
    name: str
    slug: str
    image_count: int = 0
    version: int | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "name": self.name, "slug": self.slug, "image_count": self.image_count,
        }
        if self.version is not None:
            data["version"] = self.version
        return data


@dataclass
class Listing:
    workspace: str
    datasets: list[RemoteDatasetInfo]


class HttpRemote:
    """An httpx client with the retry policy and the download helper every connector shares."""

    provider = ""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            params=params,
            timeout=httpx.Timeout(timeout, connect=15.0),
            transport=transport,
            follow_redirects=True,
        )
        # Downloads from storage hosts (presigned URLs) never carry the API key.
        self._plain = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(timeout, connect=15.0, read=300.0),
            transport=transport,
            follow_redirects=True,
        )

    def close(self) -> None:
        self._client.close()
        self._plain.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        return PROVIDER_NAMES.get(self.provider, self.provider)

    def same_host(self, url: str) -> bool:
        """Whether ``url`` is on the API host (and so needs the API credentials)."""
        target = httpx.URL(url)
        base = httpx.URL(self.base_url)
        return target.host == base.host and target.port == base.port and target.scheme == base.scheme

    def _send(self, client: httpx.Client, method: str, url: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                request = client.build_request(method, url, **kwargs)
                response = client.send(request, stream=stream)
            except httpx.HTTPError as error:
                if attempt >= RETRIES:
                    raise RemoteError(f"{self.name} could not be reached: {error}") from error
                self._sleep(min(2.0**attempt, 10.0))
                attempt += 1
                continue
            if (response.status_code == 429 or response.status_code >= 500) and attempt < RETRIES:
                wait = _retry_after(response) or min(2.0**attempt, 10.0)
                if wait <= MAX_RETRY_AFTER:
                    response.close()
                    self._sleep(wait)
                    attempt += 1
                    continue
            return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """A JSON call on the API; RemoteAuthError / RemoteNotFound / RemoteError on failure."""
        response = self._send(self._client, method, path, **kwargs)
        self.raise_for_status(response, path)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise RemoteError(f"{self.name} answered {path} with a body that is not JSON") from error

    def raise_for_status(self, response: httpx.Response, what: str) -> None:
        if response.is_success:
            return
        message = _remote_message(response)
        if response.status_code in (401, 403):
            raise RemoteAuthError(message or f"{self.name} rejected the API key")
        if response.status_code == 404:
            raise RemoteNotFound(message or f"{self.name}: {what} not found")
        raise RemoteError(f"{self.name} answered {what} with HTTP {response.status_code}: {message or response.reason_phrase}")

    def download(
        self,
        url: str,
        destination: Path,
        *,
        max_bytes: int,
        heartbeat: Callable[[], None] | None = None,
    ) -> int:
        """Stream ``url`` to ``destination`` (via ``.part``); RemoteTooLarge past ``max_bytes``."""
        client = self._client if self.same_host(url) else self._plain
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        response = self._send(client, "GET", url, stream=True)
        written = 0
        last_beat = time.monotonic()
        try:
            if not response.is_success:
                response.read()
                self.raise_for_status(response, "a download")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise RemoteTooLarge(f"The {self.name} download is {declared} bytes; the import limit is {max_bytes}")
            with partial.open("wb") as sink:
                for chunk in response.iter_bytes(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise RemoteTooLarge(f"The {self.name} download exceeds the import limit of {max_bytes} bytes")
                    sink.write(chunk)
                    if heartbeat is not None and time.monotonic() - last_beat > 2.0:
                        heartbeat()
                        last_beat = time.monotonic()
        except httpx.HTTPError as error:
            partial.unlink(missing_ok=True)
            raise RemoteError(f"Downloading from {self.name} failed: {error}") from error
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            response.close()
        partial.replace(destination)
        return written


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _remote_message(response: httpx.Response) -> str:
    """The error text the platform put in its body, in whichever shape it uses."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    candidates: list[Any] = []
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            candidates.append(error.get("message"))
        candidates += [error, body.get("message"), body.get("detail")]
        errors = body.get("errors")
        if isinstance(errors, dict):
            candidates += [errors.get("message"), errors.get("detail"), errors.get("code")]
        elif isinstance(errors, list) and errors and isinstance(errors[0], dict):
            candidates.append(errors[0].get("message") or errors[0].get("detail"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:300]
    return ""


def connector_for(provider: str, api_key: str, *, v7_base_url: str, roboflow_base_url: str, **options: Any) -> Any:
    """The client for ``provider`` with ``api_key``; close it when done."""
    if provider == "v7":
        from pictograph.server.connectors.v7 import V7Client

        return V7Client(api_key, base_url=v7_base_url, **options)
    if provider == "roboflow":
        from pictograph.server.connectors.roboflow import RoboflowClient

        return RoboflowClient(api_key, base_url=roboflow_base_url, **options)
    raise ValueError(f"Unknown provider {provider!r}")


__all__ = [
    "PROVIDERS",
    "HttpRemote",
    "Listing",
    "RemoteAuthError",
    "RemoteDatasetInfo",
    "RemoteError",
    "RemoteNotFound",
    "RemoteTooLarge",
    "connector_for",
]

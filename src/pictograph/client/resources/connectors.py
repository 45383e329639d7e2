"""``client.connectors``: import datasets from V7 Darwin and Roboflow.

Two steps, as the Connectors page describes: :meth:`Connectors.validate` the source key
(listing its datasets), then :meth:`Connectors.import_` them. The import is a durable job on
the server; ``wait=True`` (the default) polls it until ``completed`` (returned),
``cancelled`` (returned) or ``error`` (:class:`ApiError`). A poll that outlasts ``timeout``
raises :class:`PollTimeoutError` carrying the import id (``job_id``) — the import keeps
running; pick it up with :meth:`get_import` or :meth:`wait_for_import`.

The source API key is sent to the server only on ``validate`` and ``import_``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from pictograph.client.resources import Resource, check_polling, path_segment
from pictograph.exceptions import ApiError, PollTimeoutError
from pictograph.models.connector import (
    ConnectorProvider,
    ImportJob,
    LimitCheckResult,
    RemoteDataset,
    ValidationResult,
)

_PATH = "/api/v1/developer/connectors"
DEFAULT_POLL_INTERVAL = 3.0
DEFAULT_TIMEOUT = 3600.0


class Connectors(Resource):
    def validate(self, provider: ConnectorProvider, api_key: str) -> ValidationResult:
        """Check the source key and list its datasets; ``valid=False`` (with ``error``) when rejected."""
        body = self._transport.request(
            "POST", f"{_PATH}/validate", json={"provider": provider, "api_key": api_key}
        )
        return self._parse(ValidationResult, body)

    def check_limits(self, *, total_images: int, estimated_size_bytes: int) -> LimitCheckResult:
        """Whether an import of this size fits the organization's image and storage caps."""
        body = self._transport.request(
            "POST",
            f"{_PATH}/check-limits",
            json={"total_images": total_images, "estimated_size_bytes": estimated_size_bytes},
        )
        return self._parse(LimitCheckResult, body)

    def import_(
        self,
        provider: ConnectorProvider,
        api_key: str,
        datasets: Sequence[RemoteDataset | dict[str, Any]],
        *,
        wait: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        progress: Callable[[ImportJob], None] | None = None,
    ) -> ImportJob:
        """Import ``datasets`` (RemoteDataset instances from :meth:`validate`, or dicts with
        ``id``, ``name``, ``slug``, optional ``version`` and ``target_name``).

        Each lands in the Pictograph dataset named ``target_name`` (default: the remote
        name), created when missing. Raises AuthError (401) when the provider rejects the key,
        PaymentRequiredError (402) over the tier caps, ValidationError (422) for an unknown
        provider or an empty list; with ``wait=True`` ApiError if the import ends in ``error``
        and PollTimeoutError past ``timeout``. ``progress`` gets every polled snapshot.
        """
        check_polling(poll_interval, timeout)
        body = {
            "provider": provider,
            "api_key": api_key,
            "datasets": [
                d.model_dump(exclude_none=True) if isinstance(d, RemoteDataset) else dict(d)
                for d in datasets
            ],
        }
        started = self._transport.request("POST", f"{_PATH}/import/start", json=body)
        import_id = started["import_id"]
        if not wait:
            return ImportJob(import_id=import_id, status="processing", progress=0.0)
        return self.wait_for_import(
            import_id, poll_interval=poll_interval, timeout=timeout, progress=progress
        )

    def get_import(self, import_id: str) -> ImportJob:
        """The import's current state (404 NotFoundError for an unknown id)."""
        body = self._transport.request("GET", f"{_PATH}/import/status/{path_segment(import_id)}")
        return self._parse(ImportJob, body)

    def cancel_import(self, import_id: str) -> ImportJob:
        """Stop the import; images already imported stay. Returns the state after stopping."""
        self._transport.request("POST", f"{_PATH}/import/cancel/{path_segment(import_id)}")
        return self.get_import(import_id)

    def wait_for_import(
        self,
        import_id: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        progress: Callable[[ImportJob], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> ImportJob:
        """Poll until ``completed`` / ``cancelled`` (returned) or ``error`` (ApiError)."""
        check_polling(poll_interval, timeout)
        sleep_fn = sleep or time.sleep
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_import(import_id)
            if progress is not None:
                progress(job)
            if job.status in ("completed", "cancelled"):
                return job
            if job.status == "error":
                raise ApiError(
                    f"Import {import_id} failed: {job.error or 'see the per-dataset errors'} "
                    f"(imported={job.imported_images}, failed={job.failed_images})",
                    response=job.model_dump(mode="json"),
                )
            if time.monotonic() >= deadline:
                raise PollTimeoutError(
                    f"Import {import_id} did not finish within {timeout:.0f}s "
                    f"(status: {job.status}, progress: {job.progress:.0f}%); it keeps running — "
                    "fetch it later with client.connectors.get_import(...)",
                    job_id=import_id,
                    timeout=timeout,
                )
            sleep_fn(poll_interval)

"""``client.exports``: build a dataset ZIP server-side in a chosen format, wait for it, download it.

An export is a durable job on the server. ``create`` returns at once with a ``pending``
:class:`Export` when ``wait=False``; by default it polls until the export is ``completed``
(returned) or ``failed`` (:class:`ApiError` with the server's ``error_message``). A poll that
outlasts ``timeout`` raises :class:`PollTimeoutError` carrying the export's id — the export
keeps building; call :meth:`Exports.wait_for_completion` or :meth:`Exports.get` later.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pictograph.client._pager import OffsetPager
from pictograph.client.resources import Resource, check_polling, path_segment
from pictograph.exceptions import ApiError, PollTimeoutError, ValidationError
from pictograph.models.export import Export, ExportFormat

_PATH = "/api/v1/developer/exports/"
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_TIMEOUT = 600.0

ExportProgressCallback = Callable[[Export], None]
"""Called with the export after every poll while waiting (its ``progress`` says how far it is)."""


class Exports(Resource):
    def create(
        self,
        dataset_name: str,
        name: str,
        *,
        format: ExportFormat = "pictograph",
        include_images: bool = True,
        class_filter: Sequence[str] | None = None,
        status_filter: str = "complete",
        wait: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        progress: ExportProgressCallback | None = None,
        idempotency_key: str | None = None,
    ) -> Export:
        """Build a new export of ``dataset_name`` named ``name`` (unique within the dataset).

        ``class_filter`` keeps only annotations of those classes (images left without any are
        still exported when their status matches); ``status_filter`` is ``"complete"``,
        ``"in_progress"``, ``"new"`` or ``"all"``. With ``wait=True`` (default) this blocks
        until the ZIP is ready. Raises ConflictError (409) for a taken name, ValidationError
        (422) for an unknown format / status_filter, NotFoundError (404) for an unknown dataset.
        """
        check_polling(poll_interval, timeout)
        body: dict[str, Any] = {
            "dataset_name": dataset_name,
            "name": name,
            "format": format,
            "include_images": include_images,
            "status_filter": status_filter,
        }
        if class_filter is not None:
            if isinstance(class_filter, str):
                raise ValidationError(
                    "class_filter must be a list of class names, not a string",
                    errors=[
                        {"loc": ["class_filter"], "msg": "expected a list", "type": "type_error"}
                    ],
                )
            body["class_filter"] = list(class_filter)
        response = self._transport.request(
            "POST", _PATH, json=body, idempotency_key=idempotency_key
        )
        export = self._parse(Export, response["export"])
        if not wait:
            return export
        return self.wait_for_completion(
            dataset_name, name, poll_interval=poll_interval, timeout=timeout, progress=progress
        )

    def list(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        dataset_name: str | None = None,
        status: str | None = None,
    ) -> builtins.list[Export]:
        """One page of the organization's exports, newest first (optionally one dataset's)."""
        body = self._transport.request(
            "GET",
            _PATH,
            params={
                "limit": limit,
                "offset": offset,
                "dataset_name": dataset_name,
                "status": status,
            },
        )
        return self._parse_list(Export, body.get("exports"))

    def iter(
        self,
        *,
        page_size: int = 100,
        max_total: int | None = None,
        dataset_name: str | None = None,
        status: str | None = None,
    ) -> OffsetPager[Export]:
        return OffsetPager(
            lambda offset, limit: self.list(
                limit=limit, offset=offset, dataset_name=dataset_name, status=status
            ),
            page_size=page_size,
            max_total=max_total,
        )

    def get(self, dataset_name: str, name: str) -> Export:
        """The export as it stands; a completed one carries a fresh 60-minute ``download_url``."""
        body = self._transport.request("GET", self._item_path(dataset_name, name))
        return self._parse(Export, body["export"])

    def wait_for_completion(
        self,
        dataset_name: str,
        name: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        progress: ExportProgressCallback | None = None,
    ) -> Export:
        """Poll until the export is ``completed`` (returned) or ``failed`` (ApiError).

        Raises PollTimeoutError (``job_id`` = the export's id) when ``timeout`` seconds pass
        first; the export keeps building on the server.
        """
        check_polling(poll_interval, timeout)
        deadline = time.monotonic() + timeout
        while True:
            export = self.get(dataset_name, name)
            if progress is not None:
                progress(export)
            if export.status == "completed":
                return export
            if export.status == "failed":
                raise ApiError(
                    f"Export {name!r} of dataset {dataset_name!r} failed: "
                    f"{export.error_message or 'no reason given'}",
                    response=export.model_dump(mode="json"),
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PollTimeoutError(
                    f"Export {name!r} of dataset {dataset_name!r} did not finish within "
                    f"{timeout:g}s (status: {export.status}); it keeps building on the server — "
                    f"call client.exports.wait_for_completion({dataset_name!r}, {name!r}) later",
                    job_id=export.id,
                    timeout=timeout,
                )
            time.sleep(min(poll_interval, remaining))

    def download(self, dataset_name: str, name: str, output_path: str | Path) -> Path:
        """Stream the export's ZIP to ``output_path`` (via ``<name>.part``, renamed when complete).

        The server hands out a signed URL valid for 60 minutes, fresh on every call; the bytes
        come from that URL without the API key. Raises ConflictError while the export is not
        completed.
        """
        body = self._transport.request("GET", self._item_path(dataset_name, name) + "/download")
        destination = Path(output_path).expanduser()
        self._transport.download(body["download_url"], destination, signed=True)
        return destination

    def delete(self, dataset_name: str, name: str) -> dict[str, Any]:
        """Delete the export and its stored ZIP (admin role and above)."""
        result = self._transport.request("DELETE", self._item_path(dataset_name, name))
        return result if isinstance(result, dict) else {"deleted": True}

    @staticmethod
    def _item_path(dataset_name: str, name: str) -> str:
        return f"{_PATH}{path_segment(dataset_name)}/{path_segment(name)}"

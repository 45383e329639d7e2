"""``client.imports``: create or extend a dataset from files in one of the import formats.

:meth:`Imports.create` takes a ZIP, or a folder (zipped on the fly into a temporary file and
uploaded), in any import format — pictograph, coco, yolo, cvat, pascal_voc, labelme, v7 —
detected when ``format`` is omitted. With ``server_path=True`` the source is a folder (or
.zip) on the server itself, which the server allows only under ``PICTOGRAPH_IMPORT_ROOTS``.

The import is a durable job; ``wait=True`` polls it until ``completed`` or ``cancelled``
(returned) or ``failed`` (:class:`ApiError`); past ``timeout`` a :class:`PollTimeoutError`
carries the import id. The returned :class:`DatasetImport` holds the report: images and
annotations imported, what was skipped by reason (``{"v7 tag": 3}``), and each malformed
file with its line or key.
"""

from __future__ import annotations

import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import httpx

from pictograph.client._pager import OffsetPager
from pictograph.client._transport import IDEMPOTENCY_HEADER, new_idempotency_key
from pictograph.client.resources import Resource, check_polling, path_segment
from pictograph.exceptions import ApiError, PollTimeoutError, ValidationError
from pictograph.models.image import SUPPORTED_EXTENSIONS
from pictograph.models.imports import IMPORT_FORMATS, DatasetImport

_PATH = "/api/v1/developer/imports"
DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_TIMEOUT = 3600.0
UPLOAD_TIMEOUT = 600.0
ProgressCallback = Callable[[DatasetImport], None]


class Imports(Resource):
    def create(
        self,
        dataset_name: str,
        source: str | Path,
        *,
        format: str | None = None,
        create_if_missing: bool = True,
        server_path: bool = False,
        wait: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        progress: ProgressCallback | None = None,
        upload_progress: Callable[[int, int], None] | None = None,
    ) -> DatasetImport:
        """Import ``source`` (a ZIP or a folder) into ``dataset_name``.

        Raises ValidationError for an unknown format, a missing source, or an archive the
        server refuses (unsafe paths, symlinks: 422); ApiError 413 for one over the size
        limits (including decompression bombs); NotFoundError when the dataset is missing
        and ``create_if_missing`` is false; PaymentRequiredError over the tier caps.
        ``upload_progress(sent, total)`` follows the upload, ``progress`` each poll.
        """
        check_polling(poll_interval, timeout)
        if format is not None and format not in IMPORT_FORMATS:
            raise ValidationError(
                f"Unknown import format {format!r}; expected one of {', '.join(IMPORT_FORMATS)}",
                errors=[{"loc": ["format"], "msg": "unknown import format", "type": "value_error"}],
            )
        if server_path:
            body = self._transport.request(
                "POST",
                _PATH,
                json={
                    "dataset_name": dataset_name,
                    "path": str(source),
                    "format": format,
                    "create_if_missing": create_if_missing,
                },
            )
        else:
            body = self._upload_source(
                Path(source),
                {
                    "dataset_name": dataset_name,
                    "format": format or "",
                    "create_if_missing": "true" if create_if_missing else "false",
                },
                upload_progress,
            )
        job = self._parse(DatasetImport, body)
        if not wait:
            return job
        return self.wait_for_completion(
            job.id, poll_interval=poll_interval, timeout=timeout, progress=progress
        )

    def get(self, import_id: str) -> DatasetImport:
        return self._parse(DatasetImport, self._transport.request("GET", f"{_PATH}/{path_segment(import_id)}"))

    def list(self, *, limit: int = 50, offset: int = 0) -> list[DatasetImport]:
        """One page of this organization's file imports, newest first."""
        body = self._transport.request("GET", _PATH, params={"limit": limit, "offset": offset})
        return self._parse_list(DatasetImport, body.get("imports"))

    def iter(self, *, page_size: int = 50, max_total: int | None = None) -> OffsetPager[DatasetImport]:
        return OffsetPager(
            lambda offset, limit: self.list(limit=limit, offset=offset),
            page_size=page_size,
            max_total=max_total,
        )

    def cancel(self, import_id: str) -> DatasetImport:
        """Stop the import; images already imported stay."""
        return self._parse(
            DatasetImport, self._transport.request("POST", f"{_PATH}/{path_segment(import_id)}/cancel")
        )

    def wait_for_completion(
        self,
        import_id: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        progress: ProgressCallback | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> DatasetImport:
        """Poll until ``completed`` / ``cancelled`` (returned) or ``failed`` (ApiError)."""
        check_polling(poll_interval, timeout)
        sleep_fn = sleep or time.sleep
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(import_id)
            if progress is not None:
                progress(job)
            if job.status in ("completed", "cancelled"):
                return job
            if job.status == "failed":
                raise ApiError(
                    f"Import {import_id} failed: {job.error_message or 'unknown error'}",
                    response=job.model_dump(mode="json"),
                )
            if time.monotonic() >= deadline:
                raise PollTimeoutError(
                    f"Import {import_id} did not finish within {timeout:.0f}s "
                    f"(status: {job.status}); it keeps running — fetch it later with "
                    "client.imports.get(...)",
                    job_id=import_id,
                    timeout=timeout,
                )
            sleep_fn(poll_interval)

    # ---- upload -----------------------------------------------------------------------

    def _upload_source(
        self, source: Path, fields: dict[str, str], upload_progress: Callable[[int, int], None] | None
    ) -> Any:
        if source.is_dir():
            with tempfile.TemporaryDirectory(prefix="pictograph-import-") as tmp:
                archive = Path(tmp) / f"{source.resolve().name or 'import'}.zip"
                zip_folder(source, archive)
                return self._upload_archive(archive, fields, upload_progress)
        if not source.is_file():
            raise ValidationError(
                f"{source} is neither a folder nor a file",
                errors=[{"loc": ["source"], "msg": "no such file or folder", "type": "value_error"}],
            )
        if not zipfile.is_zipfile(source):
            raise ValidationError(
                f"{source} is not a ZIP archive; pass a .zip or a folder",
                errors=[{"loc": ["source"], "msg": "not a ZIP archive", "type": "value_error"}],
            )
        return self._upload_archive(source, fields, upload_progress)

    def _upload_archive(
        self, archive: Path, fields: dict[str, str], upload_progress: Callable[[int, int], None] | None
    ) -> Any:
        """POST the archive as multipart/form-data, streamed from disk, retried like any call."""
        transport = self._transport
        total = archive.stat().st_size
        key = new_idempotency_key()
        with archive.open("rb") as handle:
            reader = _ProgressReader(handle, total, upload_progress)

            def build() -> httpx.Request:
                reader.rewind()
                return transport._api.build_request(
                    "POST",
                    _PATH,
                    data=fields,
                    files={"file": (archive.name, cast("IO[bytes]", reader), "application/zip")},
                    headers={IDEMPOTENCY_HEADER: key},
                    timeout=httpx.Timeout(transport.timeout, read=UPLOAD_TIMEOUT, write=UPLOAD_TIMEOUT),
                )

            response = transport._send(transport._api, build)
        return response.json()


class _ProgressReader:
    """A file wrapper reporting how much of it has been read (that is, sent)."""

    def __init__(self, handle: Any, total: int, callback: Callable[[int, int], None] | None) -> None:
        self._handle = handle
        self._total = total
        self._callback = callback
        self._sent = 0

    def rewind(self) -> None:
        self._handle.seek(0)
        self._sent = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._sent += len(chunk)
        if self._callback is not None and chunk:
            self._callback(self._sent, self._total)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._handle.seek(offset, whence)
        self._sent = position
        return position

    def tell(self) -> int:
        return self._handle.tell()

    def fileno(self) -> int:
        return self._handle.fileno()


def _files(folder: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory) / name
            if path.is_file():
                yield path


def zip_folder(folder: Path, archive: Path) -> int:
    """Write ``folder``'s files into ``archive`` (images stored, the rest deflated); count them."""
    count = 0
    with zipfile.ZipFile(archive, "w", allowZip64=True) as out:
        for path in _files(folder):
            name = path.relative_to(folder).as_posix()
            stored = path.suffix.lower() in SUPPORTED_EXTENSIONS
            out.write(path, name, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
            count += 1
    return count

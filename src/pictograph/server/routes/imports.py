"""Imports from files: a ZIP upload (multipart or a raw body) or a folder on the server.

``POST /imports`` takes one of

- ``multipart/form-data``: a ``file`` part (the ZIP) and the fields ``dataset_name``,
  ``format`` (optional: detected when omitted), ``create_if_missing`` (default true);
- a raw ``application/zip`` (or ``application/octet-stream``) body with those fields as
  query parameters;
- ``application/json`` ``{"dataset_name", "path", "format"?, "create_if_missing"?}`` naming a
  folder or .zip on the server under ``PICTOGRAPH_IMPORT_ROOTS`` (403 when unset; admin role).

The upload is streamed to a file under ``<data_dir>/imports/`` (413 past
``PICTOGRAPH_IMPORT_MAX_BYTES``), every entry is checked before the job is created (422
``unsafe_archive``, 413 ``archive_too_large``), and the answer is 202 with the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from pictograph.server.errors import Invalid, UnsupportedMediaType
from pictograph.server.roles import require
from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import imports as import_service
from pictograph.server.services.imports import ArchiveLimits, ArchiveTooLarge

router = APIRouter(tags=["imports"])

MAX_FIELD_BYTES = 64 * 1024
BATCH_BYTES = 1024 * 1024
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/octet-stream"})
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def _flag(value: Any, default: bool, loc: str) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise Invalid(f"{loc} must be true or false", loc=[loc])


class _MultipartUpload:
    """Parses a multipart body as it arrives: the ``file`` part to disk, small fields in memory."""

    def __init__(self, boundary: bytes, target: Path, max_bytes: int) -> None:
        self.target = target
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.written = 0
        self._headers: dict[str, str] = {}
        self._field = b""
        self._value = b""
        self._name: str | None = None
        self._buffer = bytearray()
        self._sink: Any = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("latin-1")
        self._field, self._value = b"", b""

    def _on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self._headers = {}
        if b"filename" in params:
            if name != "file" or self._sink is not None or self.filename is not None:
                raise Invalid("Send exactly one file, in the form field 'file'", loc=["file"])
            self.filename = params[b"filename"].decode("utf-8", "replace")
            self._sink = self.target.open("wb")
            self._name = None
        else:
            self._name = name
            self._buffer = bytearray()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._sink is not None:
            self.written += len(chunk)
            if self.written > self.max_bytes:
                raise ArchiveTooLarge(f"The upload exceeds the import limit of {self.max_bytes} bytes")
            self._sink.write(chunk)
        else:
            self._buffer += chunk
            if len(self._buffer) > MAX_FIELD_BYTES:
                raise Invalid(f"Form field {self._name!r} is too long", loc=[self._name or "form"])

    def _on_part_end(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        elif self._name:
            self.fields[self._name] = self._buffer.decode("utf-8", "replace")

    def feed(self, data: bytes) -> None:
        self._parser.write(data)

    def finish(self) -> None:
        self._parser.finalize()
        if self._sink is not None:
            self._sink.close()
            raise Invalid("The upload ended before the file part did", loc=["file"])

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None


async def _receive_multipart(request: Request, content_type: str, target: Path, max_bytes: int) -> tuple[dict[str, str], str | None, int]:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise Invalid("multipart/form-data without a boundary", loc=["body"])
    upload = _MultipartUpload(boundary, target, max_bytes)
    pending = bytearray()
    try:
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= BATCH_BYTES:
                data, pending = bytes(pending), bytearray()
                await run_in_threadpool(upload.feed, data)
        if pending:
            await run_in_threadpool(upload.feed, bytes(pending))
        upload.finish()
    finally:
        upload.close()
    if upload.filename is None:
        raise Invalid("No file: send the ZIP in the form field 'file'", loc=["file"])
    return upload.fields, upload.filename, upload.written


async def _receive_raw(request: Request, target: Path, max_bytes: int) -> int:
    written = 0
    with target.open("wb") as sink:
        async for chunk in request.stream():
            written += len(chunk)
            if written > max_bytes:
                raise ArchiveTooLarge(f"The upload exceeds the import limit of {max_bytes} bytes")
            await run_in_threadpool(sink.write, chunk)
    if written == 0:
        raise Invalid("The request body is empty: send the ZIP", loc=["body"])
    return written


@router.post("/imports", status_code=202)
async def create_import(request: Request, ctx: Ctx, caller: Caller) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json":
        try:
            body = await request.json()
        except ValueError as error:
            raise Invalid("Request body is not valid JSON", loc=["body"]) from error
        if not isinstance(body, dict):
            raise Invalid("Request body must be an object", loc=["body"])

        def start_path() -> dict[str, Any]:
            job = import_service.start_path_import(
                ctx, caller,
                path=body.get("path"),
                dataset_name=body.get("dataset_name"),
                fmt=body.get("format"),
                create_if_missing=_flag(body.get("create_if_missing"), True, "create_if_missing"),
            )
            return import_service.import_job_json(job)

        return JSONResponse(jsonable_encoder(await run_in_threadpool(start_path)), status_code=202)

    if media != "multipart/form-data" and media not in ZIP_TYPES:
        raise UnsupportedMediaType(
            "Send the ZIP as multipart/form-data (field 'file') or as an application/zip body, "
            "or JSON with a server 'path'"
        )
    require(caller.role, "member", "Importing into a dataset")
    max_bytes = ctx.settings.import_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + MAX_FIELD_BYTES:
        raise ArchiveTooLarge(f"The upload is {declared} bytes; the import limit is {max_bytes}")

    work, folder = await run_in_threadpool(import_service.new_work_dir, ctx)
    archive = folder / "upload.zip"
    try:
        if media == "multipart/form-data":
            fields, filename, _ = await _receive_multipart(request, content_type, archive, max_bytes)
        else:
            await _receive_raw(request, archive, max_bytes)
            fields, filename = dict(request.query_params), request.query_params.get("filename")
        limits = ArchiveLimits.for_settings(max_bytes)

        def start_upload() -> dict[str, Any]:
            stats = import_service.inspect_archive(archive, limits)
            job = import_service.start_upload_import(
                ctx, caller,
                work=work,
                stats=stats,
                filename=filename,
                dataset_name=fields.get("dataset_name"),
                fmt=fields.get("format"),
                create_if_missing=_flag(fields.get("create_if_missing"), True, "create_if_missing"),
            )
            return import_service.import_job_json(job)

        payload = await run_in_threadpool(start_upload)
    except BaseException:
        await run_in_threadpool(import_service.remove_tree, folder)
        raise
    return JSONResponse(jsonable_encoder(payload), status_code=202)


@router.get("/imports")
def list_imports(ctx: Ctx, caller: Caller, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    with ctx.db.session() as session:
        jobs, total = import_service.list_file_imports(session, caller, limit, offset)
        items = [import_service.import_job_json(job) for job in jobs]
    return {"imports": items, "total": total, "limit": limit, "offset": offset}


@router.get("/imports/{import_id}")
def get_import(import_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return import_service.import_job_json(import_service.get_file_import(session, caller, import_id))


@router.post("/imports/{import_id}/cancel")
def cancel_import(import_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return import_service.cancel_file_import(ctx, caller, import_id)

"""The blob endpoint behind signed URLs: PUT uploads bytes, GET streams them.

This is the self-hosted stand-in for the cloud bucket the hosted service hands out URLs
to. The URL's HMAC signature is the only credential, as with a presigned bucket URL.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from pictograph.server.errors import Conflict, Forbidden, NotFound, PayloadTooLarge
from pictograph.server.routes.deps import Ctx
from pictograph.server.storage.local import BlobTooLarge

router = APIRouter(tags=["blobs"], include_in_schema=False)


def _check(ctx, method: str, key: str, expires: str, signature: str, content_type: str) -> None:  # type: ignore[no-untyped-def]
    if not ctx.signer.verify(method, key, expires, signature, content_type):
        raise Forbidden("Signed URL is invalid or has expired", error_code="invalid_signature")
    try:
        ctx.blobs.path(key)
    except ValueError as error:
        raise Forbidden(str(error), error_code="invalid_signature") from error


@router.put("/blobs/{key:path}")
async def put_blob(
    key: str,
    request: Request,
    ctx: Ctx,
    expires: str = Query(""),
    signature: str = Query(""),
    content_type: str = Query(""),
) -> Response:
    _check(ctx, "PUT", key, expires, signature, content_type)
    if ctx.blobs.exists(key):
        # A signed PUT URL writes once: replaying it must not swap a registered image's bytes.
        raise Conflict("This upload URL has already been used", error_code="blob_exists")
    declared = request.headers.get("content-length")
    limit = ctx.settings.max_upload_bytes
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"File exceeds the {limit // (1024 * 1024)} MB upload limit")
    try:
        size = await ctx.blobs.write_stream(key, request.stream(), limit)
    except BlobTooLarge as error:
        raise PayloadTooLarge(f"File exceeds the {limit // (1024 * 1024)} MB upload limit") from error
    return Response(status_code=200, headers={"X-Blob-Size": str(size)})


@router.get("/blobs/{key:path}")
def get_blob(
    key: str,
    ctx: Ctx,
    expires: str = Query(""),
    signature: str = Query(""),
) -> StreamingResponse:
    _check(ctx, "GET", key, expires, signature, "")
    if not ctx.blobs.exists(key):
        raise NotFound("Blob not found")
    return StreamingResponse(
        ctx.blobs.read_chunks(key),
        media_type="application/octet-stream",
        headers={"Content-Length": str(ctx.blobs.size(key))},
    )

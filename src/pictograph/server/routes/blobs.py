"""The blob endpoint behind signed URLs: PUT uploads bytes, GET streams them.

This is the self-hosted stand-in for the cloud bucket the hosted service hands out URLs
to. The URL's HMAC signature is the only credential, as with a presigned bucket URL.
A PUT is capped at ``max_upload_bytes``, or ``max_video_bytes`` for a video upload's key
(keys are chosen and signed by the server, so the key's form says which it is).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from pictograph.server.errors import Conflict, Forbidden, NotFound, PayloadTooLarge
from pictograph.server.routes.deps import Ctx
from pictograph.server.services.video import is_video_key
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
    limit = ctx.settings.max_video_bytes if is_video_key(key) else ctx.settings.max_upload_bytes
    too_large = f"File exceeds the {_size_text(limit)} upload limit"
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    try:
        size = await ctx.blobs.write_stream(key, request.stream(), limit)
    except BlobTooLarge as error:
        raise PayloadTooLarge(too_large) from error
    return Response(status_code=200, headers={"X-Blob-Size": str(size)})


def _size_text(limit: int) -> str:
    """``10 GB``, ``50 MB`` or ``1000 bytes``: the limit as people read it."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2)):
        if limit >= size:
            return f"{limit / size:g} {unit}"
    return f"{limit} bytes"


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

"""``client.images``: single-image metadata, upload, download and delete.

Upload is the signed-URL flow: ask for an upload URL, PUT the bytes straight to it,
then register the stored blob as an image of the dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from pictograph.client.resources import Resource, path_segment
from pictograph.exceptions import ConflictError, ValidationError
from pictograph.models.image import CONTENT_TYPES, SUPPORTED_EXTENSIONS, Image

_PATH = "/api/v1/developer/images"

_DECODED_BY_SERVER = frozenset({".heic"})
"""Formats Pillow cannot read without a plugin the base install lacks; the server converts them."""


class Images(Resource):
    def get(self, image_id: str) -> Image:
        body = self._transport.request("GET", f"{_PATH}/{path_segment(image_id)}/metadata")
        return self._parse(Image, body["image"])

    def upload(
        self,
        dataset_id: str,
        file_path: str | Path,
        folder_path: str = "/",
        *,
        idempotency_key: str | None = None,
    ) -> Image:
        """Upload a local image into ``folder_path`` of the dataset; returns the new Image.

        Raises ValidationError before any request for an unsupported extension or a file
        that is not a readable image, and ConflictError when the folder already holds a
        file of that name. With ``idempotency_key``, each of the steps is keyed from it,
        so repeating the call with the same key does not upload twice.
        """
        path = Path(file_path).expanduser()
        content_type = _content_type(path)
        if not path.is_file():
            raise FileNotFoundError(f"No such image file: {path}")
        width, height = _dimensions(path)
        url_key = f"{idempotency_key}:upload-url" if idempotency_key else None
        register_key = f"{idempotency_key}:register" if idempotency_key else None

        target = self._transport.request(
            "POST",
            f"{_PATH}/upload-url",
            json={
                "dataset_id": dataset_id,
                "filename": path.name,
                "folder_path": folder_path,
                "content_type": content_type,
            },
            idempotency_key=url_key,
        )
        try:
            self._transport.upload(target["upload_url"], path, content_type=content_type)
        except ConflictError as error:
            # Signed URLs write once: "blob_exists" means an earlier attempt with this same
            # URL (a replayed idempotent call, or a retry whose response was lost) stored it.
            if error.error_code != "blob_exists":
                raise
        registered = self._transport.request(
            "POST",
            f"{_PATH}/register",
            data={
                "dataset_id": dataset_id,
                "filename": path.name,
                "gcs_bucket": target.get("gcs_bucket"),
                "gcs_path": target.get("gcs_path"),
                "gcs_uri": target.get("gcs_uri"),
                "folder_path": folder_path,
                "file_size": path.stat().st_size,
                "mime_type": content_type,
                "image_width": width,
                "image_height": height,
            },
            idempotency_key=register_key,
        )
        if isinstance(registered.get("image"), dict):
            return self._parse(Image, registered["image"])
        return self.get(registered["image_id"])

    def download(self, image_id: str, output_path: str | Path) -> Path:
        """Stream the original bytes to ``output_path`` (through ``<name>.part``); returns the path."""
        destination = Path(output_path).expanduser()
        self._transport.download(f"{_PATH}/{path_segment(image_id)}", destination)
        return destination

    def delete(self, image_id: str, *, permanent: bool = False) -> None:
        """Archive the image (recoverable), or with ``permanent=True`` remove it and its bytes."""
        params: dict[str, Any] = {"permanent": "true"} if permanent else {}
        self._transport.request("DELETE", f"{_PATH}/{path_segment(image_id)}", params=params)


def _content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in CONTENT_TYPES:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise ValidationError(
            f"Unsupported file extension {path.suffix or '(none)'!r} for {path.name}; supported: {supported}",
            error_code="unsupported_media_type",
            errors=[
                {"loc": ["file_path"], "msg": "unsupported file extension", "type": "value_error"}
            ],
        )
    return CONTENT_TYPES[suffix]


def _dimensions(path: Path) -> tuple[int | None, int | None]:
    """Width and height read by Pillow; a file Pillow should read but cannot is refused here."""
    try:
        with PILImage.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError) as error:
        if path.suffix.lower() in _DECODED_BY_SERVER:
            return None, None
        raise ValidationError(
            f"{path.name} is not a readable image: {error}",
            error_code="invalid_image",
            errors=[{"loc": ["file_path"], "msg": "not a readable image", "type": "value_error"}],
        ) from error

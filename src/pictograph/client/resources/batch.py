"""``client.batch``: move, copy, archive or update many images of one dataset in one call.

Each call returns a BatchResult listing what succeeded and why the rest failed; partial
failure is not an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pictograph.client.resources import Resource
from pictograph.exceptions import ValidationError
from pictograph.models.batch import BatchResult, DuplicateHandling

_PATH = "/api/v1/developer/batch/images"


class Batch(Resource):
    def move(
        self,
        dataset_name: str,
        image_ids: Sequence[str],
        *,
        target_folder_path: str = "/",
        idempotency_key: str | None = None,
    ) -> BatchResult:
        """Move images to another virtual folder; the stored bytes stay where they are."""
        body = {
            "dataset_name": dataset_name,
            "image_ids": list(image_ids),
            "target_folder_path": target_folder_path,
        }
        return self._send("POST", "move", body, idempotency_key)

    def copy(
        self,
        dataset_name: str,
        image_ids: Sequence[str],
        *,
        target_folder_path: str = "/",
        duplicate_handling: DuplicateHandling = "rename",
        copy_annotations: bool = False,
        idempotency_key: str | None = None,
    ) -> BatchResult:
        """Copy images (server-side) into ``target_folder_path``; copies start unannotated
        unless ``copy_annotations``."""
        body = {
            "dataset_name": dataset_name,
            "image_ids": list(image_ids),
            "target_folder_path": target_folder_path,
            "duplicate_handling": duplicate_handling,
            "copy_annotations": copy_annotations,
        }
        return self._send("POST", "copy", body, idempotency_key)

    def delete(
        self,
        dataset_name: str,
        image_ids: Sequence[str],
        *,
        permanent: bool = False,
        idempotency_key: str | None = None,
    ) -> BatchResult:
        """Archive images, or with ``permanent=True`` (admin role) delete them and their bytes."""
        body = {"dataset_name": dataset_name, "image_ids": list(image_ids), "permanent": permanent}
        return self._send("POST", "delete", body, idempotency_key)

    def update(
        self,
        dataset_name: str,
        image_ids: Sequence[str],
        *,
        status: str | None = None,
        display_name: str | None = None,
        is_archived: bool | None = None,
        idempotency_key: str | None = None,
    ) -> BatchResult:
        """Set the given fields on every image; fields left as None are not sent."""
        updates = {
            key: value
            for key, value in {
                "status": status,
                "display_name": display_name,
                "is_archived": is_archived,
            }.items()
            if value is not None
        }
        if not updates:
            raise ValidationError(
                "batch.update needs at least one of status, display_name, is_archived",
                errors=[{"loc": ["updates"], "msg": "no field to update", "type": "value_error"}],
            )
        body = {"dataset_name": dataset_name, "image_ids": list(image_ids), "updates": updates}
        return self._send("PATCH", "update", body, idempotency_key)

    def _send(
        self, method: str, action: str, body: dict[str, Any], idempotency_key: str | None
    ) -> BatchResult:
        response = self._transport.request(
            method, f"{_PATH}/{action}", json=body, idempotency_key=idempotency_key
        )
        return self._parse(BatchResult, response)

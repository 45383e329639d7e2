"""``client.annotations``: read, replace and clear an image's annotations.

Annotations travel in the Pictograph format (``name``, ``type``, ``bounding_box`` …).
Plain dicts are validated with the same models as typed annotations before anything is
sent, so a ``class`` key or a two-point polygon fails here rather than on the server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from pictograph.client.resources import Resource, path_segment
from pictograph.exceptions import ValidationError
from pictograph.models.annotation import ANNOTATION_LIST, Annotation

_PATH = "/api/v1/developer/annotations"
_ONE_ANNOTATION: TypeAdapter[Annotation] = TypeAdapter(Annotation)


class SaveResult(BaseModel):
    """``status`` follows the count: no annotations → ``new``, otherwise as the server sets it."""

    model_config = ConfigDict(extra="ignore")

    image_id: str
    previous_count: int
    new_count: int
    status: str


class DeleteResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image_id: str
    deleted_count: int = 0


class Annotations(Resource):
    def get(self, image_id: str) -> list[Annotation]:
        """The image's annotations; ``[]`` when it has none (NotFoundError only for no such image)."""
        body = self._transport.request("GET", f"{_PATH}/{path_segment(image_id)}")
        return ANNOTATION_LIST.validate_python(body.get("annotations") or [])

    def save(
        self,
        image_id: str,
        annotations: Sequence[Annotation | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> SaveResult:
        """Replace all of the image's annotations with ``annotations`` (a full overwrite)."""
        payload = [_to_wire(annotation, index) for index, annotation in enumerate(annotations)]
        body = self._transport.request(
            "POST",
            f"{_PATH}/{path_segment(image_id)}",
            json={"image_id": image_id, "annotations": payload},
            idempotency_key=idempotency_key,
        )
        return self._parse(SaveResult, body)

    def delete(self, image_id: str) -> DeleteResult:
        """Remove every annotation of the image (admin role)."""
        body = self._transport.request("DELETE", f"{_PATH}/{path_segment(image_id)}") or {}
        body.setdefault("image_id", image_id)
        return self._parse(DeleteResult, body)


def _to_wire(annotation: Annotation | Mapping[str, Any], index: int) -> dict[str, Any]:
    if isinstance(annotation, BaseModel):
        model = annotation
    else:
        try:
            model = _ONE_ANNOTATION.validate_python(dict(annotation))
        except PydanticValidationError as error:
            hint = None
            if "class" in annotation and "name" not in annotation:
                hint = "the class label field is 'name', not 'class'"
            raise ValidationError.from_pydantic(
                error, ["annotations", index], "annotation", hint
            ) from error
    return model.model_dump(mode="json", exclude_none=True)

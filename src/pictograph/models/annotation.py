"""The Pictograph annotation format: a discriminated union on ``type``.

These models are the single source of truth for the wire format. The SDK validates
with them before sending and the server validates with them again on save, so the
same mistakes (``class`` instead of ``name``, flat polygon arrays, short rings) fail
in the same words on both sides.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from pictograph.models.common import BoundingBox, NonBlankStr, Point

AnnotationType = Literal["bbox", "polygon", "polyline", "keypoint"]
ANNOTATION_TYPES: tuple[str, ...] = ("bbox", "polygon", "polyline", "keypoint")


class PolygonGeometry(BaseModel):
    """Rings of points: the first is the outline, later ones are holes (even-odd rule)."""

    model_config = ConfigDict(extra="forbid")

    paths: list[list[Point]] = Field(min_length=1)

    @field_validator("paths")
    @classmethod
    def _rings_have_three_points(cls, paths: list[list[Point]]) -> list[list[Point]]:
        for index, ring in enumerate(paths):
            if len(ring) < 3:
                raise ValueError(
                    f"paths[{index}] has {len(ring)} point(s); polygon ring requires >= 3"
                )
        return paths


class PolylineGeometry(BaseModel):
    """An open path of at least two points."""

    model_config = ConfigDict(extra="forbid")

    path: list[Point] = Field(min_length=2)


class _AnnotationBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: NonBlankStr = Field(default_factory=lambda: str(uuid.uuid4()))
    name: NonBlankStr
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    created_by: str | None = None
    attributes: list[object] = Field(default_factory=list)


class BBoxAnnotation(_AnnotationBase):
    type: Literal["bbox"] = "bbox"
    bounding_box: BoundingBox


class PolygonAnnotation(_AnnotationBase):
    type: Literal["polygon"] = "polygon"
    polygon: PolygonGeometry
    bounding_box: BoundingBox | None = None


class PolylineAnnotation(_AnnotationBase):
    type: Literal["polyline"] = "polyline"
    polyline: PolylineGeometry
    bounding_box: BoundingBox | None = None


class KeypointAnnotation(_AnnotationBase):
    type: Literal["keypoint"] = "keypoint"
    keypoint: Point


Annotation = Annotated[
    Union[BBoxAnnotation, PolygonAnnotation, PolylineAnnotation, KeypointAnnotation],
    Field(discriminator="type"),
]

ANNOTATION_LIST: TypeAdapter[list[Annotation]] = TypeAdapter(list[Annotation])


def enclosing_box(points: list[Point]) -> BoundingBox | None:
    """The tightest box around ``points``; None when they span no area (a box needs w, h > 0)."""
    xs = [p.x for p in points]
    ys = [p.y for p in points]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    if w <= 0 or h <= 0:
        return None
    return BoundingBox(x=min(xs), y=min(ys), w=w, h=h)


def with_bounding_box(annotation: Annotation) -> Annotation:
    """Fill a polygon's or polyline's missing ``bounding_box`` from its geometry."""
    if isinstance(annotation, PolygonAnnotation) and annotation.bounding_box is None:
        box = enclosing_box(annotation.polygon.paths[0])
        return annotation.model_copy(update={"bounding_box": box})
    if isinstance(annotation, PolylineAnnotation) and annotation.bounding_box is None:
        box = enclosing_box(annotation.polyline.path)
        return annotation.model_copy(update={"bounding_box": box})
    return annotation

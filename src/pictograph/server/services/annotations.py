"""Per-image annotations: read, full-overwrite save, delete.

Validation. Every item is validated with :data:`pictograph.models.annotation.ANNOTATION_LIST`
(the same models the SDK uses), so ``class`` instead of ``name``, flat polygon arrays, rings
of fewer than three points, zero-size boxes and unknown ``type`` values are all 422 with
``loc`` pointing at the item (``["annotations", i, ...]``). Then every ``name`` must be a class
of the project (case-sensitive; 422 at ``["annotations", i, "name"]`` listing the unknown
names) and ids must be unique within the image (422 at ``["annotations", i, "id"]``).
Polygons and polylines get their enclosing ``bounding_box`` filled in when omitted; a missing
``created_by`` is set to the calling API key's id. The list is stored as the plain array the
Annotation format page describes.

Status rule. ``images.status`` is the workflow stage: ``new``, ``annotate``, ``review`` or
``complete`` (what the published ``ImageStatus`` and batch ``update`` use). Saving sets the
stage from the count: 0 annotations → ``new``, 1 or more → ``complete``; deleting the
annotations sets ``new``. The save result's ``status`` reports progress in the annotation
page's words: ``new`` / ``in_progress`` / ``complete``, where ``in_progress`` is how the
stages ``annotate`` and ``review`` read (a stage a caller sets with ``batch.update``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pictograph.models.annotation import ANNOTATION_LIST, with_bounding_box
from pictograph.server.auth import Principal
from pictograph.server.db.tables import Image, Project, utcnow
from pictograph.server.errors import Invalid, NotFound
from pictograph.server.roles import require
from pictograph.server.services.images import PROGRESS, get_image
from pictograph.server.services.projects import check_storable

MAX_ANNOTATIONS_PER_IMAGE = 10_000
_KEY_ORDER = (
    "id",
    "name",
    "type",
    "bounding_box",
    "polygon",
    "polyline",
    "keypoint",
    "confidence",
    "created_by",
    "attributes",
)


@dataclass
class SaveOutcome:
    image_id: str
    previous_count: int
    new_count: int
    stage: str

    @property
    def status(self) -> str:
        return PROGRESS.get(self.stage, self.stage)


def stage_for_count(count: int) -> str:
    return "complete" if count > 0 else "new"


def _field_errors(error: ValidationError, items: list[Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for item in error.errors():
        loc = ["annotations", *item.get("loc", ())]
        msg = item.get("msg", "invalid value")
        kind = item.get("type", "value_error")
        if kind == "extra_forbidden" and loc[-1] == "class":
            msg = "The class label field is 'name', not 'class'"
        elif kind == "missing" and loc[-1] == "name" and len(loc) >= 2:
            index = loc[1]
            if (
                isinstance(index, int)
                and isinstance(items[index], dict)
                and "class" in items[index]
            ):
                msg = "Field required: the class label field is 'name' (not 'class')"
        errors.append({"loc": loc, "msg": msg, "type": kind})
    return errors


def _canonical(data: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: data[key] for key in _KEY_ORDER if key in data}
    ordered.update({key: value for key, value in data.items() if key not in ordered})
    return ordered


def validate_annotations(
    raw: Any, class_names: set[str], created_by: str | None
) -> list[dict[str, Any]]:
    """The wire list → the list to store (canonical JSON); Invalid listing every problem."""
    if not isinstance(raw, list):
        raise Invalid("annotations must be a list", loc=["annotations"])
    if len(raw) > MAX_ANNOTATIONS_PER_IMAGE:
        raise Invalid(
            f"At most {MAX_ANNOTATIONS_PER_IMAGE} annotations per image", loc=["annotations"]
        )
    check_storable(raw, ["annotations"])
    try:
        parsed = ANNOTATION_LIST.validate_python(raw)
    except ValidationError as error:
        shape_errors = _field_errors(error, raw)
        first = shape_errors[0]
        raise Invalid(
            f"{'.'.join(map(str, first['loc']))}: {first['msg']}", errors=shape_errors
        ) from error

    errors: list[dict[str, Any]] = []
    unknown: dict[str, list[int]] = {}
    seen_ids: dict[str, int] = {}
    for index, annotation in enumerate(parsed):
        if annotation.name not in class_names:
            unknown.setdefault(annotation.name, []).append(index)
        if annotation.id in seen_ids:
            errors.append(
                {
                    "loc": ["annotations", index, "id"],
                    "msg": f"Duplicate annotation id {annotation.id!r} (also at index {seen_ids[annotation.id]})",
                    "type": "value_error",
                }
            )
        else:
            seen_ids[annotation.id] = index
    if unknown:
        known = ", ".join(sorted(class_names)) or "(none: add classes with projects.update)"
        names = ", ".join(repr(name) for name in unknown)
        for name, indexes in unknown.items():
            for index in indexes:
                errors.insert(
                    0,
                    {
                        "loc": ["annotations", index, "name"],
                        "msg": f"Unknown class {name!r}; the project's classes are: {known}",
                        "type": "unknown_class",
                    },
                )
        errors.sort(key=lambda e: (e["loc"][1], e["type"] != "unknown_class"))
        raise Invalid(
            f"Unknown class name(s) {names}; the project's classes are: {known}", errors=errors
        )
    if errors:
        raise Invalid(errors[0]["msg"], errors=errors)

    stored: list[dict[str, Any]] = []
    for index, annotation in enumerate(parsed):
        annotation = with_bounding_box(annotation)
        if annotation.created_by is None and created_by:
            annotation = annotation.model_copy(update={"created_by": created_by})
        data = _canonical(annotation.model_dump(mode="json", exclude_none=True))
        check_storable(data, ["annotations", index])
        stored.append(data)
    return stored


def _class_names(project: Project) -> set[str]:
    return {c["name"] for c in (project.classes or []) if isinstance(c, dict) and "name" in c}


def get_annotations(session: Session, principal: Principal, image_id: str) -> Image:
    return get_image(session, principal, image_id)


def save_annotations(
    session: Session,
    principal: Principal,
    image_id: str,
    annotations: Any,
    *,
    body_image_id: Any = None,
) -> SaveOutcome:
    """Replace the image's annotations (full overwrite) and set its stage from the count."""
    require(principal.role, "member", "Saving annotations")
    if body_image_id not in (None, "") and body_image_id != image_id:
        raise Invalid("image_id in the body does not match the image in the URL", loc=["image_id"])
    found = get_image(session, principal, image_id)
    # Share-lock the project (a class-list update takes it exclusively), then lock the image.
    project = session.scalar(
        select(Project).where(Project.id == found.project_id).with_for_update(read=True)
    )
    if project is None:  # pragma: no cover - the image row cascades with its project
        raise NotFound(f"Image {image_id!r} not found")
    image = session.scalar(
        select(Image)
        .where(Image.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if image is None:  # deleted meanwhile
        raise NotFound(f"Image {image_id!r} not found")
    stored = validate_annotations(annotations, _class_names(project), principal.api_key_id)
    previous = int(image.annotation_count or 0)
    image.annotations = stored
    image.annotation_count = len(stored)
    image.status = stage_for_count(len(stored))
    image.updated_at = utcnow()
    session.flush()
    return SaveOutcome(image.id, previous, len(stored), image.status)


def delete_annotations(session: Session, principal: Principal, image_id: str) -> SaveOutcome:
    require(principal.role, "admin", "Deleting annotations")
    image = get_image(session, principal, image_id, lock=True)
    previous = int(image.annotation_count or 0)
    image.annotations = []
    image.annotation_count = 0
    image.status = "new"
    image.updated_at = utcnow()
    session.flush()
    return SaveOutcome(image.id, previous, 0, image.status)


def annotation_document(image: Image) -> dict[str, Any]:
    """The annotation JSON file of one image: what ``annotation_url`` serves."""
    annotations = list(image.annotations or [])
    return {
        "image_id": image.id,
        "image": {
            "id": image.id,
            "filename": image.filename,
            "width": image.width,
            "height": image.height,
            "dataset_id": image.project_id,
            "virtual_folder_path": image.virtual_folder_path,
        },
        "annotations": annotations,
        "annotation_count": len(annotations),
        "status": image.status,
    }

"""Projects (the API's "datasets" on the read side): listing, lookup, CRUD and class config.

Every function takes the calling Principal and sees only that principal's organization; a
project of another organization reads as 404, exactly like one that does not exist.

Counters (``image_count``, ``completed_image_count``, ``total_size``, ``archived_images``)
are computed from the images table at read time, one grouped query per page, so they can
never drift from the rows they count.

Class lists are replaced, never merged. Removing a class removes every annotation carrying
that class name across the whole dataset in the same transaction (archived images included);
an image left with no annotations goes back to status ``new``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from pictograph.server.auth import Principal
from pictograph.server.db.tables import Export, Image, Project, as_utc, utcnow
from pictograph.server.errors import Conflict, Invalid, NotFound
from pictograph.server.roles import require
from pictograph.server.services.lookup import find_owned

PROJECT_ANNOTATION_TYPES: tuple[str, ...] = ("bbox", "box", "polygon", "polyline", "keypoint")
DEFAULT_ANNOTATION_TYPES: list[str] = ["bbox"]
MAX_NAME_LENGTH = 200
MAX_CLASS_NAME_LENGTH = 120
MAX_DESCRIPTION_LENGTH = 10_000
MAX_CLASSES = 1000
MAX_JSON_DEPTH = 32
# Sasha Trubetskoy's 20 distinct colours: the editor's palette for classes without one.
PALETTE: tuple[str, ...] = (
    "#e6194b",
    "#3cb44b",
    "#ffe119",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#46f0f0",
    "#f032e6",
    "#bcf60c",
    "#fabebe",
    "#008080",
    "#e6beff",
    "#9a6324",
    "#fffac8",
    "#800000",
    "#aaffc3",
    "#808000",
    "#ffd8b1",
    "#000075",
    "#808080",
)


@dataclass
class ProjectStats:
    image_count: int = 0
    completed_image_count: int = 0
    total_size: int = 0
    archived_images: int = 0


@dataclass
class ProjectView:
    project: Project
    stats: ProjectStats
    images: list[Image] | None = None
    images_total: int | None = None
    removed_annotations: int = 0


@dataclass
class DeletedProject:
    summary: dict[str, Any]
    storage_keys: list[str] = field(default_factory=list)


# ───────────── validation ─────────────


def has_nul(value: Any) -> bool:
    """NUL can be in no stored name or id (PostgreSQL text refuses it): such a lookup is a miss."""
    return isinstance(value, str) and "\x00" in value


def check_storable(value: Any, loc: list[Any]) -> None:
    """422 unless ``value`` can be stored as JSON on every backend and read back as JSON:
    no NUL in any string or key, only finite numbers, nesting at most MAX_JSON_DEPTH deep."""
    stack: list[tuple[Any, list[Any], int]] = [(value, loc, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise Invalid(f"Nested deeper than {MAX_JSON_DEPTH} levels", loc=where)
        if isinstance(item, str):
            if "\x00" in item:
                raise Invalid("Strings must not contain NUL characters", loc=where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise Invalid("Numbers must be finite (no NaN or Infinity)", loc=where)
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or "\x00" in key:
                    raise Invalid("Object keys must be strings without NUL characters", loc=where)
                stack.append((child, [*where, key], depth + 1))
        elif isinstance(item, (list, tuple)):
            for index, child in enumerate(item):
                stack.append((child, [*where, index], depth + 1))


def validate_project_name(name: Any, loc: list[Any]) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid("Project name must not be blank", loc=loc)
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(f"Project name must be at most {MAX_NAME_LENGTH} characters", loc=loc)
    if "/" in name or "\\" in name or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise Invalid("Project name must not contain '/', '\\' or control characters", loc=loc)
    if name != name.strip():
        raise Invalid("Project name must not start or end with whitespace", loc=loc)
    return name


def validate_description(description: Any, loc: list[Any]) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str):
        raise Invalid("description must be a string", loc=loc)
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise Invalid(f"description must be at most {MAX_DESCRIPTION_LENGTH} characters", loc=loc)
    check_storable(description, loc)
    return description


def validate_annotation_types(types: Any, loc: list[Any]) -> list[str]:
    if not isinstance(types, list) or not types:
        raise Invalid("annotation_types must be a non-empty list", loc=loc)
    result: list[str] = []
    for index, kind in enumerate(types):
        if kind not in PROJECT_ANNOTATION_TYPES:
            raise Invalid(
                f"Invalid annotation type {kind!r}; expected one of "
                f"{', '.join(PROJECT_ANNOTATION_TYPES)}",
                loc=[*loc, index],
            )
        if kind not in result:
            result.append(kind)
    return result


def validate_classes(
    classes: Any, loc: list[Any], default_type: str = "bbox"
) -> list[dict[str, Any]]:
    """Check a class list; fill missing colours from the palette. Extra keys are kept as-is."""
    if not isinstance(classes, list):
        raise Invalid("classes must be a list", loc=loc)
    if len(classes) > MAX_CLASSES:
        raise Invalid(f"A project may have at most {MAX_CLASSES} classes", loc=loc)
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    result: list[dict[str, Any]] = []
    for index, raw in enumerate(classes):
        where = [*loc, index]
        if not isinstance(raw, dict):
            errors.append(_error([*where], "Each class must be an object with at least a name"))
            continue
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append(_error([*where, "name"], "Class name must be a non-blank string"))
            continue
        if len(name) > MAX_CLASS_NAME_LENGTH:
            errors.append(
                _error(
                    [*where, "name"],
                    f"Class name must be at most {MAX_CLASS_NAME_LENGTH} characters",
                )
            )
            continue
        if name in seen:
            errors.append(
                _error(
                    [*where, "name"], f"Duplicate class name {name!r} (also at index {seen[name]})"
                )
            )
            continue
        seen[name] = index
        kind = raw.get("type")
        if kind is not None and kind not in PROJECT_ANNOTATION_TYPES:
            errors.append(
                _error(
                    [*where, "type"],
                    f"Invalid class type {kind!r}; expected one of {', '.join(PROJECT_ANNOTATION_TYPES)}",
                )
            )
            continue
        color = raw.get("color")
        if color is not None and (
            not isinstance(color, str) or not color.strip() or len(color) > 64
        ):
            errors.append(
                _error([*where, "color"], "color must be a non-blank string (a CSS colour)")
            )
            continue
        entry = dict(raw)
        entry["name"] = name
        entry["type"] = kind if kind is not None else default_type
        entry["color"] = color if color is not None else PALETTE[index % len(PALETTE)]
        result.append(entry)
    if errors:
        raise Invalid(errors[0]["msg"], errors=errors)
    check_storable(result, loc)
    return result


def _error(loc: list[Any], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


# ───────────── lookups ─────────────


def find_by_name(
    session: Session, principal: Principal, name: str, *, lock: bool = False
) -> Project:
    return _find_project(session, principal, Project.name, name, lock=lock)


def find_by_id(
    session: Session, principal: Principal, project_id: str, *, lock: bool = False
) -> Project:
    return _find_project(session, principal, Project.id, project_id, lock=lock)


def _find_project(
    session: Session,
    principal: Principal,
    column: InstrumentedAttribute[str],
    value: Any,
    *,
    lock: bool,
) -> Project:
    """The caller's dataset whose ``column`` equals ``value``; a value no row can hold
    (not a string, or with a NUL, which PostgreSQL refuses) is simply not found."""
    missing = f"Dataset {value!r} not found"
    if not isinstance(value, str) or has_nul(value):
        raise NotFound(missing)
    return find_owned(session, principal, Project, column == value, missing=missing, lock=lock)


def stats_for(session: Session, project_ids: list[str]) -> dict[str, ProjectStats]:
    """The counters of several projects in one grouped query."""
    if not project_ids:
        return {}
    live = Image.is_archived.is_(False)
    rows = session.execute(
        select(
            Image.project_id,
            func.coalesce(func.sum(case((live, 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(live, Image.status == "complete"), 1), else_=0)), 0),
            func.coalesce(func.sum(case((live, Image.file_size), else_=0)), 0),
            func.coalesce(func.sum(case((live, 0), else_=1)), 0),
        )
        .where(Image.project_id.in_(project_ids))
        .group_by(Image.project_id)
    ).all()
    stats = {pid: ProjectStats() for pid in project_ids}
    for pid, count, completed, size, archived in rows:
        stats[pid] = ProjectStats(int(count), int(completed), int(size), int(archived))
    return stats


def list_projects(
    session: Session, principal: Principal, limit: int, offset: int
) -> tuple[list[ProjectView], int]:
    org = principal.organization_id
    total = session.scalar(
        select(func.count()).select_from(Project).where(Project.organization_id == org)
    )
    projects = session.scalars(
        select(Project)
        .where(Project.organization_id == org)
        .order_by(Project.created_at, Project.id)
        .limit(limit)
        .offset(offset)
    ).all()
    stats = stats_for(session, [p.id for p in projects])
    return [ProjectView(p, stats[p.id]) for p in projects], int(total or 0)


def get_project(session: Session, principal: Principal, name: str) -> ProjectView:
    project = find_by_name(session, principal, name)
    return ProjectView(project, stats_for(session, [project.id])[project.id])


def get_project_by_id(session: Session, principal: Principal, project_id: str) -> ProjectView:
    project = find_by_id(session, principal, project_id)
    return ProjectView(project, stats_for(session, [project.id])[project.id])


def get_dataset(
    session: Session,
    principal: Principal,
    name: str,
    *,
    include_images: bool,
    images_limit: int,
    images_offset: int,
) -> ProjectView:
    """A dataset by name; with ``include_images`` its live images, oldest first, one page."""
    view = get_project(session, principal, name)
    if include_images:
        live = and_(Image.project_id == view.project.id, Image.is_archived.is_(False))
        view.images = list(
            session.scalars(
                select(Image)
                .where(live)
                .order_by(Image.created_at, Image.id)
                .limit(images_limit)
                .offset(images_offset)
            ).all()
        )
        view.images_total = view.stats.image_count
    return view


# ───────────── create / update / delete ─────────────


def create_project(
    session: Session,
    principal: Principal,
    *,
    name: Any,
    description: Any = None,
    annotation_types: Any = None,
    classes: Any = None,
) -> ProjectView:
    require(principal.role, "member", "Creating a project")
    name = validate_project_name(name, ["name"])
    description = validate_description(description, ["description"])
    types = (
        list(DEFAULT_ANNOTATION_TYPES)
        if annotation_types is None
        else validate_annotation_types(annotation_types, ["annotation_types"])
    )
    class_list = [] if classes is None else validate_classes(classes, ["classes"], types[0])
    org = principal.organization_id
    if session.scalar(
        select(Project.id).where(Project.organization_id == org, Project.name == name)
    ):
        raise Conflict(f"A dataset named {name!r} already exists")
    project = Project(
        organization_id=org,
        name=name,
        description=description,
        annotation_types=types,
        classes=class_list,
    )
    try:
        with session.begin_nested():
            session.add(project)
            session.flush()
    except IntegrityError as error:
        raise Conflict(f"A dataset named {name!r} already exists") from error
    return ProjectView(project, ProjectStats())


def update_project(
    session: Session, principal: Principal, name: str, changes: dict[str, Any]
) -> ProjectView:
    """Apply the given fields (``name``, ``description``, ``annotation_types``, ``classes``).

    ``changes`` holds only the fields the caller sent; ``description: None`` clears it.
    """
    require(principal.role, "member", "Updating a project")
    if not changes:
        raise Invalid(
            "At least one of name / description / annotation_types / classes must be provided",
            loc=[],
        )
    # Validate everything before touching the row, so a bad field changes nothing.
    new_name = validate_project_name(changes["name"], ["name"]) if "name" in changes else None
    description = (
        validate_description(changes["description"], ["description"])
        if "description" in changes
        else None
    )
    if "annotation_types" in changes:
        types = validate_annotation_types(changes["annotation_types"], ["annotation_types"])
    if "classes" in changes:
        class_list = validate_classes(changes["classes"], ["classes"], default_type="")

    # The lock orders this update against concurrent annotation saves (they take a share lock).
    project = find_by_name(session, principal, name, lock=True)
    if new_name is not None and new_name != project.name:
        clash = session.scalar(
            select(Project.id).where(
                Project.organization_id == principal.organization_id,
                Project.name == new_name,
                Project.id != project.id,
            )
        )
        if clash:
            raise Conflict(f"A dataset named {new_name!r} already exists")
        project.name = new_name
    if "description" in changes:
        project.description = description
    if "annotation_types" in changes:
        project.annotation_types = types
    removed_annotations = 0
    if "classes" in changes:
        default_type = (project.annotation_types or DEFAULT_ANNOTATION_TYPES)[0]
        class_list = [{**c, "type": c["type"] or default_type} for c in class_list]
        kept = {c["name"] for c in class_list}
        removed = {c.get("name") for c in (project.classes or [])} - kept
        if removed:
            removed_annotations = _remove_class_annotations(session, project.id, removed)
        project.classes = class_list
    project.updated_at = utcnow()
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        raise Conflict(f"A dataset named {new_name!r} already exists") from error
    view = ProjectView(project, stats_for(session, [project.id])[project.id])
    view.removed_annotations = removed_annotations
    return view


def _remove_class_annotations(session: Session, project_id: str, removed: set[Any]) -> int:
    """Strip annotations named in ``removed`` from every image of the project; return how many."""
    rows = session.execute(
        select(Image.id, Image.annotations, Image.status)
        .where(Image.project_id == project_id, Image.annotation_count > 0)
        .with_for_update()
    ).all()
    changes: list[dict[str, Any]] = []
    total = 0
    now = utcnow()
    for image_id, stored, status in rows:
        stored = stored or []
        kept = [a for a in stored if not (isinstance(a, dict) and a.get("name") in removed)]
        if len(kept) == len(stored):
            continue
        total += len(stored) - len(kept)
        changes.append(
            {
                "id": image_id,
                "annotations": kept,
                "annotation_count": len(kept),
                "status": "new" if not kept else status,
                "updated_at": now,
            }
        )
    if changes:
        session.execute(update(Image), changes)
    return total


def delete_project(session: Session, principal: Principal, name: str) -> DeletedProject:
    """Delete the project and its images; the caller removes the returned blob keys after commit."""
    require(principal.role, "admin", "Deleting a project")
    project = find_by_name(session, principal, name, lock=True)
    rows = session.execute(
        select(
            Image.storage_key,
            Image.annotation_count,
            Image.is_archived,
            Image.virtual_folder_path,
            Image.file_size,
        ).where(Image.project_id == project.id)
    ).all()
    folders = {
        row.virtual_folder_path for row in rows if row.virtual_folder_path not in (None, "/")
    }
    summary = {
        "project_id": project.id,
        "name": project.name,
        "images_deleted": len(rows),
        "archived_images_deleted": sum(1 for row in rows if row.is_archived),
        "annotations_deleted": sum(int(row.annotation_count or 0) for row in rows),
        "folders_deleted": len(folders),
        "bytes_freed": sum(int(row.file_size or 0) for row in rows),
        "exports_deleted": 0,
    }
    # Exports go with the project: their rows here, their ZIPs with the returned keys.
    export_keys = [
        key or f"exports/{project.organization_id}/{export_id}.zip"
        for export_id, key in session.execute(
            select(Export.id, Export.blob_key).where(Export.project_id == project.id)
        ).all()
    ]
    summary["exports_deleted"] = len(export_keys)
    session.execute(delete(Export).where(Export.project_id == project.id))
    session.execute(delete(Image).where(Image.project_id == project.id))
    session.execute(delete(Project).where(Project.id == project.id))
    return DeletedProject(summary, [row.storage_key for row in rows] + export_keys)


# ───────────── response shapes ─────────────


def iso(moment: Any) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def project_payload(view: ProjectView) -> dict[str, Any]:
    """One shape for both models: the published ``Project`` and ``Dataset`` read the same keys."""
    project, stats = view.project, view.stats
    return {
        "id": project.id,
        "organization_id": project.organization_id,
        "name": project.name,
        "description": project.description,
        "annotation_types": list(project.annotation_types or DEFAULT_ANNOTATION_TYPES),
        "classes": list(project.classes or []),
        "image_count": stats.image_count,
        "completed_image_count": stats.completed_image_count,
        "total_size": stats.total_size,
        "archived_images": stats.archived_images,
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
    }

"""Bulk image operations on one dataset: move, copy, delete, update.

Each call names the dataset and up to 10,000 image ids. The dataset must exist in the
caller's organization and at least one id must belong to it (404 otherwise); every other
problem is a per-image failure in the result, never an exception. Decisions are made in
memory from one read of the affected rows, then applied with one statement per kind of
change (an UPDATE … WHERE id IN, a DELETE … WHERE id IN, one multi-row INSERT), not a loop
of round trips.

- move: changes ``virtual_folder_path`` only; stored bytes never move. A live image whose
  name is already taken in the target folder fails.
- copy: server-side blob copy to a fresh key per image. ``duplicate_handling`` decides name
  clashes in the target: ``rename`` (``name-2.ext``, ``name-3.ext``, …), ``skip`` (recorded
  as a failure) or ``overwrite`` (the existing image is permanently replaced).
  ``copy_annotations`` copies the annotations and the status; otherwise copies start
  ``new`` with none.
- delete: archive (member+) or, with ``permanent``, delete rows and bytes (admin+).
- update: ``status`` (a stage), ``display_name``, ``is_archived``. Restoring an image whose
  name a live image in the same folder has taken meanwhile fails for that image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pictograph.server.auth import Principal
from pictograph.server.db.tables import Image, Project, new_id, utcnow
from pictograph.server.errors import Conflict, Invalid, NotFound
from pictograph.server.roles import require
from pictograph.server.search.scheduling import schedule_indexing
from pictograph.server.services import projects
from pictograph.server.services.images import (
    STAGES,
    extension_of,
    new_blob_key,
    normalize_folder,
    unreferenced_keys,
)
from pictograph.server.storage.local import LocalBlobStore

MAX_BATCH = 10_000
DUPLICATE_POLICIES = ("rename", "skip", "overwrite")
UPDATE_FIELDS = ("status", "display_name", "is_archived")


@dataclass
class BatchOutcome:
    operation: str
    succeeded: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    affected_folders: set[str] = field(default_factory=set)
    purge_keys: list[str] = field(default_factory=list)
    created: list[dict[str, str]] = field(default_factory=list)

    def fail(self, image_id: str, reason: str) -> None:
        self.failures.append((image_id, reason))


def _resolve(
    session: Session,
    principal: Principal,
    dataset_name: str,
    image_ids: list[str],
    outcome: BatchOutcome,
) -> tuple[Project, list[Image]]:
    """The dataset and its images among ``image_ids`` (request order, de-duplicated)."""
    if not image_ids:
        raise Invalid("image_ids must not be empty", loc=["image_ids"])
    if len(image_ids) > MAX_BATCH:
        raise Invalid(f"At most {MAX_BATCH} image ids per request", loc=["image_ids"])
    project = projects.find_by_name(session, principal, dataset_name)
    wanted = list(dict.fromkeys(image_ids))
    queryable = [image_id for image_id in wanted if not projects.has_nul(image_id)]
    rows = session.scalars(
        select(Image)
        .where(Image.project_id == project.id, Image.id.in_(queryable))
        .with_for_update()
    ).all()
    by_id = {image.id: image for image in rows}
    found: list[Image] = []
    for image_id in wanted:
        image = by_id.get(image_id)
        if image is None:
            outcome.fail(image_id, f"Image not found in dataset {dataset_name!r}")
        else:
            found.append(image)
    if not found:
        raise NotFound(f"None of the given image ids belong to dataset {dataset_name!r}")
    return project, found


def _live_names(session: Session, project_id: str, folder: str) -> dict[str, Image]:
    rows = session.scalars(
        select(Image).where(
            Image.project_id == project_id,
            Image.virtual_folder_path == folder,
            Image.is_archived.is_(False),
        )
    ).all()
    return {image.filename: image for image in rows}


def _conflict(error: IntegrityError) -> Conflict:
    return Conflict("A concurrent change created a name clash; retry the operation")


# ───────────── move ─────────────


def move_images(
    session: Session,
    principal: Principal,
    *,
    dataset_name: str,
    image_ids: list[str],
    target_folder_path: Any,
) -> BatchOutcome:
    require(principal.role, "member", "Moving images")
    target = normalize_folder(target_folder_path, ["target_folder_path"])
    outcome = BatchOutcome("move")
    project, images = _resolve(session, principal, dataset_name, image_ids, outcome)
    taken = set(_live_names(session, project.id, target))
    to_move: list[str] = []
    for image in images:
        if image.virtual_folder_path == target:
            outcome.succeeded.append(image.id)
            continue
        if not image.is_archived:
            if image.filename in taken:
                outcome.fail(
                    image.id, f"An image named {image.filename!r} already exists in {target!r}"
                )
                continue
            taken.add(image.filename)
        outcome.affected_folders.add(image.virtual_folder_path)
        to_move.append(image.id)
        outcome.succeeded.append(image.id)
    if to_move:
        outcome.affected_folders.add(target)
        try:
            with session.begin_nested():
                session.execute(
                    update(Image)
                    .where(Image.id.in_(to_move))
                    .values(virtual_folder_path=target, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError as error:
            raise _conflict(error) from error
    return outcome


# ───────────── copy ─────────────


def _renamed(filename: str, taken: set[str]) -> str:
    ext = extension_of(filename)
    stem = filename[: len(filename) - len(ext)] if ext else filename
    n = 2
    while f"{stem}-{n}{ext}" in taken:
        n += 1
    return f"{stem}-{n}{ext}"


def copy_images(
    session: Session,
    blobs: LocalBlobStore,
    principal: Principal,
    *,
    dataset_name: str,
    image_ids: list[str],
    target_folder_path: Any,
    duplicate_handling: str,
    copy_annotations: bool,
) -> BatchOutcome:
    require(principal.role, "member", "Copying images")
    target = normalize_folder(target_folder_path, ["target_folder_path"])
    if duplicate_handling not in DUPLICATE_POLICIES:
        raise Invalid(
            f"duplicate_handling must be one of {', '.join(DUPLICATE_POLICIES)}",
            loc=["duplicate_handling"],
        )
    outcome = BatchOutcome("copy")
    project, images = _resolve(session, principal, dataset_name, image_ids, outcome)
    existing = _live_names(session, project.id, target)
    # name → ("row", Image) for an image already in the folder, ("new", index) for a pending copy
    taken: dict[str, tuple[str, Any]] = {name: ("row", image) for name, image in existing.items()}
    rows: list[dict[str, Any] | None] = []
    replaced: dict[str, Image] = {}
    created_keys: list[str] = []
    now = utcnow()
    try:
        for image in images:
            if image.id in replaced:
                outcome.fail(image.id, "Replaced by an earlier copy in this batch (overwrite)")
                continue
            name = image.filename
            if name in taken:
                kind, holder = taken[name]
                if duplicate_handling == "skip":
                    outcome.fail(
                        image.id, f"An image named {name!r} already exists in {target!r} (skipped)"
                    )
                    continue
                if duplicate_handling == "rename":
                    name = _renamed(name, set(taken))
                elif kind == "row":
                    if holder.id == image.id:
                        outcome.fail(image.id, "An image cannot overwrite itself")
                        continue
                    replaced[holder.id] = holder
                else:  # overwrite a copy made earlier in this batch
                    earlier = rows[holder]
                    assert earlier is not None
                    blobs.delete(earlier["storage_key"])
                    created_keys.remove(earlier["storage_key"])
                    outcome.created = [c for c in outcome.created if c["image_id"] != earlier["id"]]
                    outcome.succeeded.remove(earlier["_source"])
                    outcome.fail(earlier["_source"], "Overwritten by a later copy in this batch")
                    rows[holder] = None
            if not blobs.exists(image.storage_key):
                outcome.fail(image.id, "The stored file of this image is missing")
                continue
            key = new_blob_key(principal.organization_id, project.id, name)
            blobs.copy(image.storage_key, key)
            created_keys.append(key)
            row: dict[str, Any] = {
                "id": new_id(),
                "project_id": project.id,
                "organization_id": principal.organization_id,
                "filename": name,
                "display_name": None,
                "virtual_folder_path": target,
                "storage_key": key,
                "file_size": image.file_size,
                "mime_type": image.mime_type,
                "width": image.width,
                "height": image.height,
                "status": image.status if copy_annotations else "new",
                "annotations": list(image.annotations or []) if copy_annotations else [],
                "annotation_count": int(image.annotation_count or 0) if copy_annotations else 0,
                "is_archived": False,
                "archived_at": None,
                "created_at": now,
                "updated_at": now,
                "_source": image.id,
            }
            taken[name] = ("new", len(rows))
            rows.append(row)
            outcome.succeeded.append(image.id)
            outcome.created.append({"source_id": image.id, "image_id": row["id"], "filename": name})
            outcome.affected_folders.add(target)

        inserts = [
            {k: v for k, v in row.items() if k != "_source"} for row in rows if row is not None
        ]
        try:
            with session.begin_nested():
                if replaced:
                    session.execute(
                        delete(Image)
                        .where(Image.id.in_(list(replaced)))
                        .execution_options(synchronize_session=False)
                    )
                if inserts:
                    session.execute(insert(Image), inserts)
                    schedule_indexing(session, principal.organization_id, project.id)
        except IntegrityError as error:
            raise _conflict(error) from error
    except BaseException:
        for key in created_keys:
            blobs.delete(key)
        raise
    if replaced:
        outcome.purge_keys = unreferenced_keys(
            session, [image.storage_key for image in replaced.values()]
        )
    return outcome


# ───────────── delete ─────────────


def delete_images(
    session: Session,
    principal: Principal,
    *,
    dataset_name: str,
    image_ids: list[str],
    permanent: bool,
) -> BatchOutcome:
    require(principal.role, "member", "Deleting images")
    if permanent:
        require(principal.role, "admin", "Permanently deleting images")
    outcome = BatchOutcome("delete")
    _, images = _resolve(session, principal, dataset_name, image_ids, outcome)
    ids = [image.id for image in images]
    outcome.succeeded.extend(ids)
    outcome.affected_folders.update(image.virtual_folder_path for image in images)
    if permanent:
        keys = [image.storage_key for image in images]
        session.execute(
            delete(Image).where(Image.id.in_(ids)).execution_options(synchronize_session=False)
        )
        outcome.purge_keys = unreferenced_keys(session, keys)
    else:
        now = utcnow()
        session.execute(
            update(Image)
            .where(Image.id.in_(ids), Image.is_archived.is_(False))
            .values(is_archived=True, archived_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return outcome


# ───────────── update ─────────────


def validate_updates(updates: dict[str, Any]) -> dict[str, Any]:
    """The fields to set; 422 when none is given or a value is invalid."""
    unknown = [key for key in updates if key not in UPDATE_FIELDS]
    if unknown:
        raise Invalid(
            f"Unknown update field(s) {', '.join(unknown)}; allowed: {', '.join(UPDATE_FIELDS)}",
            loc=["updates", unknown[0]],
        )
    values = {key: value for key, value in updates.items() if value is not None}
    if not values:
        raise Invalid(
            "At least one of status / display_name / is_archived must be provided", loc=["updates"]
        )
    if "status" in values and values["status"] not in STAGES:
        raise Invalid(
            f"Invalid status {values['status']!r}; expected one of {', '.join(STAGES)}",
            loc=["updates", "status"],
        )
    if "display_name" in values:
        name = values["display_name"]
        if not isinstance(name, str) or len(name) > 255 or any(ord(ch) < 32 for ch in name):
            raise Invalid(
                "display_name must be a string of at most 255 characters without control characters",
                loc=["updates", "display_name"],
            )
        values["display_name"] = name.strip() or None
    if "is_archived" in values and not isinstance(values["is_archived"], bool):
        raise Invalid("is_archived must be true or false", loc=["updates", "is_archived"])
    return values


def update_images(
    session: Session,
    principal: Principal,
    *,
    dataset_name: str,
    image_ids: list[str],
    updates: dict[str, Any],
) -> BatchOutcome:
    require(principal.role, "member", "Updating images")
    values = validate_updates(updates)
    outcome = BatchOutcome("update")
    project, images = _resolve(session, principal, dataset_name, image_ids, outcome)
    chosen = images
    if values.get("is_archived") is False:
        restoring = [image for image in images if image.is_archived]
        if restoring:
            names = {image.filename for image in restoring}
            live = {
                (folder, name)
                for folder, name in session.execute(
                    select(Image.virtual_folder_path, Image.filename).where(
                        Image.project_id == project.id,
                        Image.is_archived.is_(False),
                        Image.filename.in_(names),
                    )
                ).all()
            }
            blocked: set[str] = set()
            for image in restoring:
                slot = (image.virtual_folder_path, image.filename)
                if slot in live:
                    blocked.add(image.id)
                    outcome.fail(
                        image.id,
                        f"A live image named {image.filename!r} already exists in {image.virtual_folder_path!r}",
                    )
                else:
                    live.add(slot)
            chosen = [image for image in images if image.id not in blocked]
    ids = [image.id for image in chosen]
    outcome.succeeded.extend(ids)
    outcome.affected_folders.update(image.virtual_folder_path for image in chosen)
    if not ids:
        return outcome
    now = utcnow()
    statement_values: dict[str, Any] = {"updated_at": now}
    for key in ("status", "display_name"):
        if key in values:
            statement_values[key] = values[key]
    if "is_archived" in values:
        statement_values["is_archived"] = values["is_archived"]
        statement_values["archived_at"] = (
            func.coalesce(Image.archived_at, now) if values["is_archived"] else None
        )
    try:
        with session.begin_nested():
            session.execute(
                update(Image)
                .where(Image.id.in_(ids))
                .values(**statement_values)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError as error:
        raise _conflict(error) from error
    return outcome


# ───────────── response shape ─────────────


def batch_payload(outcome: BatchOutcome) -> dict[str, Any]:
    """Both shapes: the published client's (success/processed/failed[id,reason]/affected_folders)
    and the Batch page's (succeeded/failed_count/failures[image_id,reason])."""
    failures = [
        {"id": image_id, "image_id": image_id, "reason": reason}
        for image_id, reason in outcome.failures
    ]
    payload: dict[str, Any] = {
        "success": not failures,
        "operation": outcome.operation,
        "processed": len(outcome.succeeded),
        "succeeded": list(outcome.succeeded),
        "failed": failures,
        "failed_count": len(failures),
        "failures": failures,
        "affected_folders": sorted(outcome.affected_folders),
    }
    if outcome.operation == "copy":
        payload["created"] = list(outcome.created)
    return payload

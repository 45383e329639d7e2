"""The ``export`` job: stream a dataset out of the database into a ZIP in the blob store.

Memory stays bounded however large the dataset: images are read in keyset pages of
:data:`PAGE_SIZE` rows (ordered by the ``ix_images_project_created`` index, one short
transaction per page), turned into :class:`~pictograph.formats.base.ExportImage` items one
at a time, and handed to the format's streaming writer, which writes ZIP entries as it goes.
The archive is written to a temporary file under the blob store and renamed into place
(``exports/<org>/<export id>.zip``) only once complete, so a reader never sees half a ZIP.

A resumed job (its worker died; another claimed it after the lease ran out) simply builds
the archive again from the start: nothing is visible until the final rename.

:func:`write_export` is the core, free of the job machinery, so that benchmarks and tests
can run it directly against a database and a blob store.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, func, select, tuple_, update

from pictograph.formats import get_writer
from pictograph.formats.base import ArchiveWriter, ClassInfo, ExportImage
from pictograph.models.annotation import ANNOTATION_LIST
from pictograph.server.db.engine import Database
from pictograph.server.db.tables import Export, Image, Job, Project, utcnow
from pictograph.server.jobs.context import JobCancelled, JobContext
from pictograph.server.jobs.runner import handler
from pictograph.server.services.exports import JOB_KIND, blob_key_for, stages_for
from pictograph.server.storage.local import LocalBlobStore

logger = logging.getLogger("pictograph.jobs.export")

PAGE_SIZE = 500
"""Images read per database round trip."""
PROGRESS_EVERY = 500
"""Images between two progress records (each also extends the lease and checks for cancel)."""


@dataclass(frozen=True)
class ExportSpec:
    """Everything the writer needs to know about one export, read once from its record."""

    export_id: str
    organization_id: str
    project_id: str
    dataset_name: str
    format: str
    include_images: bool
    class_filter: tuple[str, ...] | None
    status_filter: str | None
    classes: tuple[ClassInfo, ...]

    @property
    def blob_key(self) -> str:
        return blob_key_for(self.organization_id, self.export_id)

    @property
    def export_classes(self) -> list[ClassInfo]:
        """The classes the archive declares: all of the dataset's, or those of ``class_filter``.

        Each keeps its stable id (its 1-based position in the dataset's class list), so a
        filtered export numbers a class exactly as an unfiltered one does.
        """
        if self.class_filter is None:
            return list(self.classes)
        wanted = set(self.class_filter)
        return [info for info in self.classes if info.name in wanted]


@dataclass
class ExportResult:
    image_count: int = 0
    annotation_count: int = 0
    file_size: int = 0
    blob_key: str = ""
    missing_images: int = 0
    """Images whose stored file was gone: exported with their annotations, without the bytes."""


def class_infos(project_classes: list[dict[str, Any]] | None) -> tuple[ClassInfo, ...]:
    infos = []
    for position, entry in enumerate(project_classes or [], start=1):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            infos.append(ClassInfo(position, entry["name"], entry.get("type"), entry.get("color")))
    return tuple(infos)


def load_spec(db: Database, export_id: str) -> ExportSpec | None:
    with db.session() as session:
        row = session.execute(
            select(Export, Project.name, Project.classes)
            .join(Project, Project.id == Export.project_id)
            .where(Export.id == export_id)
        ).first()
        if row is None:
            return None
        export, dataset_name, classes = row
        return ExportSpec(
            export_id=export.id,
            organization_id=export.organization_id,
            project_id=export.project_id,
            dataset_name=dataset_name,
            format=export.format,
            include_images=bool(export.include_images),
            class_filter=tuple(export.class_filter) if export.class_filter is not None else None,
            status_filter=export.status_filter,
            classes=class_infos(classes),
        )


# ───────────── reading the dataset ─────────────


def _image_filter(spec: ExportSpec) -> list[Any]:
    where = [Image.project_id == spec.project_id, Image.is_archived.is_(False)]
    stages = stages_for(spec.status_filter)
    if stages is not None:
        where.append(Image.status.in_(stages))
    return where


def count_images(db: Database, spec: ExportSpec) -> int:
    with db.session() as session:
        return int(
            session.scalar(select(func.count()).select_from(Image).where(*_image_filter(spec))) or 0
        )


_COLUMNS = (
    Image.id,
    Image.created_at,
    Image.filename,
    Image.virtual_folder_path,
    Image.width,
    Image.height,
    Image.status,
    Image.storage_key,
    Image.annotation_count,
    # The stored JSON as text: pydantic parses and validates it in one pass, faster than
    # decoding it into dicts first (PostgreSQL renders jsonb as text for the cast).
    cast(Image.annotations, Text).label("annotations_json"),
)


def iter_rows(db: Database, spec: ExportSpec, page_size: int = PAGE_SIZE) -> Iterator[Any]:
    """The selected image rows, oldest first, one keyset page (one short transaction) at a time."""
    where = _image_filter(spec)
    last: tuple[Any, str] | None = None
    while True:
        query = select(*_COLUMNS).where(*where)
        if last is not None:
            query = query.where(tuple_(Image.created_at, Image.id) > tuple_(*last))
        query = query.order_by(Image.created_at, Image.id).limit(page_size)
        with db.session() as session:
            rows = session.execute(query).all()
        yield from rows
        if len(rows) < page_size:
            return
        last = (rows[-1].created_at, rows[-1].id)


def _opener(path: Path) -> Callable[[], Any]:
    return lambda: path.open("rb")


def iter_export_images(
    db: Database,
    blobs: LocalBlobStore,
    spec: ExportSpec,
    result: ExportResult,
    *,
    on_progress: Callable[[int], None] | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[ExportImage]:
    """ExportImage items for the writer, counting images and surviving annotations in ``result``.

    ``class_filter`` keeps only annotations of those classes; an image left with none is still
    exported (with an empty list) when its status matches, as the Exports page documents.
    """
    wanted = set(spec.class_filter) if spec.class_filter is not None else None
    for row in iter_rows(db, spec, page_size):
        annotations: list[Any] = (
            ANNOTATION_LIST.validate_json(row.annotations_json)
            if row.annotations_json and row.annotations_json != "[]"
            else []
        )
        if wanted is not None:
            annotations = [a for a in annotations if a.name in wanted]
        opener = None
        if spec.include_images:
            try:
                path = blobs.path(row.storage_key)
            except ValueError:
                path = None
            if path is not None and path.is_file():
                opener = _opener(path)
            else:
                result.missing_images += 1
        result.image_count += 1
        result.annotation_count += len(annotations)
        yield ExportImage(
            id=row.id,
            filename=row.filename,
            folder=row.virtual_folder_path or "/",
            width=int(row.width or 0),
            height=int(row.height or 0),
            status=row.status,
            annotations=annotations,
            open_bytes=opener,
        )
        if on_progress is not None and result.image_count % PROGRESS_EVERY == 0:
            on_progress(result.image_count)


def temp_path(blobs: LocalBlobStore, export_id: str) -> Path:
    """Where this attempt builds the archive: the blob store's own temporary folder (the same
    filesystem, so the final rename is atomic). Files left by an earlier attempt that died
    mid-way are removed first."""
    folder = blobs.root / ".tmp"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"export-{export_id}-*.zip"):
        stale.unlink(missing_ok=True)
    return folder / f"export-{export_id}-{uuid.uuid4().hex[:12]}.zip"


def write_export(
    db: Database,
    blobs: LocalBlobStore,
    spec: ExportSpec,
    *,
    on_progress: Callable[[int], None] | None = None,
    page_size: int = PAGE_SIZE,
) -> ExportResult:
    """Write the export's ZIP into the blob store at ``spec.blob_key``; return what it holds."""
    writer = get_writer(spec.format)
    result = ExportResult(blob_key=spec.blob_key)
    tmp = temp_path(blobs, spec.export_id)
    try:
        with ArchiveWriter(tmp) as archive:
            writer.write(
                iter_export_images(
                    db, blobs, spec, result, on_progress=on_progress, page_size=page_size
                ),
                spec.export_classes,
                archive,
                dataset_name=spec.dataset_name,
                include_images=spec.include_images,
            )
        target = blobs.path(spec.blob_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    result.file_size = blobs.size(spec.blob_key)
    return result


# ───────────── the job ─────────────


def _set_progress(job: JobContext, done: int) -> None:
    with job.db.session() as session:
        session.execute(update(Job).where(Job.id == job.job_id).values(progress_done=done))
    job.heartbeat()  # extends the lease; raises JobCancelled when the export was deleted


def _mark(job: JobContext, export_id: str, *, keep_completed: bool = True, **values: Any) -> bool:
    """Update the export record; False when no row was updated (deleted meanwhile, or, with
    ``keep_completed``, already completed: should a worker that lost its lease fail late, the
    archive another worker finished stands)."""
    query = update(Export).where(Export.id == export_id)
    if keep_completed:
        query = query.where(Export.status != "completed")
    with job.db.session() as session:
        updated = session.execute(query.values(**values)).rowcount
    return bool(updated)


@handler(JOB_KIND)
def run_export(job: JobContext) -> dict[str, Any]:
    export_id = job.payload["export_id"]
    spec = load_spec(job.db, export_id)
    if spec is None:
        return {"export_id": export_id, "skipped": "the export was deleted"}
    if not _mark(job, export_id, status="processing", error_message=None):
        return {"export_id": export_id, "skipped": "the export is already completed"}
    job.set_total(count_images(job.db, spec))
    _set_progress(job, 0)
    blobs = job.server.blobs
    try:
        result = write_export(
            job.db, blobs, spec, on_progress=lambda done: _set_progress(job, done)
        )
    except JobCancelled:
        _mark(job, export_id, status="failed", error_message="The export job was cancelled")
        raise
    except Exception as exc:
        _mark(job, export_id, status="failed", error_message=f"{type(exc).__name__}: {exc}")
        raise
    with job.db.session() as session:
        session.execute(
            update(Job).where(Job.id == job.job_id).values(progress_done=result.image_count)
        )
    recorded = _mark(
        job,
        export_id,
        keep_completed=False,
        status="completed",
        blob_key=result.blob_key,
        file_size=result.file_size,
        image_count=result.image_count,
        annotation_count=result.annotation_count,
        error_message=None,
        completed_at=utcnow(),
    )
    if not recorded:  # deleted while it was being built: the archive has no owner
        blobs.delete(result.blob_key)
    if result.missing_images:
        logger.warning(
            "export %s: %d image file(s) missing from the blob store; exported without bytes",
            export_id,
            result.missing_images,
        )
    return {
        "export_id": export_id,
        "image_count": result.image_count,
        "annotation_count": result.annotation_count,
        "file_size": result.file_size,
        "missing_images": result.missing_images,
    }

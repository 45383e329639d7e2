"""Exports: a dataset written as a ZIP in one of the documented formats, built by a durable job.

Rules kept here:

- An export belongs to one dataset; its ``name`` is unique within that dataset (409), at most
  100 characters, without ``/``, ``\\`` or control characters (it is a URL path segment).
- ``format`` is one of :data:`pictograph.formats.EXPORT_FORMATS` and ``status_filter`` one of
  :data:`STATUS_FILTERS` (422 otherwise); omitting ``status_filter`` (or ``"all"``) exports
  every live image. ``class_filter`` names must be classes of the dataset (422 otherwise).
- Creating one stores the record as ``pending`` and enqueues a job of kind ``export`` in the
  same transaction, so an export is never recorded without the work that builds it; the job
  (``pictograph.server.jobs.export_job``) moves it to ``processing`` and then ``completed``
  (ZIP at ``exports/<org>/<export id>.zip``) or ``failed`` (``error_message``).
- Reading: any role. Creating: member and above. Deleting (record and ZIP): admin and above.
- ``download_url`` is a signed GET URL valid for :data:`DOWNLOAD_URL_TTL_SECONDS`, generated
  afresh on every read of a completed export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pictograph.formats import EXPORT_FORMATS
from pictograph.server.auth import Principal
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import Export, Job, Project
from pictograph.server.errors import Conflict, Invalid, NotFound
from pictograph.server.jobs.records import enqueue, request_cancel
from pictograph.server.roles import require
from pictograph.server.services import projects
from pictograph.server.services.images import STATUS_FILTERS as IMAGE_STATUS_FILTERS
from pictograph.server.services.projects import iso

JOB_KIND = "export"
EXPORT_STATUSES: tuple[str, ...] = ("pending", "processing", "completed", "failed")
TERMINAL_STATUSES = frozenset({"completed", "failed"})
STATUS_FILTERS: dict[str, tuple[str, ...] | None] = {"all": None, **IMAGE_STATUS_FILTERS}
"""Export ``status_filter`` → the stored image stages it selects (None: every stage)."""
DOWNLOAD_URL_TTL_SECONDS = 3600
MAX_NAME_LENGTH = 100
MAX_CLASS_FILTER = 1000


def blob_key_for(organization_id: str, export_id: str) -> str:
    return f"exports/{organization_id}/{export_id}.zip"


# ───────────── validation ─────────────


def validate_name(name: Any) -> str:
    loc = ["name"]
    if not isinstance(name, str) or not name.strip():
        raise Invalid("Export name must not be blank", loc=loc)
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(f"Export name must be at most {MAX_NAME_LENGTH} characters", loc=loc)
    if "/" in name or "\\" in name or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise Invalid("Export name must not contain '/', '\\' or control characters", loc=loc)
    if name != name.strip():
        raise Invalid("Export name must not start or end with whitespace", loc=loc)
    return name


def validate_format(value: Any) -> str:
    if value not in EXPORT_FORMATS:
        raise Invalid(
            f"Unknown export format {value!r}; expected one of {', '.join(EXPORT_FORMATS)}",
            loc=["format"],
        )
    return str(value)


def validate_status_filter(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in STATUS_FILTERS:
        raise Invalid(
            f"Invalid status_filter {value!r}; expected one of {', '.join(STATUS_FILTERS)}",
            loc=["status_filter"],
        )
    return value


def stages_for(status_filter: str | None) -> tuple[str, ...] | None:
    """The stored image stages an export's ``status_filter`` selects; None means all."""
    return None if status_filter is None else STATUS_FILTERS[status_filter]


def validate_class_filter(value: Any, project: Project) -> list[str] | None:
    if value is None:
        return None
    loc: list[Any] = ["class_filter"]
    if not isinstance(value, list) or len(value) > MAX_CLASS_FILTER:
        raise Invalid(
            f"class_filter must be a list of at most {MAX_CLASS_FILTER} class names", loc=loc
        )
    known = {c.get("name") for c in project.classes or [] if isinstance(c, dict)}
    names: list[str] = []
    for index, name in enumerate(value):
        if not isinstance(name, str) or name not in known:
            raise Invalid(
                f"class_filter[{index}] {name!r} is not a class of dataset {project.name!r}",
                loc=[*loc, index],
            )
        if name not in names:
            names.append(name)
    return names


# ───────────── views ─────────────


@dataclass
class ExportView:
    export: Export
    dataset_name: str
    job: Job | None

    @property
    def status(self) -> str:
        """The record's status, corrected by its job: a job that failed or was cancelled before
        the handler could record it (a crash, a cancel) makes the export ``failed``."""
        status = self.export.status
        if status in TERMINAL_STATUSES or self.job is None:
            return status
        if self.job.status in ("failed", "cancelled"):
            return "failed"
        if self.job.status == "running":
            return "processing"
        if self.job.status == "completed":  # finished without recording (record gone missing)
            return "failed"
        return status

    @property
    def error_message(self) -> str | None:
        if self.export.error_message or self.status != "failed" or self.job is None:
            return self.export.error_message
        if self.job.status == "cancelled":
            return "The export job was cancelled"
        return self.job.error_message or "The export job ended without producing the archive"


def _views(session: Session, rows: list[tuple[Export, str]]) -> list[ExportView]:
    job_ids = [export.job_id for export, _ in rows if export.job_id]
    jobs = (
        {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(job_ids)))}
        if job_ids
        else {}
    )
    return [ExportView(export, name, jobs.get(export.job_id or "")) for export, name in rows]


def find(
    session: Session, principal: Principal, dataset_name: str, name: str, *, lock: bool = False
) -> tuple[Project, Export]:
    project = projects.find_by_name(session, principal, dataset_name)
    if not isinstance(name, str) or projects.has_nul(name):
        raise NotFound(f"Export {name!r} not found in dataset {dataset_name!r}")
    query = select(Export).where(Export.project_id == project.id, Export.name == name)
    if lock:
        query = query.with_for_update()
    export = session.scalar(query)
    if export is None:
        raise NotFound(f"Export {name!r} not found in dataset {dataset_name!r}")
    return project, export


# ───────────── operations ─────────────


def create_export(
    session: Session,
    principal: Principal,
    *,
    dataset_name: Any,
    name: Any,
    format: Any,
    include_images: bool,
    class_filter: Any,
    status_filter: Any,
) -> ExportView:
    """Record the export as ``pending`` and enqueue its job; the caller wakes the workers after commit."""
    require(principal.role, "member", "Creating an export")
    name = validate_name(name)
    export_format = validate_format(format)
    status_value = validate_status_filter(status_filter)
    if not isinstance(dataset_name, str):
        raise Invalid("dataset_name must be a string", loc=["dataset_name"])
    project = projects.find_by_name(session, principal, dataset_name)
    classes = validate_class_filter(class_filter, project)
    if session.scalar(
        select(Export.id).where(Export.project_id == project.id, Export.name == name)
    ):
        raise Conflict(f"An export named {name!r} already exists in dataset {project.name!r}")
    export = Export(
        organization_id=principal.organization_id,
        project_id=project.id,
        name=name,
        format=export_format,
        include_images=bool(include_images),
        class_filter=classes,
        status_filter=status_value,
        status="pending",
    )
    try:
        with session.begin_nested():
            session.add(export)
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"An export named {name!r} already exists in dataset {project.name!r}"
        ) from error
    job = enqueue(session, principal.organization_id, JOB_KIND, {"export_id": export.id})
    export.job_id = job.id
    session.flush()
    return ExportView(export, project.name, job)


def list_exports(
    session: Session,
    principal: Principal,
    *,
    dataset_name: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ExportView], int]:
    """The organization's exports, newest first; optionally one dataset's, or one status."""
    where = [Export.organization_id == principal.organization_id]
    if dataset_name is not None:
        where.append(
            Export.project_id == projects.find_by_name(session, principal, dataset_name).id
        )
    if status is not None:
        if status not in EXPORT_STATUSES:
            raise Invalid(
                f"Invalid status {status!r}; expected one of {', '.join(EXPORT_STATUSES)}",
                loc=["status"],
            )
        # Pending and processing records whose job already ended read as failed (see ExportView).
        where.append(Export.status == status)
    total = session.scalar(select(func.count()).select_from(Export).where(*where)) or 0
    rows = session.execute(
        select(Export, Project.name)
        .join(Project, Project.id == Export.project_id)
        .where(*where)
        .order_by(Export.created_at.desc(), Export.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return _views(session, [(export, project_name) for export, project_name in rows]), int(total)


def get_export(session: Session, principal: Principal, dataset_name: str, name: str) -> ExportView:
    project, export = find(session, principal, dataset_name, name)
    return _views(session, [(export, project.name)])[0]


def download_target(
    session: Session, principal: Principal, dataset_name: str, name: str
) -> ExportView:
    """The export, if its ZIP is ready (409 while it is pending, processing or failed)."""
    view = get_export(session, principal, dataset_name, name)
    if view.status != "completed" or not view.export.blob_key:
        raise Conflict(
            f"Export {name!r} is not ready to download (status: {view.status})",
            error_code="export_not_ready",
        )
    return view


def delete_export(
    session: Session, principal: Principal, dataset_name: str, name: str
) -> dict[str, Any]:
    """Delete the record and cancel its job; the caller deletes ``blob_key`` after commit."""
    require(principal.role, "admin", "Deleting an export")
    project, export = find(session, principal, dataset_name, name, lock=True)
    if export.job_id:
        job = session.get(Job, export.job_id)
        if job is not None:
            request_cancel(session, job)
    summary = {
        "deleted": True,
        "id": export.id,
        "name": export.name,
        "dataset_name": project.name,
        "blob_key": export.blob_key or blob_key_for(export.organization_id, export.id),
    }
    session.delete(export)
    session.flush()
    return summary


# ───────────── response shape ─────────────


def download_url(ctx: ServerContext, key: str) -> tuple[str, datetime]:
    params = ctx.signer.sign("GET", key, DOWNLOAD_URL_TTL_SECONDS)
    expires = datetime.now(timezone.utc) + timedelta(seconds=DOWNLOAD_URL_TTL_SECONDS)
    return f"{ctx.settings.base_url}/blobs/{quote(key)}?{urlencode(params)}", expires


def export_payload(view: ExportView, ctx: ServerContext | None) -> dict[str, Any]:
    """The fields of the published ``Export`` model, plus job progress.

    ``download_url`` is signed for a completed export when ``ctx`` is given (get / list),
    None otherwise (create answers before the archive exists).
    """
    export, job = view.export, view.job
    status = view.status
    url = expires = None
    if ctx is not None and status == "completed" and export.blob_key:
        url, expires = download_url(ctx, export.blob_key)
    progress = None
    if job is not None:
        total, done = int(job.progress_total or 0), int(job.progress_done or 0)
        progress = {
            "total": total,
            "processed": done,
            "fraction": 1.0
            if status == "completed"
            else (min(done / total, 1.0) if total else 0.0),
        }
    return {
        "id": export.id,
        "organization_id": export.organization_id,
        "project_id": export.project_id,
        "dataset_id": export.project_id,
        "dataset_name": view.dataset_name,
        "name": export.name,
        "format": export.format,
        "include_images": bool(export.include_images),
        "class_filter": list(export.class_filter) if export.class_filter is not None else None,
        "status_filter": export.status_filter,
        "status": status,
        "error_message": view.error_message if status == "failed" else None,
        "file_size": export.file_size,
        "image_count": export.image_count,
        "annotation_count": export.annotation_count,
        "job_id": export.job_id,
        "progress": progress,
        "created_at": iso(export.created_at),
        "completed_at": iso(export.completed_at),
        "expires_at": None,
        "download_url": url,
        "download_url_expires_at": iso(expires),
    }

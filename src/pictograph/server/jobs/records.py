"""Creating, reading and cancelling job rows. Statuses: pending, running, completed, failed, cancelled."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pictograph.server.db.tables import Job, as_utc
from pictograph.server.errors import NotFound

TERMINAL = frozenset({"completed", "failed", "cancelled"})


def enqueue(
    session: Session,
    organization_id: str,
    kind: str,
    payload: dict[str, Any],
    *,
    queue: str = "default",
    total: int = 0,
    project_id: str | None = None,
    not_before: datetime | None = None,
) -> Job:
    """A pending job row (committed with the caller's transaction); ``not_before`` delays it."""
    job = Job(
        organization_id=organization_id, kind=kind, queue=queue, payload=payload,
        progress_total=total, status="pending", project_id=project_id, not_before=not_before,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, organization_id: str, job_id: str, kind: str | None = None) -> Job:
    """The job, if it belongs to the organization (and is of ``kind``); 404 otherwise."""
    query = select(Job).where(Job.id == job_id, Job.organization_id == organization_id)
    if kind is not None:
        query = query.where(Job.kind == kind)
    job = session.scalar(query)
    if job is None:
        raise NotFound(f"Job {job_id!r} not found")
    return job


def request_cancel(session: Session, job: Job) -> Job:
    """Cancel a pending job at once; ask a running one to stop at its next item.

    Both are conditional updates, so a worker claiming the job at the same moment either
    sees it cancelled or is asked to stop: the cancel is never lost.
    """
    now = datetime.now(timezone.utc)
    cancelled = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == "pending")
        .values(status="cancelled", finished_at=now)
        .returning(Job.id)
    ).first()
    if cancelled is None:
        session.execute(
            update(Job).where(Job.id == job.id, Job.status == "running").values(cancel_requested=True)
        )
    session.refresh(job)
    return job


def job_json(job: Job) -> dict[str, Any]:
    """The common fields every job-shaped resource exposes."""
    total = job.progress_total
    finished = job.progress_done + job.progress_failed
    return {
        "id": job.id,
        "job_id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": {
            "total": total,
            "processed": job.progress_done,
            "failed": job.progress_failed,
            "fraction": (finished / total) if total else (1.0 if job.status == "completed" else 0.0),
        },
        "error_message": job.error_message,
        "cancel_requested": job.cancel_requested,
        "created_at": as_utc(job.created_at),
        "started_at": as_utc(job.started_at) if job.started_at else None,
        "finished_at": as_utc(job.finished_at) if job.finished_at else None,
    }

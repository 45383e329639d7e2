"""What a job handler sees: its payload, the items already done, and ways to report progress.

Items are recorded once per (job, item key): a handler that resumes after a crash asks
``done_items()`` and skips them, so no image is processed or written twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pictograph.server.db.tables import Job, JobItem

if TYPE_CHECKING:
    from pictograph.server.context import ServerContext


class JobCancelled(Exception):
    """Raised inside a handler when the job's cancellation was requested."""


class JobContext:
    def __init__(self, server: ServerContext, job: Job, owner: str, lease_seconds: float) -> None:
        self.server = server
        self.job_id = job.id
        self.organization_id = job.organization_id
        self.kind = job.kind
        self.payload: dict[str, Any] = dict(job.payload or {})
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)

    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.server.db

    def set_total(self, total: int) -> None:
        with self.db.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(progress_total=total))

    def done_items(self) -> set[str]:
        with self.db.session() as session:
            return set(session.scalars(select(JobItem.item_key).where(JobItem.job_id == self.job_id)))

    def item_results(self) -> list[JobItem]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(JobItem).where(JobItem.job_id == self.job_id).order_by(JobItem.created_at)
                )
            )

    def record_item(
        self, key: str, *, ok: bool, result: dict[str, Any] | None = None, error: str | None = None
    ) -> bool:
        """Record one finished item and count it; False if it was already recorded."""
        try:
            with self.db.session() as session:
                self.record_item_in(session, key, ok=ok, result=result, error=error)
        except IntegrityError:
            return False
        self.heartbeat()
        return True

    def record_item_in(
        self,
        session: Session,
        key: str,
        *,
        ok: bool,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record an item inside the caller's transaction, so the item's own writes and its
        record commit together (exactly once). Raises IntegrityError if already recorded."""
        session.add(JobItem(job_id=self.job_id, item_key=key, ok=ok, result=result, error=error))
        session.flush()
        self.count_in(session, done=1 if ok else 0, failed=0 if ok else 1)

    def count_in(self, session: Session, *, done: int = 0, failed: int = 0) -> None:
        """Add to the job's progress counters inside the caller's transaction (for jobs whose
        items are idempotent by themselves and need no per-item record)."""
        session.execute(
            update(Job)
            .where(Job.id == self.job_id)
            .values(
                progress_done=Job.progress_done + done, progress_failed=Job.progress_failed + failed
            )
        )

    def heartbeat(self) -> None:
        """Extend the lease; raise JobCancelled when cancellation was requested."""
        now = datetime.now(timezone.utc)
        with self.db.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == self.job_id, Job.lease_owner == self._owner)
                .values(lease_expires_at=now + self._lease)
            )
            cancel = session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id))
        if cancel:
            raise JobCancelled(self.job_id)

    def update_payload(self, **values: Any) -> None:
        """Persist handler state (e.g. an external id) so that a resumed run can find it."""
        self.payload.update(values)
        with self.db.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(payload=self.payload))

"""The embedded worker pool: threads that claim pending jobs from the database and run them.

Claiming is one conditional UPDATE, so any number of runners (threads, API replicas, or
separate ``pictograph worker`` processes) can share one database without running a job
twice. A claimed job holds a lease that its handler's progress calls extend; a job whose
lease ran out (its worker died) is claimed again and resumes, skipping recorded items.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from pictograph.server.db.tables import Job
from pictograph.server.jobs.context import JobCancelled, JobContext

if TYPE_CHECKING:
    from pictograph.server.context import ServerContext

logger = logging.getLogger("pictograph.jobs")

Handler = Callable[[JobContext], "dict[str, Any] | None"]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


class JobRunner:
    def __init__(
        self,
        server: ServerContext,
        *,
        workers: int = 2,
        queues: tuple[str, ...] = ("default",),
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self.server = server
        self.workers = workers
        self.queues = queues
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"pictograph-job-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def wake(self) -> None:
        """Look for work now instead of at the next poll (called after an enqueue)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.claim()
            except Exception:  # the database may be briefly unavailable; try again later
                logger.exception("claiming a job failed")
                job = None
            if job is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self.run(job)

    def claim(self) -> Job | None:
        now = datetime.now(timezone.utc)
        claimable = or_(
            (Job.status == "pending") & (Job.not_before.is_(None) | (Job.not_before <= now)),
            (Job.status == "running") & (Job.lease_expires_at < now),
        )
        with self.server.db.session() as session:
            candidates = session.scalars(
                select(Job.id)
                .where(claimable, Job.queue.in_(self.queues), Job.kind.in_(list(HANDLERS)))
                .order_by(Job.created_at)
                .limit(5)
            ).all()
            for job_id in candidates:
                claimed = session.execute(
                    update(Job)
                    .where(Job.id == job_id, claimable)
                    .values(
                        status="running",
                        lease_owner=self.owner,
                        lease_expires_at=now + timedelta(seconds=self.lease_seconds),
                        attempts=Job.attempts + 1,
                        started_at=now,
                    )
                    .returning(Job.id)
                ).first()
                if claimed is not None:
                    session.commit()
                    return session.get(Job, job_id)
        return None

    def run(self, job: Job) -> None:
        context = JobContext(self.server, job, self.owner, self.lease_seconds)
        beat = threading.Event()
        keeper = threading.Thread(target=self._keep_lease, args=(context, beat), daemon=True)
        keeper.start()
        status, result, error = "completed", None, None
        try:
            result = HANDLERS[job.kind](context)
        except JobCancelled:
            status = "cancelled"
        except Exception as exc:  # a failed job is reported on the job, never crashes the pool
            logger.exception("job %s (%s) failed", job.id, job.kind)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            beat.set()
        with self.server.db.session() as session:
            current = session.get(Job, job.id)
            if current is None or current.lease_owner != self.owner:
                return  # deleted, or another worker took it over after our lease ran out
            if status == "completed" and current.cancel_requested:
                status = "cancelled"
            current.status = status
            current.result = result if result is not None else current.result
            current.error_message = error
            current.finished_at = datetime.now(timezone.utc)
            current.lease_expires_at = None

    def _keep_lease(self, context: JobContext, done: threading.Event) -> None:
        while not done.wait(self.lease_seconds / 3):
            try:
                context.heartbeat()
            except JobCancelled:
                pass  # the handler sees it at its own next heartbeat
            except Exception:
                logger.exception("extending the lease of job %s failed", context.job_id)

"""The durable job runner: claim once, progress, per-item idempotency, cancel, resume after a crash."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pictograph.server.app import build_context
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import Job, Organization
from pictograph.server.jobs import HANDLERS, JobContext, JobRunner, enqueue, handler, request_cancel
from pictograph.server.settings import Settings
from tests.live_server import create_postgres_database, drop_postgres_database, postgres_available

ITEMS = [f"item-{i}" for i in range(6)]
processed: list[str] = []
gate = threading.Event()
blocked: list[bool] = []


@handler("test_count")
def count_items(job: JobContext) -> dict:
    job.set_total(len(ITEMS))
    done = job.done_items()
    for key in ITEMS:
        if key in done:
            continue
        if job.payload.get("block_after") == len(processed) and not blocked:
            blocked.append(True)  # only the first worker to get here stalls
            gate.wait(10)
        job.heartbeat()
        processed.append(key)
        job.record_item(key, ok=key != "item-3", error=None if key != "item-3" else "bad item")
    return {"seen": len(job.done_items())}


@handler("test_fail")
def always_fail(job: JobContext) -> None:
    raise RuntimeError("boom")


@pytest.fixture(params=["sqlite", "postgresql"])
def ctx(request, tmp_path) -> Iterator[ServerContext]:
    db_name = None
    url = None
    if request.param == "postgresql":
        if not postgres_available():
            pytest.skip("no PostgreSQL reachable")
        url, db_name = create_postgres_database()
    settings = Settings(data_dir=tmp_path, database_url=url, write_client_config=False,
                        bootstrap_api_key="pk_live_jobs_test_key_0123456789", bcrypt_rounds=4)
    context = build_context(settings)
    processed.clear()
    blocked.clear()
    gate.clear()
    yield context
    context.db.dispose()
    if db_name:
        drop_postgres_database(db_name)


def _org(ctx: ServerContext) -> str:
    with ctx.db.session() as session:
        return session.query(Organization).one().id


def _new_job(ctx: ServerContext, kind: str, **payload) -> str:
    with ctx.db.session() as session:
        return enqueue(session, _org(ctx), kind, payload).id


def _wait(ctx: ServerContext, job_id: str, statuses: set[str], timeout: float = 15) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.db.session() as session:
            job = session.get(Job, job_id)
            if job.status in statuses:
                return job
        time.sleep(0.05)
    raise AssertionError(f"job stayed {job.status}")


def test_job_runs_once_with_progress_and_item_failures(ctx):
    job_id = _new_job(ctx, "test_count")
    runners = [JobRunner(ctx, workers=2, poll_seconds=0.05) for _ in range(2)]
    for runner in runners:
        runner.start()
    try:
        job = _wait(ctx, job_id, {"completed", "failed"})
    finally:
        for runner in runners:
            runner.stop()
    assert job.status == "completed"
    assert sorted(processed) == ITEMS, "four threads in two runners, but each item ran once"
    assert (job.progress_total, job.progress_done, job.progress_failed) == (6, 5, 1)
    assert job.result == {"seen": 6} and job.attempts == 1


def test_failing_handler_marks_job_failed(ctx):
    job_id = _new_job(ctx, "test_fail")
    runner = JobRunner(ctx, workers=1, poll_seconds=0.05)
    runner.start()
    try:
        job = _wait(ctx, job_id, {"completed", "failed"})
    finally:
        runner.stop()
    assert job.status == "failed" and "boom" in job.error_message


def test_cancel_pending_and_running(ctx):
    pending = _new_job(ctx, "test_count")
    with ctx.db.session() as session:
        request_cancel(session, session.get(Job, pending))
    assert _wait(ctx, pending, {"cancelled"}).finished_at is not None

    running = _new_job(ctx, "test_count", block_after=2)
    runner = JobRunner(ctx, workers=1, poll_seconds=0.05)
    runner.start()
    try:
        _wait(ctx, running, {"running"})
        while len(processed) < 2:
            time.sleep(0.02)
        with ctx.db.session() as session:
            request_cancel(session, session.get(Job, running))
        gate.set()
        job = _wait(ctx, running, {"cancelled", "completed"})
    finally:
        runner.stop()
    assert job.status == "cancelled" and job.progress_done + job.progress_failed < len(ITEMS)


def test_job_of_a_dead_worker_resumes_without_redoing_items(ctx):
    job_id = _new_job(ctx, "test_count", block_after=3)
    dead = JobRunner(ctx, workers=1, poll_seconds=0.05, lease_seconds=0.6)
    dead._keep_lease = lambda *args: None  # a crashed process sends no heartbeats
    dead.start()
    while len(processed) < 3:
        time.sleep(0.02)
    # The first worker is now stuck (as if its process were gone); its lease expires.
    time.sleep(0.8)
    survivor = JobRunner(ctx, workers=1, poll_seconds=0.05, lease_seconds=5)
    survivor.start()
    try:
        job = _wait(ctx, job_id, {"completed"})
    finally:
        gate.set()
        survivor.stop()
        dead.stop()
    assert processed.count("item-0") == 1 and sorted(set(processed)) == ITEMS
    assert job.attempts == 2 and (job.progress_done, job.progress_failed) == (5, 1)
    assert "test_count" in HANDLERS

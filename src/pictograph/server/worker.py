"""A job worker without the HTTP API: ``pictograph server worker --queue a100``.

It opens the same database and data directory as the server (a shared volume when it runs
on another machine) and takes jobs from the queues it is given: a GPU machine serving the
``a100`` queue trains every run that asked for ``gpu_type="a100"`` while the server lists
``a100`` in ``PICTOGRAPH_TRAINING_QUEUES``.
"""

from __future__ import annotations

import importlib
import signal
import threading

from pictograph.server.app import JOB_HANDLER_MODULES, build_context
from pictograph.server.jobs.runner import JobRunner
from pictograph.server.settings import Settings


def run_worker(settings: Settings, queues: tuple[str, ...], workers: int = 1) -> None:
    """Run jobs of ``queues`` until SIGINT / SIGTERM."""
    ctx = build_context(settings)
    for module_name in JOB_HANDLER_MODULES:
        importlib.import_module(module_name)
    runner = JobRunner(
        ctx, workers=workers, queues=queues, lease_seconds=settings.job_lease_seconds
    )
    ctx.jobs = runner
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runner.start()
    try:
        stop.wait()
    finally:
        runner.stop()
        ctx.vector_index().flush()
        ctx.db.dispose()

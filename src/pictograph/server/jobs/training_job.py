"""The ``training`` job: run one training run's worker process and record what it reports.

The pipeline runs in a child process (``python -m pictograph.training.worker``) that reads
the export's ZIP straight from the blob store and writes JSON events on its stdout. This
handler turns the events into the run's progress (epoch, losses, ETA, log lines), checks for
cancellation at least once a second (a cancel kills the child at once), and at the end
stores the ONNX file as the model's blob with its MD5, marks run and model, refunds the
minutes not used and sends the ``training.completed`` / ``training.failed`` webhook.

A server that dies mid-run leaves the job's lease to expire; the next worker claims it and
trains again from the start (a pipeline's epochs are not checkpointed).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from sqlalchemy import update

from pictograph.server.db.tables import Export, TrainedModel, TrainingRun
from pictograph.server.jobs.context import JobCancelled, JobContext
from pictograph.server.jobs.runner import handler
from pictograph.server.services import training, webhooks

HEARTBEAT_SECONDS = 1.0
STOP_GRACE_SECONDS = 5.0
TRAINING_SHARE = 95
"""Progress reaches this after the last epoch; export, check and evaluation take the rest."""


class RunGone(Exception):
    """The run was deleted or cancelled before its worker started."""


@handler(training.JOB_KIND)
def run_training(context: JobContext) -> dict[str, Any]:
    run_id = context.payload["run_id"]
    workdir = context.server.settings.data_dir / "training" / run_id
    try:
        export_path = _start(context, run_id)
    except RunGone:
        return {"run_id": run_id, "skipped": True}
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    spec_path = workdir / "spec.json"
    with context.db.session() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None
        spec_path.write_text(
            json.dumps(
                {
                    "pipeline": run.pipeline_type,
                    "export_path": str(export_path),
                    "workdir": str(workdir),
                    "config": run.config,
                    "device": context.server.settings.device,
                }
            )
        )
    started = time.monotonic()
    try:
        outcome = _supervise(context, run_id, spec_path, workdir, started)
    except JobCancelled:
        _finish_cancelled(context, run_id, time.monotonic() - started)
        raise
    finally:
        _clean(workdir)
    return outcome


def _start(context: JobContext, run_id: str) -> Path:
    """Mark the run running; the export ZIP it trains on."""
    with context.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is None or run.status in training.TERMINAL:
            raise RunGone(run_id)
        export = session.get(Export, run.export_id) if run.export_id else None
        if export is None or not export.blob_key:
            _fail(session, run, "The export this run trains on was deleted")
            raise RunGone(run_id)
        resumed = run.status == "running"
        # Conditional, so a cancel that commits between the read above and this write wins
        # (a plain assignment would put a cancelled run back to running).
        started = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, TrainingRun.status.not_in(training.TERMINAL))
            .values(
                status="running", started_at=datetime.now(timezone.utc), current_epoch=0,
                progress=0,
            )
        ).rowcount  # fmt: skip
        if not started:
            raise RunGone(run_id)
        session.refresh(run)
        training.append_logs(run, ["restarted after a worker stopped"] if resumed else [])
        return context.server.blobs.path(export.blob_key)


def _supervise(
    context: JobContext, run_id: str, spec: Path, workdir: Path, started: float
) -> dict[str, Any]:
    stderr_path = workdir / "worker.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "pictograph.training.worker", str(spec)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
            cwd=workdir,
        )
        try:
            final = _follow(context, run_id, process, started)
        except BaseException:
            _stop(process)
            raise
    if final is not None and final["event"] == "result":
        return _finish_completed(context, run_id, final, time.monotonic() - started)
    message = final["message"] if final else _crash_message(process.returncode, stderr_path)
    _finish_failed(context, run_id, message, time.monotonic() - started)
    return {"run_id": run_id, "status": "failed", "error": message}


def _follow(
    context: JobContext, run_id: str, process: subprocess.Popen[str], started: float
) -> dict[str, Any] | None:
    """Record events until the process exits; the final ``result`` / ``error`` event, if any."""
    assert process.stdout is not None
    events: queue.Queue[dict[str, Any] | None] = queue.Queue()
    reader = threading.Thread(target=_read_events, args=(process.stdout, events), daemon=True)
    reader.start()
    final: dict[str, Any] | None = None
    last_beat = 0.0
    while True:
        try:
            event = events.get(timeout=HEARTBEAT_SECONDS)
        except queue.Empty:
            event = {}
        if event is None:  # stdout closed: the process is ending
            process.wait()
            return final
        if event.get("event") in ("result", "error"):
            final = event
        elif event:
            _record(context, run_id, event, time.monotonic() - started)
        if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            context.heartbeat()  # raises JobCancelled when the user cancelled
            last_beat = time.monotonic()


def _read_events(stream: IO[str], events: queue.Queue[dict[str, Any] | None]) -> None:
    for line in stream:
        try:
            events.put(json.loads(line))
        except json.JSONDecodeError:
            events.put({"event": "log", "message": line.rstrip()})
    events.put(None)


def _record(context: JobContext, run_id: str, event: dict[str, Any], elapsed: float) -> None:
    with context.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is None:
            return
        kind = event.get("event")
        if kind == "epoch":
            epoch, total = int(event["epoch"]), int(event["total"])
            run.current_epoch, run.total_epochs = epoch, total
            run.progress = min(TRAINING_SHARE, int(TRAINING_SHARE * epoch / max(1, total)))
            run.metrics = {**(run.metrics or {}), **event.get("losses", {})}
            per_epoch = float(event.get("seconds", elapsed)) / max(1, epoch)
            run.eta_seconds = int(per_epoch * (total - epoch))
            losses = ", ".join(f"{k} {v:.4f}" for k, v in event.get("losses", {}).items())
            training.append_logs(run, [f"epoch {epoch}/{total}: {losses}"])
        elif kind == "data":
            run.device = event.get("device")
            training.append_logs(
                run,
                [
                    f"data: {event['train']} train / {event['val']} val / {event['test']} test images, "
                    f"classes {', '.join(event['classes'])}"
                    + (f"; left out {event['skipped']}" if event.get("skipped") else "")
                ],
            )
        elif kind == "log":
            training.append_logs(run, [str(event.get("message", ""))])


def _store_model(context: JobContext, run: TrainingRun, onnx_path: Path) -> tuple[str, int, str]:
    """Copy the ONNX file into the blob store; (key, size, md5)."""
    key = f"models/{run.organization_id}/{run.model_id}.onnx"
    size, md5 = context.server.blobs.put_file(key, onnx_path)
    return key, size, md5


def _finish_completed(
    context: JobContext, run_id: str, result: dict[str, Any], seconds: float
) -> dict[str, Any]:
    with context.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is None or run.status == "cancelled":
            return {"run_id": run_id, "status": "cancelled"}
        key, size, md5 = _store_model(context, run, Path(result["onnx_path"]))
        metrics = {
            **(run.metrics or {}),
            **result["metrics"],
            "onnx_max_abs_diff": result["onnx_max_abs_diff"],
        }
        run.status, run.progress, run.metrics = "completed", 100, metrics
        run.eta_seconds, run.completed_at = 0, datetime.now(timezone.utc)
        model = session.get(TrainedModel, run.model_id)
        if model is not None:
            model.status, model.architecture = "ready", result["architecture"]
            model.metrics, model.class_mapping = result["metrics"], result["class_mapping"]
            model.blob_key, model.file_size, model.md5 = key, size, md5
        training.append_logs(run, [f"completed: {result['metrics']}"])
        training.settle(session, run, seconds)
        webhooks.emit(session, run.organization_id, "training.completed", _event(run))
    _wake(context)
    return {"run_id": run_id, "status": "completed", "model_id": run.model_id}


def _finish_failed(context: JobContext, run_id: str, message: str, seconds: float) -> None:
    with context.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is None or run.status == "cancelled":
            return
        _fail(session, run, message)
        training.settle(session, run, seconds)
        webhooks.emit(session, run.organization_id, "training.failed", _event(run))
    _wake(context)


def _fail(session: Any, run: TrainingRun, message: str) -> None:
    run.status, run.error_message = "failed", message
    run.completed_at = datetime.now(timezone.utc)
    training.append_logs(run, [f"failed: {message}"])
    model = session.get(TrainedModel, run.model_id) if run.model_id else None
    if model is not None and model.status == "training":
        model.status = "failed"


def _finish_cancelled(context: JobContext, run_id: str, seconds: float) -> None:
    with context.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is not None:
            training.append_logs(run, [f"cancelled after {seconds:.0f} s"])
            training.settle(session, run, seconds)


def _event(run: TrainingRun) -> dict[str, Any]:
    return {
        "training_run_id": run.id,
        "name": run.name,
        "status": run.status,
        "pipeline_type": run.pipeline_type,
        "model_id": run.model_id,
        "metrics": run.metrics,
        "error_message": run.error_message,
    }


def _stop(process: subprocess.Popen[str]) -> None:
    """Terminate the training process, then kill it if it does not exit in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _crash_message(code: int | None, stderr_path: Path) -> str:
    tail = stderr_path.read_text(errors="replace").strip().splitlines()[-5:]
    return f"The training process exited with code {code}" + (
        ": " + " | ".join(tail) if tail else ""
    )


def _clean(workdir: Path) -> None:
    """Keep the worker's log for a failed run's diagnosis; drop data, checkpoints and ONNX."""
    for child in workdir.iterdir() if workdir.exists() else []:
        if child.name != "worker.log":
            shutil.rmtree(child) if child.is_dir() else child.unlink(missing_ok=True)


def _wake(context: JobContext) -> None:
    if context.server.jobs is not None:
        context.server.jobs.wake()

"""Training runs: create (pre-charged, queued as a durable job), list, get, cancel, logs.

Rules:

- ``pipeline_type`` is one of :data:`pictograph.training.PIPELINE_TYPES`, ``gpu_type`` one of
  :data:`GPU_TYPES` (422 naming the field). ``config`` keys ``epochs``, ``batch_size``,
  ``learning_rate`` and ``image_size`` are checked (422 at ``["config", key]``); other keys
  are ignored, as documented.
- The export is found by dataset and name (404) and must be ``completed``, in the
  ``pictograph`` format with images (422). No images → 404 (the dataset has no images
  matching the export's filter); 1–4 → 422: training splits train / val / test.
- Credits: the run's minutes are estimated from epochs, images, image size and pipeline,
  and ``minutes × rate(gpu_type)`` is debited up front (402 before anything is created).
  When the run ends — completed, failed or cancelled — the minutes not used go back as one
  ``training_refund_<gpu>`` ledger entry, exactly once.
- ``gpu_type``: a self-hosted install has no GPU tiers. When the server lists a queue of
  that name in ``PICTOGRAPH_TRAINING_QUEUES`` the run goes to it (a ``pictograph server worker
  --queue a100`` on a GPU machine takes it); otherwise it goes to the ``training`` queue that
  the server's own training worker serves, and ``gpu_note`` says the tier was not
  applicable. The tier's rate is charged either way.
- A run creates its model at once (status ``training``); the model is ``ready`` when the run
  completes and ``failed`` when it fails or is cancelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pictograph.models.training import GPU_TYPES
from pictograph.server.auth import Principal
from pictograph.server.db.tables import Export, Job, Project, TrainedModel, TrainingRun
from pictograph.server.errors import Conflict, Invalid, NotFound, one_of
from pictograph.server.jobs.records import enqueue, request_cancel
from pictograph.server.roles import require
from pictograph.server.services import credits, exports, projects
from pictograph.server.services.projects import iso
from pictograph.server.settings import Settings
from pictograph.training import DEFAULT_CONFIGS, MODEL_TYPES, PIPELINE_TYPES, default_config
from pictograph.training.base import ConfigError
from pictograph.training.data import MIN_IMAGES

JOB_KIND = "training"
LOCAL_QUEUE = "training"
"""The queue this server's own training worker takes runs from (one run at a time)."""
RUN_STATUSES: tuple[str, ...] = ("pending", "queued", "running", "completed", "failed", "cancelled")
TERMINAL = frozenset({"completed", "failed", "cancelled"})
MAX_NAME_LENGTH = 100
MAX_LOG_LINES = 500

SECONDS_PER_IMAGE_EPOCH: dict[str, float] = {
    "yolox": 0.5,
    "detectron2": 3.0,
    "sm_pytorch": 0.4,
    "classification": 0.1,
    "rfdetr_detection": 2.5,
    "rfdetr_segmentation": 5.0,
}
"""CPU seconds per image per epoch at the pipeline's default image size (measured on two
cores; a GPU is far faster, and the unused minutes are refunded)."""


def charge_operation(gpu_type: str) -> str:
    return f"training_{gpu_type}"


def refund_operation(gpu_type: str) -> str:
    return f"training_refund_{gpu_type}"


def rate(gpu_type: str) -> int:
    return credits.CREDIT_COSTS[f"training_{gpu_type}_per_minute"][0]


def estimate_minutes(pipeline: str, epochs: int, images: int, image_size: int) -> int:
    """Minutes the run is expected to take, rounded up; at least one."""
    scale = (image_size / float(DEFAULT_CONFIGS[pipeline]["image_size"])) ** 2
    seconds = SECONDS_PER_IMAGE_EPOCH[pipeline] * scale * epochs * images + 30
    return max(1, math.ceil(seconds / 60))


# ───────────── validation ─────────────


def _name(value: Any, pipeline: str) -> str:
    if value is None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        return f"{pipeline}-run-{stamp}"
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH:
        raise Invalid(f"name must be 1-{MAX_NAME_LENGTH} characters", loc=["name"])
    return value.strip()


def validate_config(pipeline: str, config: Any) -> dict[str, Any]:
    """The user's config merged over the pipeline's defaults (unknown keys kept, unused)."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise Invalid("config must be an object", loc=["config"])
    try:
        merged = default_config(pipeline).merged(config)
    except ConfigError as error:
        raise Invalid(str(error), loc=["config", error.key]) from error
    return {**config, **merged.as_dict()}


def _training_export(
    session: Session, principal: Principal, dataset: Any, name: Any
) -> tuple[Project, Export]:
    if not isinstance(dataset, str):
        raise Invalid("dataset_name must be a string", loc=["dataset_name"])
    if not isinstance(name, str):
        raise Invalid("export_name must be a string", loc=["export_name"])
    project, export = exports.find(session, principal, dataset, name)
    job = session.get(Job, export.job_id) if export.job_id else None
    view = exports.ExportView(export, project.name, job)
    if view.status != "completed":
        raise Invalid(
            f"Export {name!r} is {view.status}; training needs a completed export",
            loc=["export_name"],
        )
    if export.format != "pictograph" or not export.include_images:
        raise Invalid(
            "Training reads a pictograph-format export with include_images=True",
            loc=["export_name"],
        )
    count = export.image_count or 0
    if count == 0:
        raise NotFound(f"Export {name!r} of dataset {dataset!r} has no images to train on")
    if count < MIN_IMAGES:
        raise Invalid(
            f"Training needs at least {MIN_IMAGES} images to split into train / val / test; "
            f"export {name!r} has {count}",
            loc=["export_name"],
            error_code="DATASET_TOO_SMALL",
        )
    return project, export


# ───────────── operations ─────────────


@dataclass
class RunView:
    run: TrainingRun
    dataset_name: str | None
    export_name: str | None


def create_run(
    session: Session, principal: Principal, settings: Settings, body: dict[str, Any]
) -> RunView:
    """Validate, pre-charge, create the run and its model, enqueue the job (woken after commit)."""
    require(principal.role, "member", "Starting a training run")
    pipeline = one_of(body.get("pipeline_type"), PIPELINE_TYPES, "pipeline_type")
    gpu = one_of(body.get("gpu_type", "a10g"), GPU_TYPES, "gpu_type")
    name = _name(body.get("name"), pipeline)
    config = validate_config(pipeline, body.get("config"))
    project, export = _training_export(
        session, principal, body.get("dataset_name"), body.get("export_name")
    )
    minutes = estimate_minutes(
        pipeline, config["epochs"], export.image_count or 0, config["image_size"]
    )
    cost = minutes * rate(gpu)
    queues = settings.training_queue_names
    queue = gpu if gpu in queues else LOCAL_QUEUE
    run = TrainingRun(
        organization_id=principal.organization_id,
        project_id=project.id,
        export_id=export.id,
        name=name,
        pipeline_type=pipeline,
        gpu_type=gpu,
        queue=queue,
        status="queued",
        total_epochs=config["epochs"],
        config=config,
        estimated_minutes=minutes,
        credits_charged=cost,
        created_by=principal.api_key_id,
        logs=[],
    )
    session.add(run)
    session.flush()
    credits.debit(
        session,
        principal.organization_id,
        cost,
        charge_operation(gpu),
        f"Training run {name!r}: {minutes} estimated minutes on {gpu}",
        {"training_run_id": run.id, "minutes": minutes},
    )
    model = TrainedModel(
        organization_id=principal.organization_id,
        project_id=project.id,
        training_run_id=run.id,
        name=name,
        model_type=MODEL_TYPES[pipeline],
        pipeline_type=pipeline,
        status="training",
    )
    session.add(model)
    session.flush()
    job = enqueue(
        session,
        principal.organization_id,
        JOB_KIND,
        {"run_id": run.id},
        queue=queue,
        project_id=project.id,
    )
    run.model_id, run.job_id = model.id, job.id
    return RunView(run, project.name, export.name)


def _find(
    session: Session, principal: Principal, run_id: str, *, lock: bool = False
) -> TrainingRun:
    query = select(TrainingRun).where(
        TrainingRun.id == run_id, TrainingRun.organization_id == principal.organization_id
    )
    if lock:
        query = query.with_for_update()
    run = session.scalar(query)
    if run is None:
        raise NotFound(f"Training run {run_id!r} not found")
    return run


def _view(session: Session, run: TrainingRun) -> RunView:
    dataset = session.get(Project, run.project_id) if run.project_id else None
    export = session.get(Export, run.export_id) if run.export_id else None
    return RunView(run, dataset.name if dataset else None, export.name if export else None)


def get_run(session: Session, principal: Principal, run_id: str) -> RunView:
    return _view(session, _find(session, principal, run_id))


def list_runs(
    session: Session,
    principal: Principal,
    *,
    dataset_name: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[RunView], int]:
    query = select(TrainingRun).where(TrainingRun.organization_id == principal.organization_id)
    if dataset_name is not None:
        project = projects.find_by_name(session, principal, dataset_name)
        query = query.where(TrainingRun.project_id == project.id)
    if status is not None:
        query = query.where(TrainingRun.status == one_of(status, RUN_STATUSES, "status"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(TrainingRun.created_at.desc(), TrainingRun.id).limit(limit).offset(offset)
    ).all()
    return [_view(session, run) for run in rows], int(total)


def cancel_run(session: Session, principal: Principal, run_id: str) -> RunView:
    """Cancelled at once in the record; a queued run is refunded in full here, a running one
    by its worker when the training process has stopped (it knows the minutes used)."""
    require(principal.role, "member", "Cancelling a training run")
    run = _find(session, principal, run_id, lock=True)
    if run.status in TERMINAL:
        raise Conflict(f"Training run {run.name!r} already ended ({run.status})")
    job = session.get(Job, run.job_id) if run.job_id else None
    if job is not None:
        request_cancel(session, job)
    was_running = run.status == "running" and job is not None and job.status == "running"
    run.status = "cancelled"
    run.completed_at = datetime.now(timezone.utc)
    run.error_message = "Cancelled by the user"
    model = session.get(TrainedModel, run.model_id) if run.model_id else None
    if model is not None and model.status == "training":
        model.status = "failed"
    if not was_running:
        settle(session, run, used_seconds=0.0)
    return _view(session, run)


def settle(session: Session, run: TrainingRun, used_seconds: float) -> None:
    """Refund the minutes not used (once: a settled run has ``training_time_seconds``)."""
    if run.training_time_seconds is not None:
        return
    run.training_time_seconds = int(round(used_seconds))
    used_minutes = math.ceil(used_seconds / 60) if used_seconds > 0 else 0
    refund = run.credits_charged - used_minutes * rate(run.gpu_type or "a10g")
    if refund > 0:
        run.credits_refunded = refund
        credits.record(
            session,
            run.organization_id,
            refund,
            refund_operation(run.gpu_type or "a10g"),
            f"Training run {run.name!r}: {used_minutes} of {run.estimated_minutes} minutes used",
            {"training_run_id": run.id, "minutes_used": used_minutes},
        )


def append_logs(run: TrainingRun, lines: list[str]) -> None:
    run.logs = [*(run.logs or []), *lines][-MAX_LOG_LINES:]


# ───────────── response shape ─────────────


def gpu_note(run: TrainingRun) -> str | None:
    if run.gpu_type and run.queue != run.gpu_type:
        return (
            f"gpu_type {run.gpu_type!r} is not applicable on this self-hosted install "
            "(no worker queue of that name); the run trains on this server's own device"
        )
    return None


def run_payload(view: RunView) -> dict[str, Any]:
    """The published ``TrainingRun`` fields, plus dataset / export names, credits and device."""
    run = view.run
    return {
        "id": run.id,
        "organization_id": run.organization_id,
        "name": run.name,
        "dataset_id": run.project_id,
        "dataset_name": view.dataset_name,
        "export_id": run.export_id,
        "export_name": view.export_name,
        "model_id": run.model_id,
        "job_id": run.job_id,
        "pipeline_type": run.pipeline_type,
        "gpu_type": run.gpu_type,
        "queue": run.queue,
        "gpu_note": gpu_note(run),
        "device": run.device,
        "status": run.status,
        "progress": run.progress,
        "current_epoch": run.current_epoch,
        "total_epochs": run.total_epochs,
        "metrics": dict(run.metrics or {}),
        "config": dict(run.config or {}),
        "eta_seconds": run.eta_seconds,
        "training_time_seconds": run.training_time_seconds,
        "estimated_minutes": run.estimated_minutes,
        "credits_charged": run.credits_charged,
        "credits_refunded": run.credits_refunded,
        "error_message": run.error_message,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "created_at": iso(run.created_at),
        "created_by": run.created_by,
    }

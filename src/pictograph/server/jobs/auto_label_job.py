"""The ``auto_label`` job: run the text model over each image and write its drafts exactly once.

Per image, one transaction holds everything: the job item record (unique per job and image),
the image's new annotations and ``review`` stage, the credit debit and the job's running
totals. So a job killed at any point and resumed (its lease ran out, another worker claimed
it) skips the images already recorded and writes every other image once.

Decoding the next image runs in a background thread while the model works on the current one,
so storage and decoding hide behind inference.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pictograph.server.db.tables import Image, Job, Project
from pictograph.server.errors import Invalid, PaymentRequired
from pictograph.server.jobs.context import JobCancelled, JobContext
from pictograph.server.jobs.runner import handler
from pictograph.server.services import credits
from pictograph.server.services.annotations import validate_annotations
from pictograph.server.services.auto_annotate import load_rgb
from pictograph.server.services.auto_label import (
    DRAFT_PREFIX,
    ESTIMATE_OPERATION,
    JOB_KIND,
    OntologyEntry,
)

logger = logging.getLogger("pictograph.jobs.auto_label")

PER_IMAGE_CREDITS = 1
MINIMUM_CREDITS = credits.CREDIT_COSTS[ESTIMATE_OPERATION][2]
PREFETCH = 2
MAX_INSTANCES_PER_CLASS = 100


class OutOfCredits(Exception):
    """The balance ran out mid-job: the job fails, keeping every image already written."""


@dataclass
class Loaded:
    image_id: str
    filename: str
    cache_key: str
    pixels: np.ndarray | None
    error: str | None = None


def _load(job: JobContext, image_id: str) -> Loaded:
    with job.db.session() as session:
        image = session.get(Image, image_id)
        if image is None or image.is_archived:
            return Loaded(image_id, "", "", None, "image was deleted before it was labelled")
        filename, key = image.filename, f"{image.id}:{image.storage_key}"
    try:
        return Loaded(image_id, filename, key, load_rgb(job.server, image))
    except Exception as error:  # unreadable file: a per-image failure, not the job's
        return Loaded(image_id, filename, key, None, f"could not decode the image ({error})")


def _prefetched(job: JobContext, image_ids: list[str]) -> Iterator[Loaded]:
    """Images in order, each decoded in the background while the previous one is labelled."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="auto-label-decode") as pool:
        pending: list[Future[Loaded]] = []
        ids = iter(image_ids)
        for image_id in ids:
            pending.append(pool.submit(_load, job, image_id))
            if len(pending) >= PREFETCH:
                break
        while pending:
            loaded = pending.pop(0).result()
            following = next(ids, None)
            if following is not None:
                pending.append(pool.submit(_load, job, following))
            yield loaded


def _annotations(
    outcome: Any, ontology: list[OntologyEntry], run_nms: bool, author: str
) -> list[dict[str, Any]]:
    from pictograph.vision.base import Prediction
    from pictograph.vision.engine import nms
    from pictograph.vision.shapes import to_annotation

    by_prompt: dict[str, list[OntologyEntry]] = {}
    for entry in ontology:
        by_prompt.setdefault(entry.prompt, []).append(entry)
    per_class: dict[str, list[tuple[Prediction, OntologyEntry]]] = {}
    for prediction in outcome.predictions:
        for entry in by_prompt.get(prediction.label or "", []):
            if prediction.score >= entry.threshold:
                as_class = Prediction(
                    prediction.box, prediction.score, prediction.mask, entry.class_name
                )
                per_class.setdefault(entry.class_name, []).append((as_class, entry))
    made: list[dict[str, Any]] = []
    for name, found in per_class.items():
        entry_of = {id(prediction): entry for prediction, entry in found}
        candidates = [prediction for prediction, _ in found]
        kept = nms(candidates) if run_nms else candidates
        for prediction in kept[:MAX_INSTANCES_PER_CLASS]:
            output_type = entry_of[id(prediction)].output_type
            annotation = to_annotation(prediction, name, output_type, created_by=author)
            if annotation is not None:
                made.append(annotation)
    return made


def _add_totals(session: Any, job_id: str, **increments: int) -> None:
    row = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    totals = dict(row.result or {})
    for key, amount in increments.items():
        totals[key] = int(totals.get(key, 0)) + amount
    row.result = totals


def _write(job: JobContext, loaded: Loaded, annotations: list[dict[str, Any]], model: str) -> None:
    """Everything one image changes, in one transaction (see the module docstring)."""
    payload = job.payload
    dry_run = bool(payload.get("dry_run"))
    result = {"image_id": loaded.image_id, "image_filename": loaded.filename, "model": model}
    with job.db.session() as session:
        image = session.scalar(select(Image).where(Image.id == loaded.image_id).with_for_update())
        if image is None or image.is_archived:
            job.record_item_in(
                session,
                loaded.image_id,
                ok=False,
                result=result,
                error="image was deleted before it was labelled",
            )
            return
        if not payload.get("overwrite") and image.annotation_count:
            result["skipped"] = "annotated by someone else while the job ran"
            job.record_item_in(session, loaded.image_id, ok=True, result={**result, "added": 0})
            return
        project = session.get(Project, image.project_id)
        names = {c["name"] for c in (project.classes if project else []) or [] if "name" in c}
        try:
            stored = validate_annotations(annotations, names, None)
        except Invalid as error:
            job.record_item_in(
                session, loaded.image_id, ok=False, result=result, error=error.detail
            )
            return
        job.record_item_in(
            session, loaded.image_id, ok=True, result={**result, "added": len(stored)}
        )
        if not dry_run and stored:
            image.annotations = stored
            image.annotation_count = len(stored)
            image.status = "review"
        try:
            credits.debit(
                session,
                job.organization_id,
                PER_IMAGE_CREDITS,
                ESTIMATE_OPERATION,
                f"auto-label {loaded.filename}",
                {"job_id": job.job_id, "image_id": loaded.image_id},
            )
        except PaymentRequired as error:
            raise OutOfCredits(error.detail) from error
        _add_totals(
            session,
            job.job_id,
            annotations_added=len(stored),
            successful_items=1 if stored else 0,
            credits_charged=PER_IMAGE_CREDITS,
        )


def _record_failure(job: JobContext, loaded: Loaded) -> None:
    try:
        with job.db.session() as session:
            job.record_item_in(
                session,
                loaded.image_id,
                ok=False,
                result={"image_id": loaded.image_id, "image_filename": loaded.filename},
                error=loaded.error,
            )
    except IntegrityError:
        pass  # recorded by an earlier run


def _record_missing(job: JobContext, done: set[str]) -> None:
    for name in job.payload.get("missing_filenames", []):
        key = f"missing:{name}"
        if key in done:
            continue
        try:
            with job.db.session() as session:
                job.record_item_in(
                    session,
                    key,
                    ok=False,
                    result={"image_filename": name},
                    error="no image of that name in the dataset",
                )
        except IntegrityError:
            pass


def _charge_minimum(job: JobContext) -> None:
    """Top the job's charge up to the operation's minimum, once."""
    with job.db.session() as session:
        row = session.scalar(select(Job).where(Job.id == job.job_id).with_for_update())
        totals = dict(row.result or {})
        charged = int(totals.get("credits_charged", 0))
        if totals.get("minimum_applied") or charged == 0 or charged >= MINIMUM_CREDITS:
            return
        top_up = MINIMUM_CREDITS - charged
        credits.record(
            session,
            job.organization_id,
            -top_up,
            ESTIMATE_OPERATION,
            "auto-label minimum charge",
            {"job_id": job.job_id},
        )
        row.result = {**totals, "credits_charged": MINIMUM_CREDITS, "minimum_applied": True}


def _notify(job: JobContext, event: str, extra: dict[str, Any]) -> None:
    from pictograph.server.services.webhooks import emit

    with job.db.session() as session:
        row = session.get(Job, job.job_id)
        totals = dict(row.result or {}) if row else {}
        emit(
            session,
            job.organization_id,
            event,
            {
                "job_id": job.job_id,
                "dataset_name": job.payload.get("dataset_name"),
                "model_type": job.payload.get("model_type"),
                "model": totals.get("model") or job.payload.get("text_model"),
                "dry_run": bool(job.payload.get("dry_run")),
                "processed_images": row.progress_done if row else 0,
                "failed_images": row.progress_failed if row else 0,
                "total_annotations_added": totals.get("annotations_added", 0),
                **extra,
            },
        )
    if job.server.jobs is not None:
        job.server.jobs.wake()


def _label_all(job: JobContext) -> str:
    payload = job.payload
    ontology = [OntologyEntry(**entry) for entry in payload["ontology"]]
    prompts = list(dict.fromkeys(entry.prompt for entry in ontology))
    floor = min(entry.threshold for entry in ontology)
    need_masks = any(entry.output_type != "bbox" for entry in ontology)
    author = f"{DRAFT_PREFIX}{job.job_id}"
    done = job.done_items()
    _record_missing(job, done)
    todo = [image_id for image_id in payload["image_ids"] if image_id not in done]
    vision = job.server.vision()
    model = payload.get("text_model") or ""
    trained = payload.get("trained_model")
    detector = (
        vision.trained(trained["id"], job.server.blobs.path(trained["blob_key"])) if trained else None
    )
    for loaded in _prefetched(job, todo):
        job.heartbeat()
        if loaded.pixels is None:
            _record_failure(job, loaded)
            continue
        outcome = vision.text(
            loaded.pixels,
            prompts,
            floor,
            image_key=loaded.cache_key,
            need_masks=need_masks,
            run_nms=bool(payload.get("run_nms", True)),
            model=None if trained else payload.get("text_model"),
            detector=detector,
        )
        model = outcome.model
        annotations = _annotations(outcome, ontology, bool(payload.get("run_nms", True)), author)
        try:
            _write(job, loaded, annotations, model)
        except IntegrityError:
            continue  # an earlier run of this job recorded the image
    return model


@handler(JOB_KIND)
def run_auto_label(job: JobContext) -> dict[str, Any]:
    try:
        model = _label_all(job)
    except OutOfCredits as error:
        _charge_minimum(job)
        _notify(job, "auto_label.failed", {"status": "failed", "error_message": str(error)})
        raise
    except JobCancelled:
        raise
    except Exception as error:
        message = f"{type(error).__name__}: {error}"
        _notify(job, "auto_label.failed", {"status": "failed", "error_message": message})
        raise
    _charge_minimum(job)
    with job.db.session() as session:
        row = session.scalar(select(Job).where(Job.id == job.job_id).with_for_update())
        totals = {**(row.result or {}), "model": model}
        row.result = totals
    _notify(job, "auto_label.completed", {"status": "completed"})
    return totals

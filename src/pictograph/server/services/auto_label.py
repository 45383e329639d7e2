"""Batch auto-label jobs: what to label, with which model, and how the job reads back.

A request becomes one durable job (kind ``auto_label``, run by
:mod:`pictograph.server.jobs.auto_label_job`). Rules kept here:

- **Ontology** (prompt → class), in every form the peers accept: ``classes`` (the SDK's
  ``[{name, output_type[, prompt]}]``), ``ontology`` as ``{"a dog": "dog"}``, ``["dog"]`` or
  ``[{"class": "dog", "prompt": "a dog"}]``. Omitted, it is derived from the dataset's classes
  (``DATASET_HAS_NO_CLASSES`` when there are none); for ``yolo`` the derived ontology keeps the
  dataset classes the detector knows (``NO_MATCHING_CLASSES`` when none). Classes named
  explicitly that the dataset lacks are added to it; a derived ontology never adds any.
- **Model types**: ``sam3`` — the best available text-capable backend (SAM 3 when its weights
  are here, else OWLv2 / Grounding DINO, else the bundled COCO detector with prompt matching);
  ``yolo`` — the closed-set detector. The job records which backend ran. Any other
  ``model_id`` names a ready trained model of the organization (404 unknown, 409 not ready,
  422 for a classifier); its classes are the prompts, mapped to dataset classes as usual.
- **Images**: ``image_filenames`` (or every live image of the dataset when omitted), minus
  images that already have annotations unless ``overwrite``; capped by ``max_images``.
  Unknown filenames become per-image failures; none matching at all is 404.
- **Thresholds**: ``confidence_threshold`` for every class, ``confidence_thresholds`` per
  class; ``run_nms`` (default on) suppresses overlapping instances of a class; ``labels``
  keeps only those classes.
- **Drafts**: labelled images go to stage ``review`` with annotations whose ``created_by`` is
  ``auto_label:<job id>``; :func:`accept_drafts` moves an image to ``complete`` and
  :func:`discard_drafts` removes the job's drafts (a normal save is an edit).
- **Credits**: the estimate (``sam3_auto_annotation``: 1 per image, 3 minimum) must be
  covered to start (402); the job debits 1 credit per image processed as it goes (dry runs
  too: the model ran) and tops up to the minimum at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pictograph.server.auth import Principal
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import (
    Image,
    Job,
    JobItem,
    Project,
    TrainedModel,
    as_utc,
    utcnow,
)
from pictograph.server.errors import Conflict, Invalid, NotFound
from pictograph.server.jobs.records import TERMINAL, enqueue, get_job, request_cancel
from pictograph.server.roles import require
from pictograph.server.services import credits, projects
from pictograph.server.services.annotations import stage_for_count
from pictograph.server.services.auto_annotate import ModelUnavailableError, engine

JOB_KIND = "auto_label"
MODEL_TYPES = ("sam3", "yolo")
TRAINED_MODEL_TYPES = ("custom", "custom_roboflow", "trained")
"""``model_type`` values that name a trained model (given by ``model_id``)."""
YOLO_MODEL = "ssd-mobilenet-v2-coco"
OUTPUT_TYPES = ("bbox", "polygon", "polyline", "keypoint")
DRAFT_PREFIX = "auto_label:"
ESTIMATE_OPERATION = "sam3_auto_annotation"
MAX_IMAGES_PER_JOB = 100_000
MAX_FAILURES_SHOWN = 100
JOB_STATUSES = ("pending", "running", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class OntologyEntry:
    prompt: str
    class_name: str
    output_type: str
    threshold: float


@dataclass
class BatchRequest:
    dataset_name: str
    image_filenames: list[str] | None = None
    classes: list[dict[str, Any]] | None = None
    ontology: Any = None
    model_type: str | None = None
    model_id: str | None = None
    confidence_threshold: float = 0.5
    confidence_thresholds: dict[str, float] | None = None
    output_type: str = "polygon"
    run_nms: bool = True
    labels: list[str] | None = None
    max_images: int | None = None
    dry_run: bool = False
    overwrite: bool = False


def ontology_error(error_type: str, detail: str, loc: list[Any]) -> Invalid:
    return Invalid(detail, loc=loc, error_code=error_type, error_type=error_type)


# ───────────── validation ─────────────


def _threshold(value: Any, loc: list[Any]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise Invalid("A confidence threshold must be a number between 0 and 1", loc=loc)
    return float(value)


def _output_type(value: Any, loc: list[Any]) -> str:
    if value == "tag":
        raise Invalid(
            "output_type 'tag' is not an annotation type: Pictograph annotations are bbox, "
            "polygon, polyline or keypoint",
            loc=loc,
        )
    if value not in OUTPUT_TYPES:
        raise Invalid(
            f"Invalid output_type {value!r}; expected one of {', '.join(OUTPUT_TYPES)}", loc=loc
        )
    return str(value)


def _name(value: Any, loc: list[Any]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("Class names and prompts must be non-blank strings", loc=loc)
    if len(value) > projects.MAX_CLASS_NAME_LENGTH:
        raise Invalid(
            f"Class names must be at most {projects.MAX_CLASS_NAME_LENGTH} characters", loc=loc
        )
    return value.strip()


def _explicit_pairs(request: BatchRequest) -> list[tuple[str, str, list[Any]]]:
    """(prompt, class, loc) from ``ontology`` in any of its forms, or from ``classes``."""
    pairs: list[tuple[str, str, list[Any]]] = []
    ontology = request.ontology
    if isinstance(ontology, Mapping):
        for prompt, name in ontology.items():
            loc = ["ontology", prompt]
            pairs.append((_name(prompt, loc), _name(name, loc), loc))
    elif isinstance(ontology, list):
        for index, item in enumerate(ontology):
            loc = ["ontology", index]
            if isinstance(item, str):
                pairs.append((_name(item, loc), _name(item, loc), loc))
            elif isinstance(item, Mapping) and "class" in item:
                name = _name(item["class"], [*loc, "class"])
                prompt = _name(item.get("prompt", name), [*loc, "prompt"])
                pairs.append((prompt, name, loc))
            else:
                raise Invalid(
                    'Ontology items are class names or {"class": ..., "prompt": ...} objects',
                    loc=loc,
                )
    elif ontology not in (None, {}, []):
        raise Invalid("ontology must be an object (prompt → class) or a list", loc=["ontology"])
    if not pairs:
        for index, item in enumerate(request.classes or []):
            loc = ["classes", index]
            if not isinstance(item, Mapping):
                raise Invalid("Each class is an object with a name", loc=loc)
            name = _name(item.get("name"), [*loc, "name"])
            pairs.append((_name(item.get("prompt", name), [*loc, "prompt"]), name, loc))
    return pairs


def _output_types(request: BatchRequest) -> dict[str, str]:
    types: dict[str, str] = {}
    for index, item in enumerate(request.classes or []):
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            types[item["name"].strip()] = _output_type(
                item.get("output_type", "polygon"), ["classes", index, "output_type"]
            )
    return types


def _project_output_type(project: Project, name: str, default: str) -> str:
    for entry in project.classes or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            kind = "bbox" if entry.get("type") == "box" else entry.get("type")
            if kind in OUTPUT_TYPES:
                return str(kind)
    return default


def build_ontology(
    ctx: ServerContext,
    project: Project,
    request: BatchRequest,
    model_type: str,
    trained: TrainedModel | None = None,
) -> tuple[list[OntologyEntry], list[str]]:
    """The ontology to run and the explicit class names the dataset lacks (to be added)."""
    default_type = _output_type(request.output_type, ["output_type"])
    base = _threshold(request.confidence_threshold, ["confidence_threshold"])
    per_class = {
        name: _threshold(value, ["confidence_thresholds", name])
        for name, value in (request.confidence_thresholds or {}).items()
    }
    types = _output_types(request)
    dataset_classes = [
        c["name"] for c in project.classes or [] if isinstance(c, dict) and "name" in c
    ]
    pairs = _explicit_pairs(request)
    derived = not pairs
    if derived:
        if not dataset_classes:
            raise ontology_error(
                "DATASET_HAS_NO_CLASSES",
                f"Dataset {project.name!r} has no classes to derive an ontology from; "
                "pass classes or an ontology",
                ["ontology"],
            )
        pairs = [(name, name, ["ontology"]) for name in dataset_classes]
    if model_type == "yolo":
        pairs = _known_to_detector(ctx, pairs, derived)
    if trained is not None:
        pairs = _known_to_trained(trained, pairs, derived)
    if request.labels:
        wanted = {str(label) for label in request.labels}
        pairs = [pair for pair in pairs if pair[1] in wanted]
        if not pairs:
            raise ontology_error(
                "NO_MATCHING_CLASSES", "No class of the ontology is in labels", ["labels"]
            )
    entries: list[OntologyEntry] = []
    seen: set[tuple[str, str]] = set()
    for prompt, name, _ in pairs:
        if (prompt, name) in seen:
            continue
        seen.add((prompt, name))
        output_type = types.get(name) or _project_output_type(project, name, default_type)
        entries.append(OntologyEntry(prompt, name, output_type, per_class.get(name, base)))
    missing = [] if derived else sorted({e.class_name for e in entries} - set(dataset_classes))
    return entries, missing


def _known_to_trained(
    model: TrainedModel, pairs: list[tuple[str, str, list[Any]]], derived: bool
) -> list[tuple[str, str, list[Any]]]:
    """For a trained model: keep prompts that are one of its classes."""
    classes = set((model.class_mapping or {}).values())
    known = [pair for pair in pairs if pair[0] in classes]
    unknown = next((pair for pair in pairs if pair not in known), None)
    if not known or (not derived and unknown is not None):
        missing = unknown[0] if unknown else pairs[0][0]
        raise ontology_error(
            "NO_MATCHING_CLASSES",
            f"Model {model.name!r} has no class {missing!r}; its classes: "
            + ", ".join(sorted(classes)),
            unknown[2] if unknown else ["ontology"],
        )
    return known


def _known_to_detector(
    ctx: ServerContext, pairs: list[tuple[str, str, list[Any]]], derived: bool
) -> list[tuple[str, str, list[Any]]]:
    """For ``yolo``: keep prompts the closed-set detector can answer."""
    from pictograph.vision.text_match import matched_classes

    known = [pair for pair in pairs if matched_classes(pair[0])]
    if not known:
        raise ontology_error(
            "NO_MATCHING_CLASSES",
            "None of the ontology's classes is one the detector knows (the 80 COCO classes)",
            ["ontology"],
        )
    if not derived and len(known) < len(pairs):
        unknown = next(pair for pair in pairs if pair not in known)
        raise ontology_error(
            "NO_MATCHING_CLASSES",
            f"The detector has no class matching {unknown[0]!r}",
            unknown[2],
        )
    return known


def _model(request: BatchRequest) -> str:
    """The model family; a ``model_id`` that is not a family names a trained model."""
    model_type = request.model_type
    model_id = request.model_id
    if model_id and model_id not in MODEL_TYPES:
        return model_type if model_type in TRAINED_MODEL_TYPES else "custom"
    if model_type is None:
        model_type = model_id or "sam3"
    if model_type in TRAINED_MODEL_TYPES:
        raise ontology_error(
            "MISSING_MODEL_ID", "model_id is required for a trained model", ["model_id"]
        )
    if model_type not in MODEL_TYPES:
        raise Invalid(
            f"Invalid model_type {model_type!r}; expected one of {', '.join(MODEL_TYPES)} "
            "or a trained model's model_id",
            loc=["model_type"],
        )
    return model_type


def _trained_model(session: Session, principal: Principal, model_id: str) -> TrainedModel:
    """A ready trained model of the organization that can label regions (404 / 409 / 422)."""
    model = session.scalar(
        select(TrainedModel).where(
            TrainedModel.id == model_id, TrainedModel.organization_id == principal.organization_id
        )
    )
    if model is None or model.status == "archived":
        raise NotFound(f"Model {model_id!r} not found")
    if model.status != "ready" or not model.blob_key:
        raise Conflict(f"Model {model.name!r} is {model.status}; only ready models can label")
    if model.model_type == "classification":
        raise Invalid(
            "A classification model labels whole images; annotations need a detection or "
            "segmentation model",
            loc=["model_id"],
        )
    return model


def _text_model(ctx: ServerContext, model_type: str) -> str:
    """The text backend that will run (checked now, so a missing model fails the request)."""
    from pictograph.vision.engine import ModelUnavailable

    try:
        return engine(ctx).resolve("text", YOLO_MODEL if model_type == "yolo" else None)
    except ModelUnavailable as error:
        raise ModelUnavailableError(str(error)) from error


def _select_images(
    session: Session, project: Project, request: BatchRequest
) -> tuple[list[str], list[str], int]:
    """(image ids to label, filenames not found, images skipped as already annotated)."""
    live = select(
        Image.id, Image.filename, Image.virtual_folder_path, Image.annotation_count
    ).where(Image.project_id == project.id, Image.is_archived.is_(False))
    missing: list[str] = []
    if request.image_filenames is not None:
        names = request.image_filenames
        if len(names) > MAX_IMAGES_PER_JOB:
            raise Invalid(f"At most {MAX_IMAGES_PER_JOB} images per job", loc=["image_filenames"])
        rows = list(session.execute(live.order_by(Image.created_at, Image.id)))
        by_name: dict[str, list[Any]] = {}
        for row in rows:
            by_name.setdefault(row.filename, []).append(row)
            folder = row.virtual_folder_path.rstrip("/")
            by_name.setdefault(f"{folder}/{row.filename}", []).append(row)
        chosen: list[Any] = []
        seen: set[str] = set()
        for name in names:
            matches = by_name.get(name) if isinstance(name, str) else None
            if not matches:
                missing.append(str(name))
                continue
            for row in matches:
                if row.id not in seen:
                    seen.add(row.id)
                    chosen.append(row)
        if not chosen:
            raise NotFound(
                f"None of the {len(names)} image_filenames is in dataset {project.name!r}"
            )
    else:
        chosen = list(session.execute(live.order_by(Image.created_at, Image.id)))
        if not chosen:
            raise NotFound(f"Dataset {project.name!r} has no images")
        if len(chosen) > MAX_IMAGES_PER_JOB:
            chosen = chosen[:MAX_IMAGES_PER_JOB]
    targets = chosen if request.overwrite else [row for row in chosen if not row.annotation_count]
    skipped = len(chosen) - len(targets)
    if request.max_images is not None:
        if request.max_images < 1:
            raise Invalid("max_images must be at least 1", loc=["max_images"])
        targets = targets[: request.max_images]
    return [row.id for row in targets], missing, skipped


def _add_classes(
    session: Session, project: Project, names: list[str], types: dict[str, str]
) -> None:
    if not names:
        return
    current = list(project.classes or [])
    current += [{"name": name, "type": types[name]} for name in names]
    project.classes = projects.validate_classes(current, ["classes"])
    project.updated_at = utcnow()


# ───────────── create / read / cancel ─────────────


def create_batch(ctx: ServerContext, principal: Principal, request: BatchRequest) -> dict[str, Any]:
    require(principal.role, "member", "Starting an auto-label job")
    model_type = _model(request)
    with ctx.db.session() as session:
        trained = None
        if model_type in TRAINED_MODEL_TYPES:
            trained = _trained_model(session, principal, str(request.model_id))
        project = projects.find_by_name(session, principal, request.dataset_name, lock=True)
        ontology, missing_classes = build_ontology(ctx, project, request, model_type, trained)
        text_model = f"trained:{trained.id}" if trained else _text_model(ctx, model_type)
        image_ids, missing_files, skipped = _select_images(session, project, request)
        estimate = credits.cost_of(ESTIMATE_OPERATION, max(len(image_ids), 1))[3]
        credits.require_balance(session, principal.organization_id, estimate, ESTIMATE_OPERATION)
        _add_classes(
            session, project, missing_classes, {e.class_name: e.output_type for e in ontology}
        )
        payload = {
            "dataset_name": project.name,
            "model_type": model_type,
            "text_model": text_model,
            "trained_model": {"id": trained.id, "blob_key": trained.blob_key} if trained else None,
            "ontology": [asdict(entry) for entry in ontology],
            "confidence_threshold": request.confidence_threshold,
            "confidence_thresholds": request.confidence_thresholds or {},
            "run_nms": request.run_nms,
            "labels": request.labels or [],
            "dry_run": request.dry_run,
            "overwrite": request.overwrite,
            "max_images": request.max_images,
            "image_ids": image_ids,
            "missing_filenames": missing_files,
            "skipped_images": skipped,
            "estimated_credits": estimate,
            "added_classes": missing_classes,
            "api_key_id": principal.api_key_id,
        }
        job = enqueue(
            session,
            principal.organization_id,
            JOB_KIND,
            payload,
            total=len(image_ids) + len(missing_files),
            project_id=project.id,
        )
        job.result = {"annotations_added": 0, "successful_items": 0, "credits_charged": 0}
        session.flush()
        body = batch_json(session, job)
    if ctx.jobs is not None:
        ctx.jobs.wake()
    return body


def get_batch(ctx: ServerContext, principal: Principal, job_id: str) -> dict[str, Any]:
    with ctx.db.session() as session:
        return batch_json(session, get_job(session, principal.organization_id, job_id, JOB_KIND))


def cancel_batch(ctx: ServerContext, principal: Principal, job_id: str) -> dict[str, Any]:
    require(principal.role, "member", "Cancelling an auto-label job")
    with ctx.db.session() as session:
        job = get_job(session, principal.organization_id, job_id, JOB_KIND)
        if job.status not in TERMINAL:
            job = request_cancel(session, job)
        return batch_json(session, job)


def list_batches(
    ctx: ServerContext,
    principal: Principal,
    *,
    dataset_name: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    criteria: list[Any] = [Job.organization_id == principal.organization_id, Job.kind == JOB_KIND]
    if status is not None:
        if status not in JOB_STATUSES:
            raise Invalid(
                f"Invalid status {status!r}; expected one of {', '.join(JOB_STATUSES)}",
                loc=["status"],
            )
        criteria.append(Job.status == status)
    with ctx.db.session() as session:
        if dataset_name is not None:
            criteria.append(
                Job.project_id == projects.find_by_name(session, principal, dataset_name).id
            )
        total = session.scalar(select(func.count()).select_from(Job).where(*criteria)) or 0
        jobs = session.scalars(
            select(Job)
            .where(*criteria)
            .order_by(Job.created_at.desc(), Job.id)
            .limit(limit)
            .offset(offset)
        )
        return {
            "jobs": [batch_json(session, job, with_failures=False) for job in jobs],
            "total": total,
            "limit": limit,
            "offset": offset,
        }


def _failures(session: Session, job: Job) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(JobItem)
        .where(JobItem.job_id == job.id, JobItem.ok.is_(False))
        .order_by(JobItem.created_at)
        .limit(MAX_FAILURES_SHOWN)
    )
    return [
        {
            "image_id": (row.result or {}).get("image_id"),
            "image_filename": (row.result or {}).get("image_filename"),
            "reason": row.error,
        }
        for row in rows
    ]


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None


def batch_json(session: Session, job: Job, *, with_failures: bool = True) -> dict[str, Any]:
    """The ``BatchJob`` the SDK reads, with the peers' extra fields."""
    payload = job.payload or {}
    result = job.result or {}
    total = job.progress_total
    finished = job.progress_done + job.progress_failed
    if job.status in TERMINAL:
        progress = 100
    else:
        progress = min(99, int(100 * finished / total)) if total else 0
    body: dict[str, Any] = {
        "job_id": job.id,
        "id": job.id,
        "status": job.status,
        "progress": progress,
        "dataset_name": payload.get("dataset_name"),
        "model_type": payload.get("model_type"),
        "model": result.get("model") or payload.get("text_model"),
        "total_images": total,
        "processed_images": job.progress_done,
        "failed_images": job.progress_failed,
        "skipped_images": payload.get("skipped_images", 0),
        "total_annotations_added": 0
        if payload.get("dry_run")
        else result.get("annotations_added", 0),
        "successful_items": result.get("successful_items", 0),
        "predicted_annotations": result.get("annotations_added", 0),
        "dry_run": bool(payload.get("dry_run")),
        "overwrite": bool(payload.get("overwrite")),
        "ontology": [
            {
                "prompt": e["prompt"],
                "class": e["class_name"],
                "output_type": e["output_type"],
                "confidence_threshold": e["threshold"],
            }
            for e in payload.get("ontology", [])
        ],
        "confidence_threshold": payload.get("confidence_threshold"),
        "confidence_thresholds": payload.get("confidence_thresholds", {}),
        "run_nms": payload.get("run_nms", True),
        "labels": payload.get("labels", []),
        "max_images": payload.get("max_images"),
        "added_classes": payload.get("added_classes", []),
        "estimated_credits": payload.get("estimated_credits"),
        "credits_charged": result.get("credits_charged", 0),
        "error_message": job.error_message,
        "cancel_requested": job.cancel_requested,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "completed_at": _iso(job.finished_at) if job.status in TERMINAL else None,
    }
    if with_failures:
        body["failures"] = _failures(session, job)
    return body


# ───────────── review ─────────────


def _image_for_review(session: Session, principal: Principal, image_id: str) -> Image:
    from pictograph.server.services.images import get_image

    require(principal.role, "member", "Reviewing auto-labelled images")
    image = get_image(session, principal, image_id, lock=True)
    return image


def accept_drafts(ctx: ServerContext, principal: Principal, image_id: str) -> dict[str, Any]:
    """Accept an image's drafts as they are: the image leaves review (complete, or new if empty)."""
    with ctx.db.session() as session:
        image = _image_for_review(session, principal, image_id)
        drafts = sum(1 for a in image.annotations or [] if _is_draft(a))
        image.status = stage_for_count(int(image.annotation_count or 0))
        image.updated_at = utcnow()
        return _review_json(image, accepted=drafts, discarded=0)


def accept_batch(ctx: ServerContext, principal: Principal, job_id: str) -> dict[str, Any]:
    """Accept the drafts of every image a finished batch job labelled that is still in review
    (the "train on what the model found" step of ``full_pipeline``); 409 while it runs."""
    require(principal.role, "member", "Reviewing auto-labelled images")
    with ctx.db.session() as session:
        job = get_job(session, principal.organization_id, job_id, JOB_KIND)
        if job.status not in TERMINAL:
            raise Conflict(f"Batch job {job_id!r} is still {job.status}; accept it once it ends")
        image_ids = session.scalars(
            select(JobItem.item_key).where(JobItem.job_id == job.id, JobItem.ok.is_(True))
        ).all()
        accepted = 0
        for image in session.scalars(
            select(Image)
            .where(Image.id.in_(image_ids), Image.status == "review")
            .with_for_update()
        ):
            image.status = stage_for_count(int(image.annotation_count or 0))
            image.updated_at = utcnow()
            accepted += 1
        return {"job_id": job.id, "accepted_images": accepted}


def discard_drafts(ctx: ServerContext, principal: Principal, image_id: str) -> dict[str, Any]:
    """Remove the auto-labelled drafts of an image, keeping any annotation a person made."""
    with ctx.db.session() as session:
        image = _image_for_review(session, principal, image_id)
        kept = [a for a in image.annotations or [] if not _is_draft(a)]
        discarded = len(image.annotations or []) - len(kept)
        image.annotations = kept
        image.annotation_count = len(kept)
        image.status = stage_for_count(len(kept))
        image.updated_at = utcnow()
        return _review_json(image, accepted=0, discarded=discarded)


def _is_draft(annotation: Any) -> bool:
    return isinstance(annotation, dict) and str(annotation.get("created_by") or "").startswith(
        DRAFT_PREFIX
    )


def _review_json(image: Image, *, accepted: int, discarded: int) -> dict[str, Any]:
    return {
        "image_id": image.id,
        "status": image.status,
        "annotation_count": image.annotation_count,
        "accepted": accepted,
        "discarded": discarded,
    }

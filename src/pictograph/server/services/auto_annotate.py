"""Single-image prompts (point / box / text): find the image, run the engine, shape, charge.

Nothing is saved: the caller saves the returned annotations (as the docs say). Rules:

- The image is named by dataset and ``image_filename``; a filename held by images in several
  folders is ambiguous (409) unless given as a path (``/folder/name.jpg``).
- Statuses: ``success`` (something at or above the threshold), ``below_threshold`` (the model
  found something, but under the threshold), ``no_detection`` (nothing at all).
- Credits, the docs' "session" rule: a prompt on an image whose embedding is not cached costs
  :data:`SESSION_COST` (``sam3_session``: the image encoder runs); each further prompt while it
  stays cached costs :data:`PROMPT_COST` (``sam3_prompt``). The balance is checked before the
  model runs (402, nothing run) and debited once the result is ready.
- Every response says which model served it (``model``) and how long inference took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session

from pictograph.server.auth import Principal
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import Image, Project
from pictograph.server.errors import Conflict, Invalid, NotFound, ServiceError
from pictograph.server.roles import require
from pictograph.server.services import credits, projects

SESSION_OPERATION, SESSION_COST = "sam3_session", 3
PROMPT_OPERATION, PROMPT_COST = "sam3_prompt", 1
TEXT_FLOOR = 0.1
"""Text prompts look down to this score, to tell ``below_threshold`` from ``no_detection``."""
MAX_TEXT_DETECTIONS = 100


class ModelUnavailableError(ServiceError):
    status_code = 503
    error_code = "model_unavailable"


@dataclass
class TargetImage:
    project: Project
    image: Image

    @property
    def cache_key(self) -> str:
        """Changes when the image's bytes do, so a stale embedding is never reused."""
        return f"{self.image.id}:{self.image.storage_key}"


def find_image(
    session: Session, principal: Principal, dataset_name: str, image_filename: str
) -> TargetImage:
    """The live image of the dataset named ``image_filename`` (or ``/folder/name``)."""
    project = projects.find_by_name(session, principal, dataset_name)
    missing = f"Image {image_filename!r} not found in dataset {dataset_name!r}"
    if (
        not isinstance(image_filename, str)
        or not image_filename
        or projects.has_nul(image_filename)
    ):
        raise NotFound(missing)
    query = select(Image).where(Image.project_id == project.id, Image.is_archived.is_(False))
    folder, _, name = image_filename.rpartition("/")
    if folder or image_filename.startswith("/"):
        query = query.where(Image.filename == name, Image.virtual_folder_path == (folder or "/"))
    else:
        query = query.where(Image.filename == image_filename)
    found = list(session.scalars(query.limit(2)))
    if not found:
        raise NotFound(missing)
    if len(found) > 1:
        raise Conflict(
            f"Several images of dataset {dataset_name!r} are named {image_filename!r}; "
            "name one by its folder path, e.g. '/folder/name.jpg'"
        )
    return TargetImage(project, found[0])


def load_rgb(ctx: ServerContext, image: Image) -> np.ndarray:
    """The image's pixels as RGB uint8 (the stored file, as registered)."""
    with PILImage.open(ctx.blobs.path(image.storage_key)) as opened:
        return np.asarray(opened.convert("RGB"))


def engine(ctx: ServerContext):  # type: ignore[no-untyped-def]
    """The process's engine; 503 when the models are not installed."""
    try:
        return ctx.vision()
    except ImportError as error:
        raise ModelUnavailableError(
            f"Auto-annotation needs the vision extra: pip install 'pictograph[vision]' ({error})"
        ) from error


def _check_point(x: Any, y: Any, image: Image, loc: list[Any]) -> tuple[float, float]:
    width, height = image.width or 0, image.height or 0
    if not (0 <= float(x) < width and 0 <= float(y) < height):
        raise Invalid(f"Point ({x}, {y}) lies outside the {width}×{height} image", loc=loc)
    return float(x), float(y)


def _check_box(
    box: dict[str, float], image: Image, loc: list[Any]
) -> tuple[float, float, float, float]:
    """A ``{x, y, w, h}`` box as (x1, y1, x2, y2), clipped to the image; 422 when it misses it."""
    width, height = float(image.width or 0), float(image.height or 0)
    x, y, w, h = (float(box[key]) for key in ("x", "y", "w", "h"))
    if w <= 0 or h <= 0:
        raise Invalid("Box width and height must be positive", loc=loc)
    x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height)
    if x2 <= x1 or y2 <= y1:
        raise Invalid(f"Box lies outside the {image.width}×{image.height} image", loc=loc)
    return x1, y1, x2, y2


def _cost(ctx: ServerContext, target: TargetImage) -> tuple[str, int]:
    if engine(ctx).is_cached(target.cache_key):
        return PROMPT_OPERATION, PROMPT_COST
    return SESSION_OPERATION, SESSION_COST


def _charge(
    ctx: ServerContext,
    principal: Principal,
    operation: str,
    cost: int,
    target: TargetImage,
    kind: str,
) -> None:
    with ctx.db.session() as session:
        credits.debit(
            session,
            principal.organization_id,
            cost,
            operation,
            f"{kind} prompt on {target.image.filename}",
            {"image_id": target.image.id, "prompt": kind},
        )


def _prepare(
    ctx: ServerContext, principal: Principal, dataset_name: str, image_filename: str
) -> tuple[TargetImage, str, int]:
    require(principal.role, "member", "Auto-annotating")
    with ctx.db.session() as session:
        target = find_image(session, principal, dataset_name, image_filename)
    operation, cost = _cost(ctx, target)
    with ctx.db.session() as session:
        credits.require_balance(session, principal.organization_id, cost, operation)
    return target, operation, cost


def _run(call):  # type: ignore[no-untyped-def]
    from pictograph.vision.engine import ModelUnavailable

    try:
        return call()
    except ModelUnavailable as error:
        raise ModelUnavailableError(str(error)) from error


def _segment_body(outcome: Any, cost: int, threshold: float) -> tuple[dict[str, Any], Any]:
    """The response of a point / box prompt before its annotations, and the prediction to shape
    (None when there is nothing at or above ``threshold``: the status says which case)."""
    body: dict[str, Any] = {
        "status": "no_detection",
        "annotations": [],
        "score": None,
        "inference_time": round(outcome.seconds, 4),
        "model": outcome.model,
        "embedding_cached": outcome.cached,
        "credits_charged": cost,
    }
    prediction = outcome.prediction
    if prediction is None:
        return body, None
    body["score"] = round(min(max(prediction.score, 0.0), 1.0), 4)
    if prediction.score < threshold:
        body["status"] = "below_threshold"
        return body, None
    return body, prediction


def point_prompt(
    ctx: ServerContext,
    principal: Principal,
    *,
    dataset_name: str,
    image_filename: str,
    x: float,
    y: float,
    name: str,
    positive_points: Sequence[Sequence[float]] | None,
    negative_points: Sequence[Sequence[float]] | None,
    score_threshold: float,
    output_type: str,
) -> dict[str, Any]:
    from pictograph.vision.shapes import to_annotation

    target, operation, cost = _prepare(ctx, principal, dataset_name, image_filename)
    image = target.image
    positives = [_check_point(x, y, image, ["x"])]
    positives += [
        _check_point(p[0], p[1], image, ["positive_points", i])
        for i, p in enumerate(positive_points or [])
    ]
    negatives = [
        _check_point(p[0], p[1], image, ["negative_points", i])
        for i, p in enumerate(negative_points or [])
    ]
    vision = engine(ctx)
    outcome = _run(
        lambda: vision.point(target.cache_key, lambda: load_rgb(ctx, image), positives, negatives)
    )
    _charge(ctx, principal, operation, cost, target, "point")
    body, prediction = _segment_body(outcome, cost, score_threshold)
    body["annotation"] = None
    if prediction is not None:
        annotation = to_annotation(prediction, name, output_type, created_by=principal.api_key_id)
        if annotation is not None:
            body.update(status="success", annotation=annotation, annotations=[annotation])
    return body


def box_prompt(
    ctx: ServerContext,
    principal: Principal,
    *,
    dataset_name: str,
    image_filename: str,
    box: dict[str, float],
    name: str,
    confidence_threshold: float,
    return_polygon: bool,
    negative_boxes: Sequence[dict[str, float]] | None,
) -> dict[str, Any]:
    from pictograph.vision.shapes import to_annotation

    target, operation, cost = _prepare(ctx, principal, dataset_name, image_filename)
    image = target.image
    prompt_box = _check_box(box, image, ["box"])
    negatives = [
        _check_box(b, image, ["negative_boxes", i]) for i, b in enumerate(negative_boxes or [])
    ]
    vision = engine(ctx)
    outcome = _run(
        lambda: vision.box(target.cache_key, lambda: load_rgb(ctx, image), prompt_box, negatives)
    )
    _charge(ctx, principal, operation, cost, target, "box")
    body, prediction = _segment_body(outcome, cost, confidence_threshold)
    if prediction is not None:
        types = ("bbox", "polygon") if return_polygon else ("bbox",)
        made = [
            to_annotation(prediction, name, kind, created_by=principal.api_key_id) for kind in types
        ]
        body["annotations"] = [annotation for annotation in made if annotation is not None]
        body["status"] = "success" if body["annotations"] else "no_detection"
    return body


def text_prompt(
    ctx: ServerContext,
    principal: Principal,
    *,
    dataset_name: str,
    image_filename: str,
    text_prompt: str,
    name: str | None,
    output_type: str,
    confidence_threshold: float,
    max_detections: int,
) -> dict[str, Any]:
    from pictograph.vision.shapes import to_annotation

    prompt = text_prompt.strip()
    if not prompt:
        raise Invalid("text_prompt must not be blank", loc=["text_prompt"])
    target, operation, cost = _prepare(ctx, principal, dataset_name, image_filename)
    vision = engine(ctx)
    pixels = load_rgb(ctx, target.image)
    floor = min(confidence_threshold, TEXT_FLOOR)
    outcome = _run(
        lambda: vision.text(
            pixels,
            [prompt],
            floor,
            image_key=target.cache_key,
            need_masks=output_type != "bbox",
        )
    )
    _charge(ctx, principal, operation, cost, target, "text")
    kept = [p for p in outcome.predictions if p.score >= confidence_threshold][:max_detections]
    label = (name or prompt).strip()
    annotations = [
        annotation
        for prediction in kept
        if (
            annotation := to_annotation(
                prediction, label, output_type, created_by=principal.api_key_id
            )
        )
    ]
    status = (
        "success" if annotations else ("below_threshold" if outcome.predictions else "no_detection")
    )
    return {
        "status": status,
        "annotations": annotations,
        "inference_time": round(outcome.seconds, 4),
        "model": outcome.model,
        "credits_charged": cost,
    }

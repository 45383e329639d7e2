"""Auto-annotate: point / box / text prompts, batch auto-label jobs, draft review, the models.

Paths are the published client's (``/auto-annotate/sam3/point`` …); the batch request also
takes the peers' fields (``model_type``, ``ontology``, per-class thresholds, NMS, labels,
``dry_run``, ``max_images``), with Roboflow's camelCase spellings accepted as aliases.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import auto_annotate as prompts
from pictograph.server.services import auto_label

router = APIRouter(tags=["auto-annotate"])

OutputType = Literal["bbox", "polygon", "polyline", "keypoint"]


class BoxIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    x: float
    y: float
    w: float
    h: float


class PointPrompt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dataset_name: str
    image_filename: str
    x: float
    y: float
    name: str = Field(default="object", min_length=1)
    positive_points: list[tuple[float, float]] | None = None
    negative_points: list[tuple[float, float]] | None = None
    score_threshold: float = Field(default=0.75, ge=0.0, le=1.0)
    output_type: OutputType = "polygon"


class BoxPrompt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dataset_name: str
    image_filename: str
    box: BoxIn
    name: str = Field(min_length=1)
    confidence_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    return_polygon: bool = True
    negative_boxes: list[BoxIn] | None = None


class TextPrompt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dataset_name: str
    image_filename: str
    text_prompt: str = Field(min_length=1, max_length=500)
    name: str | None = Field(default=None, min_length=1)
    output_type: OutputType = "polygon"
    confidence_threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    max_detections: int = Field(default=50, ge=1, le=prompts.MAX_TEXT_DETECTIONS)


def _alias(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    dataset_name: str = Field(validation_alias=AliasChoices("dataset_name", "project"))
    image_filenames: list[str] | None = None
    classes: list[dict[str, Any]] | None = None
    ontology: dict[str, str] | list[Any] | None = None
    model_type: str | None = _alias("model_type", "modelType")
    model_id: str | None = _alias("model_id", "modelId")
    confidence_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("confidence_threshold", "defaultConfidence"),
    )
    confidence_thresholds: dict[str, float] | None = _alias(
        "confidence_thresholds", "confidenceThresholds"
    )
    output_type: OutputType = "polygon"
    run_nms: bool = Field(default=True, validation_alias=AliasChoices("run_nms", "runNMS"))
    labels: list[str] | None = None
    max_images: int | None = Field(
        default=None, ge=1, validation_alias=AliasChoices("max_images", "numImagesToLabel")
    )
    dry_run: bool = Field(default=False, validation_alias=AliasChoices("dry_run", "dryRun"))
    overwrite: bool = False
    top_k: int = Field(default=1, ge=1, le=100)


@router.post("/auto-annotate/sam3/point")
def point(body: PointPrompt, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return prompts.point_prompt(
        ctx,
        caller,
        dataset_name=body.dataset_name,
        image_filename=body.image_filename,
        x=body.x,
        y=body.y,
        name=body.name,
        positive_points=body.positive_points,
        negative_points=body.negative_points,
        score_threshold=body.score_threshold,
        output_type=body.output_type,
    )


@router.post("/auto-annotate/sam3/box")
def box(body: BoxPrompt, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return prompts.box_prompt(
        ctx,
        caller,
        dataset_name=body.dataset_name,
        image_filename=body.image_filename,
        box=body.box.model_dump(),
        name=body.name,
        confidence_threshold=body.confidence_threshold,
        return_polygon=body.return_polygon,
        negative_boxes=[b.model_dump() for b in body.negative_boxes or []],
    )


@router.post("/auto-annotate/sam3/text")
def text(body: TextPrompt, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return prompts.text_prompt(
        ctx,
        caller,
        dataset_name=body.dataset_name,
        image_filename=body.image_filename,
        text_prompt=body.text_prompt,
        name=body.name,
        output_type=body.output_type,
        confidence_threshold=body.confidence_threshold,
        max_detections=body.max_detections,
    )


@router.post("/auto-annotate/batch", status_code=202)
def create_batch(body: BatchIn, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    request = auto_label.BatchRequest(
        **body.model_dump(exclude={"top_k"}),
    )
    return auto_label.create_batch(ctx, caller, request)


@router.get("/auto-annotate/batch")
def list_batches(
    ctx: Ctx,
    caller: Caller,
    limit: Limit = 100,
    offset: Offset = 0,
    dataset_name: str | None = None,
    project: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    return auto_label.list_batches(
        ctx, caller, dataset_name=dataset_name or project, status=status, limit=limit, offset=offset
    )


@router.get("/auto-annotate/batch/{job_id}")
def get_batch(job_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return auto_label.get_batch(ctx, caller, job_id)


@router.post("/auto-annotate/batch/{job_id}/cancel")
def cancel_batch(job_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return auto_label.cancel_batch(ctx, caller, job_id)


@router.post("/auto-annotate/batch/{job_id}/accept")
def accept_batch(job_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return auto_label.accept_batch(ctx, caller, job_id)


@router.post("/auto-annotate/review/{image_id}/accept")
def accept(image_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return auto_label.accept_drafts(ctx, caller, image_id)


@router.post("/auto-annotate/review/{image_id}/discard")
def discard(image_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return auto_label.discard_drafts(ctx, caller, image_id)


@router.get("/auto-annotate/models")
def models(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Every model backend, whether it is usable here, and which one serves each role now."""
    from pictograph.vision.engine import ModelUnavailable
    from pictograph.vision.registry import PREFERENCE, statuses

    rows = statuses(ctx.settings.resolved_models_dir)
    vision = prompts.engine(ctx)
    active: dict[str, str | None] = {}
    for group in PREFERENCE:
        try:
            active[group] = vision.resolve(group)
        except ModelUnavailable:
            active[group] = None
    return {
        "models": [row.to_json() for row in rows],
        "active": active,
        "device": vision.device,
        "models_dir": str(ctx.settings.resolved_models_dir),
    }

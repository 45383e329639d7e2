"""Auto-annotate wire types: a prompt's result, a batch job's state, the class configs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pictograph.models.annotation import Annotation

PromptStatus = Literal["success", "no_detection", "below_threshold"]
"""``success``: annotations returned; ``no_detection``: the model found nothing;
``below_threshold``: it found something, all under the threshold."""

BatchJobStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
OutputType = Literal["bbox", "polygon", "polyline", "keypoint", "tag"]
"""``tag`` is for classification models (a trained classifier's ``model_id``)."""
ModelType = Literal["sam3", "yolo"]


class PromptResult(BaseModel):
    """The outcome of one point / box / text prompt; nothing is saved until you save it."""

    model_config = ConfigDict(extra="ignore")

    status: PromptStatus
    annotations: list[Annotation] = Field(default_factory=list)
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    """The primary mask's predicted quality (point / box prompts)."""
    inference_time: float | None = Field(default=None, ge=0.0)
    """Seconds the models ran (the image encoder too, on a session's first prompt)."""
    model: str | None = None
    """Which backend served the prompt, e.g. ``litemedsam`` or ``ssd-mobilenet-v2-coco+litemedsam``."""
    embedding_cached: bool | None = None
    """The image's embedding was reused (a 1-credit prompt, not a 3-credit session start)."""
    credits_charged: int | None = None


class BatchClass(BaseModel):
    """One class for a batch job: the class name, its output type, optionally its prompt."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    output_type: OutputType = "polygon"
    prompt: str | None = Field(default=None, min_length=1)
    """The text the model looks for; the class name when omitted."""


class BatchFailure(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image_id: str | None = None
    image_filename: str | None = None
    reason: str | None = None


class OntologyItem(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    prompt: str
    class_name: str = Field(alias="class")
    output_type: str
    confidence_threshold: float


class BatchJob(BaseModel):
    """A batch auto-label job's state (poll it until a terminal status)."""

    model_config = ConfigDict(extra="ignore")

    job_id: str
    status: BatchJobStatus
    progress: int = Field(default=0, ge=0, le=100)
    """0-100; 100 only at a terminal status."""
    total_images: int = Field(default=0, ge=0)
    processed_images: int = Field(default=0, ge=0)
    total_annotations_added: int = Field(default=0, ge=0)
    failed_images: int = Field(default=0, ge=0)
    skipped_images: int = Field(default=0, ge=0)
    """Images left alone because they already had annotations (``overwrite=False``)."""
    successful_items: int = Field(default=0, ge=0)
    """Images that got at least one annotation (or would have, in a dry run)."""
    predicted_annotations: int = Field(default=0, ge=0)
    """Annotations the model produced (what a dry run would have added)."""
    error_message: str | None = None
    estimated_credits: int | None = None
    credits_charged: int = 0
    dataset_name: str | None = None
    model_type: str | None = None
    model: str | None = None
    """The backend that ran (``sam3`` resolves to the best text-capable model available)."""
    dry_run: bool = False
    overwrite: bool = False
    ontology: list[OntologyItem] = Field(default_factory=list)
    confidence_threshold: float | None = None
    confidence_thresholds: dict[str, float] = Field(default_factory=dict)
    run_nms: bool = True
    labels: list[str] = Field(default_factory=list)
    max_images: int | None = None
    added_classes: list[str] = Field(default_factory=list)
    failures: list[BatchFailure] = Field(default_factory=list)
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")


class ReviewResult(BaseModel):
    """What accepting or discarding an image's auto-label drafts did."""

    model_config = ConfigDict(extra="ignore")

    image_id: str
    status: str
    annotation_count: int
    accepted: int = 0
    discarded: int = 0


class ModelInfo(BaseModel):
    """One model backend and whether this server can use it."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    name: str
    kind: str
    roles: list[str]
    available: bool
    source: str | None = None
    path: str | None = None
    reason: str | None = None
    repo_id: str | None = None
    license: str | None = None
    description: str | None = None


class ModelsReport(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    models: list[ModelInfo]
    active: dict[str, str | None] = Field(default_factory=dict)
    """Role group (segment / text / detect) → the model serving it now."""
    device: str | None = None
    models_dir: str | None = None

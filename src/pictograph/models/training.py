"""Training runs: one pipeline trained on one export, on the server's own hardware."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

PipelineType = Literal[
    "yolox",
    "detectron2",
    "sm_pytorch",
    "classification",
    "rfdetr_detection",
    "rfdetr_segmentation",
]
"""``detectron2`` is Mask R-CNN (torchvision's) on a self-hosted install."""

GpuType = Literal["a10g", "a100", "h100"]
"""A hosted GPU tier: priced per minute; on a self-hosted install it picks a worker queue of
that name when the server has one, and is otherwise recorded as not applicable."""

TrainingStatus = Literal["pending", "queued", "running", "completed", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
PIPELINE_TYPES: tuple[str, ...] = get_args(PipelineType)
GPU_TYPES: tuple[str, ...] = get_args(GpuType)


class TrainingRun(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    organization_id: str
    name: str
    dataset_id: str | None = None
    dataset_name: str | None = None
    export_id: str | None = None
    export_name: str | None = None
    model_id: str | None = None
    """The model this run produces (status ``training`` until the run completes)."""
    pipeline_type: PipelineType
    gpu_type: GpuType | None = None
    gpu_note: str | None = None
    """Set when ``gpu_type`` was not applicable on this install."""
    device: str | None = None
    """Where it trained: ``cuda`` or ``cpu``."""
    status: TrainingStatus
    progress: int = Field(default=0, ge=0, le=100)
    current_epoch: int = 0
    total_epochs: int | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    """Latest epoch's losses while running; test-split metrics (mAP, …) once completed."""
    config: dict[str, Any] = Field(default_factory=dict)
    eta_seconds: int | None = None
    training_time_seconds: int | None = None
    estimated_minutes: int | None = None
    credits_charged: int = 0
    credits_refunded: int = 0
    error_message: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime
    created_by: str | None = None

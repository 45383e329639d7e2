"""Trained models: what a completed training run produced, downloadable as ONNX."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ModelType = Literal[
    "object_detection",
    "semantic_segmentation",
    "instance_segmentation",
    "classification",
]
ModelStatus = Literal["training", "ready", "failed", "archived"]
"""Only ``ready`` models download; ``archived`` is a soft-deleted model."""
ModelVisibility = Literal["private", "public"]


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    id: str
    organization_id: str
    name: str
    description: str | None = None
    model_type: ModelType
    pipeline_type: str | None = None
    architecture: str | None = None
    visibility: ModelVisibility = "private"
    status: ModelStatus
    metrics: dict[str, Any] | None = None
    """Test-split metrics: mAP, mAP50, precision, recall (detectors), mIoU (semantic), accuracy."""
    class_mapping: dict[str, Any] | None = None
    """Output index (as a string) → class name."""
    version: str = "1.0.0"
    parent_model_id: str | None = None
    dataset_id: str | None = None
    training_run_id: str | None = None
    file_size: int | None = None
    md5: str | None = None
    created_at: datetime
    updated_at: datetime


__all__ = ["Model", "ModelStatus", "ModelType", "ModelVisibility"]

"""Workflows: multi-step tasks in one call, each returning a report rather than raising per item."""

from pictograph.workflows.annotate import (
    AnnotateMode,
    AnnotateReport,
    AnnotationFailure,
    auto_annotate_dataset,
)
from pictograph.workflows.pipeline import PipelineReport, full_pipeline
from pictograph.workflows.train import train_pipeline
from pictograph.workflows.upload import UploadFailure, UploadReport, upload_dataset_from_folder

__all__ = [
    "AnnotateMode",
    "AnnotateReport",
    "AnnotationFailure",
    "PipelineReport",
    "UploadFailure",
    "UploadReport",
    "auto_annotate_dataset",
    "full_pipeline",
    "train_pipeline",
    "upload_dataset_from_folder",
]

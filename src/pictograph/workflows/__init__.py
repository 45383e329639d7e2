"""Workflows: multi-step tasks in one call, each returning a report rather than raising per item."""

from pictograph.workflows.upload import UploadFailure, UploadReport, upload_dataset_from_folder

__all__ = ["UploadFailure", "UploadReport", "upload_dataset_from_folder"]

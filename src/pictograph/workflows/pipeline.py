"""``full_pipeline``: a folder of images in, a trained model out — upload, annotate, train.

Each phase runs only when the one before succeeded, and the :class:`PipelineReport` keeps
every phase's report, so a caller (or an agent) sees where the chain stopped:

1. **Upload** always runs; no image uploaded → stop.
2. **Credit gate**: with ``min_credits`` set and a paid phase ahead, a balance below it
   stops here with ``credit_skip_reason``.
3. **Auto-annotate** (when ``annotate``): a batch job or text prompts. A batch job writes
   drafts for review; since this workflow is asked to train on what the model found, it
   accepts the job's drafts (the images become ``complete``). No image processed → stop.
4. **Train** (when ``train``): :func:`train_pipeline` on the complete images.

A run that ends ``failed`` or ``cancelled``, a refused request (402, 422) or a wait that runs
out is reported in ``training_run`` / ``training_error``, not raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pictograph.exceptions import ApiError, PollTimeoutError
from pictograph.workflows.annotate import (
    AnnotateMode,
    AnnotateReport,
    ClassSpec,
    auto_annotate_dataset,
)
from pictograph.workflows.train import check_choices, train_pipeline
from pictograph.workflows.upload import UploadReport, upload_dataset_from_folder

if TYPE_CHECKING:
    from pictograph.client import Client
    from pictograph.models.model import Model
    from pictograph.models.training import GpuType, PipelineType, TrainingRun


@dataclass
class PipelineReport:
    dataset_name: str
    upload: UploadReport
    annotate: AnnotateReport | None = None
    training_run: TrainingRun | None = None
    model: Model | None = None
    credit_skip_reason: str | None = None
    training_error: str | None = None
    """Why training did not produce a model (the run's error, or the request's refusal)."""

    @property
    def success(self) -> bool:
        """Every phase that ran succeeded and no credit skip happened."""
        if not self.upload.success or self.credit_skip_reason is not None:
            return False
        if self.annotate is not None and not self.annotate.success:
            return False
        if self.training_error is not None:
            return False
        return self.training_run is None or self.training_run.status == "completed"


def full_pipeline(
    client: Client,
    *,
    dataset_name: str,
    folder: str | Path,
    classes: Sequence[ClassSpec],
    pipeline: PipelineType,
    gpu: GpuType = "a10g",
    annotate: bool = True,
    annotate_mode: AnnotateMode = "batch",
    train: bool = True,
    upload_workers: int = 8,
    train_config: dict[str, Any] | None = None,
    train_timeout: float = 7200.0,
    min_credits: int | None = 1,
) -> PipelineReport:
    """Upload ``folder`` into ``dataset_name`` (created if missing), auto-annotate ``classes``
    and train ``pipeline``. Raises only before any work (ValidationError for a bad pipeline
    or gpu, FileNotFoundError for a missing folder); everything later is in the report."""
    check_choices(pipeline, gpu)
    upload = upload_dataset_from_folder(
        client, dataset_name, folder, max_workers=upload_workers, create_if_missing=True
    )
    report = PipelineReport(dataset_name=dataset_name, upload=upload)
    if upload.images_uploaded + upload.images_skipped == 0:
        return report
    if min_credits is not None and (annotate or train):
        remaining = client.credits.balance().credits_remaining
        if remaining < min_credits:
            report.credit_skip_reason = (
                f"Insufficient credits: {remaining} available, {min_credits} required. "
                "Skipping annotate + train."
            )
            return report
    if annotate:
        report.annotate = auto_annotate_dataset(client, dataset_name, classes, mode=annotate_mode)
        if report.annotate.images_processed == 0:
            return report
        if report.annotate.job_id is not None:
            client.auto_annotate.accept_batch(report.annotate.job_id)
    if train:
        _train(client, report, pipeline, gpu, train_config, train_timeout)
    return report


def _train(
    client: Client,
    report: PipelineReport,
    pipeline: PipelineType,
    gpu: GpuType,
    config: dict[str, Any] | None,
    timeout: float,
) -> None:
    try:
        report.training_run, report.model = train_pipeline(
            client, report.dataset_name, pipeline=pipeline, gpu=gpu, config=config, timeout=timeout
        )
    except PollTimeoutError as error:
        report.training_error = str(error)
        if error.job_id:
            report.training_run = client.training.get(error.job_id)
    except ApiError as error:
        report.training_error = str(error)
        run = error.response if isinstance(error.response, dict) else {}
        if run.get("id") and run.get("status"):
            report.training_run = client.training.get(run["id"])

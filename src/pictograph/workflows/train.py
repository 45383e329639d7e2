"""``train_pipeline``: export a dataset, train on the export, fetch the model.

The export is named ``<dataset>-<timestamp>`` so it never collides with exports made by
hand; the run ``<pipeline>-run-<timestamp>``. The pipeline and GPU names are checked before
anything is created (ValidationError), so a typo costs no export.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pictograph.exceptions import ValidationError
from pictograph.models.training import GPU_TYPES, PIPELINE_TYPES

if TYPE_CHECKING:
    from pictograph.client import Client
    from pictograph.models.model import Model
    from pictograph.models.training import GpuType, PipelineType, TrainingRun

EXPORT_TIMEOUT = 3600.0


def check_choices(pipeline: str, gpu: str) -> None:
    """ValidationError naming the field when ``pipeline`` or ``gpu`` is not a documented value."""
    for field, value, allowed in (("pipeline", pipeline, PIPELINE_TYPES), ("gpu", gpu, GPU_TYPES)):
        if value not in allowed:
            raise ValidationError(
                f"Invalid {field} {value!r}; expected one of {', '.join(allowed)}",
                errors=[
                    {
                        "loc": [field],
                        "msg": f"expected one of {', '.join(allowed)}",
                        "type": "literal_error",
                    }
                ],
            )


def train_pipeline(
    client: Client,
    dataset_name: str,
    *,
    pipeline: PipelineType,
    gpu: GpuType = "a10g",
    name: str | None = None,
    config: dict[str, Any] | None = None,
    export_name: str | None = None,
    class_filter: list[str] | None = None,
    status_filter: str = "complete",
    wait: bool = True,
    poll_interval: float = 5.0,
    timeout: float = 7200.0,
) -> tuple[TrainingRun, Model | None]:
    """Export ``dataset_name`` (pictograph format with images), train ``pipeline`` on it and,
    with ``wait=True``, return the run and its ready model. Raises NotFoundError (dataset, or
    no matching images), ValidationError (pipeline / gpu / config, under 5 images),
    PaymentRequiredError, ApiError (the run failed), PollTimeoutError (the run goes on)."""
    check_choices(pipeline, gpu)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    export_name = export_name or f"{dataset_name}-{stamp}"
    client.exports.create(
        dataset_name,
        export_name,
        format="pictograph",
        include_images=True,
        class_filter=class_filter,
        status_filter=status_filter,
        wait=True,
        timeout=EXPORT_TIMEOUT,
    )
    run = client.training.create(
        dataset_name,
        export_name,
        pipeline_type=pipeline,
        name=name or f"{pipeline}-run-{stamp}",
        config=config or {},
        gpu_type=gpu,
        wait=wait,
        poll_interval=poll_interval,
        timeout=timeout,
    )
    model = None
    if wait and run.status == "completed" and run.model_id:
        model = client.models.get(run.model_id)
    return run, model

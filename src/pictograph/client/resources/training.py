"""``client.training``: start a run on a completed export, follow it, cancel it.

A run is a durable job on the server. ``create`` returns the ``queued`` run with
``wait=False``; by default it polls until the run ends: ``completed`` is returned, ``failed``
or ``cancelled`` raise :class:`ApiError` with the run's ``error_message``. A poll that outlasts
``timeout`` raises :class:`PollTimeoutError` with the run's id — the run keeps training.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import Any

from pictograph.client._pager import OffsetPager
from pictograph.client.resources import Resource, check_polling, path_segment
from pictograph.exceptions import ApiError, PollTimeoutError
from pictograph.models.training import GpuType, PipelineType, TrainingRun, TrainingStatus

_PATH = "/api/v1/developer/training/"
DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_TIMEOUT = 7200.0
RunProgressCallback = Callable[[TrainingRun], None]
"""Called with the run after every poll while waiting (epoch, progress, losses, ETA)."""


class Training(Resource):
    def create(
        self,
        dataset_name: str,
        export_name: str,
        *,
        pipeline_type: PipelineType,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        gpu_type: GpuType = "a10g",
        wait: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        progress: RunProgressCallback | None = None,
        idempotency_key: str | None = None,
    ) -> TrainingRun:
        """Train ``pipeline_type`` on the completed export ``export_name`` of ``dataset_name``.

        ``name`` defaults to ``<pipeline>-run-<timestamp>``; ``config`` takes ``epochs``,
        ``batch_size``, ``learning_rate``, ``image_size`` (other keys are ignored). Raises
        NotFoundError (dataset / export), ValidationError (pipeline, GPU, config, export not
        completed or under 5 images), PaymentRequiredError (credits for the estimated minutes).
        """
        check_polling(poll_interval, timeout)
        body: dict[str, Any] = {
            "dataset_name": dataset_name,
            "export_name": export_name,
            "pipeline_type": pipeline_type,
            "name": name,
            "gpu_type": gpu_type,
            "config": config or {},
        }
        response = self._transport.request(
            "POST", _PATH, json=body, idempotency_key=idempotency_key
        )
        run = self._parse(TrainingRun, response["training_run"])
        if not wait:
            return run
        return self.wait_for_completion(
            run.id, poll_interval=poll_interval, timeout=timeout, progress=progress
        )

    def list(
        self,
        *,
        dataset_name: str | None = None,
        status: TrainingStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[TrainingRun]:
        """One page of the organization's runs, newest first."""
        body = self._transport.request(
            "GET",
            _PATH,
            params={
                "limit": limit,
                "offset": offset,
                "dataset_name": dataset_name,
                "status": status,
            },
        )
        return self._parse_list(TrainingRun, body.get("training_runs"))

    def iter(
        self,
        *,
        dataset_name: str | None = None,
        status: TrainingStatus | None = None,
        page_size: int = 50,
        max_total: int | None = None,
    ) -> OffsetPager[TrainingRun]:
        return OffsetPager(
            lambda offset, limit: self.list(
                dataset_name=dataset_name, status=status, limit=limit, offset=offset
            ),
            page_size=page_size,
            max_total=max_total,
        )

    def get(self, run_id: str) -> TrainingRun:
        body = self._transport.request("GET", _PATH + path_segment(run_id))
        return self._parse(TrainingRun, body["training_run"])

    def cancel(self, run_id: str) -> TrainingRun:
        """Stop the run (its training process is killed) and refund the unused minutes.
        ConflictError when the run has already ended."""
        body = self._transport.request("POST", _PATH + path_segment(run_id) + "/cancel")
        return self._parse(TrainingRun, body["training_run"])

    def logs(self, run_id: str) -> builtins.list[str]:
        """The run's log lines so far: data split, one line per epoch, the outcome."""
        body = self._transport.request("GET", _PATH + path_segment(run_id) + "/logs")
        return [str(line) for line in body.get("logs", [])]

    def wait_for_completion(
        self,
        run_id: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        progress: RunProgressCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> TrainingRun:
        """Poll until the run ends: ``completed`` is returned; ``failed`` / ``cancelled`` raise
        ApiError; PollTimeoutError (``job_id`` = the run's id) when ``timeout`` passes first."""
        check_polling(poll_interval, timeout)
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(run_id)
            if progress is not None:
                progress(run)
            if run.status == "completed":
                return run
            if run.status in ("failed", "cancelled"):
                raise ApiError(
                    f"Training run {run.name!r} ended with status {run.status!r}: "
                    f"{run.error_message or 'no error message provided'}",
                    response=run.model_dump(mode="json"),
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PollTimeoutError(
                    f"Training run {run.name!r} did not finish within {timeout:g}s (status: "
                    f"{run.status}, epoch {run.current_epoch}/{run.total_epochs}); it keeps "
                    f"training — call client.training.wait_for_completion({run.id!r}) later",
                    job_id=run.id,
                    timeout=timeout,
                )
            sleep(min(poll_interval, remaining))

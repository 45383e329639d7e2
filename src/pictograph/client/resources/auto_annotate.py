"""``client.auto_annotate``: point / box / text prompts on one image, and batch jobs over many.

Prompts are synchronous and save nothing: save ``result.annotations`` with
``client.annotations.save`` if you want them. The first prompt on an image runs the image
encoder (a 3-credit session); later point / box prompts on the same image reuse its embedding
(1 credit each). A batch is a durable job on the server: ``batch(wait=False)`` returns it at
once, ``wait_for_batch`` polls it, and a poll that outlasts ``timeout`` raises
:class:`PollTimeoutError` carrying the job id while the job keeps running.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from pictograph.client._pager import OffsetPager
from pictograph.client.resources import Resource, check_polling, path_segment
from pictograph.exceptions import ApiError, PollTimeoutError, ValidationError
from pictograph.models.auto_annotate import (
    BatchClass,
    BatchJob,
    ModelsReport,
    PromptResult,
    ReviewResult,
)

_PATH = "/api/v1/developer/auto-annotate"
DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_BATCH_TIMEOUT = 1800.0
PROMPT_READ_TIMEOUT = 300.0
"""Prompts wait this long for an answer whatever the client's timeout: the first prompt a server
gets loads its models, and on a CPU that takes seconds."""

BatchProgressCallback = Callable[[BatchJob], None]
"""Called with the job after every poll while waiting."""


def _pairs(points: Sequence[tuple[float, float]] | None) -> list[list[float]] | None:
    return None if points is None else [[float(x), float(y)] for x, y in points]


class AutoAnnotate(Resource):
    # ───────────── single-image prompts ─────────────

    def point(
        self,
        dataset_name: str,
        image_filename: str,
        *,
        x: float,
        y: float,
        name: str = "object",
        positive_points: Sequence[tuple[float, float]] | None = None,
        negative_points: Sequence[tuple[float, float]] | None = None,
        score_threshold: float = 0.75,
        output_type: str = "polygon",
    ) -> PromptResult:
        """Segment the object under ``(x, y)``; on success ``annotations[0]`` is a polygon
        (or the ``output_type`` asked for). Raises NotFoundError for an unknown dataset or
        image, PaymentRequiredError when credits are short, ValidationError for a point
        outside the image."""
        body = {
            "dataset_name": dataset_name,
            "image_filename": image_filename,
            "x": x,
            "y": y,
            "name": name,
            "positive_points": _pairs(positive_points),
            "negative_points": _pairs(negative_points),
            "score_threshold": score_threshold,
            "output_type": output_type,
        }
        response = self._transport.request(
            "POST", f"{_PATH}/sam3/point", json=_compact(body), min_timeout=PROMPT_READ_TIMEOUT
        )
        return self._parse(PromptResult, response)

    def box(
        self,
        dataset_name: str,
        image_filename: str,
        *,
        box: Mapping[str, float],
        name: str,
        confidence_threshold: float = 0.5,
        return_polygon: bool = True,
        negative_boxes: Sequence[Mapping[str, float]] | None = None,
    ) -> PromptResult:
        """Segment the object in ``box`` (``{"x", "y", "w", "h"}`` pixels): the refined bbox,
        plus its polygon when ``return_polygon``. Pixels inside ``negative_boxes`` are left out."""
        body = {
            "dataset_name": dataset_name,
            "image_filename": image_filename,
            "box": dict(box),
            "name": name,
            "confidence_threshold": confidence_threshold,
            "return_polygon": return_polygon,
            "negative_boxes": None if negative_boxes is None else [dict(b) for b in negative_boxes],
        }
        response = self._transport.request(
            "POST", f"{_PATH}/sam3/box", json=_compact(body), min_timeout=PROMPT_READ_TIMEOUT
        )
        return self._parse(PromptResult, response)

    def text(
        self,
        dataset_name: str,
        image_filename: str,
        *,
        text_prompt: str,
        output_type: str = "polygon",
        confidence_threshold: float = 0.3,
        max_detections: int = 50,
        name: str | None = None,
    ) -> PromptResult:
        """Every instance of ``text_prompt`` ("red cars") in the image, best first, as
        ``output_type`` annotations named ``name`` (the prompt itself by default)."""
        body = {
            "dataset_name": dataset_name,
            "image_filename": image_filename,
            "text_prompt": text_prompt,
            "output_type": output_type,
            "confidence_threshold": confidence_threshold,
            "max_detections": max_detections,
            "name": name,
        }
        response = self._transport.request(
            "POST", f"{_PATH}/sam3/text", json=_compact(body), min_timeout=PROMPT_READ_TIMEOUT
        )
        return self._parse(PromptResult, response)

    # ───────────── batch ─────────────

    def batch(
        self,
        dataset_name: str,
        image_filenames: Sequence[str] | None = None,
        classes: Sequence[BatchClass | Mapping[str, Any]] | None = None,
        *,
        confidence_threshold: float = 0.5,
        model_id: str | None = None,
        model_type: str | None = None,
        ontology: Mapping[str, str] | Sequence[Any] | None = None,
        confidence_thresholds: Mapping[str, float] | None = None,
        run_nms: bool = True,
        labels: Sequence[str] | None = None,
        max_images: int | None = None,
        dry_run: bool = False,
        overwrite: bool = False,
        top_k: int = 1,
        wait: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_BATCH_TIMEOUT,
        progress: BatchProgressCallback | None = None,
        idempotency_key: str | None = None,
    ) -> BatchJob:
        """Start one auto-label job over many images (all of the dataset's when
        ``image_filenames`` is None) and, with ``wait=True``, poll it to the end.

        ``classes`` (or ``ontology``: prompt → class) says what to find; omitted, the dataset's
        classes are used. ``model_type`` is ``"sam3"`` (best text-capable model, default) or
        ``"yolo"`` (the closed-set detector); ``model_id`` names a trained model. Images that
        already have annotations are skipped unless ``overwrite``. ``dry_run`` counts what would
        be labelled and writes nothing. Raises NotFoundError (dataset / no matching images),
        PaymentRequiredError (estimate not covered), ValidationError (bad class or ontology),
        ApiError when the job ends failed or cancelled, PollTimeoutError on timeout.
        """
        check_polling(poll_interval, timeout)
        body = {
            "dataset_name": dataset_name,
            "image_filenames": None if image_filenames is None else list(image_filenames),
            "classes": None
            if classes is None
            else [_class_dict(c, i) for i, c in enumerate(classes)],
            "confidence_threshold": confidence_threshold,
            "model_id": model_id,
            "model_type": model_type,
            "ontology": _ontology(ontology),
            "confidence_thresholds": None
            if confidence_thresholds is None
            else dict(confidence_thresholds),
            "run_nms": run_nms,
            "labels": None if labels is None else list(labels),
            "max_images": max_images,
            "dry_run": dry_run,
            "overwrite": overwrite,
            "top_k": top_k,
        }
        response = self._transport.request(
            "POST", f"{_PATH}/batch", json=_compact(body), idempotency_key=idempotency_key
        )
        job = self._parse(BatchJob, response)
        if not wait:
            return job
        return self.wait_for_batch(
            job.job_id, poll_interval=poll_interval, timeout=timeout, progress=progress
        )

    def get_batch(self, job_id: str) -> BatchJob:
        """The job as it stands (with up to 100 per-image failures)."""
        response = self._transport.request("GET", f"{_PATH}/batch/{path_segment(job_id)}")
        return self._parse(BatchJob, response)

    def list_batches(
        self,
        *,
        dataset_name: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[BatchJob]:
        """One page of the organization's batch jobs, newest first."""
        response = self._transport.request(
            "GET",
            f"{_PATH}/batch",
            params={
                "dataset_name": dataset_name,
                "status": status,
                "limit": limit,
                "offset": offset,
            },
        )
        return self._parse_list(BatchJob, response.get("jobs"))

    def iter_batches(
        self,
        *,
        dataset_name: str | None = None,
        status: str | None = None,
        page_size: int = 100,
        max_total: int | None = None,
    ) -> OffsetPager[BatchJob]:
        return OffsetPager(
            lambda offset, limit: self.list_batches(
                dataset_name=dataset_name, status=status, limit=limit, offset=offset
            ),
            page_size=page_size,
            max_total=max_total,
        )

    def cancel_batch(self, job_id: str) -> BatchJob:
        """Cancel a pending job at once, or ask a running one to stop after its current image.
        Images already labelled keep their drafts."""
        response = self._transport.request("POST", f"{_PATH}/batch/{path_segment(job_id)}/cancel")
        return self._parse(BatchJob, response)

    def wait_for_batch(
        self,
        job_id: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_BATCH_TIMEOUT,
        progress: BatchProgressCallback | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> BatchJob:
        """Poll until ``completed`` (returned), ``failed`` or ``cancelled`` (ApiError), or
        ``timeout`` seconds (PollTimeoutError with ``job_id``; the job keeps running)."""
        check_polling(poll_interval, timeout)
        pause = sleep or time.sleep
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_batch(job_id)
            if progress is not None:
                progress(job)
            if job.status == "completed":
                return job
            if job.status in ("failed", "cancelled"):
                raise ApiError(
                    f"Batch job {job_id} ended with status {job.status!r}: "
                    f"{job.error_message or 'no error message provided'}",
                    response=job.model_dump(mode="json"),
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PollTimeoutError(
                    f"Batch job {job_id} did not finish within {timeout:g}s (status: "
                    f"{job.status}, {job.processed_images}/{job.total_images} images); it keeps "
                    f"running — call client.auto_annotate.wait_for_batch({job_id!r}) later",
                    job_id=job_id,
                    timeout=timeout,
                )
            pause(min(poll_interval, remaining))

    # ───────────── review and models ─────────────

    def accept_drafts(self, image_id: str) -> ReviewResult:
        """Accept an auto-labelled image's drafts as they are (the image becomes complete)."""
        response = self._transport.request(
            "POST", f"{_PATH}/review/{path_segment(image_id)}/accept"
        )
        return self._parse(ReviewResult, response)

    def accept_batch(self, job_id: str) -> int:
        """Accept the drafts of every image the ended batch job labelled that is still in
        review; returns how many images became complete. ConflictError while it runs."""
        response = self._transport.request(
            "POST", f"{_PATH}/batch/{path_segment(job_id)}/accept"
        )
        return int(response["accepted_images"])

    def discard_drafts(self, image_id: str) -> ReviewResult:
        """Remove an image's auto-labelled drafts (annotations people made stay)."""
        response = self._transport.request(
            "POST", f"{_PATH}/review/{path_segment(image_id)}/discard"
        )
        return self._parse(ReviewResult, response)

    def models(self) -> ModelsReport:
        """The server's model backends: which are available and which serves each role."""
        return self._parse(ModelsReport, self._transport.request("GET", f"{_PATH}/models"))


def _class_dict(spec: BatchClass | Mapping[str, Any], index: int) -> dict[str, Any]:
    if isinstance(spec, BatchClass):
        return spec.model_dump(exclude_none=True)
    try:
        return BatchClass.model_validate(dict(spec)).model_dump(exclude_none=True)
    except PydanticValidationError as error:
        raise ValidationError.from_pydantic(error, ["classes", index], "class") from error


def _ontology(ontology: Mapping[str, str] | Sequence[Any] | None) -> Any:
    if ontology is None:
        return None
    if isinstance(ontology, Mapping):
        return dict(ontology)
    return [dict(item) if isinstance(item, Mapping) else item for item in ontology]


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}

"""``auto_annotate_dataset``: label a dataset with the auto-annotation models and save the results.

``mode="batch"`` (default) starts one server-side job over the dataset's images (the server
picks the images: unannotated ones unless ``overwrite``, at most ``max_images``) and polls it;
the job writes each image's annotations as drafts for review. ``mode="text"`` sends one
synchronous text prompt per image and class, and saves each image's annotations (every class
together, in one save) as they come back. Per-image problems land in ``report.failures``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError as PydanticValidationError

from pictograph.exceptions import ApiError, PollTimeoutError, ValidationError
from pictograph.models.auto_annotate import BatchClass, BatchJob

if TYPE_CHECKING:
    from pictograph.client import Client
    from pictograph.models.dataset import DatasetImage

AnnotateMode = Literal["batch", "text"]
ClassSpec = BatchClass | tuple[str, str] | Mapping[str, str]
ProgressCallback = Callable[[int, int], None]
"""Called with (images finished, images to do) as the work advances."""

_IMAGE_PAGE = 10000


@dataclass(frozen=True)
class AnnotationFailure:
    image_filename: str
    reason: str


@dataclass
class AnnotateReport:
    dataset_name: str
    images_attempted: int = 0
    images_processed: int = 0
    images_skipped: int = 0
    annotations_added: int = 0
    failures: list[AnnotationFailure] = field(default_factory=list)
    job_id: str | None = None
    """Set only when ``mode="batch"``: the job to fetch or cancel later."""

    @property
    def success(self) -> bool:
        """No failures and at least one image processed."""
        return not self.failures and self.images_processed > 0


def normalise_classes(classes: Sequence[ClassSpec]) -> list[BatchClass]:
    """Tuples, dicts and BatchClass instances → BatchClass (ValidationError on a bad one)."""
    if isinstance(classes, (str, bytes)) or not classes:
        raise ValidationError(
            "classes must be a non-empty list of (name, output_type) tuples, dicts or BatchClass",
            errors=[
                {"loc": ["classes"], "msg": "expected a non-empty list", "type": "value_error"}
            ],
        )
    result: list[BatchClass] = []
    for index, spec in enumerate(classes):
        if isinstance(spec, BatchClass):
            result.append(spec)
            continue
        if isinstance(spec, tuple):
            raw: dict[str, Any] = {
                "name": spec[0],
                "output_type": spec[1] if len(spec) > 1 else "polygon",
            }
        elif isinstance(spec, Mapping):
            raw = dict(spec)
        else:
            raise ValidationError(
                f"Unsupported class spec {spec!r}",
                errors=[
                    {
                        "loc": ["classes", index],
                        "msg": "unsupported class spec",
                        "type": "type_error",
                    }
                ],
            )
        try:
            result.append(BatchClass.model_validate(raw))
        except PydanticValidationError as error:
            raise ValidationError.from_pydantic(error, ["classes", index], "class") from error
    return result


def auto_annotate_dataset(
    client: Client,
    dataset_name: str,
    classes: Sequence[ClassSpec],
    *,
    mode: AnnotateMode = "batch",
    confidence_threshold: float = 0.5,
    overwrite: bool = False,
    max_images: int | None = None,
    poll_interval: float = 5.0,
    timeout: float = 1800.0,
    progress: ProgressCallback | None = None,
) -> AnnotateReport:
    """Auto-annotate ``dataset_name`` and save the results; returns the report.

    Raises NotFoundError (no such dataset), PaymentRequiredError (credits short),
    ValidationError (a class name or ``output_type`` the server refuses). In batch mode a
    poll that outlasts ``timeout`` raises PollTimeoutError (its ``job_id`` says which job).
    """
    if mode not in ("batch", "text"):
        raise ValueError(f"mode must be 'batch' or 'text', got {mode!r}")
    specs = normalise_classes(classes)
    dataset = client.datasets.get(dataset_name)
    report = AnnotateReport(dataset_name=dataset_name)
    if dataset.image_count == 0:
        return report
    if mode == "batch":
        return _batch(
            client,
            report,
            specs,
            confidence_threshold,
            overwrite,
            max_images,
            poll_interval,
            timeout,
            progress,
        )
    _add_missing_classes(client, dataset_name, [c.model_dump() for c in dataset.classes], specs)
    return _text(client, report, specs, confidence_threshold, overwrite, max_images, progress)


def _add_missing_classes(
    client: Client, dataset_name: str, existing: list[dict[str, Any]], specs: list[BatchClass]
) -> None:
    """Text mode saves through ``annotations.save``, which accepts only the dataset's classes;
    add the ones it lacks first (a batch job does the same on the server)."""
    known = {entry["name"] for entry in existing}
    missing = [
        {"name": spec.name, "type": "polygon" if spec.output_type == "tag" else spec.output_type}
        for spec in specs
        if spec.name not in known
    ]
    if missing:
        client.projects.update(dataset_name, classes=[*existing, *missing])


def _batch(
    client: Client,
    report: AnnotateReport,
    specs: list[BatchClass],
    confidence_threshold: float,
    overwrite: bool,
    max_images: int | None,
    poll_interval: float,
    timeout: float,
    progress: ProgressCallback | None,
) -> AnnotateReport:
    def on_poll(job: BatchJob) -> None:
        if progress is not None:
            progress(job.processed_images + job.failed_images, job.total_images)

    job = client.auto_annotate.batch(
        report.dataset_name,
        None,
        specs,
        confidence_threshold=confidence_threshold,
        overwrite=overwrite,
        max_images=max_images,
        wait=False,
    )
    report.job_id = job.job_id
    try:
        job = client.auto_annotate.wait_for_batch(
            job.job_id, poll_interval=poll_interval, timeout=timeout, progress=on_poll
        )
    except PollTimeoutError:
        raise
    except ApiError as error:
        report.failures.append(AnnotationFailure("<batch>", str(error)))
        job = client.auto_annotate.get_batch(job.job_id)
    report.images_attempted = job.total_images
    report.images_skipped = job.skipped_images
    report.images_processed = job.processed_images
    report.annotations_added = job.total_annotations_added
    report.failures.extend(
        AnnotationFailure(f.image_filename or f.image_id or "<unknown>", f.reason or "failed")
        for f in job.failures
    )
    if job.failed_images > len(job.failures):
        report.failures.append(
            AnnotationFailure(
                "<batch>", f"{job.failed_images - len(job.failures)} more images failed"
            )
        )
    return report


def _images(client: Client, dataset_name: str) -> list[DatasetImage]:
    images: list[DatasetImage] = []
    while True:
        page = (
            client.datasets.get(
                dataset_name,
                include_images=True,
                images_limit=_IMAGE_PAGE,
                images_offset=len(images),
            ).images
            or []
        )
        images.extend(page)
        if len(page) < _IMAGE_PAGE:
            return images


def _image_path(image: DatasetImage) -> str:
    folder = (image.virtual_folder_path or "/").rstrip("/")
    return f"{folder}/{image.filename}" if folder else image.filename


def _text(
    client: Client,
    report: AnnotateReport,
    specs: list[BatchClass],
    confidence_threshold: float,
    overwrite: bool,
    max_images: int | None,
    progress: ProgressCallback | None,
) -> AnnotateReport:
    every = _images(client, report.dataset_name)
    todo = every if overwrite else [image for image in every if image.annotation_count == 0]
    if max_images is not None:
        todo = todo[:max_images]
    report.images_attempted = len(todo)
    report.images_skipped = len(every) - len(todo)
    for done, image in enumerate(todo, start=1):
        found: list[Any] = []
        problems: list[str] = []
        for spec in specs:
            try:
                result = client.auto_annotate.text(
                    report.dataset_name,
                    _image_path(image),
                    text_prompt=spec.prompt or spec.name,
                    name=spec.name,
                    output_type="polygon" if spec.output_type == "tag" else spec.output_type,
                    confidence_threshold=confidence_threshold,
                )
                found.extend(result.annotations)
            except ApiError as error:
                problems.append(f"{spec.name}: {error}")
        if problems:
            report.failures.append(AnnotationFailure(image.filename, "; ".join(problems)))
        elif found:
            try:
                saved = client.annotations.save(image.id, found)
                report.images_processed += 1
                report.annotations_added += saved.new_count
            except ApiError as error:
                report.failures.append(AnnotationFailure(image.filename, f"save: {error}"))
        else:
            report.images_processed += 1
        if progress is not None:
            progress(done, len(todo))
    return report

"""``pictograph annotate DATASET --class stop_sign:bbox --class yield:polygon``: auto-annotate a dataset."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from pictograph.cli import _output
from pictograph.cli._context import ApiKeyOption, BaseUrlOption, JsonOption, Session
from pictograph.exceptions import ValidationError


class Mode(str, Enum):
    batch = "batch"
    text = "text"


def parse_class(spec: str, index: int) -> tuple[str, str]:
    """``name[:output_type]`` → (name, output_type); the type defaults to polygon."""
    name, _, output_type = spec.rpartition(":") if ":" in spec else (spec, "", "polygon")
    if not name.strip():
        raise ValidationError(
            f"--class {spec!r}: expected NAME or NAME:OUTPUT_TYPE (e.g. stop_sign:bbox)",
            errors=[
                {"loc": ["classes", index], "msg": "missing class name", "type": "value_error"}
            ],
        )
    return name.strip(), output_type.strip() or "polygon"


def annotate(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name.", show_default=False)],
    classes: Annotated[
        list[str],
        typer.Option(
            "--class",
            "-c",
            help="NAME[:bbox|polygon|polyline|keypoint] to find; repeatable.",
            show_default=False,
        ),
    ],
    mode: Annotated[
        Mode,
        typer.Option("--mode", "-m", help="batch: one server job; text: one prompt per image."),
    ] = Mode.batch,
    confidence: Annotated[
        float, typer.Option("--confidence", min=0.0, max=1.0, help="Score cutoff (0-1).")
    ] = 0.5,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Re-annotate images that already have annotations.")
    ] = False,
    max_images: Annotated[
        int | None, typer.Option("--max-images", min=1, help="Label at most this many images.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Batch mode: seconds to wait for the job.")
    ] = 1800.0,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.1, help="Batch mode: seconds between checks.")
    ] = 2.0,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Label every unannotated image of DATASET with the auto-annotation models.

    Batch mode writes drafts for review (the images go to the review stage); text mode saves
    each image's annotations as they come back. Failures per image are listed, not raised.
    """
    from pictograph.workflows import auto_annotate_dataset

    cli = Session(ctx, api_key, base_url, json_output)
    specs = [parse_class(spec, index) for index, spec in enumerate(classes)]
    with _output.progress_bar(f"Auto-annotating {dataset}", enabled=not cli.json) as progress:
        report = auto_annotate_dataset(
            cli.client,
            dataset,
            specs,
            mode=mode.value,  # type: ignore[arg-type]
            confidence_threshold=confidence,
            overwrite=overwrite,
            max_images=max_images,
            poll_interval=poll_interval,
            timeout=timeout,
            progress=lambda done, total: progress(done, total, None),
        )

    def render(_: object) -> None:
        _output.success(
            f"{report.annotations_added} annotations on {report.images_processed} of "
            f"{report.images_attempted} images ({report.images_skipped} skipped)"
            + (f" — job {report.job_id}" if report.job_id else "")
        )
        for failure in report.failures:
            _output.warn(f"{failure.image_filename}: {failure.reason}")

    _output.print_result(_output.to_json(report), as_json=cli.json, render=render)
    if report.failures:
        raise typer.Exit(1)

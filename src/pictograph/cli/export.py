"""``pictograph export DATASET --format coco -o out.zip``: build an export server-side, then download it."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from pictograph.cli import _output
from pictograph.cli._context import ApiKeyOption, BaseUrlOption, JsonOption, Session


class Format(str, Enum):
    pictograph = "pictograph"
    coco = "coco"
    yolo = "yolo"
    cvat = "cvat"
    pascal_voc = "pascal_voc"
    labelme = "labelme"
    csv = "csv"


class Status(str, Enum):
    all = "all"
    complete = "complete"
    in_progress = "in_progress"
    new = "new"


def default_name(dataset: str, export_format: str) -> str:
    """``<dataset>-<format>-<UTC timestamp>``: dated, so a re-run does not collide (409)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{dataset}-{export_format}-{stamp}"[:100]


def export(
    ctx: typer.Context,
    dataset: Annotated[
        str, typer.Argument(help="Dataset name (case-sensitive).", show_default=False)
    ],
    export_format: Annotated[
        Format, typer.Option("--format", "-f", help="Export format.")
    ] = Format.pictograph,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the ZIP (default ./<name>.zip).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            "-n",
            help="Export name, unique in the dataset (default <dataset>-<format>-<timestamp>).",
            show_default=False,
        ),
    ] = None,
    include_images: Annotated[
        bool,
        typer.Option("--include-images/--no-images", help="Put the image files in the ZIP."),
    ] = True,
    classes: Annotated[
        list[str] | None,
        typer.Option(
            "--class",
            "-c",
            help="Keep only annotations of this class; repeatable (default: every class).",
            show_default=False,
        ),
    ] = None,
    status: Annotated[
        Status, typer.Option("--status", "-s", help="Which images, by annotation status.")
    ] = Status.complete,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for the build.")
    ] = 600.0,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.1, help="Seconds between status checks.")
    ] = 1.0,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Export a dataset as a ZIP (COCO, YOLO, CVAT, Pascal VOC, LabelMe, CSV or Pictograph JSON).

    The server builds the archive as a job (a progress bar follows it), then the ZIP is streamed to --output.
    """
    cli = Session(ctx, api_key, base_url, json_output)
    client = cli.client
    export_name = name or default_name(dataset, export_format.value)
    destination = (output or Path(f"{export_name}.zip")).expanduser()
    created = client.exports.create(
        dataset,
        export_name,
        format=export_format.value,  # type: ignore[arg-type]
        include_images=include_images,
        class_filter=classes or None,
        status_filter=status.value,
        wait=False,
    )
    _output.info(f"Export {created.name!r} queued ({created.id})")
    with _output.progress_bar(f"Building {export_format.value} export") as progress:

        def on_poll(current: Any) -> None:
            done = current.progress.processed if current.progress else 0
            total = current.progress.total if current.progress else 0
            if current.status == "completed" and total == 0:
                total = done = current.image_count or 0
            progress(done, total, current.status)

        finished = client.exports.wait_for_completion(
            dataset, export_name, timeout=timeout, poll_interval=poll_interval, progress=on_poll
        )
    with _output.stderr.status(f"Downloading {destination}"):
        client.exports.download(dataset, export_name, destination)
    summary = {**_output.to_json(finished), "output_path": str(destination)}
    _output.print_result(
        summary,
        as_json=cli.json,
        render=lambda s: _output.success(
            f"Wrote {destination} — {s.get('image_count') or 0} images, "
            f"{s.get('annotation_count') or 0} annotations ({s.get('file_size') or 0} bytes, "
            f"{s['format']})"
        ),
    )

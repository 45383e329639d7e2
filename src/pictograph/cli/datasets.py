"""``pictograph datasets list | get | create | delete | download``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from pictograph.cli import _output
from pictograph.cli._context import ApiKeyOption, BaseUrlOption, JsonOption, Session, YesOption
from pictograph.cli._output import Column
from pictograph.models.annotation import ANNOTATION_TYPES

app = typer.Typer(no_args_is_help=True, help="List, inspect, create, delete and download datasets.")

NameArgument = Annotated[
    str, typer.Argument(help="Dataset name (case-sensitive).", show_default=False)
]


class DownloadMode(str, Enum):
    full = "full"
    images_only = "images_only"
    annotations_only = "annotations_only"


LIST_COLUMNS: list[Column] = [
    "name",
    ("image_count", "images"),
    ("completed_image_count", "complete"),
    ("total_size", "bytes"),
    ("created_at", "created"),
    "id",
]
DATASET_FIELDS = [
    "name",
    "id",
    "description",
    "image_count",
    "completed_image_count",
    "archived_images",
    "total_size",
    "classes",
    "created_at",
]
IMAGE_COLUMNS: list[Column] = [
    "id",
    "filename",
    ("virtual_folder_path", "folder"),
    "status",
    ("annotation_count", "annotations"),
    "width",
    "height",
]


@app.command("list")
def list_datasets(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Page size.")] = 100,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the datasets in your organization."""
    cli = Session(ctx, api_key, base_url, json_output)
    found = cli.client.datasets.list(limit=limit)
    _output.print_result(
        found,
        as_json=cli.json,
        render=lambda items: _output.print_table(
            _output.to_json(items), LIST_COLUMNS, title="Datasets"
        ),
    )


def _render_dataset(dataset: Any) -> None:
    record = _output.to_json(dataset)
    _output.print_record(record, DATASET_FIELDS, title=f"Dataset {record.get('name', '')}")
    if record.get("images") is not None:
        _output.print_table(record["images"], IMAGE_COLUMNS, title="Images")


@app.command("get")
def get_dataset(
    ctx: typer.Context,
    name: NameArgument,
    include_images: Annotated[
        bool, typer.Option("--include-images", "-I", help="Also list the dataset's images.")
    ] = False,
    images_limit: Annotated[
        int, typer.Option("--images-limit", min=1, max=10000, help="How many images to include.")
    ] = 1000,
    images_offset: Annotated[int, typer.Option("--images-offset", min=0)] = 0,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one dataset by name, optionally with its images."""
    cli = Session(ctx, api_key, base_url, json_output)
    if include_images:
        dataset = cli.client.datasets.get(
            name, include_images=True, images_limit=images_limit, images_offset=images_offset
        )
    else:
        dataset = cli.client.datasets.get(name)
    _output.print_result(dataset, as_json=cli.json, render=_render_dataset)


def _parse_class(spec: str) -> dict[str, str]:
    """``NAME[:TYPE[:COLOR]]`` → a project class; the type defaults to bbox."""
    name, _, rest = spec.partition(":")
    kind, _, color = rest.partition(":")
    kind = kind or "bbox"
    if not name.strip():
        raise typer.BadParameter(f"{spec!r}: the class needs a name", param_hint="'--class'")
    if kind not in ANNOTATION_TYPES:
        raise typer.BadParameter(
            f"{spec!r}: type must be one of {', '.join(ANNOTATION_TYPES)}", param_hint="'--class'"
        )
    return {"name": name, "type": kind, **({"color": color} if color else {})}


@app.command("create")
def create_dataset(
    ctx: typer.Context,
    name: NameArgument,
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="Free-text description.")
    ] = None,
    classes: Annotated[
        list[str] | None,
        typer.Option(
            "--class",
            "-c",
            help="A class as NAME[:TYPE[:COLOR]] (TYPE bbox, polygon, polyline or keypoint); repeatable.",
            show_default=False,
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a dataset, optionally with its classes (annotations must use one of them)."""
    parsed = [_parse_class(spec) for spec in classes or []]
    types = list(dict.fromkeys(item["type"] for item in parsed)) or None
    cli = Session(ctx, api_key, base_url, json_output)
    project = cli.client.projects.create(
        name, description=description, annotation_types=types, classes=parsed
    )
    _output.print_result(
        project,
        as_json=cli.json,
        render=lambda created: _output.success(f"Created dataset {created.name!r} ({created.id})"),
    )


@app.command("delete")
def delete_dataset(
    ctx: typer.Context,
    name: NameArgument,
    yes: YesOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Permanently delete a dataset with all its images and annotations (asks first)."""
    cli = Session(ctx, api_key, base_url, json_output)
    client = cli.client
    _output.confirm(
        f"Permanently delete dataset {name!r} with all its images and annotations?",
        assume_yes=yes,
    )
    result = client.projects.delete(name)
    summary = {"name": name, "deleted": True, **(_output.to_json(result) or {})}
    _output.print_result(
        summary,
        as_json=cli.json,
        render=lambda s: _output.success(
            f"Deleted dataset {name!r}"
            + (f" ({s['images_deleted']} images)" if s.get("images_deleted") is not None else "")
        ),
    )


def _render_download(report: Any, output_dir: Path) -> None:
    _output.success(
        f"Downloaded {report.images_downloaded} images and {report.annotations_downloaded} "
        f"annotation files to {output_dir}"
    )
    _output.print_table(
        _output.to_json(report.failures),
        ["filename", "kind", "reason"],
        title="Failures",
        quiet_if_empty=True,
    )


@app.command("download")
def download_dataset(
    ctx: typer.Context,
    name: NameArgument,
    output_dir: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Directory to write into (created if missing).", file_okay=False
        ),
    ],
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, max=64, help="Parallel downloads.")
    ] = 10,
    mode: Annotated[
        DownloadMode, typer.Option("--mode", help="What to download.")
    ] = DownloadMode.full,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only images with this annotation status, e.g. complete.",
            show_default=False,
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Download a dataset's images and annotations (one <filename>.json per image)."""
    cli = Session(ctx, api_key, base_url, json_output)
    client = cli.client
    with _output.progress_bar(f"Downloading {name}") as progress:
        report = client.datasets.download(
            name,
            output_dir=output_dir,
            mode=mode.value,
            status_filter=status,
            max_workers=workers,
            progress=progress,
        )
    _output.print_result(report, as_json=cli.json, render=lambda r: _render_download(r, output_dir))
    if report.failures:
        raise typer.Exit(1)

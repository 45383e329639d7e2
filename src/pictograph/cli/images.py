"""``pictograph images upload | download | delete``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pictograph.cli import _output
from pictograph.cli._context import (
    ApiKeyOption,
    BaseUrlOption,
    ImageIdArgument,
    JsonOption,
    Session,
    YesOption,
)
from pictograph.exceptions import PictographError

if TYPE_CHECKING:
    from pictograph import Client

app = typer.Typer(no_args_is_help=True, help="Upload, download and delete single images.")


@dataclass
class UploadSummary:
    """Every path of one ``images upload`` call together; ``images`` holds the single files' Image records."""

    dataset: str
    images_attempted: int = 0
    images_uploaded: int = 0
    images_skipped: int = 0
    images: list[Any] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)


def _upload_files(client: Client, files: list[Path], folder: str, summary: UploadSummary) -> None:
    """Single files go through ``images.upload``; a failed file is recorded and the rest continue."""
    dataset_id = client.datasets.get(summary.dataset).id
    with _output.progress_bar("Uploading files", enabled=len(files) > 1) as progress:
        for done, path in enumerate(files, start=1):
            summary.images_attempted += 1
            try:
                image = client.images.upload(
                    dataset_id=dataset_id, file_path=path, folder_path=folder
                )
            except PictographError as exc:
                summary.failures.append({"path": str(path), "reason": exc.message})
            else:
                summary.images_uploaded += 1
                summary.images.append(image)
            progress(done, len(files), path.name)


def _upload_directory(
    client: Client, directory: Path, organize_by_class: bool, workers: int, summary: UploadSummary
) -> None:
    from pictograph.workflows import upload_dataset_from_folder

    with _output.progress_bar(f"Uploading {directory}") as progress:
        report = upload_dataset_from_folder(
            client,
            summary.dataset,
            folder=directory,
            organize_by_class=organize_by_class,
            max_workers=workers,
            progress=progress,
        )
    if report.images_attempted == 0:
        _output.warn(f"no supported images in {directory}")
    summary.images_attempted += report.images_attempted
    summary.images_uploaded += report.images_uploaded
    summary.images_skipped += report.images_skipped
    summary.failures.extend({"path": str(f.path), "reason": f.reason} for f in report.failures)


def _render_upload(summary: UploadSummary) -> None:
    _output.success(
        f"Uploaded {summary.images_uploaded} of {summary.images_attempted} images to "
        f"{summary.dataset!r} ({summary.images_skipped} already there)"
    )
    _output.print_table(summary.failures, ["path", "reason"], title="Failures", quiet_if_empty=True)


@app.command("upload")
def upload(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(help="Image files and/or directories.", exists=True, show_default=False),
    ],
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="Destination dataset name.", show_default=False)
    ],
    folder: Annotated[
        str | None,
        typer.Option("--folder", help="Virtual folder for single files, e.g. /cars (default /)."),
    ] = None,
    flat: Annotated[
        bool,
        typer.Option(
            "--flat",
            help="Directories: put every file at / instead of one folder per subdirectory.",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, max=64, help="Parallel uploads.")
    ] = 8,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Upload image files, or whole directories (subdirectories become virtual folders).

    Directory uploads create the dataset when it is missing and skip files already uploaded.
    """
    directories = [path for path in paths if path.is_dir()]
    files = [path for path in paths if not path.is_dir()]
    if folder is not None and directories:
        raise typer.BadParameter(
            "--folder applies to single files; a directory's subdirectories become its folders.",
            param_hint="'--folder'",
        )
    cli = Session(ctx, api_key, base_url, json_output)
    client = cli.client
    summary = UploadSummary(dataset)
    for directory in directories:
        _upload_directory(client, directory, not flat, workers, summary)
    if files:
        _upload_files(client, files, folder or "/", summary)
    _output.print_result(summary, as_json=cli.json, render=_render_upload)
    if summary.failures:
        raise typer.Exit(1)


@app.command("download")
def download(
    ctx: typer.Context,
    image_id: ImageIdArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.", dir_okay=False)],
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Download one image's original bytes to a file."""
    cli = Session(ctx, api_key, base_url, json_output)
    client = cli.client
    output.parent.mkdir(parents=True, exist_ok=True)
    client.images.download(image_id, output_path=output)
    result = {"image_id": image_id, "output_path": str(output), "bytes": output.stat().st_size}
    _output.print_result(
        result,
        as_json=cli.json,
        render=lambda r: _output.success(f"Saved {r['bytes']} bytes to {r['output_path']}"),
    )


@app.command("delete")
def delete(
    ctx: typer.Context,
    image_id: ImageIdArgument,
    yes: YesOption = False,
    permanent: Annotated[
        bool,
        typer.Option(
            "--permanent", help="Delete the stored bytes too (irreversible); default archives."
        ),
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Archive an image (recoverable), or delete it permanently with --permanent."""
    cli = Session(ctx, api_key, base_url, json_output)
    client = cli.client
    action = "Permanently delete" if permanent else "Archive"
    _output.confirm(f"{action} image {image_id}?", assume_yes=yes)
    client.images.delete(image_id, permanent=permanent)
    result = {"image_id": image_id, "deleted": True, "permanent": permanent}
    _output.print_result(
        result,
        as_json=cli.json,
        render=lambda r: _output.success(
            f"{'Deleted' if permanent else 'Archived'} image {image_id}"
        ),
    )

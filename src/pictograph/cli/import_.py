"""``pictograph import DIR|ZIP --dataset NAME [--format F]``: files into a dataset, with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pictograph.cli import _output
from pictograph.cli._context import ApiKeyOption, BaseUrlOption, JsonOption, Session
from pictograph.models.imports import IMPORT_FORMATS

MAX_ERRORS_SHOWN = 20


def _render(job: Any) -> None:
    report = job.report
    if job.status == "cancelled":
        _output.warn(f"Import {job.id} was cancelled")
    if report is None:
        _output.info(f"Import {job.id}: {job.status}")
        return
    _output.success(
        f"Imported {report.images_imported} images and {report.annotations_imported} annotations "
        f"into {report.dataset_name!r} ({report.format}); "
        f"{report.images_skipped} images skipped, {report.images_failed} failed"
    )
    if report.classes_created:
        _output.info(f"Classes created: {', '.join(report.classes_created)}")
    rows = [{"reason": reason, "count": count} for reason, count in report.skipped.items()]
    _output.print_table(rows, ["reason", "count"], title="Skipped", quiet_if_empty=True)
    if report.errors:
        _output.warn(f"{report.errors_total} problem(s) in the input:")
        for line in report.errors[:MAX_ERRORS_SHOWN]:
            _output.info(f"  {line}")
        if report.errors_total > MAX_ERRORS_SHOWN:
            _output.info(f"  … and {report.errors_total - MAX_ERRORS_SHOWN} more (see --json)")


def import_command(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="A folder or a .zip in one of the import formats (with --server-path: a path on the server).",
            show_default=False,
        ),
    ],
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="Dataset to create or extend.", show_default=False)
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help=f"One of {', '.join(IMPORT_FORMATS)}; detected when omitted.",
            show_default=False,
        ),
    ] = None,
    no_create: Annotated[
        bool, typer.Option("--no-create", help="Fail if the dataset does not exist yet.")
    ] = False,
    server_path: Annotated[
        bool,
        typer.Option(
            "--server-path",
            help="SOURCE is a folder on the server (allowed under PICTOGRAPH_IMPORT_ROOTS).",
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the import until it finishes.")
    ] = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to follow the import before giving up.")
    ] = 3600.0,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Import a folder or ZIP (COCO, YOLO, Pascal VOC, CVAT, LabelMe, V7, Pictograph) into a dataset.

    A folder is zipped on the fly and uploaded; classes are created as needed. What cannot
    be converted is listed as skipped, malformed files with their line or key.
    """
    if format is not None and format not in IMPORT_FORMATS:
        raise typer.BadParameter(
            f"expected one of {', '.join(IMPORT_FORMATS)}", param_hint="'--format'"
        )
    if not server_path and not Path(source).exists():
        raise typer.BadParameter(f"{source} does not exist", param_hint="'SOURCE'")
    cli = Session(ctx, api_key, base_url, json_output)
    client = cli.client

    with _output.progress_bar(f"Uploading {Path(source).name}", enabled=not server_path) as sent:
        job = client.imports.create(
            dataset,
            source,
            format=format,
            create_if_missing=not no_create,
            server_path=server_path,
            wait=False,
            upload_progress=lambda done, total: sent(done, total, None),
        )
    if wait:
        with _output.progress_bar(f"Importing into {dataset}") as progress:

            def follow(current: Any) -> None:
                counts = current.progress
                progress(counts.processed + counts.failed, counts.total, current.status)

            job = client.imports.wait_for_completion(job.id, timeout=timeout, progress=follow)
    _output.print_result(job, as_json=cli.json, render=_render)

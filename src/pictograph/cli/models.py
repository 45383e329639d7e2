"""``pictograph models available | pull NAME | list | download``.

``available`` and ``pull`` are about the annotation models and their weights; ``list`` and
``download`` about the models training runs produced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pictograph.cli import _output
from pictograph.cli._context import ApiKeyOption, BaseUrlOption, JsonOption, Session

app = typer.Typer(help="Annotation models (available, pull) and trained models (list, download).")

COLUMNS = [
    ("name", "Model"),
    ("kind", "Kind"),
    ("roles", "Roles"),
    ("available", "Available"),
    ("source", "Source"),
    ("reason", "Why not"),
]


def _local_models_dir(models_dir: Path | None) -> Path:
    """``--models-dir``, else where a server started here would look (``PICTOGRAPH_*`` settings)."""
    if models_dir is not None:
        return models_dir.expanduser()
    from pictograph.server.settings import Settings

    return Settings().resolved_models_dir


@app.command("available")
def available(
    ctx: typer.Context,
    local: Annotated[
        bool,
        typer.Option("--local", help="Look in this machine's models directory, not the server's."),
    ] = False,
    models_dir: Annotated[
        Path | None,
        typer.Option(
            "--models-dir", help="With --local: the directory to look in.", show_default=False
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """List every model backend, whether its weights are here, and which one serves each role."""
    cli = Session(ctx, api_key, base_url, json_output)
    if local or models_dir is not None:
        from pictograph.vision.registry import statuses

        directory = _local_models_dir(models_dir)
        report: dict[str, Any] = {
            "models": [row.to_json() for row in statuses(directory)],
            "models_dir": str(directory),
        }
    else:
        report = _output.to_json(cli.client.auto_annotate.models())

    def render(value: dict[str, Any]) -> None:
        rows = [{**row, "roles": ", ".join(row["roles"])} for row in value["models"]]
        _output.print_table(rows, COLUMNS, title="Models")
        for group, name in (value.get("active") or {}).items():
            _output.info(f"{group}: {name or 'none available'}")

    _output.print_result(report, as_json=cli.json, render=render)


@app.command("pull")
def pull(
    name: Annotated[str, typer.Argument(help="Model name (see `pictograph models available`).")],
    models_dir: Annotated[
        Path | None,
        typer.Option(
            "--models-dir",
            help="Where to put it (default: the server's models directory).",
            show_default=False,
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            help="Hugging Face-compatible hub URL (default $HF_ENDPOINT or huggingface.co).",
            show_default=False,
        ),
    ] = None,
    revision: Annotated[str, typer.Option("--revision", help="Branch, tag or commit.")] = "main",
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help="Hub token for gated models (default $HF_TOKEN).", show_default=False
        ),
    ] = None,
) -> None:
    """Download a foundation model's weights into the models directory (needs internet).

    This is the only command that reaches the network; the server itself never downloads.
    """
    from pictograph.vision.pull import PullError, pull_model

    directory = _local_models_dir(models_dir)
    try:
        with _output.progress_bar(f"Pulling {name}") as progress:
            target = pull_model(
                name,
                directory,
                endpoint=endpoint,
                revision=revision,
                token=token,
                progress=lambda filename, done, total: progress(done, total or done, filename),
            )
    except PullError as error:
        _output.error(str(error))
        raise typer.Exit(1) from error
    _output.success(f"{name} is in {target}; restart the server to use it")


TRAINED_COLUMNS = [
    ("id", "Model"),
    ("name", "Name"),
    ("model_type", "Type"),
    ("architecture", "Architecture"),
    ("status", "Status"),
    ("metrics", "Metrics"),
    ("created_at", "Created"),
]


@app.command("list")
def list_trained(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="training, ready, failed or archived.")
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset's.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many (newest first).")] = 50,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """List trained models, newest first (archived ones only with --status archived)."""
    cli = Session(ctx, api_key, base_url, json_output)
    models = cli.client.models.list(status=status, dataset_name=dataset, limit=limit)  # type: ignore[arg-type]
    _output.print_result(
        _output.to_json(models),
        as_json=cli.json,
        render=lambda rows: _output.print_table(rows, TRAINED_COLUMNS, title="Trained models"),
    )


@app.command("download")
def download(
    ctx: typer.Context,
    model_id: Annotated[
        str | None,
        typer.Argument(help="Model id (default: the newest ready model).", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the ONNX file (default ./<name>.onnx).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,  # fmt: skip
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Download a ready model's ONNX file (its MD5 is checked)."""
    cli = Session(ctx, api_key, base_url, json_output)
    if model_id is None:
        ready = cli.client.models.list(status="ready", limit=1)
        if not ready:
            raise typer.BadParameter("there is no ready model yet", param_hint="MODEL_ID")
        model = ready[0]
    else:
        model = cli.client.models.get(model_id)
    path = cli.client.models.download(model.id, output or Path(f"{model.name}.onnx"))
    report = {"model_id": model.id, "path": str(path), "file_size": path.stat().st_size}
    _output.print_result(
        report, as_json=cli.json, render=lambda value: _output.success(f"Saved {value['path']}")
    )

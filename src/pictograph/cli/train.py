"""``pictograph train start | status | cancel | logs``: training runs from the terminal.

``start`` exports the dataset and trains on it (``train_pipeline``), showing each epoch as
it finishes unless ``--no-wait``. ``status``, ``cancel`` and ``logs`` take a run id, or act on
the newest run when it is left out.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Any

import typer

from pictograph.cli import _output
from pictograph.cli._context import ApiKeyOption, BaseUrlOption, JsonOption, Session
from pictograph.client import Client
from pictograph.exceptions import ValidationError
from pictograph.models.training import TrainingRun
from pictograph.workflows.train import train_pipeline

app = typer.Typer(help="Train models on a dataset and follow the runs.")


class Pipeline(str, Enum):
    yolox = "yolox"
    detectron2 = "detectron2"
    sm_pytorch = "sm_pytorch"
    classification = "classification"
    rfdetr_detection = "rfdetr_detection"
    rfdetr_segmentation = "rfdetr_segmentation"


class Gpu(str, Enum):
    a10g = "a10g"
    a100 = "a100"
    h100 = "h100"


RunIdArgument = Annotated[
    str | None, typer.Argument(help="Run id (default: the newest run).", show_default=False)
]
FIELDS = [
    "id",
    "name",
    "dataset_name",
    "pipeline_type",
    "status",
    "progress",
    "current_epoch",
    "total_epochs",
    "eta_seconds",
    "device",
    "metrics",
    "model_id",
    "credits_charged",
    "credits_refunded",
    "error_message",
    "gpu_note",
]


def _config(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValidationError(f"--config is not JSON: {error}") from error
    if not isinstance(value, dict):
        raise ValidationError("--config must be a JSON object, e.g. '{\"epochs\": 50}'")
    return value


def _run(client: Client, run_id: str | None) -> TrainingRun:
    if run_id is not None:
        return client.training.get(run_id)
    runs = client.training.list(limit=1)
    if not runs:
        raise typer.BadParameter("there are no training runs yet", param_hint="RUN_ID")
    return runs[0]


def _render(run: dict[str, Any]) -> None:
    _output.print_record(run, FIELDS, title="Training run")


@app.command("start")
def start(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset to train on.", show_default=False)],
    pipeline: Annotated[Pipeline, typer.Option("--pipeline", "-p", help="Training pipeline.")],
    gpu: Annotated[Gpu, typer.Option("--gpu", help="GPU tier (priced per minute).")] = Gpu.a10g,
    config: Annotated[
        str | None,
        typer.Option("--config", help="Hyperparameters as JSON, e.g. '{\"epochs\": 50}'."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Run name.")] = None,
    status_filter: Annotated[
        str, typer.Option("--status-filter", help="Images to train on, by status.")
    ] = "complete",
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the run to its end.")
    ] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 7200.0,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Export DATASET and train a model on it."""
    cli = Session(ctx, api_key, base_url, json_output)
    run, _ = train_pipeline(
        cli.client,
        dataset,
        pipeline=pipeline.value,
        gpu=gpu.value,
        name=name,
        config=_config(config),
        status_filter=status_filter,
        wait=False,
    )
    if wait:
        seen = [0]

        def show(current: TrainingRun) -> None:
            if current.current_epoch > seen[0] and not cli.json:
                losses = ", ".join(f"{k} {v:.4f}" for k, v in current.metrics.items())
                _output.info(f"epoch {current.current_epoch}/{current.total_epochs}: {losses}")
                seen[0] = current.current_epoch

        run = cli.client.training.wait_for_completion(
            run.id, poll_interval=2.0, timeout=timeout, progress=show
        )
    _output.print_result(_output.to_json(run), as_json=cli.json, render=_render)


@app.command("status")
def status(
    ctx: typer.Context,
    run_id: RunIdArgument = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a run: status, epoch, losses or metrics, model."""
    cli = Session(ctx, api_key, base_url, json_output)
    _output.print_result(
        _output.to_json(_run(cli.client, run_id)), as_json=cli.json, render=_render
    )


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    run_id: RunIdArgument = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Stop a run; the minutes it did not use are refunded."""
    cli = Session(ctx, api_key, base_url, json_output)
    run = _run(cli.client, run_id)
    _output.confirm(f"Cancel training run {run.name!r} ({run.status})?", assume_yes=yes)
    cancelled = cli.client.training.cancel(run.id)
    _output.print_result(_output.to_json(cancelled), as_json=cli.json, render=_render)


@app.command("logs")
def logs(
    ctx: typer.Context,
    run_id: RunIdArgument = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print a run's log lines so far."""
    cli = Session(ctx, api_key, base_url, json_output)
    run = _run(cli.client, run_id)
    lines = cli.client.training.logs(run.id)
    _output.print_result(
        {"training_run_id": run.id, "status": run.status, "logs": lines},
        as_json=cli.json,
        render=lambda value: [_output.stdout.print(line, markup=False) for line in value["logs"]],
    )

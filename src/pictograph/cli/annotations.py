"""``pictograph annotations get | save | delete``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pydantic
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
from pictograph.models.annotation import ANNOTATION_LIST

app = typer.Typer(
    no_args_is_help=True, help="Read, replace and clear the annotations of one image."
)

EXIT_BAD_INPUT = 2


def _geometry(annotation: dict[str, Any]) -> str:
    kind = annotation.get("type")
    if kind == "bbox":
        box = annotation.get("bounding_box") or {}
        return f"x={box.get('x')} y={box.get('y')} w={box.get('w')} h={box.get('h')}"
    if kind == "polygon":
        paths = (annotation.get("polygon") or {}).get("paths") or []
        return f"{len(paths)} ring(s), {sum(len(ring) for ring in paths)} points"
    if kind == "polyline":
        return f"{len((annotation.get('polyline') or {}).get('path') or [])} points"
    if kind == "keypoint":
        point = annotation.get("keypoint") or {}
        return f"x={point.get('x')} y={point.get('y')}"
    return ""


def _render_annotations(annotations: Any) -> None:
    rows = [{**item, "geometry": _geometry(item)} for item in _output.to_json(annotations)]
    _output.print_table(rows, ["id", "name", "type", "geometry", "confidence"], title="Annotations")


@app.command("get")
def get(
    ctx: typer.Context,
    image_id: ImageIdArgument,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show an image's annotations (JSON output can be fed back to `annotations save`)."""
    cli = Session(ctx, api_key, base_url, json_output)
    annotations = cli.client.annotations.get(image_id)
    _output.print_result(annotations, as_json=cli.json, render=_render_annotations)


def _read_annotations(path: Path) -> list[Any]:
    """Parse and validate the file before anything is sent; bad input exits 2 with each field's location."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        _output.error(f"{path} is not valid JSON: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    if not isinstance(raw, list):
        _output.error(f"{path} must hold a JSON list of annotations, not a {type(raw).__name__}")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        return ANNOTATION_LIST.validate_python(raw)
    except pydantic.ValidationError as exc:
        _output.error(f"{path}: {exc.error_count()} invalid field(s)")
        _output.print_field_errors(
            [{**e, "loc": _without_tag(e["loc"], raw)} for e in exc.errors(include_url=False)]
        )
        raise typer.Exit(EXIT_BAD_INPUT) from exc


def _without_tag(loc: tuple[Any, ...], raw: list[Any]) -> tuple[Any, ...]:
    """Pydantic puts the union tag after the index (``0, "bbox", "name"``); people expect ``[0].name``."""
    if (
        len(loc) > 1
        and isinstance(loc[0], int)
        and isinstance(raw[loc[0]], dict)
        and raw[loc[0]].get("type") == loc[1]
    ):
        return (loc[0], *loc[2:])
    return loc


@app.command("save")
def save(
    ctx: typer.Context,
    image_id: ImageIdArgument,
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="JSON file holding a list of annotations.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ],
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replace an image's annotations with the list in --file (a full overwrite)."""
    annotations = _read_annotations(file)
    cli = Session(ctx, api_key, base_url, json_output)
    result = cli.client.annotations.save(image_id, annotations)
    _output.print_result(
        result,
        as_json=cli.json,
        render=lambda r: _output.success(
            f"Saved {r.new_count} annotations on {r.image_id} (was {r.previous_count}; status {r.status})"
        ),
    )


@app.command("delete")
def delete(
    ctx: typer.Context,
    image_id: ImageIdArgument,
    yes: YesOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove every annotation from an image (asks first)."""
    cli = Session(ctx, api_key, base_url, json_output)
    client = cli.client
    _output.confirm(f"Delete all annotations on image {image_id}?", assume_yes=yes)
    result = client.annotations.delete(image_id)
    _output.print_result(
        result,
        as_json=cli.json,
        render=lambda r: _output.success(
            f"Deleted {r.deleted_count} annotations from {r.image_id}"
        ),
    )

"""``pictograph init``: write an AGENTS.md that tells a coding agent how to use Pictograph here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pictograph.cli import _output

AGENTS_MD = """\
# AGENTS.md — using Pictograph in this project

This project keeps its computer-vision data (images, annotations, exports, trained models) in a
Pictograph server. Talk to it through the `pictograph` CLI or the Python SDK — never by editing the
server's data directory or database.

## Connecting
- Server: `pictograph server start` (default http://127.0.0.1:8080). The first start prints an owner
  API key and saves it, with the URL, to `~/.pictograph/config.toml`.
- Credentials resolve in this order: `--api-key` flag > `PICTOGRAPH_API_KEY` > the config file.
  The server URL: `--base-url` > `PICTOGRAPH_BASE_URL` > the config file.
- `pictograph login --api-key pk_live_… --base-url http://host:8080` checks a key and saves it.
- Never print, commit or paste an API key into files in this repository.

## CLI (add `--json` to any command for machine-readable output)
- `pictograph datasets list --json` — what exists; names are case-sensitive.
- `pictograph datasets get NAME --include-images --json` — counts and image ids.
- `pictograph datasets create NAME -d "description"`
- `pictograph images upload ./folder --dataset NAME` — subdirectories become virtual folders;
  re-running skips files already uploaded.
- `pictograph annotations get IMAGE_ID --json` / `pictograph annotations save IMAGE_ID --file anns.json`
- `pictograph datasets download NAME -o ./out` — images plus one `<filename>.json` of annotations each.
- `pictograph credits balance --json` — check before paid operations (auto-annotation, training).
- Destructive commands (`datasets delete`, `images delete`, `annotations delete`) ask first; pass
  `--yes` only when the user asked for the deletion.

## Python SDK
```python
from pictograph import Client
from pictograph.workflows import upload_dataset_from_folder

client = Client()  # same key / URL resolution as the CLI
report = upload_dataset_from_folder(client, "road-signs", folder="./road_signs")
print(report.images_uploaded, report.images_skipped, report.failures)
```
Bulk helpers return reports with per-item `failures` instead of raising: read them.

## Annotation format (the server rejects anything else)
- A JSON list; each item has `id`, `name` (the class label — never `class`), `type`, and the geometry
  for its type:
  - `bbox`: `"bounding_box": {"x": 10, "y": 20, "w": 50, "h": 40}` (top-left corner, positive size)
  - `polygon`: `"polygon": {"paths": [[{"x": 0, "y": 0}, {"x": 9, "y": 0}, {"x": 9, "y": 9}]]}`
    (rings of at least 3 points; later rings are holes)
  - `polyline`: `"polyline": {"path": [{"x": 0, "y": 0}, {"x": 5, "y": 5}]}`
  - `keypoint`: `"keypoint": {"x": 4, "y": 7}`
- Saving replaces the image's whole annotation list; send every annotation you want to keep.

## When a command fails
The CLI prints `error: …` on stderr. Exit code 1 is an API error, 2 a usage or configuration error.
- 401 / exit 2 "No API key": credentials missing or revoked — ask the user, do not guess.
- 404: check the name or id with `datasets list` / `datasets get`.
- 409: the name or filename already exists — reuse it or pick another.
- 422: the payload is wrong; the message names the field (`[0].bounding_box.w`, …).
- 402: not enough credits — report it; do not retry.
- 429: rate limited — wait the time the CLI prints, then retry once.
"""


def init(
    directory: Annotated[
        Path,
        typer.Option("--dir", help="Directory to write AGENTS.md into.", file_okay=False),
    ] = Path("."),
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Overwrite an existing AGENTS.md.")
    ] = False,
) -> None:
    """Write an AGENTS.md template into the current directory describing how an agent uses Pictograph."""
    target = directory / "AGENTS.md"
    if target.exists() and not force:
        _output.error(f"{target} already exists; pass --force to overwrite it.")
        raise typer.Exit(1)
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(AGENTS_MD, encoding="utf-8")
    _output.success(f"Wrote {target}")

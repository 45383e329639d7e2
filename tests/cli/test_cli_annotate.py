"""``pictograph annotate`` and ``pictograph models available | pull`` as a user types them."""

from __future__ import annotations

import uuid
from pathlib import Path

from PIL import Image as PILImage

from pictograph import Client
from tests.cli.conftest import Cli
from tests.live_server import LiveServer


def test_annotate_labels_the_dataset_in_batch_mode(
    cli: Cli, live_server: LiveServer, tmp_path: Path
) -> None:
    import skimage.data

    name = f"cli-annotate-{uuid.uuid4().hex[:8]}"
    photo = tmp_path / "astronaut.jpg"
    picture = PILImage.fromarray(skimage.data.astronaut())
    picture.thumbnail((200, 200))
    picture.save(photo)
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as sdk:
        project = sdk.projects.create(name)
        sdk.images.upload(project.id, photo)

    report = cli.ok(
        "annotate",
        name,
        "--class",
        "person:bbox",
        "--class",
        "cat",
        "--poll-interval",
        "0.3",
        "--json",
    ).json()
    assert report["images_processed"] == 1 and report["annotations_added"] >= 1 and report["job_id"]

    again = cli.ok("annotate", name, "-c", "person:bbox", "--poll-interval", "0.3")
    assert "0 annotations on 0 of 0 images (1 skipped)" in again.stdout

    bad = cli("annotate", name, "--class", "person:mesh")
    assert bad.returncode == 1 and "output_type" in bad.stderr
    missing = cli("annotate", "no-such-dataset", "--class", "person")
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_models_available_from_the_server_and_locally(cli: Cli, tmp_path: Path) -> None:
    served = cli.ok("models", "available", "--json").json()
    rows = {row["name"]: row for row in served["models"]}
    assert rows["litemedsam"]["available"] and not rows["sam3"]["available"]
    assert served["active"]["segment"] == "litemedsam"

    table = cli.ok("models", "available", "--local", "--models-dir", str(tmp_path)).stdout
    assert "litemedsam" in table and "pictograph models pull sam3" in table.replace(
        "\n", " "
    ).replace("│", "")


def test_models_pull_refuses_bundled_and_unknown_models(offline_cli: Cli, tmp_path: Path) -> None:
    bundled = offline_cli("models", "pull", "litemedsam", "--models-dir", str(tmp_path))
    assert bundled.returncode == 1 and "bundled" in bundled.stderr
    unknown = offline_cli("models", "pull", "nope", "--models-dir", str(tmp_path))
    assert unknown.returncode == 1 and "nope" in unknown.stderr

"""``pictograph train start | status | logs | cancel`` and ``pictograph models list | download``."""

from __future__ import annotations

import uuid
from pathlib import Path

from pictograph import Client
from pictograph.training.predict import TrainedModel
from tests.cli.conftest import Cli
from tests.live_server import LiveServer
from tests.training.drawn_dataset import upload_drawn


def test_train_follow_download_and_cancel(
    cli: Cli, live_server: LiveServer, tmp_path: Path
) -> None:
    name = f"cli-train-{uuid.uuid4().hex[:8]}"
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as sdk:
        upload_drawn(sdk, name, tmp_path / "drawn", images=6)

    started = cli.ok(
        "train", "start", name, "--pipeline", "classification",
        "--config", '{"epochs": 2, "batch_size": 2, "image_size": 32}',
    )  # fmt: skip
    assert "epoch" in started.stderr and "completed" in started.stdout
    status = cli.ok("train", "status", "--json").json()
    assert status["status"] == "completed" and status["dataset_name"] == name
    logs = cli.ok("train", "logs").stdout
    assert "epoch 2/2" in logs and "completed" in logs

    listed = cli.ok("models", "list", "--json").json()
    assert status["model_id"] in [row["id"] for row in listed]
    saved = cli.ok("models", "download", "-o", str(tmp_path / "m.onnx"), "--json").json()
    assert saved["model_id"] == status["model_id"]
    assert TrainedModel(Path(saved["path"])).classes == ["square", "disc"]

    queued = cli.ok(
        "train", "start", name, "--pipeline", "classification", "--no-wait", "--json",
        "--config", '{"epochs": 500, "image_size": 32}',
    ).json()  # fmt: skip
    assert queued["status"] in ("queued", "running")
    cancelled = cli.ok("train", "cancel", queued["id"], "--yes", "--json").json()
    assert cancelled["status"] == "cancelled"

    bad = cli("train", "start", name, "--pipeline", "yolox", "--config", "[1]")
    assert bad.returncode != 0 and "JSON object" in bad.stderr
    wrong = cli("train", "start", name, "--pipeline", "yolov8")
    assert wrong.returncode != 0

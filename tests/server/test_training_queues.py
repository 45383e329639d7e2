"""``gpu_type`` picks a worker queue when the server has one: the run waits for a
``pictograph server worker --queue a100`` process, which trains it on the shared database and
data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from pictograph import Client
from tests.live_server import running_server
from tests.training.drawn_dataset import upload_drawn

CONFIG = {"epochs": 1, "batch_size": 2, "image_size": 32}


def test_a100_run_waits_for_an_a100_worker(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with running_server("sqlite", data_dir, PICTOGRAPH_TRAINING_QUEUES="a100") as server:
        with Client(api_key=server.api_key, base_url=server.base_url) as sdk:
            upload_drawn(sdk, "queued", tmp_path / "drawn", images=5)
            sdk.exports.create("queued", "all", include_images=True, timeout=60)
            run = sdk.training.create(
                "queued", "all", pipeline_type="classification", gpu_type="a100",
                config=CONFIG, wait=False,
            )  # fmt: skip
            assert run.gpu_type == "a100" and run.gpu_note is None
            local = sdk.training.create(
                "queued", "all", pipeline_type="classification", gpu_type="h100",
                config=CONFIG, wait=False,
            )  # fmt: skip
            assert local.gpu_note and "not applicable" in local.gpu_note
            assert sdk.training.wait_for_completion(local.id, poll_interval=0.3, timeout=120)
            assert sdk.training.get(run.id).status == "queued"  # no a100 worker yet

            env = {**os.environ, "PICTOGRAPH_DATA_DIR": str(data_dir),
                   "PICTOGRAPH_WRITE_CLIENT_CONFIG": "false", "PICTOGRAPH_TRAINING_THREADS": "1"}  # fmt: skip
            env.pop("PICTOGRAPH_DATABASE_URL", None)
            worker = subprocess.Popen(
                [sys.executable, "-c", "from pictograph.cli.app import main; main()",
                 "server", "worker", "--queue", "a100"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            try:
                done = sdk.training.wait_for_completion(run.id, poll_interval=0.3, timeout=180)
                assert done.status == "completed" and done.device == "cpu"
                assert sdk.models.get(done.model_id or "").status == "ready"
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    worker.kill()
            assert worker.returncode == 0, worker.stderr.read() if worker.stderr else ""

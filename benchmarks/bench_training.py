"""Training: seconds per epoch of each pipeline against its library's bare loop, and the quality reached.

For every pipeline, on the same drawn-shapes export (``tests/training/drawn_dataset.py``: red
squares and blue discs on a noisy background, exact polygons), in the same run:

- **ours**: the pipeline as a training run executes it (:func:`pictograph.training.worker.run`
  in-process: reading the export, the shared epoch loop with its progress reports, then ONNX
  export + onnxruntime check + evaluation on the test split). Seconds per epoch are timed
  from the first epoch event over the next ``--timing-epochs`` epochs: the first epoch warms
  up, and later epochs can cost more than early ones (Mask R-CNN's mask head works on more
  positive proposals as the RPN learns), so both sides are timed over the same early epochs.
- **bare**: the library's own minimal loop on the same model, data, batches and preprocessing
  (``benchmarks/training_baselines/<pipeline>_baseline.py``: forward, loss, backward, step),
  run once for one epoch to warm up, then timed over ``--timing-epochs``.

Torch runs on one thread (``--threads``) so that other work on the machine disturbs both sides
alike.

It prints both, their ratio (goal ≤ 1.1) and the test-split metric the run ended with (mAP50
for detectors, mask mAP50 too for instance segmentation, mIoU, accuracy).

    python benchmarks/bench_training.py                          # every pipeline
    python benchmarks/bench_training.py --pipelines yolox classification --epochs 10
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pictograph.training import PIPELINE_TYPES, default_config  # noqa: E402
from pictograph.training.data import load_export  # noqa: E402
from pictograph.training.worker import EventReporter, run  # noqa: E402
from tests.training.drawn_dataset import write_export  # noqa: E402

SETTINGS: dict[str, dict[str, Any]] = {
    "yolox": {"image_size": 128, "batch_size": 8},
    "detectron2": {"image_size": 128, "batch_size": 4},
    "sm_pytorch": {"image_size": 128, "batch_size": 8},
    "classification": {"image_size": 96, "batch_size": 8},
    "rfdetr_detection": {"image_size": 192, "batch_size": 4},
    "rfdetr_segmentation": {"image_size": 192, "batch_size": 4},
}
"""Small images so a CPU run finishes in minutes; the same for ours and the bare loop."""
BASELINES = {
    "yolox": ("yolox_baseline", {}),
    "detectron2": ("maskrcnn_baseline", {}),
    "sm_pytorch": ("semantic_baseline", {}),
    "classification": ("classification_baseline", {}),
    "rfdetr_detection": ("rfdetr_baseline", {"segmentation": False}),
    "rfdetr_segmentation": ("rfdetr_baseline", {"segmentation": True}),
}
HEADLINE = {
    "yolox": ("mAP50", "mAP"),
    "detectron2": ("mAP50", "mask_mAP50"),
    "sm_pytorch": ("mIoU", "pixel_accuracy"),
    "classification": ("accuracy", "f1"),
    "rfdetr_detection": ("mAP50", "mAP"),
    "rfdetr_segmentation": ("mAP50", "mask_mAP50"),
}


class TimedRecorder(EventReporter):
    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.events: list[tuple[float, dict[str, Any]]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.events.append((time.perf_counter(), {"event": event, **fields}))


def ours(
    pipeline: str, export: Path, workdir: Path, config: dict[str, Any], timed: int
) -> dict[str, Any]:
    recorder = TimedRecorder()
    spec = {"pipeline": pipeline, "export_path": str(export), "workdir": str(workdir),
            "config": config, "device": "cpu"}  # fmt: skip
    if run(spec, recorder) != 0:
        raise RuntimeError(json.dumps(recorder.events[-1][1]))
    epochs = [t for t, e in recorder.events if e["event"] == "epoch"]
    timed = min(timed, len(epochs) - 1)
    result = recorder.events[-1][1]
    return {"seconds_per_epoch": (epochs[timed] - epochs[0]) / timed, **result}


def bare(pipeline: str, export: Path, workdir: Path, config: dict[str, Any], epochs: int) -> float:
    module_name, extra = BASELINES[pipeline]
    module = importlib.import_module(f"benchmarks.training_baselines.{module_name}")
    data = load_export(export, workdir)
    merged = default_config(pipeline).merged(config)
    module.minimal_loop_seconds_per_epoch(data, merged, 1, **extra)
    return float(module.minimal_loop_seconds_per_epoch(data, merged, epochs, **extra))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", nargs="+", default=list(PIPELINE_TYPES))
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--size", type=int, default=96, help="drawn image side in pixels")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of our training run")
    parser.add_argument(
        "--timing-epochs", type=int, default=3, help="timed epochs of the bare loop"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export = write_export(root / "drawn.zip", images=args.images, size=args.size)
        print(
            f"drawn export: {args.images} images of {args.size} px; ours {args.epochs} epochs, "
            f"bare loop {args.timing_epochs}; CPU, {args.threads} thread(s)"
        )
        print(f"{'pipeline':<21} {'ours s/ep':>9} {'bare s/ep':>9} {'ratio':>6}  metrics")
        for pipeline in args.pipelines:
            config = {**SETTINGS[pipeline], "epochs": args.epochs}
            baseline = bare(pipeline, export, root / f"{pipeline}-bare", config, args.timing_epochs)
            measured = ours(pipeline, export, root / f"{pipeline}-ours", config, args.timing_epochs)
            figures = ", ".join(
                f"{key} {measured['metrics'][key]:.3f}"
                for key in HEADLINE[pipeline]
                if key in measured["metrics"]
            )
            ratio = measured["seconds_per_epoch"] / baseline
            print(
                f"{pipeline:<21} {measured['seconds_per_epoch']:>9.2f} {baseline:>9.2f} "
                f"{ratio:>6.2f}  {figures}; onnx diff {measured['onnx_max_abs_diff']:.1e}",
                flush=True,
            )


if __name__ == "__main__":
    main()

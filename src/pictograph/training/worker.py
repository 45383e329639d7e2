"""The training process: ``python -m pictograph.training.worker SPEC.json``.

Training runs in its own process so that cancelling a run stops it at once (the job kills the
process), a crash or out-of-memory in a library cannot take the server down, and torch's
threads do not compete with the server's for the GIL. The process speaks one JSON object
per line on its standard output (anything a library prints goes to standard error instead):

``{"event": "data", "train": n, "val": n, "test": n, "classes": [...], "skipped": {...}}``
``{"event": "epoch", "epoch": e, "total": t, "losses": {...}, "seconds": s}``
``{"event": "log", "message": "..."}``
``{"event": "result", "onnx_path": ..., "architecture": ..., "metrics": {...}, ...}``
``{"event": "error", "kind": "not_enough_images" | "invalid_config" | "failed", "message": ...}``

The spec: ``{"pipeline", "export_path", "workdir", "config", "device"}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from pictograph.training import MODEL_TYPES, get_pipeline
from pictograph.training.base import ConfigError, TrainingFailed
from pictograph.training.data import NotEnoughImages, load_export
from pictograph.training.onnx_io import write_metadata

FORMAT_VERSION = 1


class EventReporter:
    """A :class:`~pictograph.training.base.Reporter` writing JSON lines to ``stream``."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._started = time.monotonic()

    def emit(self, event: str, **fields: Any) -> None:
        self._stream.write(json.dumps({"event": event, **fields}) + "\n")
        self._stream.flush()

    def epoch(self, epoch: int, total: int, losses: Mapping[str, float]) -> None:
        seconds = time.monotonic() - self._started
        self.emit(
            "epoch",
            epoch=epoch,
            total=total,
            losses={k: round(float(v), 6) for k, v in losses.items()},
            seconds=seconds,
        )

    def log(self, message: str) -> None:
        self.emit("log", message=message)


def resolve_device(requested: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``."""
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run(spec: Mapping[str, Any], reporter: EventReporter) -> int:
    try:
        workdir = Path(spec["workdir"])
        workdir.mkdir(parents=True, exist_ok=True)
        pipeline = get_pipeline(spec["pipeline"])
        config = pipeline.defaults.merged(spec.get("config") or {})
        data = load_export(Path(spec["export_path"]), workdir)
        device = resolve_device(spec.get("device", "auto"))
        reporter.emit(
            "data",
            train=len(data.train),
            val=len(data.val),
            test=len(data.test),
            classes=data.classes,
            skipped=data.skipped,
            config=config.as_dict(),
            device=device,
        )
        reporter.log(f"training {spec['pipeline']} on {device}: {config.as_dict()}")
        result = pipeline.train(data, config, workdir, reporter, device)
        write_metadata(
            result.onnx_path,
            {
                "format_version": FORMAT_VERSION,
                "pipeline": spec["pipeline"],
                "model_type": MODEL_TYPES[spec["pipeline"]],
                "architecture": result.architecture,
                "classes": data.classes,
                "inference": result.inference,
            },
        )
    except NotEnoughImages as error:
        reporter.emit("error", kind="not_enough_images", message=str(error))
        return 1
    except ConfigError as error:
        reporter.emit("error", kind="invalid_config", key=error.key, message=str(error))
        return 1
    except TrainingFailed as error:
        reporter.emit("error", kind="failed", message=str(error))
        return 1
    except Exception as error:  # any library failure ends the run with its message, not a hang
        traceback.print_exc()
        reporter.emit("error", kind="failed", message=f"{type(error).__name__}: {error}")
        return 1
    reporter.emit(
        "result",
        onnx_path=str(result.onnx_path),
        architecture=result.architecture,
        metrics={k: float(v) for k, v in result.metrics.items()},
        class_mapping=data.class_mapping,
        onnx_max_abs_diff=result.onnx_max_abs_diff,
        config=config.as_dict(),
    )
    return 0


def set_threads() -> None:
    """``PICTOGRAPH_TRAINING_THREADS`` caps torch's CPU threads (unset: torch's default, every
    core). Worth setting where other work shares the cores: oversubscribed OpenMP threads
    spin-wait, and small models then train up to ten times slower (measured on two cores)."""
    threads = int(os.environ.get("PICTOGRAPH_TRAINING_THREADS") or 0)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    set_threads()
    events = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # libraries that print (progress bars, warnings) write to stderr from now on
    sys.stdout = sys.stderr
    return run(spec, EventReporter(events))


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""ONNX export, the onnxruntime check every run ends with, and the metadata a model carries.

A trained model's ONNX file is self-describing: its ``pictograph`` metadata entry holds the
pipeline, the model type, the class names and the pipeline's pre- / post-processing facts,
so the file alone is enough to run it (the auto-label job does exactly that).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pictograph.training.base import TrainingFailed

OPSET = 17
METADATA_KEY = "pictograph"


def export(
    model: Any,
    example: Any,
    path: Path,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]] | None = None,
) -> Path:
    """``torch.onnx.export`` with the settings that work for every pipeline here (opset 17, the
    TorchScript exporter: the dynamo one fails on several of these models)."""
    import torch

    model.eval()
    with torch.no_grad():
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=dict(dynamic_axes) if dynamic_axes else None,
            opset_version=OPSET,
            dynamo=False,
        )
    return path


def session(path: Path, device: str = "cpu") -> Any:
    """An onnxruntime session on the CPU (or CUDA when asked and available)."""
    import onnxruntime

    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return onnxruntime.InferenceSession(str(path), providers=providers)


def check_outputs(
    expected: Sequence[npt.NDArray[Any]],
    actual: Sequence[npt.NDArray[Any]],
    *,
    atol: float = 1e-3,
    rtol: float = 1e-3,
) -> float:
    """The largest absolute difference; raises TrainingFailed when outputs disagree beyond
    ``atol + rtol·|expected|`` or differ in shape."""
    worst = 0.0
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        want, got = np.asarray(want, dtype=np.float64), np.asarray(got, dtype=np.float64)
        if want.shape != got.shape:
            raise TrainingFailed(
                f"ONNX output {index} has shape {got.shape}, the torch model gave {want.shape}"
            )
        if want.size == 0:
            continue
        diff = np.abs(want - got)
        worst = max(worst, float(diff.max()))
        if not np.all(diff <= atol + rtol * np.abs(want)):
            raise TrainingFailed(
                f"ONNX output {index} differs from the torch model by up to {float(diff.max()):.3g}"
            )
    return worst


def write_metadata(path: Path, metadata: Mapping[str, Any]) -> None:
    """Store ``metadata`` as JSON in the file's ``pictograph`` metadata entry."""
    import onnx

    model = onnx.load(str(path), load_external_data=True)
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(dict(metadata), sort_keys=True)
    onnx.save(model, str(path))


def read_metadata(onnx_session: Any) -> dict[str, Any]:
    """The ``pictograph`` metadata of a loaded session ({} for a foreign ONNX file)."""
    raw = onnx_session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    return json.loads(raw) if raw else {}

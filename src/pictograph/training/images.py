"""What the Mask R-CNN, ``sm_pytorch`` and ``classification`` pipelines share: resizing an
image into a model's input, mirroring batches, loading a user's starting weights, and
exporting a softmax model to ONNX.

Training and ``predict`` call the same resize and normalisation functions, so the model sees
at inference exactly the pixels it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_rgb(image: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    """Bilinear resize (Pillow antialiases when shrinking, so small objects do not alias away)."""
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(
        PILImage.fromarray(image).resize((width, height), PILImage.Resampling.BILINEAR)
    )


def resize_labels(labels: npt.NDArray[Any], width: int, height: int) -> npt.NDArray[Any]:
    """Nearest-neighbour resize of a class map or mask: labels must not blend."""
    if labels.shape[:2] == (height, width):
        return labels
    resized = PILImage.fromarray(labels.astype(np.uint8)).resize(
        (width, height), PILImage.Resampling.NEAREST
    )
    return np.asarray(resized).astype(labels.dtype)


def resize_scores(
    scores: npt.NDArray[np.float32], width: int, height: int
) -> npt.NDArray[np.float32]:
    """Bilinear resize of an H×W float map (a mask's or a class's probabilities): smooth edges
    back at full size, where a nearest-neighbour label resize would give blocks."""
    if scores.shape == (height, width):
        return scores
    resized = PILImage.fromarray(scores.astype(np.float32)).resize(
        (width, height), PILImage.Resampling.BILINEAR
    )
    return np.asarray(resized)


def longest_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) scaled so that the longer side is ``size``, aspect ratio kept."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def normalise(
    images: npt.NDArray[np.uint8], mean: Sequence[float], std: Sequence[float]
) -> npt.NDArray[np.float32]:
    """N×H×W×3 uint8 → N×3×H×W float32, ``(x / 255 - mean) / std`` per channel."""
    scaled = images.astype(np.float32) / 255.0
    scaled = (scaled - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(scaled.transpose(0, 3, 1, 2))


def square_input(
    image: npt.NDArray[np.uint8], size: int, mean: Sequence[float], std: Sequence[float]
) -> npt.NDArray[np.float32]:
    """One RGB image as a 1×3×size×size model input (stretched: these models want a square)."""
    return normalise(resize_rgb(image, size, size)[None], mean, std)


def load_matching_weights(module: Any, path: Path) -> tuple[int, int]:
    """Load the tensors of a torch checkpoint whose names and shapes match ``module``'s.

    Users bring checkpoints trained for other class counts (a COCO head, an ImageNet
    classifier): those layers are skipped and start from scratch, the rest is reused. A
    ``{"model": …}`` or ``{"state_dict": …}`` wrapper, as training scripts save, is unwrapped.
    Returns (loaded, skipped) tensor counts; raises TrainingFailed when nothing fits, since a
    checkpoint for another architecture would otherwise silently train from scratch.
    """
    import torch

    from pictograph.training.base import TrainingFailed

    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict"):
        if isinstance(state.get(key), dict):
            state = state[key]
    own = module.state_dict()
    matching = {
        name: tensor
        for name, tensor in state.items()
        if name in own and tuple(own[name].shape) == tuple(tensor.shape)
    }
    if not matching:
        raise TrainingFailed(f"No tensor of {path} fits the model: is it for another architecture?")
    module.load_state_dict(matching, strict=False)
    return len(matching), len(state) - len(matching)


def flip_half(*tensors: Any) -> tuple[Any, ...]:
    """Mirror a random half of the batch left-right, the same samples in every tensor (image and
    target): the cheapest augmentation, and the one that never changes what a label means."""
    import torch

    flip = torch.rand(tensors[0].shape[0], device=tensors[0].device) < 0.5
    return tuple(
        torch.where(flip.view(-1, *[1] * (tensor.dim() - 1)), tensor.flip(-1), tensor)
        for tensor in tensors
    )


def export_probabilities(
    model: Any, example: npt.NDArray[np.float32], path: Path, *, atol: float
) -> float:
    """Export ``model`` with a softmax over its class axis (input ``image``, output
    ``probabilities``, dynamic batch), then check onnxruntime against torch on ``example``.

    The softmax is part of the file so that any consumer gets probabilities without knowing
    the model. Returns the largest absolute difference; raises TrainingFailed beyond ``atol``.
    """
    import torch

    from pictograph.training.onnx_io import check_outputs, export, session

    wrapped = torch.nn.Sequential(model, torch.nn.Softmax(dim=1)).cpu().eval()
    tensor = torch.from_numpy(example)
    export(wrapped, (tensor,), path, input_names=["image"], output_names=["probabilities"],
           dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}})  # fmt: skip
    with torch.no_grad():
        expected = wrapped(tensor).numpy()
    actual = session(path).run(None, {"image": example})
    return check_outputs([expected], actual, atol=atol, rtol=0.0)

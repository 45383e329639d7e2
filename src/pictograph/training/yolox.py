"""YOLOX-nano object detection with ``pixeltable-yolox``, trained from scratch.

The model is the library's own YOLOX-nano (``YoloxConfig.get_named_config("yolox_nano")``:
depth 0.33, width 0.25, depthwise convolutions), built with its own initialisation (BN eps
1e-3, momentum 0.03, class and objectness biases at prior 0.01), which is what lets it train
from random weights. Pretrained weights are used only when the file named by
``PICTOGRAPH_YOLOX_WEIGHTS`` exists: nothing is ever downloaded.

Images go in the way YOLOX was trained on them, so local COCO weights fit: letterboxed to a
square (resized keeping the aspect ratio, padded with grey 114 on the right and bottom), BGR,
0–255 floats. The ONNX file holds the raw head (``decode_in_inference=False``: centre offsets,
log sizes, objectness and class probabilities per anchor); decoding and NMS run in numpy in
:func:`detections_from_output`, which :meth:`YoloxPipeline.predict` uses, and the test-split
evaluation goes through ``predict`` on the ONNX session, so the metrics measure the very code
path that auto-labelling uses.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pictograph.training import default_config, onnx_io
from pictograph.training.base import (
    Detection,
    Prediction,
    Reporter,
    TrainConfig,
    TrainingFailed,
    TrainResult,
)
from pictograph.training.loop import seed_everything, train_epochs
from pictograph.training.metrics import coco_metrics

if TYPE_CHECKING:
    import onnxruntime
    import torch

    from pictograph.training.data import Sample, TrainingData

ARCHITECTURE = "yolox-nano"
WEIGHTS_ENV = "PICTOGRAPH_YOLOX_WEIGHTS"
STRIDES = (8, 16, 32)
PAD_VALUE = 114
NMS_IOU = 0.45
MAX_DETECTIONS = 100
EVAL_SCORE_THRESHOLD = 0.01
"""YOLOX's own ``test_conf``: COCO mAP needs the low-scoring tail of the ranking."""
WEIGHT_DECAY = 5e-4
WARMUP_FRACTION = 0.1
MIN_LR_RATIO = 0.05
INPUT_NAME, OUTPUT_NAME = "images", "outputs"


def input_size(image_size: int) -> int:
    """``image_size`` rounded to the nearest multiple of the largest stride (32), at least 32:
    the head's three grids must divide the input exactly."""
    return max(STRIDES[-1], round(image_size / STRIDES[-1]) * STRIDES[-1])


def letterbox(image: npt.NDArray[np.uint8], size: int) -> tuple[npt.NDArray[np.float32], float]:
    """YOLOX's ``preproc`` on an RGB image: a 3×size×size BGR float array and the resize ratio
    (original pixels × ratio = input pixels)."""
    import cv2

    height, width = image.shape[:2]
    ratio = min(size / height, size / width)
    new_w, new_h = max(1, int(width * ratio)), max(1, int(height * ratio))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    padded = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    padded[:new_h, :new_w] = resized
    return np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32), ratio


def build_model(num_classes: int) -> torch.nn.Module:
    """The library's YOLOX-nano with its own initialisation, in train mode."""
    from yolox.config import YoloxConfig

    config = YoloxConfig.get_named_config("yolox_nano")
    assert config is not None
    config.num_classes = num_classes
    return config.get_model()


def load_local_weights(model: torch.nn.Module, reporter: Reporter) -> None:
    """Start from the checkpoint at ``$PICTOGRAPH_YOLOX_WEIGHTS`` when it exists: tensors whose
    shape differs (the class layers, for another number of classes) keep their fresh values."""
    path = os.environ.get(WEIGHTS_ENV)
    if not path or not Path(path).is_file():
        reporter.log("training yolox-nano from scratch (no local pretrained weights)")
        return
    from yolox.utils import load_checkpoint

    checkpoint = load_checkpoint(path, map_location="cpu")
    weights = checkpoint.get("model", checkpoint)
    own = model.state_dict()
    matching = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not matching:
        raise TrainingFailed(f"{path} holds no yolox-nano weights (set by {WEIGHTS_ENV})")
    model.load_state_dict(matching, strict=False)
    reporter.log(f"loaded {len(matching)} of {len(own)} tensors from {path}")


def batch_inputs(
    samples: Sequence[Sample], size: int, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Letterboxed images and YOLOX targets: per image, rows of (class, cx, cy, w, h) in input
    pixels, padded with zero rows (which the head counts as no object)."""
    import torch

    images = np.empty((len(samples), 3, size, size), dtype=np.float32)
    targets = np.zeros((len(samples), max(1, *(len(s.instances) for s in samples)), 5), np.float32)
    for row, sample in enumerate(samples):
        images[row], ratio = letterbox(sample.load_rgb(), size)
        for column, instance in enumerate(sample.instances):
            x1, y1, x2, y2 = (value * ratio for value in instance.box)
            targets[row, column] = (instance.class_index, (x1 + x2) / 2, (y1 + y2) / 2,
                                    x2 - x1, y2 - y1)  # fmt: skip
    return torch.from_numpy(images).to(device), torch.from_numpy(targets).to(device)


def warmup_cosine(total_steps: int) -> Callable[[int], float]:
    """YOLOX's schedule as a LambdaLR factor: linear warm-up (the head is unstable from scratch
    at full rate), then cosine down to MIN_LR_RATIO of the base rate."""
    warmup = max(1, round(total_steps * WARMUP_FRACTION))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def nms(boxes: npt.NDArray[np.float64], scores: npt.NDArray[np.float64], limit: int) -> list[int]:
    """Greedy NMS at NMS_IOU, best first, stopping once ``limit`` boxes are kept."""
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < limit:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        top_left = np.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= NMS_IOU]
    return keep


@functools.lru_cache(maxsize=4)
def anchor_grid(size: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Each anchor's cell (x, y) and stride, in the head's output order (stride 8 first)."""
    cells, strides = [], []
    for stride in STRIDES:
        count = size // stride
        ys, xs = np.meshgrid(np.arange(count), np.arange(count), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((count * count, 1), stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


def detections_from_output(
    raw: npt.NDArray[np.float32],
    size: int,
    ratio: float,
    image_shape: tuple[int, int],
    score_threshold: float,
) -> list[Detection]:
    """One image's raw head output (anchors × (4 + 1 + classes)) as detections in original
    pixels, as YOLOX's ``postprocess`` makes them (score = objectness × best class probability,
    NMS per class on the unclipped boxes), at most MAX_DETECTIONS, clipped to the image."""
    raw = raw.astype(np.float64)  # garbage sizes (exp of large logits) stay exact when shifted
    class_probs = raw[:, 5:]
    classes = class_probs.argmax(axis=1)
    scores = raw[:, 4] * class_probs.max(axis=1)
    kept = np.flatnonzero(scores >= score_threshold)
    cells, strides = anchor_grid(size)
    centres = (raw[kept, :2] + cells[kept]) * strides[kept]
    half = np.exp(np.minimum(raw[kept, 2:4], 20.0)) * strides[kept] / 2
    boxes = np.concatenate([centres - half, centres + half], axis=1)
    # Each class shifted clear of the others: one NMS pass is then per class (as batched_nms).
    span = boxes.max(initial=0) - boxes.min(initial=0) + 1
    chosen = nms(boxes + classes[kept, None] * span, scores[kept], MAX_DETECTIONS)
    height, width = image_shape
    limits = np.array([width, height, width, height])
    found = []
    for index in chosen:
        x1, y1, x2, y2 = (float(v) for v in np.clip(boxes[index] / ratio, 0, limits))
        anchor = kept[index]
        found.append(Detection(int(classes[anchor]), float(scores[anchor]), (x1, y1, x2, y2)))
    return found


def export_checked(
    model: torch.nn.Module, size: int, samples: Sequence[Sample], path: Path
) -> float:
    """Export the raw head with a dynamic batch, then compare onnxruntime with torch on real
    preprocessed images (two when there are, so the dynamic batch is exercised)."""
    import torch

    model.head.decode_in_inference = False
    example, _ = batch_inputs(samples[:2], size, "cpu")
    onnx_io.export(model, example, path, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                   dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})  # fmt: skip
    with torch.no_grad():
        expected = model(example).numpy()
    actual = onnx_io.session(path).run(None, {INPUT_NAME: example.numpy()})
    return onnx_io.check_outputs([expected], actual)


def evaluate(
    pipeline: YoloxPipeline,
    session: onnxruntime.InferenceSession,
    data: TrainingData,
    inference: Mapping[str, Any],
) -> dict[str, float]:
    """COCO metrics on the test split, through ``predict`` on the exported model."""
    results = []
    for image_id, sample in enumerate(data.test, start=1):
        prediction = pipeline.predict(session, sample.load_rgb(), inference, EVAL_SCORE_THRESHOLD)
        for found in prediction.detections:
            x1, y1, x2, y2 = found.box
            results.append({"image_id": image_id, "category_id": found.class_index + 1,
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "score": found.score})  # fmt: skip
    return coco_metrics(data.coco("test"), results)


class YoloxPipeline:
    name = "yolox"
    model_type = "object_detection"
    defaults = default_config("yolox")

    def train(
        self,
        data: TrainingData,
        config: TrainConfig,
        workdir: Path,
        reporter: Reporter,
        device: str,
    ) -> TrainResult:
        import torch

        if not any(sample.instances for sample in data.train):
            raise TrainingFailed("The training split has no boxes or polygons to learn from")
        seed_everything()
        size = input_size(config.image_size)
        model = build_model(len(data.classes))
        load_local_weights(model, reporter)
        model.to(device)
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=WEIGHT_DECAY
        )
        steps = config.epochs * math.ceil(len(data.train) / config.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps))

        def step(samples: list[Sample]) -> dict[str, torch.Tensor]:
            images, targets = batch_inputs(samples, size, device)
            out = model(images, targets)
            return {"iou_loss": out["iou_loss"], "conf_loss": out["conf_loss"],
                    "cls_loss": out["cls_loss"]}  # fmt: skip

        train_epochs(model, optimizer, data.train, epochs=config.epochs,
                     batch_size=config.batch_size, step=step, reporter=reporter,
                     scheduler=scheduler)  # fmt: skip
        onnx_path = workdir / "model.onnx"
        difference = export_checked(model.cpu().eval(), size, data.test, onnx_path)
        inference = {"input_size": size, "preprocessing": "letterbox_bgr_0_255",
                     "pad_value": PAD_VALUE, "strides": list(STRIDES), "nms_iou": NMS_IOU,
                     "max_detections": MAX_DETECTIONS}  # fmt: skip
        metrics = evaluate(self, onnx_io.session(onnx_path, device), data, inference)
        return TrainResult(onnx_path, ARCHITECTURE, metrics, difference, inference)

    def predict(
        self,
        session: onnxruntime.InferenceSession,
        image: npt.NDArray[np.uint8],
        inference: Mapping[str, Any],
        score_threshold: float,
    ) -> Prediction:
        size = int(inference["input_size"])
        tensor, ratio = letterbox(image, size)
        (raw,) = session.run(None, {INPUT_NAME: tensor[None]})
        return Prediction(
            detections_from_output(raw[0], size, ratio, image.shape[:2], score_threshold)
        )


PIPELINE = YoloxPipeline()

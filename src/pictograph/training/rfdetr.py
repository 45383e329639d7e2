"""RF-DETR object detection and instance segmentation (``rfdetr``), trained with our own loop.

The models are the library's smallest variants, RF-DETR Nano and RF-DETR Seg Nano: the
``LWDETR`` module built from their configs with ``pretrain_weights=None`` (a windowed
DINOv2-small backbone with patch 16 / 12, so no DINOv2 weights are fetched), trained with the
library's own ``SetCriterion``, Hungarian matcher and loss weights. The library's ``train()``
is not used: it needs PyTorch Lightning and a COCO folder on disk. The loop is
:func:`~pictograph.training.loop.train_epochs` with RF-DETR's recipe (AdamW, weight decay
1e-4, gradients clipped at norm 0.1). One departure, on CPUs only: Group DETR's extra query
groups (13 in the library, used in training only) are dropped, see :data:`CPU_QUERY_GROUPS`.
Pretrained weights are used only when the file named by ``PICTOGRAPH_RFDETR_WEIGHTS`` exists
(an RF-DETR checkpoint of the same variant: tensors whose shape differs, such as the class
head, keep their fresh values); nothing is ever downloaded.

Images go in as RF-DETR's ``predict`` feeds them: stretched to a square (bilinear), scaled to
[0, 1], normalised with the ImageNet mean and std. The square's side must be a multiple of the
backbone's patch size times its attention windows (32 for Nano, 12 for Seg Nano), so the
user's ``image_size`` is rounded to the nearest one. The ONNX file holds the raw heads (the
library's export mode): normalised cx, cy, w, h boxes and class logits per query, plus mask
logits at a quarter of the input size for segmentation. :meth:`RfdetrPipeline.predict` takes
the best-scoring (query, class) pairs by sigmoid, as the library's ``PostProcess`` does (DETR
needs no NMS), and the test-split evaluation runs ``predict`` on the ONNX session, so the
metrics measure the code path auto-labelling uses.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pictograph.training import default_config, onnx_io
from pictograph.training.base import (
    Detection,
    ModelType,
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

WEIGHTS_ENV = "PICTOGRAPH_RFDETR_WEIGHTS"
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
WEIGHT_DECAY = 1e-4
CLIP_NORM = 0.1
"""RF-DETR's ``clip_max_norm``: its transformer is trained with tight gradient clipping."""
CPU_QUERY_GROUPS = 1
"""Group DETR query groups when training on a CPU. The library trains 13 groups of queries (more
matched queries per object, faster convergence; inference reads the first group only), which
makes the decoder 13 times wider: on a CPU one group made a Nano step at 96 px ten times faster
(1.1 s against 11 s for 4 images, measured). GPUs keep the library's 13."""
QUERY_KEYS = ("refpoint_embed.weight", "query_feat.weight")
"""The query tables, one block of rows per group; a checkpoint's first block is group 0."""
MAX_DETECTIONS = 100
EVAL_SCORE_THRESHOLD = 0.0
"""COCO mAP ranks the top MAX_DETECTIONS pairs, as DETR's own evaluation does."""
INPUT_NAME = "input"
LAYER_SUFFIX = re.compile(r"_(\d+|enc)$")


def configs(segmentation: bool, size: int, num_classes: int, device: str) -> tuple[Any, Any]:
    """The library's Nano / Seg Nano model config at ``size`` and the training config that
    holds its loss weights."""
    from rfdetr.config import (
        PretrainWeightsCompatibilityWarning,
        RFDETRNanoConfig,
        RFDETRSegNanoConfig,
        SegmentationTrainConfig,
    )
    from rfdetr.config import TrainConfig as LibraryTrainConfig

    model_class = RFDETRSegNanoConfig if segmentation else RFDETRNanoConfig
    train_class = SegmentationTrainConfig if segmentation else LibraryTrainConfig
    groups = {} if device.startswith("cuda") else {"group_detr": CPU_QUERY_GROUPS}
    with warnings.catch_warnings():  # it warns that it starts from scratch: that is the point
        warnings.simplefilter("ignore", PretrainWeightsCompatibilityWarning)
        model_config = model_class(
            resolution=size, num_classes=num_classes, pretrain_weights=None, device=device, **groups
        )
    return model_config, train_class(dataset_dir=None, output_dir=".")


def input_size(image_size: int, segmentation: bool) -> int:
    """``image_size`` rounded to the nearest multiple of patch size × attention windows (at
    least one such block): the windowed backbone must tile the input exactly."""
    from rfdetr.config import RFDETRNanoConfig, RFDETRSegNanoConfig

    fields = (RFDETRSegNanoConfig if segmentation else RFDETRNanoConfig).model_fields
    block = int(fields["patch_size"].default) * int(fields["num_windows"].default)
    return max(block, round(image_size / block) * block)


def build(
    segmentation: bool, size: int, num_classes: int, device: str, reporter: Reporter
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The ``LWDETR`` model (local weights loaded when there are) and its criterion."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub, whatever the variant
    from rfdetr.models.lwdetr import build_criterion_from_config, build_model_from_config

    model_config, train_config = configs(segmentation, size, num_classes, device)
    model = build_model_from_config(model_config, train_config)
    load_local_weights(model, model_config.positional_encoding_size, reporter)
    criterion, _ = build_criterion_from_config(model_config, train_config)
    return model.to(device), criterion.to(device)


def load_local_weights(model: torch.nn.Module, grid: int, reporter: Reporter) -> None:
    """Start from the checkpoint at ``$PICTOGRAPH_RFDETR_WEIGHTS`` when it exists. Its
    position embeddings are resized to this input's patch ``grid`` (as the library does), its
    query tables cut to this model's groups; tensors whose shape still differs (the class
    head) keep their fresh values."""
    path = os.environ.get(WEIGHTS_ENV)
    if not path or not Path(path).is_file():
        reporter.log("training RF-DETR from scratch (no local pretrained weights)")
        return
    import argparse
    import types

    import torch
    from rfdetr.models.weights import interpolate_position_embeddings

    with torch.serialization.safe_globals([argparse.Namespace, types.SimpleNamespace]):
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    weights = dict(checkpoint.get("model", checkpoint))
    interpolate_position_embeddings(weights, grid)
    own = model.state_dict()
    for key in QUERY_KEYS:
        if key in weights and key in own and weights[key].shape[0] > own[key].shape[0]:
            weights[key] = weights[key][: own[key].shape[0]]
    matching = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not matching:
        raise TrainingFailed(
            f"{path} holds no RF-DETR weights for this model (set by {WEIGHTS_ENV})"
        )
    model.load_state_dict(matching, strict=False)
    reporter.log(f"loaded {len(matching)} of {len(own)} tensors from {path}")


def preprocess(image: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.float32]:
    """RF-DETR's ``predict`` preprocessing: stretched to size × size (bilinear, no
    antialiasing), [0, 1], ImageNet-normalised, channels first."""
    import cv2

    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    normalised = (resized.astype(np.float32) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1))


def target(sample: Sample, size: int, segmentation: bool) -> dict[str, torch.Tensor]:
    """The criterion's target for one image: 0-based labels, boxes as normalised cx, cy, w,
    h, and for segmentation the instance masks stretched like the image."""
    import cv2
    import torch

    corners = np.array([i.box for i in sample.instances], dtype=np.float32).reshape(-1, 4)
    corners /= np.array([sample.width, sample.height] * 2, dtype=np.float32)
    centre_size = np.concatenate(
        [(corners[:, :2] + corners[:, 2:]) / 2, corners[:, 2:] - corners[:, :2]], axis=1
    )
    labels = np.array([i.class_index for i in sample.instances], dtype=np.int64)
    entry = {"labels": torch.from_numpy(labels), "boxes": torch.from_numpy(centre_size)}
    if segmentation:
        masks = np.zeros((len(sample.instances), size, size), dtype=bool)
        for index, instance in enumerate(sample.instances):
            pixels = sample.mask(instance).astype(np.uint8)
            masks[index] = cv2.resize(pixels, (size, size), interpolation=cv2.INTER_NEAREST) > 0
        entry["masks"] = torch.from_numpy(masks)
    return entry


def batch_inputs(
    samples: Sequence[Sample], size: int, segmentation: bool, device: str
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """A batch of preprocessed images and their targets, on ``device``."""
    import torch

    images = np.stack([preprocess(sample.load_rgb(), size) for sample in samples])
    targets = [
        {key: value.to(device) for key, value in target(sample, size, segmentation).items()}
        for sample in samples
    ]
    return torch.from_numpy(images).to(device), targets


def weighted_losses(
    losses: Mapping[str, torch.Tensor], weights: Mapping[str, float]
) -> dict[str, torch.Tensor]:
    """The library's weighted loss terms (their sum is its training loss), each summed over
    the decoder layers and the encoder proposals: progress shows ``ce``, ``bbox``, ``giou``
    (and ``mask_ce``, ``mask_dice``) rather than one entry per layer."""
    grouped: dict[str, torch.Tensor] = {}
    for key, weight in weights.items():
        if key in losses:
            name = LAYER_SUFFIX.sub("", key).removeprefix("loss_")
            term = losses[key] * weight
            grouped[name] = grouped[name] + term if name in grouped else term
    return grouped


def output_names(segmentation: bool) -> list[str]:
    return ["dets", "labels", "masks"] if segmentation else ["dets", "labels"]


def export_checked(
    model: torch.nn.Module, segmentation: bool, size: int, samples: Sequence[Sample], path: Path
) -> float:
    """Switch the model to the library's export mode (raw heads, plain tensor input), export
    it with a dynamic batch, then compare onnxruntime with torch on real preprocessed images
    (two when there are, so the dynamic batch is exercised)."""
    import torch

    model.cpu().eval()
    model.export()
    example = torch.from_numpy(np.stack([preprocess(s.load_rgb(), size) for s in samples[:2]]))
    names = output_names(segmentation)
    onnx_io.export(model, example, path, input_names=[INPUT_NAME], output_names=names,
                   dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *names]})  # fmt: skip
    with torch.no_grad():
        expected = [tensor.numpy() for tensor in model(example)]
    actual = onnx_io.session(path).run(None, {INPUT_NAME: example.numpy()})
    return onnx_io.check_outputs(expected, actual)


def sigmoid(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The logistic function without overflow warnings for large negative logits."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * values)), dtype=np.float32)


def detections_from_outputs(
    boxes: npt.NDArray[np.float32],
    logits: npt.NDArray[np.float32],
    masks: npt.NDArray[np.float32] | None,
    image_shape: tuple[int, int],
    score_threshold: float,
) -> list[Detection]:
    """One image's raw outputs (queries × 4 boxes, queries × classes + 1 logits, queries ×
    h × w mask logits) as detections in original pixels, best first: the top MAX_DETECTIONS
    (query, class) pairs by sigmoid score, as the library's ``PostProcess`` ranks them. The
    last logit column is the no-object slot no target ever has, so it is left out."""
    import cv2

    scores = sigmoid(logits[:, :-1])
    flat = scores.ravel()
    order = np.argsort(-flat, kind="stable")[:MAX_DETECTIONS]
    order = order[flat[order] >= score_threshold]
    queries, classes = np.divmod(order, scores.shape[1])
    height, width = image_shape
    centre = boxes[queries, :2]
    extent = np.maximum(boxes[queries, 2:], 0)  # an untrained head can give negative sizes
    corners = np.concatenate([centre - extent / 2, centre + extent / 2], axis=1)
    scale = np.array([width, height, width, height], dtype=np.float32)
    corners = np.clip(corners * scale, 0, scale)
    detections = []
    for row, (query, class_index) in enumerate(zip(queries, classes, strict=True)):
        mask = None
        if masks is not None:
            logit_map = cv2.resize(masks[query], (width, height), interpolation=cv2.INTER_LINEAR)
            mask = logit_map > 0
        x1, y1, x2, y2 = (float(v) for v in corners[row])
        score = float(flat[order[row]])
        detections.append(Detection(int(class_index), score, (x1, y1, x2, y2), mask))
    return detections


class RfdetrPipeline:
    """RF-DETR Nano (detection) or Seg Nano (instance segmentation): the two share everything
    but the mask head, so one class serves both."""

    def __init__(
        self, name: str, model_type: ModelType, architecture: str, defaults: TrainConfig
    ) -> None:
        self.name = name
        self.model_type = model_type
        self.architecture = architecture
        self.defaults = defaults
        self.segmentation = model_type == "instance_segmentation"

    def train(
        self,
        data: TrainingData,
        config: TrainConfig,
        workdir: Path,
        reporter: Reporter,
        device: str,
    ) -> TrainResult:
        import torch

        seed_everything()
        size = input_size(config.image_size, self.segmentation)
        if size != config.image_size:
            reporter.log(
                f"image_size {config.image_size} rounded to {size} for {self.architecture}"
            )
        model, criterion = build(self.segmentation, size, len(data.classes), device, reporter)
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=WEIGHT_DECAY
        )

        def step(samples: list[Sample]) -> dict[str, torch.Tensor]:
            images, targets = batch_inputs(samples, size, self.segmentation, device)
            return weighted_losses(
                criterion(model(images, targets), targets), criterion.weight_dict
            )

        train_epochs(model, optimizer, data.train, epochs=config.epochs,
                     batch_size=config.batch_size, step=step, reporter=reporter,
                     clip_norm=CLIP_NORM)  # fmt: skip
        onnx_path = workdir / "model.onnx"
        difference = export_checked(model, self.segmentation, size, data.test, onnx_path)
        inference = {"input_size": size, "preprocessing": "stretch_rgb_imagenet",
                     "mean": MEAN.tolist(), "std": STD.tolist(),
                     "max_detections": MAX_DETECTIONS}  # fmt: skip
        metrics = self.evaluate(onnx_io.session(onnx_path, device), data, inference)
        return TrainResult(onnx_path, self.architecture, metrics, difference, inference)

    def evaluate(
        self,
        session: onnxruntime.InferenceSession,
        data: TrainingData,
        inference: Mapping[str, Any],
    ) -> dict[str, float]:
        """COCO metrics on the test split through ``predict`` on the exported model: box
        metrics, and for segmentation the mask ones too, prefixed ``mask_``."""
        from pictograph.formats._masks import mask_to_rle

        boxes: list[dict[str, Any]] = []
        masks: list[dict[str, Any]] = []
        for image_id, sample in enumerate(data.test, start=1):
            prediction = self.predict(session, sample.load_rgb(), inference, EVAL_SCORE_THRESHOLD)
            for found in prediction.detections:
                x1, y1, x2, y2 = found.box
                entry = {"image_id": image_id, "category_id": found.class_index + 1,
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "score": found.score}  # fmt: skip
                boxes.append(entry)
                if found.mask is not None:
                    masks.append({**entry, "segmentation": mask_to_rle(found.mask)})
        metrics = coco_metrics(data.coco("test"), boxes)
        if self.segmentation:
            segm = coco_metrics(data.coco("test", with_masks=True), masks, "segm")
            metrics.update({f"mask_{key}": value for key, value in segm.items()})
        return metrics

    def predict(
        self,
        session: onnxruntime.InferenceSession,
        image: npt.NDArray[np.uint8],
        inference: Mapping[str, Any],
        score_threshold: float,
    ) -> Prediction:
        outputs = session.run(
            None, {INPUT_NAME: preprocess(image, int(inference["input_size"]))[None]}
        )
        boxes, logits = outputs[0][0], outputs[1][0]
        masks = outputs[2][0] if self.segmentation else None
        return Prediction(
            detections_from_outputs(boxes, logits, masks, image.shape[:2], score_threshold)
        )


# Defaults (pictograph.training.DEFAULT_CONFIGS): each variant's native input size, and a
# learning rate four times RF-DETR's fine-tuning 1e-4, since these models start from scratch:
# on 32 drawn images, 40 epochs reached test mAP50 0.60 at 4e-4 against 0.25 at 1e-4 (measured).
DETECTION = RfdetrPipeline(
    "rfdetr_detection", "object_detection", "rfdetr-nano", default_config("rfdetr_detection")
)
SEGMENTATION = RfdetrPipeline(
    "rfdetr_segmentation",
    "instance_segmentation",
    "rfdetr-seg-nano",
    default_config("rfdetr_segmentation"),
)

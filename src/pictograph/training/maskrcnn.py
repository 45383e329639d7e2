"""The ``detectron2`` pipeline: instance segmentation with torchvision's Mask R-CNN.

``detectron2`` is the hosted service's name for this pipeline; Detectron2 itself has no
installable release for current Python and torch, so the model is torchvision's Mask R-CNN.

From scratch the backbone is ResNet-18 with an FPN (batch norm trained, one anchor size per
pyramid level, scaled to ``image_size``): a third of ResNet-50's weights to learn from a few
images. On 17 drawn images at 96 px it reached a training mAP50 of 0.95 in 15 epochs, where a
MobileNetV3-Large FPN (whose pyramid starts at stride 16, too coarse for small objects)
reached 0 in 20 at the same CPU cost per step. When ``PICTOGRAPH_MASKRCNN_WEIGHTS`` names a
torchvision ``maskrcnn_resnet50_fpn`` checkpoint (the COCO one, say), the model is that
architecture instead, with torchvision's anchors, frozen batch norm and its upper three ResNet
stages trained, as torchvision fine-tunes it; the box and mask predictors are new when the
class count differs.

Images are resized so that the longer side is ``image_size`` before they reach the model, in
training and in ``predict`` alike, so the model's own resize is the identity. The ONNX file
takes ``image`` (3×H×W float in [0, 1], H and W dynamic; the model normalises) and returns
``boxes`` (N×4, xyxy in input pixels), ``labels`` (N, class index + 1), ``scores`` (N) and
``masks`` (N×1×H×W probabilities). ``predict`` maps boxes back to the image's pixels and
resizes each kept mask to the image's size, thresholded at 0.5.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pictograph.formats._masks import mask_to_rle
from pictograph.training import default_config
from pictograph.training.base import (
    Detection,
    ModelType,
    Prediction,
    Reporter,
    TrainConfig,
    TrainingFailed,
    TrainResult,
)
from pictograph.training.data import Sample, TrainingData
from pictograph.training.images import (
    load_matching_weights,
    longest_side_size,
    normalise,
    resize_labels,
    resize_rgb,
    resize_scores,
)
from pictograph.training.loop import seed_everything, train_epochs
from pictograph.training.metrics import coco_metrics
from pictograph.training.onnx_io import check_outputs, export
from pictograph.training.onnx_io import session as onnx_session

SCRATCH_ARCHITECTURE = "maskrcnn-resnet18-fpn"
PRETRAINED_ARCHITECTURE = "maskrcnn-resnet50-fpn"
WEIGHTS_ENV = "PICTOGRAPH_MASKRCNN_WEIGHTS"
ANCHOR_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)
"""From scratch, the anchor size of each pyramid level (strides 4 to 64) as a fraction of
``image_size``: objects are sized relative to the image, whatever size it is trained at."""
MODEL_OPTIONS = {
    "rpn_pre_nms_top_n_train": 1000,
    "rpn_post_nms_top_n_train": 500,
    "rpn_pre_nms_top_n_test": 500,
    "rpn_post_nms_top_n_test": 300,
    "box_batch_size_per_image": 128,
    "box_score_thresh": 0.01,
    "box_detections_per_img": 100,
}
"""Lighter than torchvision's COCO settings (2000 proposals, 512 sampled RoIs): a few images
with a few objects each need no more, and the RoI heads dominate a CPU step. Low-scoring
boxes are kept down to 0.01 so that mAP sees the whole precision-recall curve."""
BOX_HEAD_SIZE = 512
"""The from-scratch box head's width (torchvision's is 1024): its first layer, 12544 inputs per
RoI, was a third of a CPU training step; half the width halves that at no loss on small data."""
MASK_THRESHOLD = 0.5
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
MAX_WARMUP_STEPS = 1000
"""Linear learning-rate warm-up over the first epoch (at most this many steps), as torchvision's
detection reference does: Mask R-CNN from scratch diverges without it."""
BOX_MATCH_PIXELS = 0.5
SCORE_TIE = 1e-3
TIED_SCORES = 1e-5
"""The ONNX check: a torch and an onnxruntime detection are the same one when their labels agree
and their boxes lie within BOX_MATCH_PIXELS. A detection only one side has must be a near-tie
that the two runtimes broke differently: its score within SCORE_TIE of the score threshold, or
of the other side's lowest score when that side is full (``box_detections_per_img``), or
within TIED_SCORES of another score on its own side (barely trained heads give many boxes the
same score, and which of them survive top-k and NMS is then arbitrary). At least half of
torch's detections must match."""

Target = dict[str, Any]


def build_model(num_classes: int, image_size: int, reporter: Reporter | None = None) -> Any:
    """Mask R-CNN for ``num_classes`` + 1 labels (0 is background); see the module docstring."""
    weights = os.environ.get(WEIGHTS_ENV)
    if weights:
        model = resnet50_model(num_classes, image_size)
        loaded, skipped = load_matching_weights(model, Path(weights))
        if reporter is not None:
            reporter.log(f"{WEIGHTS_ENV}: loaded {loaded} tensors, skipped {skipped}")
        return model
    return scratch_model(num_classes, image_size)


def architecture() -> str:
    return PRETRAINED_ARCHITECTURE if os.environ.get(WEIGHTS_ENV) else SCRATCH_ARCHITECTURE


def scratch_model(num_classes: int, image_size: int) -> Any:
    from torch import nn
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor

    backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None,
                                   norm_layer=nn.BatchNorm2d, trainable_layers=5)  # fmt: skip
    sizes = tuple((max(4, round(image_size * fraction)),) for fraction in ANCHOR_FRACTIONS)
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    resolution = 7  # the box RoI pool's output side
    box_head = TwoMLPHead(backbone.out_channels * resolution**2, BOX_HEAD_SIZE)
    return MaskRCNN(backbone, None, min_size=image_size, max_size=image_size,
                    rpn_anchor_generator=anchors, box_head=box_head,
                    box_predictor=FastRCNNPredictor(BOX_HEAD_SIZE, num_classes + 1),
                    mask_predictor=MaskRCNNPredictor(256, 256, num_classes + 1),
                    **MODEL_OPTIONS)  # fmt: skip


def resnet50_model(num_classes: int, image_size: int) -> Any:
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.ops.misc import FrozenBatchNorm2d

    backbone = resnet_fpn_backbone(backbone_name="resnet50", weights=None,
                                   norm_layer=FrozenBatchNorm2d, trainable_layers=3)  # fmt: skip
    return MaskRCNN(backbone, num_classes + 1, min_size=image_size, max_size=image_size,
                    **MODEL_OPTIONS)  # fmt: skip


def resized(image: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.uint8]:
    """The image with its longer side ``size``: the model's own resize is then the identity."""
    height, width = longest_side_size(*image.shape[:2], size)
    return resize_rgb(image, width, height)


def model_input(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """3×H×W float in [0, 1] (the model normalises with its own mean / std)."""
    return normalise(image[None], (0.0,) * 3, (1.0,) * 3)[0]


def prepare(sample: Sample, size: int) -> tuple[npt.NDArray[np.uint8], Target]:
    """One training image at model size (kept as uint8: a quarter of the memory of floats)
    and its torchvision target."""
    import torch

    image = resized(sample.load_rgb(), size)
    height, width = image.shape[:2]
    scale = np.array([width / sample.width, height / sample.height] * 2, dtype=np.float32)
    boxes = np.array([instance.box for instance in sample.instances], np.float32).reshape(-1, 4)
    masks = [resize_labels(sample.mask(instance), width, height) for instance in sample.instances]
    target = {
        "boxes": torch.from_numpy(boxes * scale),
        "labels": torch.tensor([i.class_index + 1 for i in sample.instances], dtype=torch.int64),
        "masks": torch.from_numpy(np.array(masks, np.uint8).reshape(-1, height, width)),
    }
    return image, target


def make_optimizer(model: Any, config: TrainConfig, images: int) -> tuple[Any, Any]:
    """SGD with momentum after a linear warm-up, as torchvision's detection recipes train."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=config.learning_rate, momentum=MOMENTUM,
                                weight_decay=WEIGHT_DECAY)  # fmt: skip
    steps = min(MAX_WARMUP_STEPS, math.ceil(images / config.batch_size))
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.001, total_iters=steps)
    return optimizer, warmup


def export_checked(model: Any, example: npt.NDArray[np.float32], path: Path) -> float:
    """Export to ONNX, then compare onnxruntime's detections with torch's on ``example``."""
    import torch

    model = model.cpu().eval()
    tensor = torch.from_numpy(example)
    export(model, ([tensor],), path, input_names=["image"],
           output_names=["boxes", "labels", "scores", "masks"],
           dynamic_axes={"image": {1: "height", 2: "width"}, "boxes": {0: "detections"},
                         "labels": {0: "detections"}, "scores": {0: "detections"},
                         "masks": {0: "detections", 2: "height", 3: "width"}})  # fmt: skip
    with torch.no_grad():
        expected = model([tensor])[0]
    names = ("boxes", "labels", "scores", "masks")
    actual = onnx_session(path).run(None, {"image": example})
    return compare_detections([expected[name].numpy() for name in names], actual)


def compare_detections(expected: Sequence[Any], actual: Sequence[Any]) -> float:
    """Largest difference over matched detections (boxes, scores, masks); see SCORE_TIE."""
    want_boxes, want_labels, want_scores, want_masks = expected
    got_boxes, got_labels, got_scores, got_masks = actual
    pairs: list[tuple[int, int]] = []
    free = set(range(len(got_labels)))
    for index in np.argsort(-want_scores):
        candidates = [j for j in free if got_labels[j] == want_labels[index]]
        if not candidates:
            continue
        distance = [np.abs(got_boxes[j] - want_boxes[index]).max() for j in candidates]
        if min(distance) <= BOX_MATCH_PIXELS:
            pairs.append((int(index), candidates[int(np.argmin(distance))]))
            free.discard(pairs[-1][1])
    matched = {i for i, _ in pairs}
    missing = [score for i, score in enumerate(want_scores) if i not in matched]
    extra = [got_scores[j] for j in free]
    explained = all(_near_tie(score, want_scores, got_scores) for score in missing) and all(
        _near_tie(score, got_scores, want_scores) for score in extra
    )
    if not explained or 2 * len(pairs) < len(want_scores):
        raise TrainingFailed(
            "The ONNX model's detections differ from the torch model's: "
            f"{len(missing)} of {len(want_scores)} unmatched, {len(extra)} extra"
        )
    want, got = [i for i, _ in pairs], [j for _, j in pairs]
    return check_outputs(
        [want_boxes[want], want_scores[want], want_masks[want]],
        [got_boxes[got], got_scores[got], got_masks[got]],
    )


def _near_tie(score: float, own: npt.NDArray[np.float32], other: npt.NDArray[np.float32]) -> bool:
    """Whether a detection only one side has may have lost a near-tie (see SCORE_TIE)."""
    if score <= MODEL_OPTIONS["box_score_thresh"] + SCORE_TIE:
        return True
    full = len(other) >= MODEL_OPTIONS["box_detections_per_img"]
    if full and score <= float(other.min()) + SCORE_TIE:
        return True
    return int(np.sum(np.abs(own - score) <= TIED_SCORES)) > 1


class MaskRCNNPipeline:
    name = "detectron2"
    model_type: ModelType = "instance_segmentation"
    defaults = default_config("detectron2")

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
        model = build_model(len(data.classes), config.image_size, reporter).to(device)
        prepared = [prepare(sample, config.image_size) for sample in data.train]

        def step(batch: list[tuple[npt.NDArray[np.uint8], Target]]) -> dict[str, Any]:
            images = [torch.from_numpy(model_input(image)).to(device) for image, _ in batch]
            targets = [{k: v.to(device) for k, v in target.items()} for _, target in batch]
            return dict(model(images, targets))

        optimizer, warmup = make_optimizer(model, config, len(prepared))
        train_epochs(model, optimizer, prepared, epochs=config.epochs,
                     batch_size=config.batch_size, step=step, reporter=reporter,
                     scheduler=warmup)  # fmt: skip

        inference = {"image_size": config.image_size, "resize": "longest_side",
                     "input": "rgb_0_1", "mask_threshold": MASK_THRESHOLD}  # fmt: skip
        path = workdir / "model.onnx"
        example = model_input(resized(data.test[0].load_rgb(), config.image_size))
        diff = export_checked(model, example, path)
        session = onnx_session(path, device)
        reporter.log(f"val: {self.evaluate(session, data, 'val', inference)}")
        metrics = self.evaluate(session, data, "test", inference)
        return TrainResult(path, architecture(), metrics, diff, inference)

    def evaluate(
        self, session: Any, data: TrainingData, split: str, inference: Mapping[str, Any]
    ) -> dict[str, float]:
        """Box metrics (mAP, mAP50, mAP75, precision, recall) plus ``mask_mAP`` / ``mask_mAP50``
        of the ONNX model on ``split``, with every detection ``predict`` returns."""
        boxes: list[dict[str, Any]] = []
        masks: list[dict[str, Any]] = []
        for number, sample in enumerate(getattr(data, split), start=1):
            prediction = self.predict(session, sample.load_rgb(), inference, 0.0)
            for detection in prediction.detections:
                x1, y1, x2, y2 = detection.box
                common = {"image_id": number, "category_id": detection.class_index + 1,
                          "score": detection.score}  # fmt: skip
                boxes.append({**common, "bbox": [x1, y1, x2 - x1, y2 - y1]})
                masks.append({**common, "segmentation": mask_to_rle(detection.mask)})
        metrics = coco_metrics(data.coco(split), boxes, "bbox")
        segm = coco_metrics(data.coco(split, with_masks=True), masks, "segm")
        return {**metrics, "mask_mAP": segm["mAP"], "mask_mAP50": segm["mAP50"]}

    def predict(
        self,
        session: Any,
        image: npt.NDArray[np.uint8],
        inference: Mapping[str, Any],
        score_threshold: float,
    ) -> Prediction:
        """Detections scoring at least ``score_threshold``, with full-size boolean masks."""
        height, width = image.shape[:2]
        inputs = model_input(resized(image, inference["image_size"]))
        boxes, labels, scores, masks = session.run(None, {"image": inputs})
        scale = np.array([width / inputs.shape[2], height / inputs.shape[1]] * 2)
        threshold = inference.get("mask_threshold", MASK_THRESHOLD)
        return Prediction(detections=[
            Detection(int(label) - 1, float(score), tuple(float(v) for v in box * scale),
                      resize_scores(mask[0], width, height) > threshold)
            for box, label, score, mask in zip(boxes, labels, scores, masks, strict=True)
            if score >= score_threshold
        ])  # fmt: skip


PIPELINE = MaskRCNNPipeline()
